"""A logged-in XMPP client session that stays logged in.

TLS is verified against the system's CAs or a given file; `start()` returns once the session is
up and says clearly when the login was refused. After that the session keeps itself alive:
stream management (XEP-0198), with resumption where it helps (the outbox's stream; not the
bot's main one: ClientBot says why); a ping every minute (XEP-0199) to notice a dead
connection; delivery receipts (XEP-0184) for clients that ask; and, when the connection is
lost, reconnection with exponential backoff and jitter. Every state change is one log line
without personal data.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import re
import secrets
import ssl
from pathlib import Path
from typing import Callable

import slixmpp
from slixmpp.plugins.xep_0198 import stanza as sm_stanza
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.handler.base import BaseHandler
from slixmpp.xmlstream.matcher import MatcherId, MatchXPath, StanzaPath

log = logging.getLogger(__name__)

PLAIN_TAG = re.compile(r"\{[^}]*\}[^/*\[@.]+")  # {namespace}name, nothing more
KEEPALIVE_INTERVAL = 60  # seconds between pings to the server
KEEPALIVE_TIMEOUT = 30
SESSION_ACK_WINDOW = 100  # stanzas sent between two requests for an acknowledgement
KEEPALIVE = "botschaft keepalive"  # the name of the schedule of our own keepalive checks
OUTBOX_RESOURCE = "outbox"


class LoginFailed(Exception):
    """The server refused the account or password."""


class _ForElement:
    """A handler's matcher behind a cheap first question: is the stanza the element the
    matcher is about at all (a message, an iq, an SM ack), and does it hold the child the
    matcher looks for? slixmpp asks every handler about every stanza, and an XPath or
    stanza-path test costs far more than comparing a tag and a C-level `find`."""

    def __init__(self, matcher, tag: str | None, name: str | None, child: str | None = None,
                 plugin: str | None = None):
        self.matcher = matcher
        self.tag = tag  # the full tag, {namespace}name (XPath), or
        self.name = name  # the element's name without namespace (stanza path)
        self.child = child  # XPath `{ns}name/{ns}child`: that child decides alone
        self.plugin = plugin  # stanza path `name/plugin`: only with the plugin's element
        self._plugin_tags: dict[type, str | None] = {}  # stanza class → the plugin's tag

    def match(self, stanza) -> bool:
        tag = stanza.xml.tag
        if self.tag is not None:
            if tag != self.tag:
                return False
            if self.child is not None:
                return stanza.xml.find(self.child) is not None
            return self.matcher.match(stanza)
        if tag[tag.rfind("}") + 1:] != self.name:
            return False
        if self.plugin is not None:
            plugin_tag = self._plugin_tag(type(stanza))
            if plugin_tag is not None and stanza.xml.find(plugin_tag) is None:
                return False  # without its element the stanza has no such plugin
        return self.matcher.match(stanza)

    def _plugin_tag(self, stanza_class: type) -> str | None:
        if stanza_class not in self._plugin_tags:
            plugin = stanza_class.plugin_attrib_map.get(self.plugin)
            self._plugin_tags[stanza_class] = (
                f"{{{plugin.namespace}}}{plugin.name}" if plugin is not None
                and not getattr(plugin, "is_extension", False) and plugin.name else None)
        return self._plugin_tags[stanza_class]


def guarded_by_element(handler: BaseHandler) -> BaseHandler:
    """The handler, its matcher asking for the stanza's element first where the matcher says
    which element it wants (XPath `{ns}name/…`, stanza path `name@…/…`), and for the child
    where it names one plainly; others unchanged."""
    matcher = handler._matcher
    if isinstance(matcher, MatchXPath) and matcher._criteria.startswith("{"):
        criteria = matcher._criteria
        end = criteria.find("}")
        slash = criteria.find("/", end)
        tag = criteria[:slash if slash > 0 else None]
        if end > 0 and not any(character in tag[end:] for character in "*[@"):
            child = criteria[slash + 1:] if slash > 0 else None
            plain = child is not None and PLAIN_TAG.fullmatch(child) is not None
            handler._matcher = _ForElement(matcher, tag, None, child if plain else None)
    elif isinstance(matcher, StanzaPath) and isinstance(matcher._criteria, list):
        first = str(matcher._criteria[0])
        name = first.split("@", 1)[0].split("<", 1)[0]
        if name.isidentifier():
            rest = matcher._criteria[1:]
            plugin = str(rest[0]) if len(rest) == 1 and str(rest[0]).isidentifier() else None
            handler._matcher = _ForElement(matcher, None, name, plugin=plugin)
    return handler


@functools.lru_cache
def tls_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """Verified TLS, shared by the bot's connections: against `ca_file` alone when given
    (`[xmpp] ca_file`: that certificate instead of the system's CAs), else the system's CAs,
    loaded once (slixmpp would load them again for every connection, tens of milliseconds
    each at start)."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class Resilient:
    """What client and component sessions share: `start()` that reports clearly, reconnection
    with backoff, `stop()`. Mixed into a slixmpp ClientXMPP or ComponentXMPP."""

    role = "client mode"  # which connection this is, for the log

    def register_handler(self, handler: BaseHandler, before=None, after=None) -> None:
        """Every handler, the library's and the plugins', matches cheaply (_ForElement)."""
        super().register_handler(guarded_by_element(handler), before, after)

    def new_id(self) -> str:
        """A stanza id unique to this session: a random prefix, then a count. slixmpp's own
        asks the kernel for fresh randomness at every stanza (uuid4), about 3 % of what a
        bot spends on a message; an id only has to be unique (an answer to an iq is
        matched by its id and by the address it comes from, which the server vouches for)."""
        return f"{self._id_prefix}{next(self._id_count):x}"

    def _init_resilience(self, reconnect_max: float, keepalive: bool = True) -> None:
        self._id_prefix = secrets.token_hex(8)
        self._id_count = itertools.count(1)
        self.register_plugin("xep_0184", {"auto_ack": True, "auto_request": False})
        self.register_plugin("xep_0199", {"keepalive": keepalive, "interval": KEEPALIVE_INTERVAL,
                                          "timeout": KEEPALIVE_TIMEOUT})
        self.reconnect_max = reconnect_max
        self.reconnects = 0  # how often the connection came back (for metrics)
        self.sessions = 0  # new sessions (not resumptions) since start
        self.resumptions = 0
        self._failures_in_a_row = 0
        self._stopping = False
        self._address: tuple[str | None, int | None] = (None, None)
        self.ready = asyncio.get_running_loop().create_future()
        self.last_connection_error = None
        self.add_event_handler("session_start", self._session_ready)
        self.add_event_handler("session_resumed", self._session_resumed)
        self.add_event_handler("failed_all_auth", self._login_refused)
        self.add_event_handler("connection_failed", self._remember_connection_error)
        self.add_event_handler("ssl_invalid_chain", self._certificate_refused)
        self.add_event_handler("disconnected", self._connection_lost)
        self.add_event_handler("disconnected", self._end_keepalive)

    async def start(self, host: str | None = None, port: int | None = None,
                    timeout: float = 30) -> None:
        """Connect and return once online; raises LoginFailed, ConnectionError, TimeoutError."""
        self._address = (host, port)
        self.connect(host, port)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: bots/waiting.py says why
                await asyncio.shield(self.ready)
        except BaseException as exc:
            self.cancel_connection_attempt()
            await Resilient.stop(self, wait=0)  # the connection only: nothing else started yet
            if isinstance(exc, TimeoutError):
                where = f"{host}:{port}" if host else f"the server of {self.boundjid.domain}"
                last = (f" (last error: {self.last_connection_error})"
                        if self.last_connection_error is not None else "")
                raise ConnectionError(
                    f"no connection to the XMPP server at {where} within {timeout:.0f} s"
                    f"{last}: is it running, and are [xmpp] host and port right?") from None
            raise

    async def stop(self, wait: float = 2, resumable: bool = False) -> None:
        """Log out for good, and end the send task slixmpp keeps for the next connection.
        `resumable`: drop the connection without closing the stream, so that the server keeps
        it for the next run to resume (XEP-0198)."""
        self._stopping = True
        self.cancel_connection_attempt()
        if resumable and self.transport is not None:
            self.abort()
        else:
            await self.disconnect(wait=wait)
        if self._run_out_filters is not None:
            self._run_out_filters.cancel()

    def abort(self) -> None:
        """slixmpp's abort closes the transport, then aborts it. Python 3.11.2's TLS transport
        (Debian bookworm's) can be gone by then and raise AttributeError; later 3.11 releases
        check for that. Closed is what is wanted either way."""
        try:
            super().abort()
        except AttributeError:
            self.event("killed")

    @property
    def stream_management(self) -> bool:
        """True when the server acknowledges stanzas (XEP-0198): client mode only."""
        return "xep_0198" in self.plugin and self.plugin["xep_0198"].enabled_out

    @property
    def online(self) -> bool:
        return self.transport is not None and self.ready.done() and not self.ready.exception()

    async def on_session_start(self) -> None:
        """What to do once online (first login and every new session), before `start()`
        returns. Subclasses extend it."""
        self.send_presence()

    async def _session_ready(self, _event) -> None:
        self._failures_in_a_row = 0
        self.sessions += 1
        log.info("session started (%s)", self.role)
        await self.on_session_start()
        if not self.ready.done():
            self.ready.set_result(True)

    def _session_resumed(self, _event) -> None:
        self._failures_in_a_row = 0
        self.resumptions += 1
        log.info("session resumed: nothing lost, nothing sent twice")
        if not self.ready.done():  # a stream the last run left open, resumed at once
            self.ready.set_result(True)

    def _login_refused(self, _event) -> None:
        if not self.ready.done():
            self.ready.set_exception(LoginFailed(
                f"the server refused the login of {self.boundjid.bare}: check the JID and the "
                "password"))
            self._stopping = True

    def _certificate_refused(self, error) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)  # an ssl.SSLError: the caller says what to do
            self._stopping = True
        self.disconnect(wait=0)

    def _remember_connection_error(self, error) -> None:
        # Not fatal: slixmpp goes on to the next way in (direct TLS, then STARTTLS).
        self.last_connection_error = error

    def _keep_alive(self, check: Callable[[], None]) -> None:
        """`check` every KEEPALIVE_INTERVAL seconds while this connection lasts: each new
        connection starts it again, a lost or ended one ends it (as slixmpp's own keepalive
        does), so a stopped session pings no more."""
        self._end_keepalive()
        self.schedule(KEEPALIVE, KEEPALIVE_INTERVAL, check, repeat=True)

    def _end_keepalive(self, _event=None) -> None:
        if KEEPALIVE in self.scheduled_events:
            self.cancel_schedule(KEEPALIVE)

    def _connection_lost(self, reason) -> None:
        if self._stopping or not self.ready.done():
            return  # a deliberate stop, or the first connection (start() reports on that)
        delay = self._backoff()
        log.warning("connection lost (%s); reconnecting in %.1f s", _reason(reason), delay)
        self.loop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if self._stopping or self.transport is not None:
            return
        self.reconnects += 1
        self.connect(*self._address)

    def reschedule_connection_attempt(self):
        """slixmpp's retry after a failed attempt, with our backoff: capped, with jitter."""
        if self._current_connection_attempt is None or self._stopping:
            return None
        self._connect_loop_wait = self._backoff()
        log.info("server unreachable; next attempt in %.1f s", self._connect_loop_wait)
        self._current_connection_attempt = asyncio.ensure_future(self._connect_loop(),
                                                                 loop=self.loop)
        return self._current_connection_attempt

    def _backoff(self) -> float:
        """1, 2, 4 … seconds up to `reconnect_max`, each drawn from its upper half so that
        many bots losing one server do not all come back in the same instant."""
        self._failures_in_a_row += 1
        ceiling = min(self.reconnect_max, 2 ** (self._failures_in_a_row - 1))
        return random.uniform(ceiling / 2, ceiling)


