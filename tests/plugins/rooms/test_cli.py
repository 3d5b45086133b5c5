"""`botschaft rooms …` as an admin runs it, against the session's real ejabberd: create (twice),
add, list, import with a report naming each bad line, archive, destroy; and `botschaft privacy
erase` of a room's member and co-trainer, in the book and on the server."""

from __future__ import annotations

import getpass
import json
import uuid

import pytest
from click.testing import CliRunner

from bots.cli import main
from bots.devserver import BOT_USER
from bots.testing import join_settings


@pytest.fixture
def botschaft(tmp_path, monkeypatch, xmpp_server):
    """`botschaft …` over the test's database, as the bot on the session's server."""
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOTSCHAFT_XMPP_JID", f"{BOT_USER}@{xmpp_server.domain}")
    for name, value in join_settings(xmpp_server).items():
        if name.startswith("EJABBERD_"):
            monkeypatch.setenv(f"BOTSCHAFT_{name}", value)
    xmpp_server.devserver.ensure_user(BOT_USER)
    monkeypatch.chdir(tmp_path)
    return lambda *arguments: CliRunner().invoke(main, list(arguments))


@pytest.fixture
def run(botschaft):
    """`botschaft rooms …`."""
    return lambda *arguments: botschaft("rooms", *arguments)


def test_a_room_s_life_on_the_command_line(run, botschaft, make_account, tmp_path, xmpp_server):
    room = f"team-{uuid.uuid4().hex[:6]}"
    address = f"{room}@conference.{xmpp_server.domain}"
    assert run("create", room, "Team Nord").stdout == f"{address}: created\n"
    assert "exists already, unchanged" in run("create", room, "Team Nord").output
    bad = run("create", "zwei worte", "Name")
    assert bad.exit_code == 1 and "cannot name a room" in bad.output

    anna = make_account("anna")[0]
    assert run("add", room, anna).stdout == f"{anna}: invited\n"
    assert run("add", room, anna).stdout == f"{anna}: invited already\n"

    bert = make_account("bert")[0]
    (tmp_path / "people.csv").write_text(f"jid;role\n{bert};member\nnobody;member\n"
                                         f"{anna};chef\n", encoding="utf-8")
    refused = run("import", room, "people.csv")
    assert refused.exit_code == 1 and "nothing was imported" in refused.output
    assert "line 3, field jid: nobody is not a Jabber address" in refused.output
    assert "line 4, field role" in refused.output
    (tmp_path / "people.csv").write_text(f"jid\n{bert}\n{anna}\n", encoding="utf-8")
    assert "2 rows, 1 newly invited" in run("import", room, "people.csv").output
    (tmp_path / "latin.csv").write_bytes("jid\nbörse@x.example\n".encode("latin-1"))
    assert "line 2: not UTF-8" in run("import", room, "latin.csv").output

    assert f"{address:<40} active    0/2" in run("list").output
    assert run("remove", room, anna).stdout == f"{anna}: removed\n"
    assert "archived" in run("archive", room, "--destroy-after", "90d").output
    assert run("archive", room, "--destroy-after", "soon").exit_code == 2
    assert run("destroy", room, "--yes").stdout == f"{room}: destroyed\n"
    assert "there is no room" in run("destroy", room, "--yes").output
    logged = json.loads(botschaft("audit", "--action", "room", "--format", "json").output)
    assert {(entry["actor"], entry["channel"]) for entry in logged} == {(getpass.getuser(), "cli")}
    assert [(entry["action"], entry["subject"], entry["details"]) for entry in logged] == [
        ("room.destroy", room, {}), ("room.archive", room, {"destroy_after_days": 90}),
        ("room.remove", anna, {"room": room}), ("room.add", bert, {"room": room}),
        ("room.add", anna, {"room": room}), ("room.create", room, {"course": None})]


def test_erasing_a_member_and_a_co_trainer_takes_them_out_of_the_room_on_the_server(
        run, botschaft, open_book, make_account, tmp_path, xmpp_server):
    room = f"team-{uuid.uuid4().hex[:6]}"
    run("create", room, "Team Süd")
    member, co_trainer = make_account("anna")[0], make_account("cora")[0]
    run("add", room, member)
    (tmp_path / "owners.csv").write_text(f"jid;role\n{co_trainer};owner\n", encoding="utf-8")
    run("import", room, "owners.csv")
    open_book(f"sqlite:///{tmp_path / 'bot.db'}").join(member, room)  # she said `join`
    api, service = xmpp_server.instance.api(), f"conference.{xmpp_server.domain}"

    def affiliation(jid: str) -> str:
        return {entry.jid: entry.affiliation for entry in
                api.get_room_affiliations(room, service)}.get(jid, "none")

    def rooms_of(jid: str) -> list[str]:
        exported = botschaft("privacy", "export", jid)
        assert exported.exit_code == 0, exported.output
        return [row["room"] for row in json.loads(exported.stdout)["rooms"]["rooms"]]

    assert (affiliation(member), affiliation(co_trainer)) == ("member", "owner")
    assert rooms_of(member) == [room]
    erased = botschaft("privacy", "erase", member, "--yes")
    assert erased.exit_code == 0 and "rooms 1" in erased.stdout, erased.output
    assert affiliation(member) == "none" and rooms_of(member) == []
    assert botschaft("privacy", "erase", co_trainer, "--yes").exit_code == 0
    assert affiliation(co_trainer) == "none"  # an owner the book has no row for
