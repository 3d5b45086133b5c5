"""/healthz, /metrics and plugin routes, served by twisted.web on the bot's own event loop."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from twisted.web.resource import Resource

from bots.plugin import Plugin
from bots.web import WebServer, health


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        return "Grüß Gott".encode()


class Greeter(Plugin):
    name = "greeter"

    def routes(self):
        return {"hello": Hello()}


async def get(bot, path: str, token: str | None = None) -> tuple[int, str]:
    """An HTTP GET from another thread (the server runs on this test's event loop)."""
    def fetch():
        request = urllib.request.Request(f"http://127.0.0.1:{bot.web.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
    return await asyncio.to_thread(fetch)


async def test_healthz_reports_connection_database_and_outbox(make_bot):
    bot = await make_bot()
    status, body = await get(bot, "/healthz")
    report = json.loads(body)
    assert status == 200 and report["ok"] is True
    assert report["connected"] and report["database"]
    assert report["outbox"] == {"depth": 0, "oldest_age_s": 0.0, "stuck": False}


async def test_health_is_not_ok_once_the_bot_is_offline(make_bot):
    bot = await make_bot()
    await bot.stop()
    report = await health(bot)
    assert report["ok"] is False and report["connected"] is False


async def test_metrics_count_messages_and_time_the_answers(make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    for _ in range(3):
        assert await client.ask(bot.boundjid.bare, "ping") == "pong"
    status, text = await get(bot, "/metrics")
    assert status == 200
    assert "botschaft_messages_in_total 3.0" in text
    assert "botschaft_messages_out_total 3.0" in text
    assert "botschaft_handler_seconds_count 3.0" in text
    assert "botschaft_connected 1.0" in text and "botschaft_outbox_depth 0.0" in text


async def test_plugins_add_routes_under_their_name(make_bot):
    bot = await make_bot(plugins=[Greeter()])
    assert await get(bot, "/greeter/hello") == (200, "Grüß Gott")


async def test_a_configured_token_is_required(make_bot):
    bot = await make_bot(WEB_TOKEN="s3cret-token")
    assert (await get(bot, "/healthz"))[0] == 401
    assert (await get(bot, "/healthz", token="wrong"))[0] == 401
    assert (await get(bot, "/healthz", token="s3cret-token"))[0] == 200


def test_listening_beyond_loopback_needs_a_token():
    with pytest.raises(ValueError, match="set \\[web\\] token"):
        WebServer(bot=None, listen="0.0.0.0:8731")
    WebServer(bot=None, listen="[::1]:8731")  # loopback: fine without