def _init_client(session: slixmpp.ClientXMPP, jid: str, password: str,
                 ca_file: str | Path | None, ack_window: int, resumable: bool = True) -> None:
    """What the bot's client connections share: verified TLS (the CA file read again at each
    connection, so a renewed certificate counts) and stream management (XEP-0198), asking
    for an acknowledgement every `ack_window` stanzas; `resumable`: the server keeps the
    stream for resumption when the connection drops."""
    slixmpp.ClientXMPP.__init__(session, jid, password, ssl_context=tls_context(ca_file))
    if ca_file:
        session.ca_certs = Path(ca_file)
    session.register_plugin("xep_0198", {"window": ack_window, "allow_resume": resumable})


class Session(Resilient, slixmpp.ClientXMPP):
    """Client mode: the bot logs in as an account (TLS, SCRAM), with stream management."""

    resumable = True  # whether the server keeps the stream when the connection drops

    def __init__(self, jid: str, password: str, ca_file: str | Path | None = None,
                 reconnect_max: float = 60.0):
        # An acknowledgement asked for every 100 stanzas, not every 5 (slixmpp's default): in a
        # flood of answers the requests and answers were work for both sides, and a resumed
        # stream (where there is one) needs none of them to send again exactly what the
        # server did not take.
        _init_client(self, jid, password, ca_file, ack_window=SESSION_ACK_WINDOW,
                     resumable=self.resumable)
        if not self.resumable:
            self.add_filter("out_sync", self._count_anew)
        self._init_resilience(reconnect_max)

    def _count_anew(self, stanza):
        """A new stream counts its stanzas from 0 (XEP-0198). slixmpp starts its own counts
        anew only when a resumption fails; a stream that is never resumed would go on from
        the last one's, and the server's first acknowledgement would not fit them."""
        if isinstance(stanza, sm_stanza.Enable):
            management = self.plugin["xep_0198"]
            management.seq = management.last_ack = 0
            management.window_counter = management.window
        return stanza


