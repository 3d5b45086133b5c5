"""/healthz, /metrics and plugin routes, served by twisted.web on the bot's own event loop."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
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


async def get(bot, path: str, token: str | None = None,
              authorization: str | None = None) -> tuple[int, str]:
    """An HTTP GET from another thread (the server runs on this test's event loop); `token`
    goes as `Authorization: Bearer <token>`, `authorization` as the header's whole value."""
    def fetch():
        request = urllib.request.Request(f"http://127.0.0.1:{bot.web.port}{path}")
        if token or authorization:
            request.add_header("Authorization", authorization or f"Bearer {token}")
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


@pytest.mark.parametrize("authorization", [
    "s3cret-token", "Basic s3cret-token", "Bearers3cret-token", "Bearer s3cret-token x"])
async def test_the_token_counts_only_as_a_bearer_token(make_bot, authorization):
    bot = await make_bot(WEB_TOKEN="s3cret-token")
    assert (await get(bot, "/healthz", authorization=authorization))[0] == 401


def closed_by_server(sock: socket.socket, interval: float) -> bool:
    """Whether the server closed the connection within `interval` seconds."""
    if not select.select([sock], [], [], interval)[0]:
        return False
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


async def test_a_request_that_trickles_in_is_cut_off_at_the_deadline(make_bot):
    """A byte now and then kept the connection for ever; now the whole request must arrive
    within [web] request_timeout of its first byte."""
    bot = await make_bot(WEB_REQUEST_TIMEOUT="1.5")

    def trickle() -> float:
        with socket.create_connection(("127.0.0.1", bot.web.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            while time.monotonic() - started < 15:
                if closed_by_server(sock, 0.3):  # a byte every 0.3 s: never idle for long
                    return time.monotonic() - started
                sock.sendall(b"x")
            return float("inf")
    assert 1.4 < await asyncio.to_thread(trickle) < 10


async def test_connections_beyond_the_cap_are_refused_and_the_open_ones_served(make_bot):
    bot = await make_bot(WEB_MAX_CONNECTIONS="3")

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.1", bot.web.port), timeout=10)

    def served(sock: socket.socket) -> bool:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
            return sock.recv(1024).startswith(b"HTTP/1.1 200")
        except OSError:  # closed by the server
            return False

    def crowd() -> None:
        first = [connect() for _ in range(3)]
        try:
            assert served(first[-1])  # so the server has taken all three
            with connect() as fourth:
                assert closed_by_server(fourth, 10)
            assert all(served(sock) for sock in first)
            first.pop().close()  # a place is free again, once the server has noticed
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with connect() as another:
                    if served(another):
                        return
            raise AssertionError("no connection was served after one closed")
        finally:
            for sock in first:
                sock.close()
    await asyncio.to_thread(crowd)


def test_listening_beyond_loopback_needs_a_token():
    with pytest.raises(ValueError, match="set \\[web\\] token"):
        WebServer(bot=None, listen="0.0.0.0:8731")
    WebServer(bot=None, listen="[::1]:8731")  # loopback: fine without
