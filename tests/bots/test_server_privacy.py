"""What ejabberd keeps about a person: export it, erase it (bots/server_privacy.py), on the
session's ejabberd (SQLite; PostgreSQL: tests/test_ejabberd_postgresql.py)."""

from __future__ import annotations

from bots.ejabberd_api import EjabberdAPI
from bots.server_privacy import ServerPrivacy, bot_archive
from bots.testing import bot_config
from tests.ejabberd_person import (ANSWER, QUESTION, WAITING, person_with_server_data,
                                   sqlite_tables_naming)


async def test_export_shows_and_erase_removes_what_the_server_keeps(xmpp_server):
    person = await person_with_server_data(xmpp_server)
    server = ServerPrivacy(xmpp_server.instance.api(), person.bot_jid)
    as_the_bot = bot_config(xmpp_server, XMPP_JID=person.bot_jid,
                            XMPP_PASSWORD=person.bot_password)
    database = xmpp_server.devserver.spool / "ejabberd.sqlite"

    assert server.export(person.jid) == {
        "contact_of_the_bot": {"name": person.user, "subscription": "both",
                               "request_pending": False, "groups": ["Botschaft"]},
        "account_on_this_server": True, "offline_messages": 1}
    archive = await bot_archive(as_the_bot, person.jid, texts=True)
    assert {message["text"] for message in archive["texts"]} == {QUESTION, ANSWER, WAITING}
    assert archive["messages"] == len(archive["texts"])
    assert {"users", "rosterusers", "archive", "archive_prefs", "spool",
            "privacy_list_data"} <= sqlite_tables_naming(database, person.user)

    kept = server.erase(person.jid, account=False)
    assert kept.error is None and kept.record == {
        "bot_contact": 1, "bot_archive": "removed", "archive": "removed",
        "offline_messages": "kept: 1", "account": "kept"}
    assert "1 kept" in " ".join(kept.lines())
    assert await bot_archive(as_the_bot, person.jid, texts=False) == {"messages": 0}
    assert server.export(person.jid) == {"contact_of_the_bot": None,
                                         "account_on_this_server": True, "offline_messages": 1}
    left = sqlite_tables_naming(database, person.user)  # their account's own, and the waiting
    assert "archive" not in left and {"users", "rosterusers", "spool"} <= left

    erased = server.erase(person.jid, account=True)
    assert erased.error is None and erased.record == {
        "bot_contact": 0, "bot_archive": "removed", "archive": "removed",
        "offline_messages": 1, "account": 1}
    assert sqlite_tables_naming(database, person.user) == set()

    again = server.erase(person.jid, account=True)
    assert again.error is None and again.record["account"] == 0
    assert "there is none" in " ".join(again.lines())
    assert server.export(person.jid) == {"contact_of_the_bot": None,
                                         "account_on_this_server": False, "offline_messages": 0}


def test_a_person_of_another_server_has_only_the_bots_records_here(xmpp_server, make_account):
    bot_jid, _password = make_account("bot")
    server = ServerPrivacy(xmpp_server.instance.api(), bot_jid)
    erased = server.erase("anna@chat.example.org", account=True)
    assert erased.error is None and erased.record == {
        "bot_contact": 0, "bot_archive": "removed", "account": "elsewhere"}
    assert "another server (chat.example.org)" in erased.lines()[-1]


def test_a_server_error_is_named_and_stops_the_erasure(xmpp_server, make_account):
    bot_jid, _password = make_account("bot")
    instance = xmpp_server.instance
    refused = EjabberdAPI(instance.api().url, instance.admin_jid, "not-the-password")
    erased = ServerPrivacy(refused, bot_jid).erase("anna@chat.example.org", account=True)
    assert erased.outcomes == [] and erased.record == {"incomplete": True}
    assert erased.error.startswith("get_roster: ") and "(HTTP 401)" in erased.error
