"""Customers are kept apart on the company's server (ejabberd.yml and the accounts' privacy
list), tried from a plain customer account as an attacker would: writing to another customer,
telling existing from missing accounts by the server's answers, reading another's vCard,
creating a room, talking privately through a room, and locking the bot out with failed logins.
The bot must still hear every customer and reach every customer."""

from __future__ import annotations

import socket
import uuid
from xml.etree import ElementTree as ET

import pytest
from slixmpp import JID
from slixmpp.exceptions import IqError, PresenceError

from bots.devserver import BOT_USER
from tests.conftest import RawStream


async def settled(first, *others) -> None:
    """Return once the server is done with what `first` sent and with what that caused at the
    `others`' sessions. Each session's process handles its stanzas in order, so a ping answered
    by the server marks a point: `first`'s ping, its messages are routed; each other's, what
    reached it is handled (and any answer to `first` is on its way); `first`'s again, those
    answers are in its inbox."""
    for client in (first, *others, first):
        await client.plugin["xep_0199"].send_ping(client.boundjid.domain, timeout=10)


def drain(client) -> list:
    received = []
    while not client.inbox.empty():
        received.append(client.inbox.get_nowait())
    return received


def from_(messages: list, jid: str) -> list:
    return [message for message in messages if message["from"].bare == jid]


async def decline_own_privacy_list(client) -> None:
    """What any customer may do to their own account: stop using its default privacy list, so
    that every answer of the server reaches them unfiltered."""
    query = ET.fromstring("<query xmlns='jabber:iq:privacy'><default/></query>")
    await client.make_iq_set(query).send(timeout=10)


@pytest.fixture
async def bot_client(xmpp_server, chat_client):
    """A plain slixmpp client logged in as the bot account, bot@<domain>."""
    password = xmpp_server.devserver.ensure_user(BOT_USER)
    return await chat_client(f"{BOT_USER}@{xmpp_server.domain}", password)


# --- messages ------------------------------------------------------------------------------

async def test_a_customer_cannot_write_to_another_customer_or_the_admin(
        chat_client, make_account, xmpp_server):
    instance = xmpp_server.instance
    attacker = await chat_client()
    await decline_own_privacy_list(attacker)  # changes nothing for the others
    online = await chat_client()
    admin = await chat_client(instance.admin_jid, instance.admin_password)
    offline_jid, offline_password = make_account()
    for victim in (online.boundjid.bare, admin.boundjid.bare, offline_jid):
        attacker.say(victim, "Hallo, ich habe Ihre Nummer aus dem Chat")
    await settled(attacker, online, admin)
    offline = await chat_client(offline_jid, offline_password)  # offline storage comes now
    await settled(offline)
    for victim in (online, admin, offline):
        assert from_(drain(victim), attacker.boundjid.bare) == []


async def test_mutual_contacts_still_write_to_each_other(chat_client, make_account,
                                                         xmpp_server):
    """Staff whom an admin put in each other's roster (subscription both)."""
    (first, first_password), (second, second_password) = make_account(), make_account()
    xmpp_server.devserver.add_contacts(first.split("@")[0], second.split("@")[0])
    sender = await chat_client(first, first_password)
    reader = await chat_client(second, second_password)
    sender.say(second, "Kannst du 4711 übernehmen?")
    assert (await reader.next_message(first))["body"] == "Kannst du 4711 übernehmen?"


@pytest.mark.parametrize("recipient", ["online", "offline"])
@pytest.mark.parametrize("kind", ["chat", "normal"])
async def test_the_answer_does_not_tell_an_existing_account_from_a_missing_one(
        chat_client, make_account, xmpp_server, recipient, kind):
    attacker = await chat_client()
    await decline_own_privacy_list(attacker)
    existing, password = make_account()
    others = [await chat_client(existing, password)] if recipient == "online" else []
    missing = f"nobody-{uuid.uuid4().hex[:8]}@{xmpp_server.domain}"
    answers = {}
    for target in (existing, missing):
        probe = attacker.make_message(mto=target, mbody="Gibt es Sie?", mtype=kind)
        probe["id"] = "probe"
        probe.send()
        await settled(attacker, *others)
        answers[target] = [str(stanza).replace(target, "TARGET") for stanza in drain(attacker)]
    assert answers[missing], "a message to a missing account is answered with an error"
    assert answers[existing] == answers[missing]


async def test_the_bot_hears_every_customer_and_reaches_them(bot_client, chat_client,
                                                             make_account):
    """Neither has the other among its contacts; the bot's answers also reach a customer who
    is offline (from offline storage)."""
    bot = bot_client.boundjid.bare
    customer = await chat_client()
    customer.say(bot, "Ist mein Auto fertig?")
    assert (await bot_client.next_message(customer.boundjid.bare))["body"] == \
        "Ist mein Auto fertig?"
    bot_client.say(customer.boundjid.bare, "Ja, es steht bereit.")
    assert (await customer.next_message(bot))["body"] == "Ja, es steht bereit."

    later_jid, later_password = make_account()
    bot_client.say(later_jid, "Ihre Lektion für heute")
    await settled(bot_client)
    later = await chat_client(later_jid, later_password)
    assert (await later.next_message(bot))["body"] == "Ihre Lektion für heute"


# --- vCards ----------------------------------------------------------------------------------

VCARD = ("<vCard xmlns='vcard-temp'><FN>Erika Mustermann</FN>"
         "<TEL><CELL/><NUMBER>+49 151 23456789</NUMBER></TEL></vCard>")


