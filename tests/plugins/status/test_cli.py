"""`botschaft status …` as an admin runs it: set, create, show, import with a clear report."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bots.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.chdir(tmp_path)
    return lambda *arguments: CliRunner().invoke(main, ["status", *arguments])


def test_create_set_and_show(run):
    assert "claim code ABCD23" in run("create", "4711", "vehicle", "--code", "abcd-23").output
    assert run("set", "4711", "cleaning", "--note", "Felgen").output == (
        "4711: cleaning (0 people told)\n")
    assert "already; nothing changed" in run("set", "4711", "cleaning").output
    shown = run("show", "4711").output
    assert "4711 (vehicle): cleaning, claim code ABCD23, claimed by 0" in shown
    assert "cleaning (cli) — Felgen" in shown
    wrong = run("set", "4711", "cleanign")
    assert wrong.exit_code == 1 and "state: 'cleanign' is no state of kind vehicle" in wrong.output
    assert "no item 99" in run("show", "99").output


def test_a_bad_file_names_every_line_and_imports_nothing(run, tmp_path):
    (tmp_path / "jobs.csv").write_text("ref;kind;state\nA;order;packed\nB;order;shiped\n"
                                       "C;bus;packed\n", encoding="utf-8")
    result = run("import", "jobs.csv", "--codes-out", "codes.csv")
    assert result.exit_code == 1
    assert "jobs.csv: line 3, field state: 'shiped' is no state of kind order" in result.output
    assert "jobs.csv: line 4, field kind: unknown kind 'bus'" in result.output
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


def test_a_file_that_is_not_utf8_says_so(run, tmp_path):
    (tmp_path / "jobs.csv").write_bytes("ref,state\nMÜ,ready\n".encode("latin-1"))
    result = run("import", "jobs.csv")
    assert result.exit_code == 1 and "not UTF-8" in result.output
