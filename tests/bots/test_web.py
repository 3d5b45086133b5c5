"""/healthz, /metrics and plugin routes, served by twisted.web on the bot's own event loop."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import select
import socket
import time
import urllib.error
import urllib.request

import pytest
from twisted.web.resource import Resource

from bots.config import ConfigError, load
from bots.outbox import enqueue_many
from bots.plugin import Plugin
from bots.web import MAX_BODY_BYTES, AsyncResource, health
from tests.conftest import eventually


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
    # the outbox's own stream counts as up once its first database look is done, which may
    # be a moment after the bot's start returned
    await eventually(lambda: bot.outbox.online)
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
    assert 'botschaft_handler_seconds_bucket{le="+Inf"} 3.0' in text
    assert 'botschaft_handler_seconds_bucket{le="10.0"} 3.0' in text  # each within 10 s
    assert "botschaft_messages_in_created" in text
    assert "botschaft_connected 1.0" in text and "botschaft_outbox_depth 0.0" in text
    # what the bot starts itself counts too, once the server has it
    await bot.storage.run(enqueue_many, [(f"push:{n}", client.boundjid.bare, f"News {n}")
                                         for n in range(2)])
    bot.outbox.wake()
    for _ in range(2):
        await client.next_message(bot.boundjid.bare)
    deadline = time.monotonic() + 10  # counted when the server acknowledges them
    while "botschaft_messages_out_total 5.0" not in (await get(bot, "/metrics"))[1]:
        assert time.monotonic() < deadline, "the outbox's messages were not counted"
        await asyncio.sleep(0.05)


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
                try:
                    sock.sendall(b"x")
                except (BrokenPipeError, ConnectionResetError):  # closed since we looked
                    return time.monotonic() - started
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


@pytest.mark.parametrize("listen", ["0.0.0.0:8731", "example.com:8731", "[::]:8731"])
def test_listening_beyond_loopback_needs_a_token_and_says_so_as_a_config_error(listen):
    with pytest.raises(ConfigError, match=r"is reachable from other machines: set \[web\] "
                                          "token"):
        load(None, environ={"BOTSCHAFT_WEB_LISTEN": listen})
    load(None, environ={"BOTSCHAFT_WEB_LISTEN": listen, "BOTSCHAFT_WEB_TOKEN": "s3cret"})


@pytest.mark.parametrize("listen", ["[::1]:8731", "127.0.0.1:0", "localhost:8731", ""])
def test_loopback_needs_no_token(listen):
    load(None, environ={"BOTSCHAFT_WEB_LISTEN": listen})


def test_a_listen_value_that_is_no_address_is_named():
    with pytest.raises(ConfigError, match="'8731' is no host:port"):
        load(None, environ={"BOTSCHAFT_WEB_LISTEN": "8731"})


TOO_LARGE = 10_000_000  # far over MAX_BODY_BYTES


def response_head(sock: socket.socket) -> bytes:
    """What the server answered, up to the end of its headers (b"" if it answered nothing)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def sending_fails(sock: socket.socket, size: int) -> bool:
    """Whether sending `size` bytes fails because the server closed the connection."""
    try:
        sock.sendall(b"x" * size)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return False


async def test_a_body_announced_over_the_cap_is_refused_before_it_is_sent(make_bot):
    """Twisted buffered any body whole (to memory, then disk) before the token was checked."""
    bot = await make_bot(plugins=[Greeter()], WEB_TOKEN="s3cret-token")

    def announce() -> tuple[bytes, bool]:
        with socket.create_connection(("127.0.0.1", bot.web.port), timeout=10) as sock:
            sock.sendall(f"POST /greeter/hello HTTP/1.1\r\nHost: bot\r\nContent-Length: "
                         f"{TOO_LARGE}\r\nExpect: 100-continue\r\n\r\n".encode())
            head = response_head(sock)  # before a byte of the body is sent
            return head, sending_fails(sock, TOO_LARGE)
    head, refused = await asyncio.to_thread(announce)
    assert head.startswith(b"HTTP/1.1 413 ") and b"connection: close" in head.lower()
    assert refused  # the server reads no more of it: it closed the connection

    def post_within_the_cap() -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{bot.web.port}/greeter/hello",
                                         data=b"x" * MAX_BODY_BYTES, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        return refused.value.code
    assert await asyncio.to_thread(post_within_the_cap) == 401  # read, then the token checked


def chunked(size: int, piece: int = 16 * 1024) -> bytes:
    """`size` bytes of body in chunked transfer encoding, without the closing chunk."""
    body = b""
    while size > 0:
        length = min(piece, size)
        body += b"%x\r\n%s\r\n" % (length, b"x" * length)
        size -= length
    return body


async def test_a_chunked_body_is_cut_off_at_the_cap(make_bot):
    """A chunked body announces no length: it is counted as it arrives."""
    bot = await make_bot(plugins=[Greeter()])
    request = b"POST /healthz HTTP/1.1\r\nHost: bot\r\nTransfer-Encoding: chunked\r\n\r\n"

    def send(size: int, finish: bool) -> tuple[bytes, bool]:
        with socket.create_connection(("127.0.0.1", bot.web.port), timeout=10) as sock:
            sock.sendall(request + chunked(size) + (b"0\r\n\r\n" if finish else b""))
            head = response_head(sock)  # the closing chunk is not sent when over the cap
            return head, finish or sending_fails(sock, TOO_LARGE)

    head, _ = await asyncio.to_thread(send, MAX_BODY_BYTES, True)
    assert head.startswith(b"HTTP/1.1 405 ")  # read whole, then answered: /healthz is GET only
    head, refused = await asyncio.to_thread(send, MAX_BODY_BYTES + 1, False)
    assert head.startswith(b"HTTP/1.1 413 ") and refused


class Hold(AsyncResource):
    """Answers only once its client has gone away."""

    def __init__(self):
        super().__init__()
        self.asked = asyncio.Event()
        self.gone = asyncio.Event()

    async def respond(self, request):
        request.notifyFinish().addErrback(lambda _failure: self.gone.set())
        self.asked.set()
        await self.gone.wait()
        return 200, "text/plain", b"too late\n"


class Holding(Plugin):
    name = "holding"

    def __init__(self):
        super().__init__()
        self.resource = Hold()

    def routes(self):
        return {"hold": self.resource}


async def test_an_answer_to_a_client_that_went_away_logs_nothing(make_bot, caplog):
    plugin = Holding()
    bot = await make_bot(plugins=[plugin])
    with socket.create_connection(("127.0.0.1", bot.web.port), timeout=10) as sock:
        sock.sendall(b"GET /holding/hold HTTP/1.1\r\nHost: bot\r\n\r\n")
        await asyncio.wait_for(plugin.resource.asked.wait(), 10)
    await asyncio.wait_for(plugin.resource.gone.wait(), 10)

    def answering() -> bool:
        return any(task.get_coro().__qualname__ == "AsyncResource.render.<locals>.answer"
                   for task in asyncio.all_tasks())
    deadline = time.monotonic() + 10
    while answering() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    gc.collect()  # an exception nobody retrieved is logged when its task is collected
    assert not answering()
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
