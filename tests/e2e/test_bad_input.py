"""Whatever people type, through the real ejabberd: the bot never crashes, always answers, and
what it quotes back comes back intact (emoji, right-to-left text, XML special characters…)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.app import create_bot
from bots.dispatch import QUOTE_LENGTH
from bots.testing import bot_config

# XML 1.0 allows tab, newline and carriage return but no other C0 control character, so no
# XMPP client can send those at all; everything else XML allows is fair game.
XML_ILLEGAL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=XML_ILLEGAL),
                   max_size=300)
TRICKY = st.sampled_from(["🚗", "✅", "👨‍👩‍👧‍👦", "שלום", "مرحبا", "\u202e", "\u200f", "<", ">",
                          "&", "'", '"', "&amp;", "]]>", "<!--", "\u0085", "\t", "\n", "ß",
                          "İ", "ǅ", "\u0301", "status", "help", "ping", "!", "\\"])
# An empty body is no message (clients send none; chat states carry no body at all).
MESSAGES = st.one_of(ANY_TEXT, st.lists(TRICKY, max_size=12).map(" ".join),
                     st.lists(st.one_of(TRICKY, ANY_TEXT), max_size=6).map("".join)
                     ).filter(bool)


class Conversation:
    """A bot and one person's client on their own event loop, so hypothesis (which is
    synchronous) can ask thousands of questions through the real server."""

    def __init__(self, xmpp_server, database_url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = xmpp_server
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

    def ask(self, text: str) -> str:
        return self.call(self.client.ask(self.bot.boundjid.bare, text, timeout=10))

    def close(self) -> None:
        async def stop():
            await self.client.stop(wait=1)
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


@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=MESSAGES)
def test_the_bot_always_answers_and_quotes_intact(conversation, text):
    answer = conversation.ask(text)
    assert answer.strip()
    if answer.startswith('I did not understand "'):
        quoted = as_received(text).strip()[:QUOTE_LENGTH]
        assert answer.startswith(f'I did not understand "{quoted}".')


@pytest.mark.parametrize("text", [
    "🚗✅ how high is the moon? 👍", "שלום, האם הרכב שלי מוכן?", "هل سيارتي جاهزة؟",
    "<b>&amp; \"quotes\" 'and' </b> ]]>", "\u202edeifitrevni\u202c", "👨‍👩‍👧‍👦 family",
])
def test_odd_text_comes_back_exactly(conversation, text):
    assert conversation.ask(text).startswith(f'I did not understand "{text[:QUOTE_LENGTH]}".')


def test_a_message_near_the_servers_maximum_stanza_size_gets_a_clear_answer(conversation):
    text = "status " + "ü" * 125_000  # about 250 kB of UTF-8; ejabberd.yml allows 262,144 bytes
    answer = conversation.ask(text)
    assert answer.startswith(f"Your message is too long for me ({len(text)} characters).")
    assert conversation.ask("ping") == "pong"  # and the conversation goes on
