"""pytest fixtures that test bots against a real, private ejabberd.

Enable them in a `conftest.py` with `pytest_plugins = ["bots.testing"]`. They give:

- `xmpp_server` (session): a private ejabberd on free loopback ports, stopped at the end of the
  session, also after a failure or Ctrl-C; server-to-server it talks to the phone apps' push
  services and to TEST_PUSH_DOMAIN, which it finds through `test_dns` and whose certificate
  must come from `test_ca` (tests/test_s2s_allow_list.py starts a server for that domain);
- `test_ca`, `test_dns` (session): a certificate authority and a DNS server of the session's
  own, for servers that stand in for other companies' (a push service's);
- `make_account`: creates a fresh account and returns `(jid, password)`;
- `chat_client`: logs in a `ChatClient` (a small slixmpp client) over verified TLS;
- `make_bot`: starts a bot with the plugins you give (yours) and settings you choose;
- `bot`: the Botschaft bot with every installed plugin, logged in as `bot@<domain>`;

and, for crash tests of a bot in its own process (`run_environment`), `kill_during` (kill -9 at
given points of progress) and `run_until` (run until done, then SIGTERM).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import pytest
import pytest_asyncio
import slixmpp
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from bots.app import Bot, create_bot
from bots.config import Config
from bots.connection import Session
from bots.config import load as load_config
from bots.devserver import (BOT_USER, PUSH_SERVICES, DevCluster, DevServer, Instance,
                             generate_password)
from bots.plugin import Plugin
from bots.scheduler import Clock, Scheduler
from bots.services import Services
from bots.storage import Storage

STATE_PREFIX = "botschaft-test-"
PUSH = "urn:xmpp:push:0"
# The domain of a push service's server as tests stand it in (.test: never a real one).
TEST_PUSH_DOMAIN = "push.botschaft.test"
PUBSUB = "http://jabber.org/protocol/pubsub"


class ChatClient(Session):
    """A person's Jabber client, reduced to what tests need: send, and await answers."""

    def __init__(self, jid: str, password: str, ca_file: Path):
        super().__init__(jid, password, ca_file)
        for name in ("xep_0030", "xep_0004", "xep_0045", "xep_0050", "xep_0066", "xep_0352"):
            self.register_plugin(name)  # rooms, ad-hoc commands, files, as GUI clients have
        self.inbox: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.add_event_handler("message", self.inbox.put_nowait)

    async def on_session_start(self) -> None:
        await self.get_roster()  # as real clients do: contacts first, then presence
        self.send_presence()

    async def next_message(self, sender: str | None = None, timeout: float = 10) -> slixmpp.Message:
        """The next message (from `sender`'s bare JID, if given); others are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.inbox.get()
                if sender is None or message["from"].bare == sender:
                    return message

    def say(self, to: str, text: str, language: str | None = None,
            file_url: str | None = None) -> None:
        """Send a chat message, optionally marked with the client's language (xml:lang); with
        `file_url`, a shared file as clients send one after an upload: the link as the body
        and as out-of-band data (XEP-0066)."""
        message = self.make_message(mto=to, mbody=file_url or text, mtype="chat")
        if language:
            message["lang"] = language
        if file_url:
            message["oob"]["url"] = file_url
        message.send()

    async def ask(self, to: str, text: str, timeout: float = 10,
                  language: str | None = None, file_url: str | None = None) -> str:
        """Send `text` (or a file's link) to `to` and return the body of the answer."""
        self.say(to, text, language, file_url)
        return (await self.next_message(to, timeout))["body"]

    async def go_away(self) -> None:
        """What a phone app does when it goes to the background: confirms what it received
        (XEP-0198 <a/>, as Monal and Conversations do), says it is inactive (XEP-0352), then
        loses the connection without closing the stream, which the server keeps for it to
        resume. Without the confirmation, ejabberd notifies the push service at once of what
        was left unconfirmed (mod_push's c2s_session_pending): a second, stale notification."""
        self.plugin["xep_0198"].send_ack()
        self.plugin["xep_0352"].send_inactive()
        await self.stop(resumable=True)

    async def come_back(self, timeout: float = 15) -> None:
        """The app in the foreground again: it reconnects and resumes the stream it left."""
        resumptions = self.resumptions
        self._stopping = False
        self.connect(*self._address)
        async with asyncio.timeout(timeout):
            while self.resumptions == resumptions:
                await asyncio.sleep(0.05)

    def tls_version(self) -> str | None:
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        return ssl_object.version() if ssl_object else None


class PushServiceStandIn(slixmpp.ComponentXMPP):
    """An app's push service as ejabberd sees it: an address that takes pubsub publishes
    (XEP-0357 notifications) and answers them. It keeps each notification as received, and
    queues the messages that reach it (`messages`)."""

    def __init__(self, domain: str, secret: str, port: int):
        super().__init__(domain, secret, "127.0.0.1", port)
        self.notifications: list[str] = []
        self.online = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", lambda _event: self.online.set_result(True))
        self.register_handler(Callback(
            "push notification", MatchXPath(f"{{jabber:component:accept}}iq/{{{PUBSUB}}}pubsub"),
            self._notified))
        self.messages: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.register_handler(Callback(
            "message", MatchXPath("{jabber:component:accept}message"), self.messages.put_nowait))

    async def start(self, timeout: float = 15) -> None:
        self.connect()
        async with asyncio.timeout(timeout):
            await asyncio.shield(self.online)

    def _notified(self, iq) -> None:
        self.notifications.append(str(iq))
        iq.reply(clear=True).send()


async def enable_push(client, service: str, node: str, secret: str) -> None:
    """What Monal and Conversations send once logged in (XEP-0357 `enable`): where to notify,
    the node naming this device at the push service, and a secret it checks."""
    form = client.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="secret", value=secret)
    enable = ET.Element(f"{{{PUSH}}}enable", {"jid": service, "node": node})
    enable.append(form.xml)
    iq = client.make_iq_set()
    iq.append(enable)
    await iq.send(timeout=10)



