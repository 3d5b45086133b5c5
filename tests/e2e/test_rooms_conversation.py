"""A group room as its people use it, in English and in German, through the real ejabberd:
staff keep the room in chat, two customers are invited, one joins, enters and leaves, the
other stays outside, gets the announcement and answers the trainer. Every answer, note and room
message is read for program tokens a person should never see (bots.testing.technical_tokens).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from slixmpp import JID

from bots import testing
from bots.testing import join_settings
from plugins.lessons import Lessons
from plugins.rooms import Rooms

# the argument labels usage lines show: the rooms plugin's, and in `help` the core's and the
# lessons plugin's
LABELS = {"en": {"room", "text", "address", "address or text", "your text", "command", "what",
                 "course", "time", "time zone", "number", "me"},
          "de": {"Raum", "Text", "Adresse", "Adresse oder Text", "Ihr Text", "Befehl", "was",
                 "Kurs", "Uhrzeit", "Zeitzone", "Nummer", "mich"}}
# words that would betray an English text left in a German answer
ENGLISH = {"the", "is", "are", "you", "your", "to", "of", "not", "no", "now", "already",
           "write", "join", "leave", "reply", "room", "rooms", "list", "members", "member",
           "add", "remove", "announce", "announcement", "invited", "group", "chat", "chats",
           "sent", "said", "nobody", "which", "what", "address", "help", "done", "yet",
           "nothing", "changed", "one", "must", "missing", "trainer's", "welcome", "rules"}
WORDS = {  # what people of each language write
    "en": {"room": "room", "list": "list", "members": "members", "add": "add",
           "remove": "remove", "announce": "announce", "join": "join", "leave": "leave",
           "reply": "reply", "help": "help"},
    "de": {"room": "raum", "list": "liste", "members": "mitglieder", "add": "hinzufügen",
           "remove": "entfernen", "announce": "ankündigen", "join": "beitreten",
           "leave": "verlassen", "reply": "antworten", "help": "hilfe"},
}
NAME = {"en": "Everyday English", "de": "Deutsch im Alltag"}
ANNOUNCEMENT, ANSWER = "Morgen Seite 4", "Ich bin krank"  # people's own words


class Reader:
    """Writes in one language and keeps every answer, note and room message that shows a
    technical token; what people typed themselves (addresses, texts) is theirs."""

    def __init__(self, bot, language: str, own_texts: list[str]):
        self.jid = bot.boundjid.bare
        self.language = language
        self.own_texts = own_texts
        self.found: list[str] = []

    def read(self, said: str, answer: str) -> str:
        tokens = testing.technical_tokens(answer, self.language, LABELS[self.language],
                                          ENGLISH, self.own_texts)
        self.found += [f"{self.language} {said!r} → {token} in {answer!r}" for token in tokens]
        return answer

    async def ask(self, client, text: str) -> str:
        return self.read(text, await client.ask(self.jid, text, timeout=20,
                                                language=self.language))

    async def push(self, client, sender: str | None = None) -> str:
        message = await client.next_message(sender or self.jid, timeout=20)
        return self.read(f"(from {sender or 'the bot'})", message["body"])

    async def invitation(self, invitations: asyncio.Queue) -> str:
        """A direct invitation (XEP-0249) as the client shows it: by its reason."""
        message = await asyncio.wait_for(invitations.get(), timeout=20)
        return self.read("(invitation)", message["groupchat_invite"]["reason"])


def invitations_of(client) -> asyncio.Queue:
    """The direct invitations `client` gets from now on (clients show them as an offer)."""
    client.register_plugin("xep_0249")
    received: asyncio.Queue = asyncio.Queue()
    client.add_event_handler("groupchat_direct_invite", received.put_nowait)
    return received


@pytest.mark.timeout(240)
@pytest.mark.parametrize("language", ["en", "de"])
async def test_a_room_s_people_read_no_technical_token(make_bot, chat_client, make_account,
                                                       xmpp_server, language):
    staff = await chat_client()
    rooms = Rooms()
    bot = await make_bot(plugins=[Lessons(), rooms], PEOPLE_STAFF=staff.boundjid.bare,
                         **{name: value for name, value in join_settings(xmpp_server).items()
                            if name.startswith("EJABBERD_")})
    trainer_jid, trainer_password = make_account("trainer")
    trainer = await chat_client(trainer_jid, trainer_password)
    anna, bert = await chat_client(), await chat_client()
    a, b = anna.boundjid.bare, bert.boundjid.bare
    domain = xmpp_server.domain
    slug = f"treff-{random.randrange(10**8)}"  # digits: no word of any language
    room, _new = await bot.services.run(rooms.book.create, slug, NAME[language],
                                        "Fragen und Fotos", None, trainer_jid, language)
    address = rooms.book.address(room)
    await bot.services.run(rooms.enter_rooms)  # the bot goes in and posts the welcome
    w = WORDS[language]
    staff_room = w["room"]
    reader = Reader(bot, language, [address, a, b, trainer_jid, f"nobody@{domain}",
                                    "no-such-room", ANNOUNCEMENT, ANSWER])

    # staff look around, and make the mistakes people make
    assert slug in await reader.ask(staff, f"{staff_room} {w['list']}")
    await reader.ask(staff, f"{staff_room} {w['members']} {slug}")
    await reader.ask(staff, staff_room)
    await reader.ask(staff, f"{staff_room} {w['members']}")
    await reader.ask(staff, f"{staff_room} frobnicate {slug}")
    await reader.ask(staff, f"{staff_room} {w['add']} {slug}")
    await reader.ask(staff, f"{staff_room} {w['add']} no-such-room {a}")
    await reader.ask(staff, f"{staff_room} {w['add']} {slug} nobody@{domain}")

    # two customers are invited, and each is told what the room is
    for person, jid in ((anna, a), (bert, b)):
        assert jid in await reader.ask(staff, f"{staff_room} {w['add']} {slug} {jid}")
        assert f"{w['join']} {slug}" in await reader.push(person)
    await reader.ask(staff, f"{staff_room} {w['add']} {slug} {a}")

    # Anna joins (twice: she is invited to enter again), enters and reads the welcome
    invitations = invitations_of(anna)
    assert address in await reader.ask(anna, f"{w['join']} {slug}")
    assert NAME[language] in await reader.invitation(invitations)
    await reader.ask(anna, f"{w['join']} {slug}")
    await reader.invitation(invitations)
    await anna.plugin["xep_0045"].join_muc_wait(JID(address), "Anna", maxstanzas=10,
                                                timeout=10)
    while f"{w['leave']} {slug}" not in await reader.push(anna, address):
        pass  # the room's history, up to the welcome
    await reader.ask(staff, f"{staff_room} {w['members']} {slug}")

    # the announcement: in the room for Anna, directly for Bert, who answers the trainer
    await reader.ask(staff, f"{staff_room} {w['announce']} {slug} {ANNOUNCEMENT}")
    while ANNOUNCEMENT not in await reader.push(anna, address):
        pass  # the greeting for her may come first
    assert ANNOUNCEMENT in await reader.push(bert)
    await reader.ask(bert, f"{w['reply']} {slug} {ANSWER}")
    assert ANSWER in await reader.push(trainer)
    await reader.ask(bert, f"{w['reply']} {slug}")
    await reader.ask(bert, f"{w['join']} no-such-room")

    # what customers see of the commands; staff's are unknown words to them
    unknown = await reader.ask(bert, f"{staff_room} {w['list']}")
    assert slug not in unknown and "•" not in unknown
    assert f"{w['join']} <" in await reader.ask(bert, w["help"])
    await reader.ask(bert, f"{w['help']} {w['join']}")
    await reader.ask(bert, f"{w['help']} {staff_room}")

    # Anna leaves, staff take Bert out (twice), and Bert is told he is not invited any more
    await reader.ask(anna, f"{w['leave']} {slug}")
    await reader.ask(staff, f"{staff_room} {w['remove']} {slug} {b}")
    await reader.ask(staff, f"{staff_room} {w['remove']} {slug} {b}")
    await reader.ask(bert, f"{w['reply']} {slug} {ANSWER}")
    await reader.ask(staff, f"{staff_room} {w['members']} {slug}")
    await reader.ask(staff, w["help"])
    await reader.ask(staff, f"{w['help']} {staff_room}")
    assert not reader.found, "\n".join(reader.found)
