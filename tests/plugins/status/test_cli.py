"""`botschaft status …` as an admin runs it: set, create, show, import with a clear report,
unlock."""

from __future__ import annotations

import csv
import getpass
import json

import pytest
from click.testing import CliRunner

from bots.app import schemas
from bots.cli import main
from bots.storage import Storage
from bots.testing import services_over
from plugins.status import Status
from plugins.status.cli import spreadsheet_cell
from plugins.status.service import ClaimResult


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.chdir(tmp_path)
    return lambda *arguments: CliRunner().invoke(main, ["status", *arguments])


def test_create_set_and_show(run):
    assert "claim code ABCD23" in run("create", "4711", "vehicle", "--code", "abcd-23").output
    assert run("set", "4711", "cleaning", "--note", "Felgen").output == (
        "4711: cleaning; 0 people were told.\n")
    assert "already; nobody was told again" in run("set", "4711", "cleaning").output
    shown = run("show", "4711").output
    assert "4711 (vehicle): cleaning, claim code ABCD23, claimed by 0" in shown
    assert "cleaning (cli) — Felgen" in shown
    wrong = run("set", "4711", "cleanign")
    assert wrong.exit_code == 1 and "state: cleanign is no state of kind vehicle" in wrong.output
    assert "no item 99" in run("show", "99").output


def test_a_bad_file_names_every_line_and_imports_nothing(run, tmp_path):
    (tmp_path / "jobs.csv").write_text("ref;kind;state\nA;order;packed\nB;order;shiped\n"
                                       "C;bus;packed\n", encoding="utf-8")
    result = run("import", "jobs.csv", "--codes-out", "codes.csv")
    assert result.exit_code == 1
    assert "jobs.csv: line 3, field state: shiped is no state of kind order" in result.output
    assert "jobs.csv: line 4, field kind: unknown kind bus" in result.output
    assert "2 error(s); nothing was imported" in result.output
    assert "no item A" in run("show", "A").output and not (tmp_path / "codes.csv").exists()


def test_new_items_need_codes_from_the_file_or_codes_out(run, tmp_path):
    (tmp_path / "jobs.csv").write_text("ref,kind,state,code\nA,order,packed,\nB,book,ready,"
                                       "LIB123\n", encoding="utf-8-sig")  # Excel writes a BOM
    refused = run("import", "jobs.csv")
    assert refused.exit_code == 1 and "1 new item(s) have no code" in refused.output
    assert run("import", "jobs.csv", "--codes-out", "codes.csv").output.endswith(
        "jobs.csv: 2 rows imported, 2 new items; codes in codes.csv\n")
    code = (tmp_path / "codes.csv").read_text().splitlines()[1].split(",")[1]
    assert f"claim code {code}" in run("show", "A").output
    assert "claim code LIB123" in run("show", "B").output


def test_what_the_admin_changed_by_hand_and_by_file_is_in_the_audit_log(run, tmp_path):
    run("create", "A", "order", "--code", "ABCD23")
    (tmp_path / "jobs.csv").write_text("ref,kind,state,code\nA,order,packed,\nB,book,ready,"
                                       "LIB123\n", encoding="utf-8")
    assert run("import", "jobs.csv").exit_code == 0
    logged = json.loads(CliRunner().invoke(main, ["audit", "--format", "json"]).output)
    assert [(entry["actor"], entry["channel"], entry["action"], entry["subject"],
             entry["details"]) for entry in logged] == [
        (getpass.getuser(), "cli", "status.set", "A", {"state": "packed"}),
        (getpass.getuser(), "cli", "status.import", None, {"rows": 2, "created": 1}),
        (getpass.getuser(), "cli", "status.create", "A", {"kind": "order", "state": "received"})]


def test_a_file_that_is_not_utf8_says_so(run, tmp_path):
    (tmp_path / "jobs.csv").write_bytes("ref,state\nMÜ,ready\n".encode("latin-1"))
    result = run("import", "jobs.csv")
    assert result.exit_code == 1 and "not UTF-8" in result.output


def claims(tmp_path, *codes: str) -> list[ClaimResult]:
    """Alice's claims of 4711 with these codes, through the book on the CLI's database."""
    plugin = Status()
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([plugin]))
    try:
        book = plugin.make_book(services_over(storage, [plugin], BOT_LANGUAGE="en"))
        return [book.claim("alice@example.com", "4711", code)[0] for code in codes]
    finally:
        storage.close()


def test_unlock_forgets_a_person_s_failed_claims(run, tmp_path):
    run("create", "4711", "vehicle", "--code", "ABCD23")
    assert claims(tmp_path, *[f"WRONG{attempt}" for attempt in range(5)], "ABCD23")[-1] \
        is ClaimResult.LIMITED
    assert run("unlock", "Alice@Example.com/phone").output == (
        "alice@example.com: 5 failed attempts were cleared.\n")
    assert claims(tmp_path, "ABCD23") == [ClaimResult.LINKED]
    refused = run("unlock", "no-address")
    assert refused.exit_code == 1 and "no-address is no Jabber address" in refused.output


def test_codes_out_that_cannot_be_written_imports_nothing(run, tmp_path):
    (tmp_path / "jobs.csv").write_text("ref,kind,state\nA,order,packed\n", encoding="utf-8")
    refused = run("import", "jobs.csv", "--codes-out", "missing/codes.csv")
    assert refused.exit_code == 1
    assert "missing/codes.csv: cannot write there" in refused.output
    assert "nothing was imported" in refused.output
    assert "no item A" in run("show", "A").output
    imported = run("import", "jobs.csv", "--codes-out", "codes.csv").output
    assert imported.endswith("1 new items; codes in codes.csv\n")
    assert "checking" not in imported and "importing" not in imported  # no bar off a terminal


def test_references_a_spreadsheet_would_run_are_written_as_text(run, tmp_path):
    refs = ['=HYPERLINK("http://evil.example","open")', "@SUM(1+1)", "+1+1", "-1", "4711"]
    with (tmp_path / "jobs.csv").open("w", newline="", encoding="utf-8") as jobs:
        csv.writer(jobs).writerows([("ref", "kind", "state"),
                                    *((ref, "order", "packed") for ref in refs)])
    assert run("import", "jobs.csv", "--codes-out", "codes.csv").exit_code == 0
    with (tmp_path / "codes.csv").open(newline="", encoding="utf-8") as codes:
        written = [row[0] for row in csv.reader(codes)][1:]
    assert written == ["'" + ref.upper() for ref in refs[:4]] + ["4711"]


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("4711", "4711"), ("", ""), ("A=1", "A=1")])
def test_a_cell_a_spreadsheet_would_read_as_formula_gets_a_quote(cell, safe):
    assert spreadsheet_cell(cell) == safe


def test_notes_from_the_command_line_and_a_file_lose_their_control_characters(run, tmp_path):
    """XML forbids them: stored as given, they would break the stream that pushes the note."""
    run("create", "4711", "vehicle", "--code", "ABCD23")
    assert run("set", "4711", "cleaning", "--note", "Felgen\x01 extra").exit_code == 0
    (tmp_path / "jobs.csv").write_text("ref,state,note\n4711,ready,Schlüssel\x0b am\x1b "
                                       "Empfang\n", encoding="utf-8")
    assert run("import", "jobs.csv").exit_code == 0
    shown = run("show", "4711").output
    assert "(cli) — Felgen extra\n" in shown and "(import) — Schlüssel am Empfang\n" in shown