class TestServer:
    """The session's private ejabberd and the accounts made on it."""

    __test__ = False  # a helper, not a test class

    def __init__(self, devserver: DevServer, instance: Instance):
        self.devserver = devserver
        self.instance = instance
        self._numbers = itertools.count(1)

    @property
    def domain(self) -> str:
        return self.instance.domain

    def make_account(self, prefix: str = "user") -> tuple[str, str]:
        user = f"{prefix}{next(self._numbers)}-{generate_password()[:6].lower()}"
        user = "".join(ch for ch in user if ch.isalnum() or ch == "-")
        password = self.devserver.add_user(user)
        return f"{user}@{self.domain}", password

    async def login(self, jid: str, password: str, timeout: float = 15) -> ChatClient:
        client = ChatClient(jid, password, self.instance.ca_file)
        await client.start("127.0.0.1", self.instance.c2s_port, timeout)
        return client


def new_state_dir() -> Path:
    """A fresh state directory for a test server, reachable by the ejabberd user.

    Its name carries our pid, so a later session can stop what a killed one left running.
    """
    base = Path(os.environ.get("BOTSCHAFT_TEST_STATE_BASE", tempfile.gettempdir()))
    _reap_orphans(base)
    return Path(tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{os.getpid()}-", dir=base))


def _reap_orphans(base: Path) -> None:
    """Stop test servers left behind by an earlier session that was killed (kill -9)."""
    for state_dir in base.glob(f"{STATE_PREFIX}*"):
        owner = state_dir.name[len(STATE_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            for node_dir in DevCluster.node_dirs(state_dir):  # a cluster's nodes, if any
                DevServer(node_dir).stop()
            DevServer(state_dir).stop()
            shutil.rmtree(state_dir, ignore_errors=True)


class TestCA:
    """A certificate authority of the test session's own: it vouches for servers that stand in
    for other companies' servers, as the public CAs vouch for the real ones."""

    __test__ = False

    def __init__(self, directory: Path):
        self.certfile, self.keyfile = directory / "ca.crt", directory / "ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=Botschaft test CA", "-keyout", self.keyfile, "-out", self.certfile)

    def issue(self, certfile: Path, domain: str) -> None:
        """A certificate for `domain` and its subdomains, where DevServer looks for one:
        `certfile` holds key, certificate and this CA's, `certfile.crt` the two certificates."""
        keyfile, crtfile = certfile.with_suffix(".key"), certfile.with_suffix(".crt")
        _openssl("req", "-x509", "-CA", self.certfile, "-CAkey", self.keyfile,
                 "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={domain}",
                 "-addext", f"subjectAltName=DNS:{domain},DNS:*.{domain}",
                 "-addext", "basicConstraints=critical,CA:FALSE",
                 "-keyout", keyfile, "-out", crtfile)
        crtfile.write_bytes(crtfile.read_bytes() + self.certfile.read_bytes())
        certfile.write_bytes(keyfile.read_bytes() + crtfile.read_bytes())
        certfile.chmod(0o600)
        keyfile.unlink()


def _openssl(*arguments) -> None:
    subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)


class TestDNS:
    """A DNS server on loopback for the XMPP servers of a test session, which find each other
    as servers on the internet do: ejabberd looks up the SRV record `_xmpp-server._tcp.DOMAIN`
    in DNS (never in the hosts file), here one naming a port on 127.0.0.1 for each server
    added. Any other name does not exist."""

    __test__ = False
    SRV = 33

    def __init__(self):
        self.records: dict[tuple[str, int], bytes] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._socket.getsockname()
        threading.Thread(target=self._serve, name="test DNS", daemon=True).start()

    def add_server(self, domain: str, port: int) -> None:
        self.records[(f"_xmpp-server._tcp.{domain}", self.SRV)] = (
            struct.pack("!HHH", 0, 0, port) + _dns_name("127.0.0.1"))

    def close(self) -> None:
        self._socket.close()

    def _serve(self) -> None:
        while True:
            try:
                query, client = self._socket.recvfrom(512)
                self._socket.sendto(self._answer(query), client)
            except OSError:
                return  # closed

    def _answer(self, query: bytes) -> bytes:
        ident, flags = struct.unpack("!HH", query[:4])
        labels, at = [], 12
        while query[at]:
            labels.append(query[at + 1:at + 1 + query[at]].decode().lower())
            at += 1 + query[at]
        name, (kind,) = ".".join(labels), struct.unpack("!H", query[at + 1:at + 3])
        data = self.records.get((name, kind))
        exists = any(known == name for known, _kind in self.records)
        header = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | (0 if exists else 3),
                             1, 1 if data else 0, 0, 0)
        answer = b"\xc0\x0c" + struct.pack("!HHIH", kind, 1, 60, len(data)) + data if data else b""
        return header + query[12:at + 5] + answer


