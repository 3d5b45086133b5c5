"""The audit log: what staff and admins did, found again with `botschaft audit` and its
filters, kept without contents, and without the address of a person who was erased."""

from __future__ import annotations

import getpass
import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from bots import audit, privacy
from bots.app import schemas
from bots.audit import AuditEntry
from bots.cli import main
from bots.privacy import Erasure
from bots.storage import Storage

STAFF, ALICE, BOB = "staff@example.com", "alice@example.com", "bob@example.com"


@pytest.fixture
def log(database_url):
    storage = Storage(database_url)
    storage.migrate(schemas([]))
    yield
    storage.close()


def recorded_at(at: str, actor: audit.Actor, action: str, subject: str | None, **details):
    """An entry as if made at `at` (naive UTC)."""
    audit.record(actor, action, subject, **details)
    newest = AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)
    AuditEntry.update(at=datetime.fromisoformat(at)).where(AuditEntry.id.in_(newest)).execute()


def found(**filters) -> list[tuple[str, str, str | None]]:
    return [(entry.actor, entry.action, entry.subject) for entry in audit.entries(**filters)]


def test_entries_are_found_by_actor_subject_action_and_time_newest_first(log):
    staff, admin = audit.Actor(STAFF, "chat"), audit.Actor("root", "cli")
    recorded_at("2025-03-01 09:00", audit.system("http"), "status.create", "WOB-4711",
                kind="vehicle")
    recorded_at("2025-03-01 15:00", staff, "status.set", "WOB-4711", state="ready")
    recorded_at("2025-03-02 08:00", admin, "room.add", ALICE, room="team-nord")
    recorded_at("2025-03-03 10:00", staff, "statusboard.show", None)

    assert found() == [(STAFF, "statusboard.show", None), ("root", "room.add", ALICE),
                       (STAFF, "status.set", "WOB-4711"), ("system", "status.create", "WOB-4711")]
    assert found(actor=" Staff@Example.com ") == [(STAFF, "statusboard.show", None),
                                                  (STAFF, "status.set", "WOB-4711")]
    assert found(subject="wob-4711") == [(STAFF, "status.set", "WOB-4711"),
                                         ("system", "status.create", "WOB-4711")]
    assert found(action="status") == found(subject="WOB-4711")  # a part: not statusboard
    assert found(action="status.set") == [(STAFF, "status.set", "WOB-4711")]
    assert found(since=datetime(2025, 3, 1, 15), until=datetime(2025, 3, 3)) == [
        ("root", "room.add", ALICE), (STAFF, "status.set", "WOB-4711")]
    assert found(limit=1) == [(STAFF, "statusboard.show", None)]
    entry = audit.entries(action="status.set")[0]
    assert (entry.channel, entry.facts) == ("chat", {"state": "ready"})


def test_botschaft_audit_filters_and_prints_text_or_json(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", url)
    storage = Storage(url)
    storage.migrate(schemas([]))
    recorded_at("2025-03-01 23:59", audit.Actor(STAFF, "chat"), "room.add", ALICE,
                room="team-nord", course=None)
    recorded_at("2025-03-02 00:00", audit.Actor("root", "cli"), "privacy.export", BOB)
    storage.close()

    def run(*arguments: str):
        return CliRunner().invoke(main, ["audit", *arguments])

    assert run().output == (
        f"2025-03-02 00:00:00  root (cli)  privacy.export  {BOB}\n"
        f"2025-03-01 23:59:00  {STAFF} (chat)  room.add  {ALICE}  room=team-nord\n"
        "2 shown\n")
    assert run("--until", "2025-03-01").output.endswith(
        f"room.add  {ALICE}  room=team-nord\n1 shown\n")  # the whole day, to 23:59
    assert run("--since", "2025-03-01T23:59:30").output.splitlines()[-1] == "1 shown"
    assert run("--since", "2025-03-02T01:00+01:00").output.splitlines()[-1] == "1 shown"
    shown = json.loads(run("--actor", STAFF, "--format", "json").output)
    assert shown == [{"at": "2025-03-01T23:59:00", "actor": STAFF, "channel": "chat",
                      "action": "room.add", "subject": ALICE,
                      "details": {"room": "team-nord", "course": None}}]
    assert run("--subject", "nobody@example.com").output == "0 shown\n"
    refused = run("--since", "März")
    assert refused.exit_code == 2 and "--since" in refused.output
    assert "write a day, YYYY-MM-DD" in refused.output


def everything_in_the_log() -> str:
    return json.dumps(list(AuditEntry.select().dicts()), default=str)


def test_staff_actions_are_logged_without_contents_and_an_erasure_keeps_no_address(
        tmp_path, monkeypatch):
    """A status note, as anything people wrote, stays out of the log; after an erasure the
    person's address is in no entry, while what was done to them stays."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", url)
    runner = CliRunner()
    for arguments in (["status", "create", "4711", "vehicle"],
                      ["status", "set", "4711", "cleaning", "--note", "Kratzer an der Tür"],
                      ["status", "unlock", ALICE], ["status", "unlock", BOB],
                      ["privacy", "export", ALICE], ["privacy", "erase", ALICE, "--yes"]):
        result = runner.invoke(main, arguments)
        assert result.exit_code == 0, result.output

    storage = Storage(url)
    storage.migrate(schemas([]))
    try:
        logged = everything_in_the_log()
        assert "Kratzer" not in logged and ALICE not in logged
        admin = getpass.getuser()
        assert found() == [
            (admin, "privacy.erase", None), (admin, "privacy.export", audit.ERASED),
            (admin, "status.unlock", BOB), (admin, "status.unlock", audit.ERASED),
            (admin, "status.set", "4711"), (admin, "status.create", "4711")]
        erasure = Erasure.select(Erasure.id).scalar()
        assert audit.entries(action="privacy.erase")[0].facts == {"erasure": erasure}
    finally:
        storage.close()


def test_a_staff_members_entries_are_in_their_export_and_lose_their_address_on_erasure(log):
    """What staff did is their personal data too: exported; an erasure keeps what was done
    (the log's purpose) but not by whom."""
    staff = audit.Actor(STAFF, "chat")
    recorded_at("2025-03-01 09:00", staff, "status.set", "WOB-4711", state="ready")
    recorded_at("2025-03-01 10:00", audit.Actor("root", "cli"), "room.add", ALICE)

    exported = privacy.export(STAFF, [])["audit"]
    assert [(entry["action"], entry["subject"]) for entry in exported] == [
        ("status.set", "WOB-4711")]
    assert privacy.erase(STAFF, [], by="root")["audit"] == 1
    assert STAFF not in everything_in_the_log()
    assert found() == [("root", "room.add", ALICE), (audit.ERASED, "status.set", "WOB-4711")]