class OutboxSession(Resilient, slixmpp.ClientXMPP):
    """Client mode: the bot's second connection, resource `outbox-…`, that carries only the
    messages the bot starts itself (bots/outbox.py says why). It sends no presence, so nothing
    addressed to the bot arrives here, and no pings of its own: instead of a ping it asks the
    server for an acknowledgement (XEP-0198), which counts nothing in the stream."""

    role = "outbox stream"

    def __init__(self, jid: str, password: str, ca_file: str | Path | None = None,
                 reconnect_max: float = 60.0):
        resource = f"{OUTBOX_RESOURCE}-{secrets.token_hex(4)}"  # one per run: no conflicts
        # slixmpp asks for an acknowledgement every 5 stanzas by default: 20,000 requests and
        # answers for 100,000 lessons, work for the server that sends them. The outbox asks
        # once per batch itself (Outbox._request_ack), so the library's count never runs out.
        _init_client(self, f"{slixmpp.JID(jid).bare}/{resource}", password, ca_file,
                     ack_window=2**31)
        self._init_resilience(reconnect_max, keepalive=False)
        self._unanswered_since: float | None = None
        self.register_handler(Callback("outbox keepalive answer",
                                       MatchXPath(sm_stanza.Ack.tag_name()),
                                       self._answered, instream=True))
        self.add_event_handler("session_resumed", self._start_keepalive)

    async def on_session_start(self) -> None:
        self._start_keepalive()

    def _start_keepalive(self, _event=None) -> None:
        self._unanswered_since = None
        self._keep_alive(self._keepalive)

    def _keepalive(self) -> None:
        if self._unanswered_since is not None:
            if self.loop.time() - self._unanswered_since > KEEPALIVE_TIMEOUT:
                log.warning("outbox stream: no acknowledgement from the server; reconnecting")
                self.abort()  # the stream stays resumable on the server
            return
        if self.stream_management:
            self._unanswered_since = self.loop.time()
            self.send_raw(str(sm_stanza.RequestAck(self)))

    def _answered(self, _ack) -> None:
        self._unanswered_since = None