def _dns_name(domain: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in domain.split(".")) + b"\0"


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def test_dns():
    dns = TestDNS()
    yield dns
    dns.close()


@pytest.fixture(scope="session")
def xmpp_server(test_ca, test_dns):
    """One private ejabberd for the whole test session."""
    # pytest tears fixtures down on Ctrl-C; make SIGTERM (a CI timeout) behave the same.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    state_dir = new_state_dir()
    devserver = DevServer(state_dir, push_services=PUSH_SERVICES + [TEST_PUSH_DOMAIN],
                          s2s_cafile=test_ca.certfile, nameserver=test_dns.address)
    try:
        yield TestServer(devserver, devserver.start())
    finally:
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def make_account(xmpp_server):
    """Factory: `make_account("alice")` creates a fresh account, returns (jid, password)."""
    return xmpp_server.make_account


@pytest_asyncio.fixture
async def chat_client(xmpp_server):
    """Factory: `await chat_client()` logs in a new account; `await chat_client(jid, pw)` an
    existing one. Every client is logged out after the test."""
    clients = []

    async def login(jid: str | None = None, password: str | None = None) -> ChatClient:
        if jid is None:
            jid, password = xmpp_server.make_account()
        client = await xmpp_server.login(jid, password)
        clients.append(client)
        return client

    yield login
    # together: each waits for the server to close its stream (about 0.1 s)
    await asyncio.gather(*(client.stop(wait=1) for client in clients))


