"""`botschaft privacy export|erase JID`: everything about one person, core and plugins."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess

from click.testing import CliRunner

from bots import consent
from bots.app import schemas
from bots.cli import main
from bots.outbox import enqueue
from bots.people import PersonSetting
from bots.privacy import Erasure
from bots.storage import Storage
from bots.devserver import BOT_USER
from bots.testing import BOTSCHAFT, run_environment, services_over
from plugins.status import Status
from tests.conftest import eventually
from tests.ejabberd_person import ANSWER, QUESTION, WAITING, person_with_server_data

ALICE, BOB = "alice@example.com", "bob@example.com"


def test_export_shows_and_erase_deletes_everything_about_one_person(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["status", "create", "4711", "vehicle", "--code", "ABCD23"]
                         ).exit_code == 0
    plugin = Status()
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([plugin]))
    services = services_over(storage, [plugin], JOIN_PUBLIC_URL="https://join.example.com")
    book = plugin.make_book(services)
    for jid in (ALICE, BOB):
        book.claim(jid, "4711", "ABCD23", "de")
        PersonSetting.create(jid=jid, language="de")
        enqueue(f"test:{jid}", jid, f"Hallo {jid}")
        invitation = services.invite("staff@example.com", {"claim": "4711"})
        services.invitations.take(invitation.token, jid)
    storage.close()

    exported = runner.invoke(main, ["privacy", "export", "Alice@Example.com/phone"])
    data = json.loads(exported.output)
    assert data["jid"] == ALICE and data["settings"] == {"language": "de"}
    assert data["consents"][0]["purpose"] == "status.notify"
    assert data["messages_from_the_bot"][0]["text"] == f"Hallo {ALICE}"
    assert data["status"]["claimed_items"][0]["ref"] == "4711"
    assert data["invitations"][0]["actions"] == {"claim": "4711"}

    erased = runner.invoke(main, ["privacy", "erase", ALICE, "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "settings 1, consents 1, messages_from_the_bot 1, invitations 1" in erased.output
    assert "nothing done on the XMPP server: the admin API is not configured: set [ejabberd] " \
        "api_url" in erased.output  # [ejabberd] is empty in this configuration
    after = json.loads(runner.invoke(main, ["privacy", "export", ALICE]).output)
    assert "nothing read through ejabberd's admin API" in " ".join(
        after.pop("server")["not_included"])
    assert after == {"jid": ALICE, "settings": {}, "consents": [], "messages_from_the_bot": [],
                     "invitations": [], "schedule": [], "invitations_made": [], "audit": [],
                     "announce": {"subscriptions": [], "announcements": []},
                     "lessons": {"subscriptions": []},
                     "rooms": {"rooms": [], "trainer_of": []},
                     "status": {"claimed_items": [], "failed_claims": []},
                     "support": {"cases": [], "texts": []}}
    assert json.loads(runner.invoke(main, ["privacy", "export", BOB]).output)["status"][
        "claimed_items"]  # the other person's data stays
    assert consent.has(BOB, "status.notify")


def test_erase_asks_first_and_refuses_what_is_no_address(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    assert CliRunner().invoke(main, ["privacy", "erase", ALICE], input="n\n").exit_code == 1
    result = CliRunner().invoke(main, ["privacy", "erase", "alice", "--yes"])
    assert result.exit_code == 2 and "no Jabber address" in result.output


async def test_an_erasure_from_the_cli_is_noticed_by_the_running_bot(make_bot, chat_client,
                                                                     xmpp_server):
    bot = await make_bot()
    bot.people.ERASURE_CHECK_INTERVAL = 0  # look at every message (the default: once a second)
    client = await chat_client()
    jid = client.boundjid.bare
    instance = xmpp_server.instance
    instance.api().add_contact(BOT_USER, instance.domain, jid, "Kunde")
    await eventually(lambda: bot.client_roster.has_jid(jid), timeout=10)
    assert await client.ask(bot.boundjid.bare, "sprache de") == \
        "Ab jetzt antworte ich Ihnen auf Deutsch."
    erased = subprocess.run(
        [BOTSCHAFT, "privacy", "erase", jid, "--yes"], capture_output=True, text=True,
        env=run_environment(instance, "", bot.storage.url, **admin_api(instance)))
    assert erased.returncode == 0, erased.stderr
    assert "the bot's contact list: removed them" in erased.stdout
    await eventually(lambda: not bot.client_roster.has_jid(jid), timeout=10)  # pushed to it
    assert await client.ask(bot.boundjid.bare, "language") == \
        "I answer you in English. Change it with: language de|en"
    [erasure] = await bot.storage.run(lambda: list(Erasure.select()))
    assert json.loads(erasure.parts)["settings"] == 1 and erasure.by
    assert jid not in erasure.parts + erasure.by  # that it happened, not whom it was about


async def test_export_and_erase_cover_what_the_xmpp_server_keeps(xmpp_server, tmp_path):
    person = await person_with_server_data(xmpp_server)
    instance = xmpp_server.instance
    database = tmp_path / "bot.db"
    environ = run_environment(instance, person.bot_password, f"sqlite:///{database}",
                              XMPP_JID=person.bot_jid, **admin_api(instance))

    async def botschaft(*arguments: str):
        # in a thread: the command runs an event loop of its own (the archive's XMPP session)
        result = await asyncio.to_thread(CliRunner().invoke, main, arguments, env=environ)
        assert result.exit_code == 0, result.output
        return result.stdout

    exported = json.loads(await botschaft("privacy", "export", person.jid, "--with-archive"))
    server = exported["server"]
    assert server["contact_of_the_bot"]["subscription"] == "both"
    assert server["account_on_this_server"] is True and server["offline_messages"] == 1
    assert {message["text"] for message in server["archive_of_the_bot"]["texts"]} == {
        QUESTION, ANSWER, WAITING}

    erased = await botschaft("privacy", "erase", person.jid, "--account", "--yes")
    assert "On the XMPP server:\n  the bot's contact list: removed them" in erased
    assert "messages waiting for them: removed 1 with the account" in erased
    assert "their account: removed" in erased
    again = await botschaft("privacy", "erase", person.jid, "--account", "--yes")
    assert "their account: there is none" in again and "they were not in it" in again

    with contextlib.closing(sqlite3.connect(database)) as connection:
        records = connection.execute("SELECT parts, by FROM bots_erasure ORDER BY id").fetchall()
    assert [json.loads(parts)["server"]["account"] for parts, _by in records] == [1, 0]
    assert json.loads(records[0][0])["server"]["offline_messages"] == 1
    assert not [record for record in records if person.user in "".join(record)]
    after = json.loads(await botschaft("privacy", "export", person.jid))["server"]
    assert after["contact_of_the_bot"] is None and after["account_on_this_server"] is False
    assert after["archive_of_the_bot"] == {"messages": 0}


def admin_api(instance) -> dict[str, str]:
    """Settings (as for `run_environment`) that give the bot the test server's admin API."""
    return {"EJABBERD_API_URL": instance.api().url, "EJABBERD_ADMIN_JID": instance.admin_jid,
            "EJABBERD_ADMIN_PASSWORD": instance.admin_password}
