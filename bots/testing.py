"""pytest fixtures that test bots against a real, private ejabberd.

Enable them in a `conftest.py` with `pytest_plugins = ["bots.testing"]`. They give:

- `xmpp_server` (session): a private ejabberd on free loopback ports, stopped at the end of the
  session, also after a failure or Ctrl-C;
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import pytest
import pytest_asyncio
import slixmpp

from bots.app import Bot, create_bot
from bots.config import Config
from bots.connection import Session
from bots.config import load as load_config
from bots.devserver import BOT_USER, DevCluster, DevServer, Instance, generate_password
from bots.plugin import Plugin
from bots.scheduler import Clock, Scheduler
from bots.services import Services
from bots.storage import Storage

STATE_PREFIX = "botschaft-test-"


class ChatClient(Session):
    """A person's Jabber client, reduced to what tests need: send, and await answers."""

    def __init__(self, jid: str, password: str, ca_file: Path):
        super().__init__(jid, password, ca_file)
        for name in ("xep_0030", "xep_0004", "xep_0045", "xep_0050"):
            self.register_plugin(name)  # rooms and ad-hoc commands, as GUI clients have them
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

    def say(self, to: str, text: str, language: str | None = None) -> None:
        """Send a chat message, optionally marked with the client's language (xml:lang)."""
        message = self.make_message(mto=to, mbody=text, mtype="chat")
        if language:
            message["lang"] = language
        message.send()

    async def ask(self, to: str, text: str, timeout: float = 10,
                  language: str | None = None) -> str:
        """Send `text` to `to` and return the body of the answer."""
        self.say(to, text, language)
        return (await self.next_message(to, timeout))["body"]

    def tls_version(self) -> str | None:
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        return ssl_object.version() if ssl_object else None


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


@pytest.fixture(scope="session")
def xmpp_server():
    """One private ejabberd for the whole test session."""
    # pytest tears fixtures down on Ctrl-C; make SIGTERM (a CI timeout) behave the same.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    state_dir = new_state_dir()
    devserver = DevServer(state_dir)
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
    for client in clients:
        await client.stop(wait=1)


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