def bot_config(xmpp_server: TestServer, **settings: str) -> Config:
    """A bot configuration for the test server; `settings` as BOTSCHAFT_* names without the
    prefix, e.g. bot_config(server, PEOPLE_STAFF="alice@localhost")."""
    instance = xmpp_server.instance
    environ = {
        "BOTSCHAFT_XMPP_JID": f"{BOT_USER}@{instance.domain}",
        "BOTSCHAFT_XMPP_PASSWORD": xmpp_server.devserver.ensure_user(BOT_USER),
        "BOTSCHAFT_XMPP_HOST": "127.0.0.1",
        "BOTSCHAFT_XMPP_PORT": str(instance.c2s_port),
        "BOTSCHAFT_XMPP_CA_FILE": str(instance.ca_file),
        "BOTSCHAFT_BOT_LANGUAGE": "en",
        "BOTSCHAFT_WEB_LISTEN": "127.0.0.1:0",  # a free port for each bot
    }
    environ.update({f"BOTSCHAFT_{name}": value for name, value in settings.items()})
    return load_config(None, environ=environ)


def join_settings(xmpp_server: TestServer, company: str = "Autohaus Beispiel") -> dict[str, str]:
    """Settings for `make_bot` that switch on the join page (on a free port: the running bot's
    `join_site.port`), making accounts on the test server."""
    instance = xmpp_server.instance
    return {"JOIN_LISTEN": "127.0.0.1:0", "JOIN_PUBLIC_URL": "http://join.test",
            "JOIN_COMPANY": company, "JOIN_CHAT_URL": instance.chat_url,
            "JOIN_WEBSOCKET_URL": instance.websocket_url,
            "EJABBERD_API_URL": instance.api().url, "EJABBERD_ADMIN_JID": instance.admin_jid,
            "EJABBERD_ADMIN_PASSWORD": instance.admin_password}


def services_over(storage: Storage, plugins: list[Plugin] | None = None,
                  scheduler: Scheduler | None = None, **settings: str) -> Services:
    """The plugin services (what `plugin.bot` is in a running bot) over a database, without a
    bot: for tests and benchmarks of a plugin's own logic. `settings` as in `bot_config`, e.g.
    BOT_LANGUAGE="en"; what it notifies stays in the outbox table."""
    config = load_config(None, environ={f"BOTSCHAFT_{name}": value
                                        for name, value in settings.items()})
    services = Services(config, storage, plugins or [], scheduler)
    for plugin in plugins or []:
        plugin.bot = services
    return services


def technical_tokens(answer: str, language: str, labels: set[str] = frozenset(),
                     english: set[str] = frozenset(), own_texts: Iterable[str] = ()
                     ) -> list[str]:
    """What a person should never read in an answer: the program's tokens instead of words
    (empty: a clean answer). For conversation tests in each language, e.g.
    `assert technical_tokens(answer, "de", labels={"Kurs"}, english={"course"}) == []`.

    `None`, a Python repr ('…' around a value, <… object …>), an unfilled {placeholder}, a
    bare language code (de, en; "de|en" as the words to type is fine) or doubled punctuation
    is always one. Brackets are fine only around `labels` (the translated names of a command's
    parts, as usage lines show them: <required>, [optional]) or choices ("an|aus"). In German
    answers, `english` words are too. `own_texts` are texts
    that are not the bot's (a trainer's lesson, a note staff wrote): left out; their final
    mark stays, so a mark the bot adds after one still counts."""
    found = []
    text = _LINK.sub(" ", answer)
    for own in sorted(own_texts, key=len, reverse=True):
        text = text.replace(own, "…" + (own[-1:] if own[-1:] in ".!?" else ""))
    for line in text.splitlines():
        found += [f"[{inner}]" for inner in re.findall(r"\[([^\[\]]*)\]", line)
                  if not _label_or_choices(inner, labels)]
        found += re.findall(r"[\[\]]", re.sub(r"\[[^\[\]]*\]", "", line))  # unpaired
        found += [f"<{inner}>" for inner in re.findall(r"<([^<>]*)>", line)
                  if not _label_or_choices(inner, labels)]
    found += re.findall(r"\bNone\b|[{}]|(?<!\w)'[^'\n]+'(?!\w)|[.!?][.!?]", text)
    found += re.findall(r"\b(?:de|en)\b", _CHOICES_IN_TEXT.sub(" ", text))
    if language == "de":
        found += [word for word in re.findall(r"[^\W\d_]+", text) if word.lower() in english]
    return found


