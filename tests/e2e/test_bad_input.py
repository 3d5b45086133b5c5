"""Whatever people type, through the real ejabberd: the bot never crashes, always answers, and
what it quotes back comes back intact (emoji, right-to-left text, XML special characters…).
Each answer is compared in full with the one the input calls for."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bots.app import create_bot
from bots.dispatch import RUN_THRESHOLD, quote
from bots.i18n import render
from bots.small_talk import small_talk
from bots.testing import bot_config
from plugins.status.models import StatusChange
from plugins.status.service import MAX_REF_LENGTH

# XML 1.0 allows tab, newline and carriage return but no other C0 control character, and
# neither U+FFFE nor U+FFFF: a client that sends one loses its stream (see the last tests).
XML_ILLEGAL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=XML_ILLEGAL),
                   max_size=300)
TRICKY = ["🚗", "✅", "👨‍👩‍👧‍👦", "שלום", "مرحبا", "\u202e", "\u200f", "<", ">", "&", "'", '"',
          "&amp;", "]]>", "<!--", "\u0085", "\t", "\n", "ß", "İ", "ǅ", "\u0301", "status",
          "help", "ping", "!", "\\"]
# An empty body is no message (clients send none; chat states carry no body at all).
MESSAGES = st.one_of(ANY_TEXT, st.lists(st.sampled_from(TRICKY), max_size=12).map(" ".join),
                     st.lists(st.one_of(st.sampled_from(TRICKY), ANY_TEXT), max_size=6)
                     .map("".join)).filter(bool)

# A command's argument made of words without white space or quotes (which group words), so
# the command sees exactly the words that were typed.
QUOTES = '"„“”«»'
WORD = st.one_of(
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                          exclude_characters=QUOTES + "\ufffe\uffff"), min_size=1, max_size=20),
    st.sampled_from([word for word in TRICKY
                     if not any(c.isspace() or c in QUOTES for c in word)]))
ARGUMENTS = st.lists(WORD, min_size=1, max_size=5).map(" ".join)

# What a command that finds nothing says, quoting the argument it was given.
ECHOES = {
    "help": lambda argument: (f'I have no command "{quote(argument)}". Write "help" '
                              "for the list."),
    "status": lambda argument: (f"I know no item {argument[:MAX_REF_LENGTH]} of yours. To "
                                f"link it, write: claim {argument[:MAX_REF_LENGTH]} <code> "
                                "(the code is on your receipt)."),
    "ping": lambda argument: f"too many words: {argument}. Write: ping",
}


class Conversation:
    """A bot and one person's client on their own event loop, so hypothesis (which is
    synchronous) can ask thousands of questions through the real server."""

    def __init__(self, xmpp_server, database_url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = xmpp_server
        self.others = []
        self.bot, self.client = self.call(self._start(database_url))

    async def _start(self, database_url: str):
        bot = await create_bot(bot_config(self.server, DATABASE_URL=database_url,
                                          WEB_LISTEN=""))  # the web server is another loop's
        await bot.start()
        # The admin account is exempt from the per-person shaper (3 kB/s in ejabberd.yml),
        # which would otherwise make this test take minutes instead of seconds.
        instance = self.server.instance
        client = await self.server.login(instance.admin_jid, instance.admin_password)
        return bot, client

    def call(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def ask(self, text: str, client=None) -> str:
        client = client or self.client
        return self.call(client.ask(self.bot.boundjid.bare, text, timeout=10))

    def new_person(self):
        """Another account's client, logged in on this conversation's loop (and logged out
        when the conversation ends)."""
        person = self.call(self.server.login(*self.server.make_account()))
        self.others.append(person)
        return person

    def means_a_command(self, text: str) -> bool:
        """Whether the bot takes the text for a command: its first word is one (or an alias),
        or the text is close to one of the commands' example phrases."""
        received = as_received(text).strip()
        words = received.split(maxsplit=1)
        if words and self.bot.dispatcher.spec_for(words[0]) is not None:
            return True
        matches = self.bot.dispatcher._phrases.match(received)
        return bool(matches) and matches[0].score >= RUN_THRESHOLD

    def close(self) -> None:
        async def stop():
            for client in [self.client, *self.others]:
                await client.stop(wait=1)
            await self.bot.stop()
            self.bot.storage.close()
        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def conversation(xmpp_server, tmp_path_factory):
    database = tmp_path_factory.mktemp("fuzz") / "bot.db"
    talk = Conversation(xmpp_server, f"sqlite:///{database}")
    yield talk
    talk.close()


