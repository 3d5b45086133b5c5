"""The WhatsApp bridge end to end: the real ejabberd, the status bot, the bridge as a component,
and the fake Cloud API over real HTTP playing a WhatsApp user. A new user gets only the notice,
opts in, claims an item and asks the status bot, and gets the answers (and the bot's push) on
WhatsApp; forged and duplicate webhooks change nothing; the Cloud API's 500 and 429 lose
nothing; STOP ends everything and erases."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import ssl
import subprocess
import uuid
from xml.etree import ElementTree

import aiohttp
import pytest
import slixmpp
from slixmpp.plugins.xep_0444 import XEP_0444

from bots.config import load as load_config
from bots.consent import Consent
from bots.devserver import free_port
from bots.storage import Storage
from bots.testing import BOTSCHAFT
from plugins.status import Status
from server_bridge.whatsapp import relay, texts
from server_bridge.whatsapp.bridge import Bridge
from server_bridge.whatsapp.fake_cloud import FakeCloud
from server_bridge.whatsapp.http import FAILURES
from server_bridge.whatsapp.models import Contact, ToWhatsApp, ToXmpp
from tests.conftest import eventually
from tests.e2e.test_status import create_item

TOKEN = "e2e-access-token"
APP_SECRET = "e2e-app-secret"


def bridge_config(xmpp_server, bot, cloud: FakeCloud, url: str):
    environ = cloud.bridge_environ(url, xmpp_server.instance, bot.boundjid.bare)
    return load_config(None, environ={**environ, "BOTSCHAFT_BRIDGE_WHATSAPP_PER_RECIPIENT": "0",
                                      "BOTSCHAFT_BOT_LANGUAGE": "en"})


@pytest.fixture
async def shop(make_bot, chat_client, xmpp_server, tmp_path):
    """The status bot, a staff member, the fake Cloud API and the bridge between them."""
    staff = await chat_client()
    bot = await make_bot(plugins=[Status(Status.default_config)],
                         PEOPLE_STAFF=staff.boundjid.bare)
    cloud = FakeCloud(TOKEN, APP_SECRET)
    url = cloud.start()
    storage = Storage(f"sqlite:///{tmp_path / 'bridge.db'}")
    bridge = Bridge(bridge_config(xmpp_server, bot, cloud, url), storage)
    await bridge.start()
    cloud.webhook_url = f"http://127.0.0.1:{bridge.webhook_port}/webhook"
    yield bot, staff, cloud, bridge
    await bridge.stop()
    await cloud.stop()
    storage.close()


def new_number() -> str:
    return "49176" + str(uuid.uuid4().int)[:8]


async def answered(cloud: FakeCloud, number: str, count: int) -> list[str]:
    """The first `count` texts the business sent `number`, once there are that many."""
    await eventually(lambda: len(cloud.texts_to(number)) >= count, timeout=30)
    return cloud.texts_to(number)[:count]


async def rows(bridge: Bridge, number: str) -> tuple:
    def read():
        return tuple(list(model.select().where(model.number == number).dicts())
                     for model in (Contact, ToXmpp, ToWhatsApp))
    return await bridge.storage.run(read)


async def opted_in(cloud: FakeCloud, number: str) -> None:
    assert await cloud.user_says(number, "Hallo, ist mein Auto fertig?") == 200
    assert await answered(cloud, number, 1) == [texts.both(texts.NOTICE)]
    assert await cloud.user_says(number, "JA") == 200
    assert (await answered(cloud, number, 2))[1] == texts.both(texts.WELCOME)


async def test_a_new_user_opts_in_and_is_served_by_the_status_bot_on_whatsapp(shop):
    bot, staff, cloud, bridge = shop
    number = new_number()
    assert await cloud.user_says(number, "Hallo, ist mein Auto fertig?") == 200
    assert await answered(cloud, number, 1) == [texts.both(texts.NOTICE)]
    contact, relayed, _out = await rows(bridge, number)
    assert [row["state"] for row in contact] == ["asked"] and relayed == []

    assert await cloud.user_says(number, "yes") == 200  # English, then
    await answered(cloud, number, 2)
    ref, code = await create_item(bot, staff)
    await cloud.user_says(number, f"claim {ref} {code}")
    assert (await answered(cloud, number, 3))[2].startswith(f"Linked: Vehicle {ref}.")
    await cloud.user_says(number, "status")
    assert f"Vehicle {ref}: We have received your vehicle" in (await answered(cloud, number, 4))[3]

    assert "1 person was told." in await staff.ask(bot.boundjid.bare, f"set {ref} cleaning")
    assert (await answered(cloud, number, 5))[4].startswith(f"Vehicle {ref}: Your vehicle is "
                                                            "being cleaned")
    _contact, relayed, sent = await rows(bridge, number)
    await eventually(lambda: all(row["state"] == "done" for row in relayed))
    assert all(row["body"] is None for row in relayed)  # kept only until delivered


async def test_forged_and_repeated_webhooks_change_nothing(shop):
    _bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    before = await rows(bridge, number)
    forged = cloud.envelope({"messages": [{"from": number, "id": "wamid.forged",
                                           "timestamp": "1", "type": "text",
                                           "text": {"body": "STOP"}}]})
    assert (await cloud.post_webhook(forged, sign_with=""))[0] == 401
    assert (await cloud.post_webhook(forged, sign_with="guessed"))[0] == 401
    assert await rows(bridge, number) == before

    delivery = cloud.envelope({"messages": [{"from": number, "id": "wamid.twice",
                                             "timestamp": "1", "type": "text",
                                             "text": {"body": "status"}}]})
    for _ in range(3):
        assert (await cloud.post_webhook(delivery))[0] == 200
    await answered(cloud, number, 3)
    _contact, relayed, _out = await rows(bridge, number)
    assert len(relayed) == 1


async def test_cloud_api_errors_are_retried_and_nothing_is_lost_or_doubled(shop):
    _bot, _staff, cloud, _bridge = shop
    number = new_number()
    cloud.fail_next(131000, times=2, http_status=500)
    cloud.fail_next(130429, http_status=429)
    await cloud.user_says(number, "Hallo")
    assert await answered(cloud, number, 1) == [texts.both(texts.NOTICE)]
    assert cloud.attempts >= 4  # three refused, then taken
    await cloud.user_says(number, "yes")
    await answered(cloud, number, 2)
    assert cloud.texts_to(number) == [texts.both(texts.NOTICE), texts.both(texts.WELCOME)]


async def test_stop_ends_relaying_confirms_and_erases(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    await cloud.user_says(number, "status")
    await answered(cloud, number, 3)
    assert await cloud.user_says(number, "STOPP") == 200
    assert (await answered(cloud, number, 4))[3] == texts.both(texts.STOPPED)
    await eventually(lambda: bridge_rows_gone(bridge, number))
    consents = await bridge.storage.run(lambda: list(Consent.select().dicts()))
    assert consents and all(row["withdrawn_at"] for row in consents)

    refusals = []
    bot.add_event_handler("message_error", refusals.append)
    try:  # the bot writes anyway: refused with the reason, nothing leaves
        bot.send_message(mto=f"+{number}@{bridge.gateway.boundjid.domain}", mbody="Noch da?",
                         mtype="chat")
        await eventually(lambda: refusals, timeout=15)
    finally:
        bot.del_event_handler("message_error", refusals.append)
    assert refusals[0]["error"]["text"] == texts.NOT_AGREED.render("en")
    assert refusals[0]["from"].user == f"+{number}"
    assert len(cloud.texts_to(number)) == 4


async def test_delivered_and_read_on_whatsapp_come_back_as_receipt_and_chat_markers(shop):
    """The sender asked for a receipt (XEP-0184) and chat markers (XEP-0333): WhatsApp's
    delivered and read come back as those, from the person's address, for their stanza id."""
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    news = []
    bot.add_filter("in", lambda stanza: (isinstance(stanza, slixmpp.Message)
                                         and news.append(stanza), stanza)[1])
    message = bot.make_message(mto=address, mbody="Ihr Auto ist fertig", mtype="chat")
    message["id"] = "status-4711-ready"
    message["request_receipt"] = True
    ElementTree.SubElement(message.xml, "{urn:xmpp:chat-markers:0}markable")
    message.send()

    def seen(namespace: str, name: str) -> bool:
        return any(stanza["from"].bare == address and stanza.xml.find(
            f"{{{namespace}}}{name}[@id='status-4711-ready']") is not None for stanza in news)
    await eventually(lambda: seen("urn:xmpp:receipts", "received"), timeout=15)  # delivered
    assert seen("urn:xmpp:chat-markers:0", "received")
    wamid = (await rows(bridge, number))[2][-1]["wamid"]
    await cloud.post_webhook(cloud.status_update(wamid, "read", number))
    await eventually(lambda: seen("urn:xmpp:chat-markers:0", "displayed"), timeout=15)