_LINK = re.compile(r"https?://\S+")
_CHOICES = re.compile(r"^\w+(\|\w+)+$")  # "de|en": the words to type, not a code
_CHOICES_IN_TEXT = re.compile(r"\b\w+(?:\|\w+)+\b")


def _label_or_choices(inner: str, labels: set[str]) -> bool:
    return inner in labels or bool(_CHOICES.match(inner))


def run_environment(instance: Instance, password: str, database_url: str,
                    **settings: str) -> dict[str, str]:
    """The environment for `botschaft run` as bot@<domain> on the dev server, for tests and
    benchmarks that run the bot as its own process; `settings` as in `bot_config`."""
    environ = {**os.environ, "BOTSCHAFT_CONFIG": os.devnull,
               "BOTSCHAFT_XMPP_JID": f"{BOT_USER}@{instance.domain}",
               "BOTSCHAFT_XMPP_PASSWORD": password, "BOTSCHAFT_XMPP_HOST": "127.0.0.1",
               "BOTSCHAFT_XMPP_PORT": str(instance.c2s_port),
               "BOTSCHAFT_XMPP_CA_FILE": str(instance.ca_file),
               "BOTSCHAFT_DATABASE_URL": database_url, "BOTSCHAFT_WEB_LISTEN": ""}
    environ.update({f"BOTSCHAFT_{name}": value for name, value in settings.items()})
    return environ


BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")


def component_environment(instance: Instance, database_url: str,
                          **settings: str) -> dict[str, str]:
    """`run_environment` for a bot worker in component mode, as bot.<domain>."""
    return run_environment(instance, "", database_url, XMPP_MODE="component",
                           XMPP_JID=f"bot.{instance.domain}",
                           XMPP_COMPONENT_SECRET=instance.component_secret,
                           XMPP_PORT=str(instance.ports["component"]), **settings)


async def kill_during(environ: dict[str, str], progress: Callable[[], int],
                      points: list[int], timeout: float = 120) -> None:
    """Crash tests: start `botschaft run` with `environ` and kill -9 it as soon as `progress()`
    reaches the first point; again for each further point."""
    for point in points:
        bot = subprocess.Popen([BOTSCHAFT, "run"], env=environ, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while progress() < point:
                assert time.monotonic() < deadline, f"progress stayed at {progress()}"
                assert bot.poll() is None, "the bot ended by itself"
                await asyncio.sleep(0.02)
        finally:
            bot.send_signal(signal.SIGKILL)
            bot.wait()


async def run_until(environ: dict[str, str], done: Callable[[], bool],
                    timeout: float = 120) -> None:
    """Start `botschaft run` with `environ`, wait until `done()`, and stop it (SIGTERM)."""
    bot = subprocess.Popen([BOTSCHAFT, "run"], env=environ, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "not done in time"
            assert bot.poll() is None, "the bot ended by itself"
            await asyncio.sleep(0.1)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(30)


@pytest_asyncio.fixture
async def make_bot(xmpp_server, tmp_path):
    """Factory: `await make_bot(plugins=[MyPlugin()], PEOPLE_STAFF="…")` starts a bot with
    exactly these plugins (default: every installed one) and its own SQLite database; give
    `clock=FakeClock(...)` to move its time (the scheduler's) yourself."""
    bots = []

    async def start(plugins: list[Plugin] | None = None, clock: Clock | None = None,
                    **settings: str) -> Bot:
        settings.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / f'bot{len(bots)}.db'}")
        running = await create_bot(bot_config(xmpp_server, **settings), plugins, clock)
        bots.append(running)
        await running.start()
        return running

    yield start
    for running in bots:
        await running.stop()
        running.storage.close()


@pytest_asyncio.fixture
async def bot(make_bot):
    """The Botschaft bot with every installed plugin, online as bot@<domain>."""
    return await make_bot()