class ComponentSession(Resilient, slixmpp.ComponentXMPP):
    """Component mode (XEP-0114): the bot is a whole subdomain (bot.example.com) and answers
    for every address in it; it accepts subscription requests itself. No stream management:
    components do not negotiate it.

    Several workers may connect for one subdomain; ejabberd then hands each stanza for it to
    any of them, so an answer to what one worker asked may reach another. What needs its
    answer back (a ping) is therefore asked from the worker's own address (`answers`, a
    WorkerSession) and awaited there."""

    role = "component mode"

    def __init__(self, domain: str, secret: str, host: str, port: int,
                 reconnect_max: float = 60.0, answers: ComponentSession | None = None):
        slixmpp.ComponentXMPP.__init__(self, domain, secret, host, port)
        self.auto_authorize = True  # anyone may add the bot; it adds them back
        self.auto_subscribe = True
        self.answers = answers or self  # where answers to this connection's pings arrive
        # slixmpp's keepalive pings without a sender, which ejabberd refuses from a component
        self._init_resilience(reconnect_max, keepalive=False)

    async def on_session_start(self) -> None:
        """A component has no presence of its own to send until someone subscribes."""
        self._keep_alive(self._keepalive)

    def _keepalive(self) -> None:
        async def ping():
            try:
                await self.ping_server(KEEPALIVE_TIMEOUT)
            except Exception:  # no answer: the connection is dead, so drop it and reconnect
                log.warning("keepalive ping unanswered; dropping the connection")
                self.disconnect(wait=0)
        asyncio.ensure_future(ping())

    async def ping_server(self, timeout: float) -> None:
        """Ping the server on this connection, the answer going to `answers`: it returns once
        the server has taken everything sent here before it; IqTimeout or IqError if not."""
        receiver = self.answers
        iq = receiver.make_iq_get(ito=self.server_host_domain(), ifrom=receiver.boundjid)
        iq.enable("ping")
        answered = self.loop.create_future()
        handler = f"ping answer {iq['id']}"

        def arrived(answer) -> None:
            if not answered.done():
                answered.set_result(answer)
        receiver.register_handler(Callback(handler, MatcherId(iq["id"]), arrived, once=True))
        try:
            self.send(iq)
            try:
                async with asyncio.timeout(timeout):
                    answer = await answered
            except TimeoutError:
                raise IqTimeout(iq) from None
        finally:
            receiver.remove_handler(handler)
        if answer["type"] == "error":
            raise IqError(answer)

    def server_host_domain(self) -> str:
        """The server's own domain: the component's without its first label."""
        return self.boundjid.domain.partition(".")[2] or self.boundjid.domain


class WorkerSession(ComponentSession):
    """Component mode: a worker's own connection, as an address no other worker has
    (w-1a2b3c4d.bot.example.com): what is sent here and asked from here gets its answers
    here. The outbox sends on it, on behalf of the bot's address (ejabberd.yml lets the
    component listener's connections do that: `check_from: false`), and confirms each batch
    with a ping that only this worker can see answered."""

    role = "worker connection"

    def __init__(self, domain: str, secret: str, host: str, port: int,
                 reconnect_max: float = 60.0):
        super().__init__(f"w-{secrets.token_hex(4)}.{domain}", secret, host, port,
                         reconnect_max)
        self.bot_domain = domain

    def server_host_domain(self) -> str:
        return self.bot_domain.partition(".")[2] or self.bot_domain


def _reason(reason) -> str:
    """A short reason for the log: the kind of error, never a stanza or an address."""
    if isinstance(reason, BaseException):
        return type(reason).__name__
    return str(reason)[:80] if reason else "closed by the server"
