"""The bot stays reachable: a dropped connection resumes, a restarted server is reconnected
to, and what people wrote meanwhile is answered once."""

from __future__ import annotations

import asyncio
import time


async def eventually(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_a_dropped_connection_is_resumed_without_loss(make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"
    bot.transport.abort()  # the network goes away under the bot's feet
    client.say(bot.boundjid.bare, "ping")  # the server keeps it for the resumed session
    await eventually(lambda: bot.resumptions == 1)
    assert (await client.next_message(bot.boundjid.bare))["body"] == "pong"
    assert bot.sessions == 1  # resumed, not a new session
    assert await client.ask(bot.boundjid.bare, "help") != "pong"  # no second pong came


async def test_the_bot_comes_back_by_itself_after_a_server_restart(make_bot, xmpp_server,
                                                                    chat_client):
    bot = await make_bot()
    client = await chat_client()
    xmpp_server.devserver.stop()
    xmpp_server.devserver.start()
    await eventually(lambda: bot.sessions == 2 and client.sessions == 2)
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"
    assert bot.reconnects >= 1


async def test_messages_sent_while_the_bot_was_away_are_answered_once(make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    jid = bot.boundjid.bare
    await bot.stop()
    client.say(jid, "ping")  # offline storage keeps it
    client.say(jid, "help")
    await asyncio.sleep(0.5)
    await make_bot()
    answers = [(await client.next_message(jid))["body"] for _ in range(2)]
    assert answers[0] == "pong" and answers[1].startswith("I understand these commands")
    assert await client.ask(jid, "ping") == "pong"  # the next answer is the next question's
