"""One private ejabberd per test session (bots.testing), plus a raw XMPP stream for tests that
must see exactly what the server says before any client library steps in."""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import socket
import ssl
import time
import uuid

import pytest
from slixmpp import JID

from bots.storage import redacted

pytest_plugins = ["bots.testing"]


class RawStream:
    """A hand-driven client-to-server XMPP stream: plain text, then optionally STARTTLS."""

    def __init__(self, port: int, domain: str, ca_file):
        self.domain = domain
        self.ca_file = ca_file
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def open(self) -> str:
        """Open (or restart) the stream and return the server's stream features."""
        self.send(f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' "
                  "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        return self.read_until("</stream:features>")

    def starttls(self) -> None:
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        assert "<proceed" in self.read_until("/>")
        context = ssl.create_default_context(cafile=str(self.ca_file))
        self.sock = context.wrap_socket(self.sock, server_hostname=self.domain)

    def auth_plain(self, user: str, password: str) -> str:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        return self.read_until_any(("</failure>", "<success", "</stream:error>", "</stream:stream>"))

    def send(self, xml: str) -> None:
        self.sock.sendall(xml.encode())

    def read_until(self, marker: str) -> str:
        return self.read_until_any((marker,))

    def read_until_any(self, markers) -> str:
        received = ""
        while not any(marker in received for marker in markers):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            received += chunk.decode()
        return received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_stream(xmpp_server):
    """Factory for RawStream connections to the session's server; all closed afterwards."""
    streams = []

    def connect() -> RawStream:
        stream = RawStream(xmpp_server.instance.c2s_port, xmpp_server.domain,
                           xmpp_server.instance.ca_file)
        streams.append(stream)
        return stream

    yield connect
    for stream in streams:
        stream.close()



async def eventually(condition, timeout: float = 60) -> None:
    """Wait until `condition()` (a function or a coroutine function) is true, instead of
    sleeping for a time that is too short on a loaded machine and too long everywhere else."""
    deadline = time.monotonic() + timeout
    while not await _value_of(condition()):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _value_of(result):
    return await result if inspect.isawaitable(result) else result


async def next_room_message(client, room: str, timeout: float = 10):
    """The next live (not replayed) group message in `room`."""
    while True:
        message = await client.next_message(room, timeout)
        if message["type"] == "groupchat" and message.xml.find("{urn:xmpp:delay}delay") is None:
            return message


@pytest.fixture
async def room(chat_client, xmpp_server):
    """A fresh members-only room, created by its owner (who stays in it); semi-anonymous, as
    ejabberd makes rooms by default: only moderators see the occupants' real JIDs."""
    instance = xmpp_server.instance  # only admins and bots may create rooms
    owner = await chat_client(instance.admin_jid, instance.admin_password)
    name = f"room-{uuid.uuid4().hex[:8]}@conference.{xmpp_server.domain}"
    await owner.plugin["xep_0045"].join_muc_wait(JID(name), "owner", maxstanzas=0, timeout=10)
    form = await owner.plugin["xep_0045"].get_room_config(name)
    await owner.plugin["xep_0045"].set_room_config(name, form)  # accept the defaults
    owner.room = name
    return owner


POSTGRES_URL = os.environ.get("BOTSCHAFT_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


def postgres_admin():
    """A connection to the test PostgreSQL (autocommit), for making and dropping databases and
    schemas. Skipped, with the reason, only where none runs; under CI (CI=true) that fails
    instead, so a green run means PostgreSQL was tested."""
    try:
        import psycopg
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:  # no server, no psycopg: say so
        reason = (f"no PostgreSQL at {redacted(POSTGRES_URL)} ({exc}); set "
                  "BOTSCHAFT_TEST_POSTGRES_URL")
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason, pytrace=False)  # no traceback: the driver's frames hold the URL
        pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database on SQLite and on the machine's real PostgreSQL (its own schema,
    dropped afterwards). PostgreSQL is skipped, with the reason, only where none runs; under CI
    (CI=true) that fails instead, so a green run means PostgreSQL was tested."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    admin = postgres_admin()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