async def test_a_customer_cannot_read_another_customers_vcard(chat_client):
    victim, attacker = await chat_client(), await chat_client()
    try:
        await victim.make_iq_set(ET.fromstring(VCARD)).send(timeout=10)
    except IqError:
        pass  # the server keeps no vCards: nothing there to read
    request = attacker.make_iq(itype="get", ito=victim.boundjid.bare)
    request.append(ET.fromstring("<vCard xmlns='vcard-temp'/>"))
    try:
        answer = str(await request.send(timeout=10))
    except IqError as error:
        answer = str(error.iq)
    assert "Mustermann" not in answer and "23456789" not in answer


# --- rooms -----------------------------------------------------------------------------------

def online_rooms(xmpp_server) -> list[str]:
    return xmpp_server.instance.api().call("muc_online_rooms", service="global")


async def test_a_customer_cannot_create_a_room_but_the_bot_can(chat_client, bot_client,
                                                               xmpp_server):
    customer = await chat_client()
    wanted = f"kunden-{uuid.uuid4().hex[:8]}@conference.{xmpp_server.domain}"
    with pytest.raises(PresenceError):
        await customer.plugin["xep_0045"].join_muc_wait(JID(wanted), "kundin", maxstanzas=0,
                                                        timeout=10)
    assert wanted not in online_rooms(xmpp_server)

    room = f"team-{uuid.uuid4().hex[:8]}@conference.{xmpp_server.domain}"
    muc = bot_client.plugin["xep_0045"]
    await muc.join_muc_wait(JID(room), "Botschaft", maxstanzas=0, timeout=10)
    try:
        form = await muc.get_room_config(room)
        form.field["muc#roomconfig_persistentroom"]["value"] = True
        await muc.set_room_config(room, form)
        assert room in online_rooms(xmpp_server)
        form = await muc.get_room_config(room)
        assert form.field["muc#roomconfig_persistentroom"]["value"] is True
    finally:
        xmpp_server.instance.api().call("destroy_room", name=room.split("@")[0],
                                        service=f"conference.{xmpp_server.domain}")


async def test_members_of_a_room_cannot_write_to_each_other_through_it(room, chat_client):
    owner = room
    customers = [await chat_client(), await chat_client()]
    for number, customer in enumerate(customers):
        await owner.plugin["xep_0045"].set_affiliation(owner.room, "member",
                                                       jid=customer.boundjid.bare)
        await customer.plugin["xep_0045"].join_muc_wait(JID(owner.room), f"kunde{number}",
                                                        maxstanzas=0, timeout=10)
    sender, reader = customers
    sender.say(f"{owner.room}/kunde1", "privat: meine Nummer ist 0151 23456789")
    sender.send_message(mto=owner.room, mbody="Hallo alle", mtype="groupchat")
    # the room delivers in order: once the group message is there, so was the private one
    seen = [await reader.next_message(owner.room)]
    while (seen[-1]["type"], seen[-1]["body"]) != ("groupchat", "Hallo alle"):
        seen.append(await reader.next_message(owner.room))
    assert [message["body"] for message in seen if "0151" in message["body"]] == []


# --- failed logins ---------------------------------------------------------------------------

class RawStreamFrom(RawStream):
    """A raw stream from a chosen source address on loopback (127.0.0.2: someone else)."""

    def __init__(self, port: int, domain: str, ca_file, source: str):
        self.domain = domain
        self.ca_file = ca_file
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0))


def failed_logins(xmpp_server, user: str, count: int, source: str) -> list[str]:
    """`count` logins with a wrong password from `source`, each on its own connection; the
    server's answers (a refused connection ends the list)."""
    instance = xmpp_server.instance
    answers = []
    for _ in range(count):
        stream = RawStreamFrom(instance.c2s_port, xmpp_server.domain, instance.ca_file, source)
        try:
            if "starttls" not in stream.open():
                answers.append("refused at connect")
                break
            stream.starttls()
            stream.open()
            answers.append(stream.auth_plain(user, "not-the-password"))
        finally:
            stream.close()
    return answers


@pytest.fixture
def unban(xmpp_server):
    """Lift any ban afterwards, so that a regression here cannot lock out later tests."""
    yield
    for address in ("127.0.0.1/32", "127.0.0.2/32"):
        xmpp_server.instance.api().call("unban_ip", address=address)


async def test_failed_logins_of_a_customer_never_lock_out_the_bot(xmpp_server, make_account,
                                                                  unban):
    customer, _password = make_account()
    answers = failed_logins(xmpp_server, customer.split("@")[0], 30, source="127.0.0.1")
    assert len(answers) == 30 and all("not-authorized" in answer for answer in answers), answers
    password = xmpp_server.devserver.ensure_user(BOT_USER)
    bot = await xmpp_server.login(f"{BOT_USER}@{xmpp_server.domain}", password)
    await bot.stop(wait=1)


async def test_failed_logins_from_elsewhere_are_still_banned(xmpp_server, make_account, unban):
    """The exemption covers the bots' address only: guessing from another one ends in a ban."""
    customer, _password = make_account()
    answers = failed_logins(xmpp_server, customer.split("@")[0], 30, source="127.0.0.2")
    assert "refused at connect" in answers or "policy-violation" in answers[-1], answers
    password = xmpp_server.devserver.ensure_user(BOT_USER)
    bot = await xmpp_server.login(f"{BOT_USER}@{xmpp_server.domain}", password)
    await bot.stop(wait=1)