def as_received(text: str) -> str:
    """What an XML parser hands on: line ends normalised to \\n (XML 1.0, section 2.11)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def assert_answered(answer: str, sent: str, commands) -> None:
    """The answer to a text that is no command, as the text calls for: a word on an empty
    message, a friendly word for small talk (a greeting, a lone emoji…), and for anything else
    the text quoted back."""
    received = as_received(sent).strip()
    if not received:
        assert answer == 'Your message was empty. Write "help" to see what I can do.'
    elif small_talk(received) is not None:
        assert answer == render(small_talk(received), "en"), f"sent {sent!r}"
    else:
        assert_quoted_back(answer, sent, commands)


def assert_quoted_back(answer: str, sent: str, commands) -> None:
    """"I did not understand": it quotes the text as the bot received it (up to QUOTE_LENGTH
    characters), may suggest up to three of the commands, and points to help."""
    quoted = quote(as_received(sent))
    command = "|".join(re.escape(name) for name in commands)
    expected = (re.escape(f'I did not understand "{quoted}". ')
                + rf"(Did you mean: (?:{command})(?:, (?:{command})){{0,2}}\? )?"
                + re.escape('Write "help" to see everything I can do.'))
    assert re.fullmatch(expected, answer), f"sent {sent!r}, got {answer!r}"


@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=MESSAGES)
def test_any_text_that_is_no_command_is_answered_and_quoted_back_intact(conversation, text):
    assume(not conversation.means_a_command(text))  # commands with odd text: the next test
    assert_answered(conversation.ask(text), text, conversation.bot.dispatcher.specs)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(sorted(ECHOES)), argument=ARGUMENTS)
def test_a_command_quotes_an_odd_argument_back_intact(conversation, command, argument):
    assume(conversation.bot.dispatcher.spec_for(argument) is None)  # `help ping` explains
    assert conversation.ask(f"{command} {argument}") == ECHOES[command](argument)


@pytest.mark.parametrize("text", [
    "🚗✅ how high is the moon? 👍", "שלום, האם הרכב שלי מוכן?", "هل سيارتي جاهزة؟",
    "<b>&amp; \"quotes\" 'and' </b> ]]>", "\u202edeifitrevni\u202c", "👨‍👩‍👧‍👦 family",
])
def test_odd_text_comes_back_exactly(conversation, text):
    assert_quoted_back(conversation.ask(text), text, conversation.bot.dispatcher.specs)


def test_a_message_near_the_servers_maximum_stanza_size_gets_a_clear_answer(conversation):
    text = "status " + "ü" * 125_000  # about 250 kB of UTF-8; ejabberd.yml allows 262,144 bytes
    limit = conversation.bot.dispatcher.max_message_length
    assert conversation.ask(text) == (f"Your message is too long for me ({len(text)} "
                                      f"characters). I read up to {limit}; please send a "
                                      "shorter one.")
    assert conversation.ask("ping") == "pong"  # and the conversation goes on


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ufffe"])
def test_a_character_xml_forbids_ends_the_senders_stream_and_the_bot_goes_on(conversation,
                                                                                character):
    """slixmpp sends such a character as it is; the server refuses it before the bot could
    see it (not-well-formed) and closes that person's stream, and only theirs."""
    sender = conversation.new_person()
    errors: asyncio.Queue = asyncio.Queue()
    sender.add_event_handler("stream_error", errors.put_nowait)
    sessions = conversation.bot.sessions
    sender.say(conversation.bot.boundjid.bare, f"status 47{character}11")
    error = conversation.call(asyncio.wait_for(errors.get(), 10))
    assert error["condition"] == "not-well-formed"
    assert conversation.ask("ping") == "pong" and conversation.bot.sessions == sessions


def test_a_stored_text_with_a_character_xml_forbids_is_echoed_cleaned(conversation):
    """Text the bot echoes (here a status note stored before notes were cleaned, or by any
    other writer) must never carry a character XML forbids: the server would close the bot's
    own stream, and the answer and everything after it would be lost."""
    book = conversation.bot.services.plugin("status").book

    def stored_with_a_forbidden_character():
        book.create("NOTE-1", "vehicle", code="ABCD23")
        book.set_state("NOTE-1", "cleaning", "Felgen extra")
        StatusChange.update(note="Felgen\x01 extra\x0b").where(
            StatusChange.note == "Felgen extra").execute()
    conversation.call(conversation.bot.storage.run(stored_with_a_forbidden_character))
    customer = conversation.new_person()
    sessions = conversation.bot.sessions
    assert conversation.ask("claim NOTE-1 ABCD23", customer).startswith(
        "Linked: Vehicle NOTE-1.")
    answer = conversation.ask("status NOTE-1", customer)
    assert ": Your vehicle is being cleaned and will be ready for pick-up shortly. — Felgen " \
        "extra\n" in answer
    assert conversation.ask("ping") == "pong" and conversation.bot.sessions == sessions
