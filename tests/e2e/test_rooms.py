"""A course's group chat through the real ejabberd: a trainer and three participants; the room
as the server keeps it, invitations by note, consent before membership, the one who does not
join still reached (and heard), a stop that removes at once, archive and destroy."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from slixmpp import JID
from slixmpp.exceptions import PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from bots.testing import join_settings
from plugins.lessons import Lessons
from plugins.rooms import Rooms
from tests.conftest import eventually, next_room_message

COURSE = "deutsch-alltag"  # the lessons plugin's bundled example


async def message_with(client, sender: str, text: str):
    """The next message from `sender` that contains `text` (others on the way are skipped)."""
    while True:
        message = await client.next_message(sender, timeout=20)
        if text in message["body"]:
            return message


async def enter(client, room: str, nick: str):
    return await client.plugin["xep_0045"].join_muc_wait(JID(room), nick, maxstanzas=0,
                                                         timeout=10)


@pytest.mark.timeout(180)
async def test_a_course_room_from_invitation_to_destruction(make_bot, chat_client,
                                                            make_account, xmpp_server):
    rooms = Rooms()
    api_settings = {name: value for name, value in join_settings(xmpp_server).items()
                    if name.startswith("EJABBERD_")}
    bot = await make_bot(plugins=[Lessons(), rooms], **api_settings)
    bot_jid = bot.boundjid.bare
    trainer_jid, trainer_password = make_account("trainer")
    trainer = await chat_client(trainer_jid, trainer_password)
    anna, bert, cleo = [await chat_client() for _person in range(3)]

    # the room, made twice: the second time changes nothing
    slug = f"alltag-{uuid.uuid4().hex[:6]}"
    room, new = await bot.services.run(rooms.book.create, slug, "Deutsch im Alltag",
                                       "Fragen und Fotos", COURSE, trainer_jid)
    again, new_again = await bot.services.run(rooms.book.create, slug, "Deutsch im Alltag",
                                              "Fragen und Fotos", COURSE, trainer_jid)
    assert new and not new_again and again.id == room.id
    address = rooms.book.address(room)
    api = rooms.book.bot.ejabberd
    service = rooms.book.settings.muc_service
    options = api.get_room_options(slug, service)
    assert [options[name] for name in ("members_only", "persistent", "public", "anonymous",
                                       "moderated", "mam")] == ["true", "true", "false", "true",
                                                                "false", "true"]
    await bot.services.run(rooms.enter_rooms)  # the bot goes in (its job does it each minute)

    # subscribing to the course brings the invitation note; only joining makes a member
    for person in (anna, bert, cleo):
        person.say(bot_jid, f"subscribe {COURSE}")
        note = await message_with(person, bot_jid, f"join {slug}")
        assert "30 days" in note["body"] and trainer_jid in note["body"]
    # joining brings the invitation to enter: direct (XEP-0249) for Anna's app, which lists
    # it; mediated by the room (XEP-0045) for Bert's, which does not
    anna.register_plugin("xep_0249")
    disco_queries = []
    anna.register_handler(Callback("count disco#info", MatchXPath(
        "{jabber:client}iq[@type='get']/{http://jabber.org/protocol/disco#info}query"),
        lambda iq: disco_queries.append(iq["from"].bare)))
    invitations = {person.boundjid.bare: asyncio.Queue() for person in (anna, bert)}
    anna.add_event_handler("groupchat_direct_invite", lambda message: invitations[
        anna.boundjid.bare].put_nowait(message["groupchat_invite"]["jid"]))
    bert.add_event_handler("groupchat_invite", lambda message: invitations[
        bert.boundjid.bare].put_nowait((message["from"].bare,
                                        message["muc"]["invite"]["from"].bare)))
    for person in (anna, bert):
        person.say(bot_jid, f"join {COURSE}")
        await message_with(person, bot_jid, "You are a member")
    assert await asyncio.wait_for(invitations[anna.boundjid.bare].get(), 20) == address
    assert await asyncio.wait_for(invitations[bert.boundjid.bare].get(), 20) == (address,
                                                                                 bot_jid)
    # asked again, the bot invites again, without asking Anna's app once more what it knows
    anna.say(bot_jid, f"join {COURSE}")
    await message_with(anna, bot_jid, "once more")
    assert await asyncio.wait_for(invitations[anna.boundjid.bare].get(), 20) == address
    assert disco_queries == [bot_jid]
    affiliations = {entry.jid: entry.affiliation for entry in api.get_room_affiliations(
        slug, service)}
    assert affiliations == {bot_jid: "owner", trainer_jid: "owner",
                            anna.boundjid.bare: "member", bert.boundjid.bare: "member"}

    # the two members talk; neither sees the other's address
    await enter(anna, address, "Anna")
    await enter(bert, address, "Bert")
    anna.send_message(mto=address, mbody="Hallo zusammen", mtype="groupchat")
    assert (await message_with(bert, address, "Hallo zusammen"))["from"].resource == "Anna"
    assert not bert.plugin["xep_0045"].get_jid_property(address, "Anna", "jid")
    with pytest.raises(PresenceError):
        await enter(cleo, address, "Cleo")  # members only: the one who did not join

    # the trainer's announcement reaches Cleo directly, and her answer only the trainer
    await enter(trainer, address, "Trainerin")
    trainer.send_message(mto=address, mbody="!all Morgen Seite 4", mtype="groupchat")
    assert "1" in (await message_with(trainer, address, "Trainerin:"))["body"]
    assert "Morgen Seite 4" in (await message_with(cleo, bot_jid, "Morgen Seite 4"))["body"]
    cleo.say(bot_jid, f"reply {slug} Ich bin krank")
    await message_with(cleo, bot_jid, "Sent to the trainer")
    relayed = await message_with(trainer, bot_jid, "Ich bin krank")
    assert cleo.boundjid.bare in relayed["body"]
    live = await next_room_message(anna, address)  # nothing of Cleo's reached the room
    assert "Ich bin krank" not in live["body"]

    # Bert stops the course: out of the room at once, and he cannot come back
    bert.say(bot_jid, f"stop {COURSE}")
    await eventually(lambda: bert.boundjid.bare not in {
        entry.jid for entry in api.get_room_affiliations(slug, service)}, timeout=20)
    await eventually(lambda: "Bert" not in {
        occupant.nick for occupant in api.get_room_occupants(slug, service)}, timeout=20)
    await eventually(lambda: "Bert" not in bert.plugin["xep_0045"].get_roster(address),
                     timeout=20)  # his client was told he is out
    with pytest.raises(PresenceError):
        await enter(bert, address, "Bert2")

    # archive, then destroy
    await bot.services.run(rooms.book.archive, room)
    assert api.get_room_options(slug, service)["members_by_default"] == "false"
    await bot.services.run(rooms.book.destroy, room)
    await eventually(lambda: address not in api.call("muc_online_rooms", service=service),
                     timeout=20)  # 23.01 destroys a room asynchronously
