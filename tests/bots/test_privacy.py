"""`botschaft privacy export|erase JID`: everything about one person, core and plugins."""

from __future__ import annotations

import json
import os
import subprocess

from click.testing import CliRunner

from bots import consent
from bots.app import schemas
from bots.cli import main
from bots.outbox import enqueue
from bots.people import PersonSetting
from bots.privacy import Erasure
from bots.storage import Storage
from bots.testing import BOTSCHAFT, services_over
from plugins.status import Status

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
    after = json.loads(runner.invoke(main, ["privacy", "export", ALICE]).output)
    assert after == {"jid": ALICE, "settings": {}, "consents": [], "messages_from_the_bot": [],
                     "invitations": [], "lessons": {"subscriptions": []},
                     "rooms": {"rooms": [], "trainer_of": []},
                     "status": {"claimed_items": [], "failed_claims": []}}
    assert json.loads(runner.invoke(main, ["privacy", "export", BOB]).output)["status"][
        "claimed_items"]  # the other person's data stays
    assert consent.has(BOB, "status.notify")


def test_erase_asks_first_and_refuses_what_is_no_address(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    assert CliRunner().invoke(main, ["privacy", "erase", ALICE], input="n\n").exit_code == 1
    result = CliRunner().invoke(main, ["privacy", "erase", "alice", "--yes"])
    assert result.exit_code == 2 and "no Jabber address" in result.output


async def test_an_erasure_from_the_cli_is_noticed_by_the_running_bot(make_bot, chat_client):
    bot = await make_bot()
    bot.people.ERASURE_CHECK_INTERVAL = 0  # look at every message (the default: once a second)
    client = await chat_client()
    jid = client.boundjid.bare
    assert await client.ask(bot.boundjid.bare, "sprache de") == \
        "Ab jetzt antworte ich Ihnen auf Deutsch."
    erased = subprocess.run(
        [BOTSCHAFT, "privacy", "erase", jid, "--yes"], capture_output=True, text=True,
        env={**os.environ, "BOTSCHAFT_CONFIG": os.devnull,
             "BOTSCHAFT_DATABASE_URL": bot.storage.url})
    assert erased.returncode == 0, erased.stderr
    assert await client.ask(bot.boundjid.bare, "language") == \
        "I answer you in English. Change it with: language de|en"
    [erasure] = await bot.storage.run(lambda: list(Erasure.select()))
    assert json.loads(erasure.parts)["settings"] == 1 and erasure.by
    assert jid not in erasure.parts + erasure.by  # that it happened, not whom it was about
