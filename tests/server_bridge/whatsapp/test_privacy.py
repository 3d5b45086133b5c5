"""`botschaft privacy` covers a WhatsApp user as everyone else (the bridge's data plugin):
export shows what the bridge keeps of their number, erase deletes it and their consent records,
nobody else's; "forget me" in chat tells them what it erases, and of no account of theirs here.
(The inventory's check of docs/data-protection.md covers the bridge's tables.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

from bots import privacy
from bots.app import schemas
from bots.config import ConfigError
from bots.consent import Consent
from bots.privacy_chat import ask_to_forget
from bots.server_privacy import ServerPrivacy
from bots.storage import Storage
from bots.testing import BOTSCHAFT, services_over
from server_bridge.whatsapp import relay, texts
from server_bridge.whatsapp.models import RELAY, Contact, ToWhatsApp, ToXmpp
from server_bridge.whatsapp.privacy import WhatsAppData, number_of
from server_bridge.whatsapp.updates import Incoming

ANNA, BEN = "4917612345678", "4915198765432"
ANNA_JID = f"+{ANNA}@whatsapp.example.com"
KEY = "k" * 32  # [bridge.whatsapp] number_key


@pytest.fixture
async def storage(database_url):
    storage = Storage(database_url, workers=1)
    await storage.run(storage.migrate, schemas([WhatsAppData()]))
    yield storage
    storage.close()


@pytest.fixture
def db(storage):
    return storage.run


async def agreed_and_wrote(db, number: str, text: str) -> None:
    for wamid, said in (("1", "Hallo"), ("2", "ja"), ("3", text)):
        await db(relay.receive, [Incoming(number, f"wamid.{number}.{wamid}", "text", said)],
                 KEY)
    await db(relay.queue_from_xmpp, "bot@example.com", number, f"answer:{number}", "Ihr Auto")


def test_only_a_bridge_address_names_a_number():
    assert number_of(ANNA_JID) == ANNA
    assert number_of("anna@example.com") is None
    assert number_of("+49@whatsapp.example.com") is None  # too short for a phone number


async def test_export_and_erase_reach_the_bridge_s_data_of_that_number_only(storage, db):
    plugins = [WhatsAppData()]
    services_over(storage, plugins, BRIDGE_WHATSAPP_NUMBER_KEY=KEY)
    await agreed_and_wrote(db, ANNA, "Ist mein Auto fertig?")
    await agreed_and_wrote(db, BEN, "Wann kommt die Lektion?")

    exported = await db(privacy.export, ANNA_JID, plugins)
    part = exported["whatsapp"]
    assert part["number"] == ANNA and part["state"] == "agreed"
    assert [message["text"] for message in part["from_whatsapp"]] == ["Ist mein Auto fertig?"]
    assert [message["text"] for message in part["to_whatsapp"]] == ["Ihr Auto"]
    assert [record["purpose"] for record in part["consents"]] == [texts.PURPOSE]
    assert "Wann kommt" not in str(exported)

    deleted = await db(privacy.erase, ANNA_JID, plugins, "the test")
    assert deleted["whatsapp"] >= 4  # contact, messages both ways, consent

    def left(number: str) -> int:  # the bridge's own texts aside
        relayed = ToWhatsApp.select().where((ToWhatsApp.number == number)
                                            & (ToWhatsApp.kind == RELAY))
        return sum(query.count() for query in (
            Contact.select().where(Contact.number == number),
            ToXmpp.select().where(ToXmpp.number == number), relayed,
            Consent.select().where(Consent.jid == relay.consent_subject(number, KEY))))
    assert await db(left, ANNA) == 0
    # the bridge tells them (the bot's own answer to "forget me" cannot pass it any more)
    confirmation = await db(lambda: [row.body for row in ToWhatsApp.select()
                                     .where(ToWhatsApp.number == ANNA)])
    assert confirmation == [texts.both(texts.STOPPED)]
    assert await db(left, BEN) > 0
    assert await db(privacy.export, ANNA_JID, plugins) == {**await db(
        privacy.export, "nobody@example.com", plugins), "jid": ANNA_JID}


async def test_without_the_bridge_s_key_export_and_erase_of_a_number_refuse_and_say_why(
        storage, db):
    """The consent records cannot be found without [bridge.whatsapp] number_key: an erasure
    that would leave them says so and changes nothing; anyone else's is not held up."""
    plugins = [WhatsAppData()]
    services_over(storage, plugins)
    await agreed_and_wrote(db, ANNA, "Ist mein Auto fertig?")
    unset = r"\[bridge.whatsapp\] number_key is not set"
    with pytest.raises(ConfigError, match=unset):
        await db(privacy.export, ANNA_JID, plugins)
    with pytest.raises(ConfigError, match=unset):
        await db(privacy.erase, ANNA_JID, plugins, "the test")
    assert await db(lambda: Contact.select().where(Contact.number == ANNA).count()) == 1
    assert "whatsapp" not in await db(privacy.export, "anna@example.com", plugins)