async def test_a_stop_waits_for_the_answer_to_a_send_under_way_so_nothing_goes_twice(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    cloud.answer_delay = 1.0  # Meta takes the message at once, its answer comes a second later
    bot.send_message(mto=f"+{number}@{bridge.gateway.boundjid.domain}", mbody="Ihr Auto ist fertig",
                     mtype="chat")
    await eventually(lambda: "Ihr Auto ist fertig" in cloud.texts_to(number), timeout=15)
    await bridge.stop()  # as systemd's SIGTERM does
    assert await bridge.storage.run(relay.resume) == 0  # the next start sends nothing again
    assert cloud.texts_to(number).count("Ihr Auto ist fertig") == 1


async def test_what_the_bot_writes_while_the_bridge_stops_is_kept_for_its_next_start(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    cloud.answer_delay = 1.0  # the stop waits a second for the answer to this one
    bot.send_message(mto=address, mbody="Ihr Auto ist fertig", mtype="chat")
    await eventually(lambda: "Ihr Auto ist fertig" in cloud.texts_to(number), timeout=15)
    stopping = asyncio.ensure_future(bridge.stop())
    await eventually(lambda: bridge._stopped)
    bot.send_message(mto=address, mbody="Die Rechnung liegt bei", mtype="chat")
    await stopping
    waiting = await bridge.storage.run(lambda: [row.body for row in ToWhatsApp.select().where(
        (ToWhatsApp.number == number) & (ToWhatsApp.state == "pending"))])
    assert waiting == ["Die Rechnung liegt bei"]  # stored: it goes at the next start
    assert "Die Rechnung liegt bei" not in cloud.texts_to(number)


async def test_a_message_that_cannot_be_passed_on_is_refused_and_the_next_ones_still_go(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    refusals = []
    bot.add_event_handler("message_error", refusals.append)
    broken = bot.make_message(mto=address, mbody="http://[x/a.png", mtype="chat")
    broken["oob"]["url"] = "http://[x/a.png"  # a shared file's link no URL parser takes
    broken.send()
    bot.send_message(mto=address, mbody="Ihr Auto ist fertig", mtype="chat")
    assert (await answered(cloud, number, 3))[2] == "Ihr Auto ist fertig"
    await eventually(lambda: refusals)
    assert refusals[0]["error"]["text"] == texts.NOT_STORED.render("en")
    assert refusals[0]["error"]["type"] == "wait"


async def test_only_the_bot_may_write_to_whatsapp_users_through_the_bridge(shop, chat_client):
    _bot, staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    # staff too, unless [bridge.whatsapp] senders; each told in their client's language
    for sender, language in ((await chat_client(), "de"), (staff, None)):
        refusals = []
        sender.add_event_handler("message_error", refusals.append)
        sender.say(address, "Hallo", language)
        await eventually(lambda: refusals, timeout=15)
        [refusal] = refusals
        assert (refusal["from"], refusal["error"]["condition"]) == (address, "forbidden")
        assert refusal["error"]["text"] == texts.NOT_ALLOWED.render(language or "en")
    assert len(cloud.texts_to(number)) == 2


async def bridge_rows_gone(bridge: Bridge, number: str) -> bool:
    contact, relayed, out = await rows(bridge, number)
    return not contact and not relayed and all(row["kind"] == "own" for row in out)


async def test_kill_9_of_the_bridge_loses_nothing_on_the_way_to_whatsapp(make_bot, xmpp_server,
                                                                           tmp_path):
    """`botschaft bridge run` killed (-9) while it sends: after a restart every message of the
    bot arrives, in order; only the one in flight at the kill may arrive twice."""
    bot = await make_bot(plugins=[])
    cloud = FakeCloud(TOKEN, APP_SECRET)
    url = cloud.start()
    port = free_port()
    database = tmp_path / "bridge.db"
    environ = {**os.environ, **cloud.bridge_environ(url, xmpp_server.instance,
                                                    bot.boundjid.bare),
               "BOTSCHAFT_CONFIG": os.devnull, "BOTSCHAFT_DATABASE_URL": f"sqlite:///{database}",
               "BOTSCHAFT_BRIDGE_WHATSAPP_LISTEN": f"127.0.0.1:{port}",
               "BOTSCHAFT_BRIDGE_WHATSAPP_PER_RECIPIENT": "0",
               "BOTSCHAFT_BRIDGE_WHATSAPP_RATE": "20"}
    cloud.webhook_url = f"http://127.0.0.1:{port}/webhook"
    number = new_number()
    wanted = [f"m{index:02}" for index in range(30)]

    def queued() -> int:
        with sqlite3.connect(database) as connection:
            return connection.execute("SELECT count(*) FROM bridge_whatsapp_to_whatsapp "
                                      "WHERE kind = 'relay'").fetchone()[0]

    def start_bridge(environ, tmp_path) -> subprocess.Popen:  # its log kept for a failure
        with open(tmp_path / "bridge.log", "ab") as log:
            return subprocess.Popen([BOTSCHAFT, "bridge", "run"], env=environ,
                                    stdout=subprocess.DEVNULL, stderr=log)

    async def webhook_up() -> bool:
        try:
            return await cloud.user_says(number, "Hallo") == 200
        except FAILURES:  # not listening yet
            return False
    bridge = start_bridge(environ, tmp_path)
    try:
        await eventually(webhook_up, timeout=30)
        await answered(cloud, number, 1)
        await cloud.user_says(number, "JA")
        await answered(cloud, number, 2)
        for text in wanted:
            bot.send_message(mto=f"+{number}@whatsapp.{xmpp_server.domain}", mbody=text,
                             mtype="chat")
        await eventually(lambda: queued() == len(wanted), timeout=30)
        await eventually(lambda: len(cloud.texts_to(number)) >= 2 + 8, timeout=30)
    finally:
        bridge.kill()
        bridge.wait()
    assert len(cloud.texts_to(number)) < 2 + len(wanted)  # killed halfway
    bridge = start_bridge(environ, tmp_path)
    try:
        await eventually(lambda: set(wanted) <= set(cloud.texts_to(number)), timeout=60)
    finally:
        bridge.terminate()
        bridge.wait(30)
        await cloud.stop()
    arrived = cloud.texts_to(number)[2:]
    assert list(dict.fromkeys(arrived)) == wanted and len(arrived) - len(wanted) <= 1


# --- files and reactions ----------------------------------------------------------------------
def messages_from(client, address: str) -> list[slixmpp.Message]:
    """Every message `client` receives from `address` from now on, raw (stanzas, not bodies)."""
    seen = []
    client.add_filter("in", lambda stanza: (isinstance(stanza, slixmpp.Message)
                                            and stanza["from"].bare == address
                                            and seen.append(stanza), stanza)[1])
    return seen


async def fetched(url: str, xmpp_server) -> bytes:
    """A file from the XMPP server's upload, over TLS verified against its certificate."""
    context = ssl.create_default_context(cafile=str(xmpp_server.instance.ca_file))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        async with session.get(url) as answer:
            assert answer.status == 200
            return await answer.read()


async def test_a_picture_from_whatsapp_reaches_the_bot_from_the_company_s_own_server(
        shop, xmpp_server):
    """Downloaded from Meta with the token, put into ejabberd's HTTP upload (XEP-0363): the bot
    gets a link to its own server (with XEP-0066), then the caption; Meta's address appears
    nowhere; once delivered the bridge keeps neither link nor caption."""
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    received = messages_from(bot, address)
    picture = b"\x89PNG\r\n\x1a\n" + os.urandom(50_000)
    wamid = await cloud.user_sends_file(number, "image", picture, "image/png",
                                        caption="Der Kratzer <links> & 🚗")
    await eventually(lambda: len(received) >= 2, timeout=30)
    file, caption = received[:2]
    link = file["oob"]["url"]
    assert file["body"] == link and link.startswith(xmpp_server.instance.upload_url + "/")
    assert link.endswith(".png") and cloud.base_url not in str(file)
    assert file["id"] == relay.stanza_id_of(wamid)
    assert caption["body"] == "Der Kratzer <links> & 🚗"
    assert await fetched(link, xmpp_server) == picture

    async def nothing_kept() -> bool:
        row = (await rows(bridge, number))[1][-1]
        return (row["state"], row["body"], row["file_url"]) == ("done", None, None)
    await eventually(nothing_kept, timeout=15)


async def test_a_file_too_large_or_gone_is_not_passed_on_its_sender_is_told_and_nothing_waits(
        shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    await cloud.user_sends_file(number, "document", os.urandom(10 * 2**20 + 1),
                                "application/pdf", filename="Scan.pdf")
    assert (await answered(cloud, number, 3))[2] == texts.both(texts.FILE_TOO_LARGE, mb=10)
    gone = cloud.envelope({"messages": [{
        "from": number, "id": "wamid.gone", "timestamp": "1", "type": "image",
        "image": {"mime_type": "image/jpeg", "sha256": "eA==", "id": "404404"}}]})
    assert (await cloud.post_webhook(gone))[0] == 200
    assert (await answered(cloud, number, 4))[3] == texts.both(texts.FILE_GONE)
    await cloud.user_says(number, "status")  # what comes after is not held up
    await answered(cloud, number, 5)


async def test_reactions_go_both_ways_naming_the_message_on_each_side(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    received = messages_from(bot, address)
    message = bot.make_message(mto=address, mbody="Ihr Auto ist fertig", mtype="chat")
    message["id"] = "ready-4711"
    message.send()
    await answered(cloud, number, 3)
    assert await cloud.user_reacts(number, cloud.wamids_to(number)[2], "👍") == 200
    await eventually(lambda: any(stanza.get_plugin("reactions", check=True) is not None
                                 for stanza in received), timeout=15)
    [reaction] = [stanza for stanza in received if stanza.get_plugin("reactions", check=True)]
    assert reaction["reactions"]["id"] == "ready-4711"
    assert [item["value"] for item in reaction["reactions"]] == ["👍"]

    await cloud.user_says(number, "Danke!")
    await eventually(lambda: any(stanza["body"] == "Danke!" for stanza in received), timeout=15)
    [thanks] = [stanza for stanza in received if stanza["body"] == "Danke!"]
    back = bot.make_message(mto=address, mtype="chat")
    XEP_0444.set_reactions(back, thanks["id"], ["❤️"])
    back.send()
    await eventually(lambda: "reaction:❤️" in cloud.texts_to(number), timeout=15)
    [sent] = [item for item in cloud.sent[number] if item["type"] == "reaction"]
    assert sent["reaction"]["message_id"] not in cloud.wamids_to(number)  # the user's message


async def test_a_file_shared_on_xmpp_goes_to_whatsapp_as_a_picture_or_a_document(shop):
    bot, _staff, cloud, bridge = shop
    number = new_number()
    await opted_in(cloud, number)
    address = f"+{number}@{bridge.gateway.boundjid.domain}"
    for link in ("https://chat.example.com/upload/ab12/Foto%201.jpg",
                 "https://chat.example.com/upload/cd34/Kostenvoranschlag.pdf"):
        message = bot.make_message(mto=address, mbody=link, mtype="chat")
        message["oob"]["url"] = link
        message.send()
    await answered(cloud, number, 4)
    picture, document = cloud.sent[number][2:4]
    assert picture["type"] == "image" and picture["image"] == {
        "link": "https://chat.example.com/upload/ab12/Foto%201.jpg"}
    assert document["type"] == "document" and document["document"]["filename"] == \
        "Kostenvoranschlag.pdf"


async def test_who_agrees_with_yes_is_answered_in_english_with_ja_in_german(shop):
    """The bot's language here is English; the word a person agreed with says theirs."""
    _bot, _staff, cloud, _bridge = shop
    german, english = new_number(), new_number()
    for number, word in ((german, "JA"), (english, "yes")):
        await cloud.user_says(number, "Hallo")
        await answered(cloud, number, 1)
        await cloud.user_says(number, word)
        await answered(cloud, number, 2)
        await cloud.user_says(number, "vergiss mich" if word == "JA" else "forget me")
    assert (await answered(cloud, german, 3))[2] == ("Ich speichere nichts über Sie, es gibt "
                                                     "also nichts zu löschen.")
    assert (await answered(cloud, english, 3))[2] == ("I store nothing about you, so there "
                                                      "is nothing to delete.")
