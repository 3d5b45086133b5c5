"""Invitations without a server: tokens made, stored hashed, used once, revoked, expired; the
actions plugins offer; the admin CLI."""

from __future__ import annotations

import getpass
import json
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from bots import audit
from bots.app import schemas
from bots.cli import main
from bots.invites import Invitation, InvitationError, token_hash
from bots.storage import Storage
from bots.testing import services_over
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.course import load_courses
from plugins.status import Status

PUBLIC = "https://join.example.com"


@pytest.fixture
def bot(tmp_path):
    """The services of a bot with status and lessons, an item 4711 and the example course."""
    plugins = [Status(), Lessons()]
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas(plugins))
    services = services_over(storage, plugins, JOIN_PUBLIC_URL=PUBLIC)
    plugins[0].make_book(services).create("4711", "vehicle", code="K7M2QX")
    for course in load_courses(EXAMPLE_COURSES):
        plugins[1].make_classroom(services).import_course(course)
    yield services
    storage.close()


def test_a_token_is_random_long_shown_once_and_stored_only_as_its_hash(bot):
    first, second = bot.invitations.create("staff@example.com", count=2)
    assert first.token != second.token and len(first.token) == 24  # 144 bits, urlsafe
    assert first.url == f"{PUBLIC}/join/{first.token}"
    stored = [row.token_hash for row in Invitation.select()]
    assert token_hash(first.token) in stored and first.token not in stored
    assert [(entry.actor, entry.channel, entry.subject) for entry in audit.entries(
        action="invitation.create")] == [("staff@example.com", "chat", str(second.id)),
                                         ("staff@example.com", "chat", str(first.id))]


def test_an_invitation_is_used_once_and_can_be_given_back_when_the_account_fails(bot):
    made = bot.invite("staff@example.com", {"claim": "4711"})
    taken = bot.invitations.take(made.token, "new@example.com")
    assert taken.used_by == "new@example.com" and taken.state() == "used"
    assert bot.invitations.take(made.token, "other@example.com") is None
    bot.invitations.give_back(taken)
    assert bot.invitations.take(made.token, "other@example.com").used_by == "other@example.com"


def test_revoked_expired_and_made_up_tokens_cannot_be_taken(bot):
    revoked = bot.invite("staff@example.com")
    assert bot.invitations.revoke([Invitation.get().id]) == 1
    expired = bot.invite("staff@example.com", lifetime=timedelta(hours=1))
    Invitation.update(expires_at=datetime(2020, 1, 1)).where(
        Invitation.token_hash == token_hash(expired.token)).execute()
    for token, state in ((revoked.token, "revoked"), (expired.token, "expired")):
        assert bot.invitations.find(token).state() == state
        assert bot.invitations.take(token, "x@example.com") is None
    for made_up in ("A" * 24, "short", "../../etc/passwd", "ä" * 24, ""):
        assert bot.invitations.find(made_up) is None
        assert bot.invitations.take(made_up, "x@example.com") is None


def test_a_used_invitation_cannot_be_revoked_and_listing_shows_only_usable_ones(bot):
    used, kept = bot.invite("a@example.com"), bot.invite("b@example.com")
    bot.invitations.take(used.token, "new@example.com")
    assert bot.invitations.revoke([used.id]) == 0
    assert [row.id for row in bot.invitations.listing()] == [kept.id]
    assert {row.id for row in bot.invitations.listing(everything=True)} == {used.id, kept.id}


def test_plugins_check_what_an_invitation_does_before_it_is_made(bot):
    assert bot.invite("s@example.com", {"claim": " 4711 ", "course": "DEUTSCH-ALLTAG"}
                      ).actions == {"claim": "4711", "course": "deutsch-alltag"}
    refusals = []
    for actions in ({"claim": "0815"}, {"course": "klingonisch"}, {"fly": "away"}):
        with pytest.raises(InvitationError) as refused:
            bot.invite("s@example.com", actions)
        refusals.append(refused.value.text("de"))
    assert refusals == ["Einen Vorgang 0815 gibt es nicht.",
                        "Einen Kurs „klingonisch“ gibt es nicht.",
                        "Eine Einladung kann hier nicht 'fly'; sie kann: claim, course."]
    assert Invitation.select().count() == 1


def test_lifetime_and_count_are_bounded_and_the_join_page_must_be_set_up(bot, tmp_path):
    for wrong in ({"lifetime": timedelta(minutes=5)}, {"lifetime": timedelta(days=400)},
                  {"count": 0}, {"count": 1001}):
        with pytest.raises(InvitationError):
            bot.invitations.create("s@example.com", **wrong)
    storage = Storage(f"sqlite:///{tmp_path / 'other.db'}")
    storage.migrate(schemas([]))
    with pytest.raises(InvitationError, match=r"\[join\] public_url"):
        services_over(storage).invite("s@example.com")
    storage.close()


def test_the_admin_cli_creates_lists_and_revokes(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOTSCHAFT_JOIN_PUBLIC_URL", PUBLIC)
    runner = CliRunner()
    assert runner.invoke(main, ["status", "create", "4711", "vehicle"]).exit_code == 0

    made = runner.invoke(main, ["invite", "create", "--claim", "4711", "--expires", "36h",
                                "--count", "3", "--note", "Frau Weber"])
    assert made.exit_code == 0, made.output
    links = re.findall(rf"^\s+(\d+)  {PUBLIC}/join/([\w-]{{24}})$", made.output, re.M)
    assert len(links) == 3 and "3 invitation(s), valid until" in made.output

    listed = runner.invoke(main, ["invite", "list"])
    assert listed.output.count("usable") == 3 and "claim 4711  Frau Weber" in listed.output
    logged = json.loads(runner.invoke(main, ["audit", "--action", "invitation", "--format",
                                             "json"]).output)
    assert [(entry["actor"], entry["channel"], entry["subject"], entry["details"])
            for entry in logged] == [(getpass.getuser(), "cli", number, {"claim": "4711"})
                                     for number, _token in reversed(links)]
    assert not any(token in listed.output for _id, token in links)  # shown once, at creation

    first = links[0][0]
    assert runner.invoke(main, ["invite", "revoke", first]).output == "1 of 1 revoked\n"
    again = runner.invoke(main, ["invite", "revoke", first])
    assert again.exit_code == 1 and again.output == "0 of 1 revoked\n"
    assert "revoked" in runner.invoke(main, ["invite", "list", "--all"]).output

    for wrong, says in ((["--claim", "0815"], "There is no item 0815."),
                        (["--expires", "soon"], "write a number of days or hours"),
                        (["--count", "0"], "0 is not in the range")):
        refused = runner.invoke(main, ["invite", "create", *wrong])
        assert refused.exit_code != 0 and says in refused.output, refused.output
