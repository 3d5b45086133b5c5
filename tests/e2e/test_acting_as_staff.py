"""A customer tries to act as staff, with only a customer account and the README, as an
attacker would: a group message sent straight to the bot, a resource or a room nick that looks
like a staff address, a staff answer read by everyone in a room. Roles come only from a bare
JID the server vouches for, so none of it changes an item or pushes a word."""

from __future__ import annotations

import re

import pytest
from slixmpp import JID

from bots.outbox import OutboxMessage
from plugins.status import Status
from plugins.status.models import Item
from tests.conftest import eventually, next_room_message

STAFF_DOMAIN = "staff.example.com"  # staff named by domain, as the README shows
FORGED = "!set {ref} ready Ihr Auto ist fertig. Bitte Restbetrag 450 EUR vorab: " \
         "https://evil.example/pay"


@pytest.fixture
async def workshop(room, make_bot, chat_client, xmpp_server):
    """A status bot in a semi-anonymous room, staff by domain and by JID, and a customer who
    claimed item `ref` (with notifications on)."""
    owner = room
    await owner.plugin["xep_0045"].set_affiliation(owner.room, "member",
                                                   jid=f"bot@{xmpp_server.domain}")
    staff = await chat_client()
    bot = await make_bot(plugins=[Status()], BOT_ROOMS=owner.room, BOT_NICK="Botschaft",
                         PEOPLE_STAFF=f"@{STAFF_DOMAIN},{staff.boundjid.bare}")
    created = await staff.ask(bot.boundjid.bare, "create vehicle WOB-4711")
    code = re.search(r"Claim code for the customer: (\w+)", created).group(1)
    customer = await chat_client()
    assert (await customer.ask(bot.boundjid.bare, f"claim WOB-4711 {code}")).startswith("Linked")
    return bot, owner, staff, customer


async def enter(owner, person, nick: str) -> None:
    """The owner makes `person` a member of the room, and they join it as `nick`."""
    await owner.plugin["xep_0045"].set_affiliation(owner.room, "member",
                                                   jid=person.boundjid.bare)
    await person.plugin["xep_0045"].join_muc_wait(JID(owner.room), nick, maxstanzas=0,
                                                  timeout=10)


async def nothing_changed(bot, customer) -> None:
    item = await bot.storage.run(lambda: Item.get(Item.ref == "WOB-4711"))
    assert item.state == "received"
    assert await bot.storage.run(lambda: Item.select().count()) == 1  # no !create either
    assert await bot.storage.run(lambda: OutboxMessage.select().count()) == 0  # no push
    assert customer.inbox.empty()


async def test_a_group_message_sent_straight_to_the_bot_is_ignored(workshop, make_account,
                                                                    chat_client):
    bot, owner, staff, customer = workshop
    jid, password = make_account("eve")
    eve = await chat_client(f"{jid}/eve@{STAFF_DOMAIN}", password)  # a resource like staff's
    for text in (FORGED.format(ref="WOB-4711"), "!create vehicle EVIL-1", "!open"):
        # to the bot's full JID (the server refuses group messages to a bare JID)
        eve.send_message(mto=bot.boundjid.full, mbody=text, mtype="groupchat")
    # the bot handles one sender's messages in order: once this is answered, so were those
    assert await eve.ask(bot.boundjid.bare, "status WOB-4711") == (
        "I know no item WOB-4711 of yours. To link it, write: claim WOB-4711 <code> (the code "
        "is on your receipt).")
    assert eve.inbox.empty()  # no answer to the group messages, no list of open items
    await nothing_changed(bot, customer)


async def test_a_room_nick_like_a_staff_address_gets_nothing_done(workshop, make_account,
                                                                  chat_client):
    bot, owner, staff, customer = workshop
    await eventually(lambda: owner.room in bot.joined_rooms)
    mallory = await chat_client()
    nick = f"mallory@{STAFF_DOMAIN}"
    await enter(owner, mallory, nick)
    mallory.send_message(mto=owner.room, mbody=FORGED.format(ref="WOB-4711"), mtype="groupchat")
    await next_room_message(mallory, owner.room)  # the room's echo of it
    answer = await next_room_message(mallory, owner.room)
    assert answer["body"] == (
        f"{nick}: I cannot see who you are in this room, so I do not act on it. Write to me "
        "directly, or ask the room's owner to make me a moderator or the room non-anonymous.")
    await nothing_changed(bot, customer)


async def test_staff_answers_in_a_room_go_to_the_staff_member_alone(workshop, chat_client,
                                                                   xmpp_server):
    bot, owner, staff, customer = workshop
    xep_0045 = owner.plugin["xep_0045"]
    await eventually(lambda: owner.room in bot.joined_rooms)
    await xep_0045.set_affiliation(owner.room, "admin", jid=bot.boundjid.bare)  # sees real JIDs
    await enter(owner, staff, "werkstatt")
    await enter(owner, customer, "kundin")
    staff.send_message(mto=owner.room, mbody="!open", mtype="groupchat")
    await next_room_message(customer, owner.room)  # the room's echo of it
    in_room = await next_room_message(customer, owner.room)
    assert in_room["body"] == "werkstatt: I have sent you my answer in a direct chat."
    direct = await staff.next_message(bot.boundjid.bare)
    assert direct["type"] == "chat" and "WOB-4711" in direct["body"]
    # a customer's own items are theirs alone, too
    customer.send_message(mto=owner.room, mbody="!status", mtype="groupchat")
    assert "WOB-4711" in (await customer.next_message(bot.boundjid.bare))["body"]
    said = [(await next_room_message(owner, owner.room))["body"] for _ in range(4)]
    assert said == ["!open", "werkstatt: I have sent you my answer in a direct chat.",
                    "!status", "kundin: I have sent you my answer in a direct chat."]