async def test_the_erase_command_without_the_key_stops_before_anything_is_erased(
        tmp_path, xmpp_server, make_account):
    """`botschaft privacy export` and `erase` without the key say what is missing; erase looks
    at every part first and erases nothing, the bot's contact entry on the XMPP server
    neither; with the key, all of it goes."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    storage = Storage(url, workers=1)
    await storage.run(storage.migrate, schemas([WhatsAppData()]))
    await agreed_and_wrote(storage.run, ANNA, "Ist mein Auto fertig?")
    storage.close()
    bot_jid, _password = make_account("bot")
    instance = xmpp_server.instance
    api = instance.api()
    whatsapp_jid = f"+{ANNA}@whatsapp.{instance.domain}"
    api.add_contact(bot_jid.split("@")[0], instance.domain, whatsapp_jid, "Anna")
    server = ServerPrivacy(api, bot_jid)

    def privacy_cli(*arguments: str, **settings: str) -> subprocess.CompletedProcess:
        return subprocess.run([BOTSCHAFT, "privacy", *arguments, whatsapp_jid],
                              capture_output=True, text=True, timeout=60, env={
                                  **os.environ, "BOTSCHAFT_CONFIG": os.devnull,
                                  "BOTSCHAFT_DATABASE_URL": url, "BOTSCHAFT_XMPP_JID": bot_jid,
                                  "BOTSCHAFT_EJABBERD_API_URL": api.url,
                                  "BOTSCHAFT_EJABBERD_ADMIN_JID": instance.admin_jid,
                                  "BOTSCHAFT_EJABBERD_ADMIN_PASSWORD": instance.admin_password,
                                  **settings})
    for command in (["export"], ["erase", "--yes"]):
        refused = await asyncio.to_thread(privacy_cli, *command)
        assert refused.returncode == 1 and "[bridge.whatsapp] number_key is not set" in \
            refused.stderr and "Traceback" not in refused.stderr
    assert server.export(whatsapp_jid)["contact_of_the_bot"] is not None
    storage = Storage(url, workers=1)
    try:
        assert await storage.run(lambda: Contact.select().count()) == 1
        done = await asyncio.to_thread(privacy_cli, "erase", "--yes",
                                       BOTSCHAFT_BRIDGE_WHATSAPP_NUMBER_KEY=KEY)
        assert done.returncode == 0, done.stderr
        assert await storage.run(lambda: Contact.select().count()) == 0
        assert await storage.run(lambda: Consent.select().count()) == 0
        assert server.export(whatsapp_jid)["contact_of_the_bot"] is None
    finally:
        storage.close()


async def test_forget_me_tells_a_whatsapp_user_of_no_account_or_archive_of_theirs_here(
        storage, db):
    plugin = WhatsAppData()
    plugin.bot = services_over(storage, [plugin], BOT_TIMEZONE="Europe/Berlin",
                               BRIDGE_WHATSAPP_NUMBER_KEY=KEY)
    await agreed_and_wrote(db, ANNA, "Ist mein Auto fertig?")
    asked = await db(ask_to_forget, ANNA_JID, [plugin], "de", "Europe/Berlin", time.time(),
                     True, False)
    assert "Ihre WhatsApp-Nummer +4917612345678" in asked
    assert "auf dem Chat-Server: unser Chatverlauf und mein Kontakteintrag für Sie" in asked
    assert "Nachrichtenarchiv" not in asked and "Chat-Konto" not in asked
