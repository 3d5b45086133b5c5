"""The bot's HTTP side: /healthz, /metrics, and the routes plugins add, served by twisted.web
on the same asyncio event loop as the XMPP connection (Twisted's asyncio reactor).

Loopback by default. Listening anywhere else needs `[web] token`: every request must then carry
`Authorization: Bearer <token>`. Clients cannot hold the port: a request must arrive within
`[web] request_timeout` of its first byte, and at most `[web] max_connections` are open. A
request body over MAX_BODY_BYTES is refused (413) before it is read.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time

import sys

from twisted.internet import asyncioreactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.web.http import HTTPChannel
from twisted.web.pages import errorPage
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

# None of the imports above imports twisted.internet.reactor; only start() does, after
# install_reactor() has put Twisted on the asyncio loop.

from bots import workers
from bots.metrics import exposition
from bots.config import ConfigError, web_address

log = logging.getLogger(__name__)

STUCK_AFTER = 300.0  # seconds: an outbox whose oldest message waits longer is "stuck"
MAX_BODY_BYTES = 64 * 1024  # a request body's most: no route takes more (the status feed's JSON)


def install_reactor() -> None:
    """Run Twisted on the running asyncio loop; must come before anything imports
    `twisted.internet.reactor` (which would install Twisted's default reactor)."""
    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor
        if isinstance(reactor, asyncioreactor.AsyncioSelectorReactor):
            return
        raise RuntimeError("twisted.internet.reactor was imported before the asyncio reactor "
                           "was installed")
    asyncioreactor.install(asyncio.get_running_loop())


class WebServer:
    """Owns the listening port; `start()` binds it, `stop()` releases it."""

    def __init__(self, bot, listen: str, token: str = ""):
        self.host, self.port = web_address(listen)  # checked, with the token, in bots.config
        self.token = token
        self.bot = bot
        self._listening = None

    def start(self) -> int:
        """Bind and return the actual port (useful with port 0)."""
        root = _Guarded(self.token)
        root.putChild(b"healthz", _Health(self.bot))
        root.putChild(b"metrics", _MetricsPage(self.bot))
        for plugin in self.bot.plugins:
            routes = plugin.routes()
            if routes:
                branch = _Guarded(self.token)
                for path, resource in routes.items():
                    branch.putChild(path.strip("/").encode(), resource)
                root.putChild(plugin.name.encode(), branch)
        web = self.bot.config.values["web"]  # app.py passes listen and token only
        self._listening = listen_site(root, self.host, self.port, web, "[web] listen")
        self.port = self._listening.getHost().port
        log.info("web: listening on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None:
            stopped = maybeDeferred(listening.stopListening)
            await Deferred.asFuture(stopped, asyncio.get_running_loop())


def listen_site(root: Resource, host: str, port: int, web: dict, setting: str):
    """Serve `root` on host:port with the limits of `[web]` (request_timeout,
    max_connections); returns the listening port. `setting` names the address's setting in
    the error when the port is taken."""
    from twisted.internet import reactor

    site = _LimitedSite(root, web["request_timeout"], web["max_connections"])
    try:
        return reactor.listenTCP(port, site, interface=host)
    except CannotListenError as exc:
        raise ConfigError(f"{setting} = {host}:{port}: cannot listen there "
                          f"({exc.socketError}); choose another port, or leave it empty "
                          "to serve nothing there") from None


class _DeadlineChannel(HTTPChannel):
    """An HTTP connection whose every request must arrive whole within the site's
    `request_timeout` of its first byte: Twisted's own timeout only notices silence, so a
    client sending a byte now and then would hold the connection for ever.

    Its body must stay within the site's `max_body_bytes`: Twisted would buffer any body whole
    (in memory, then on disk) before a resource could look at the token. A larger
    Content-Length is refused before a byte of the body is read; a chunked body, which
    announces no length, is cut off where it crosses the limit (_CappedRequest)."""

    _deadline = None
    _refused = False  # the body is too large: nothing more of this connection is read

    def allHeadersReceived(self):
        if self.length is not None and self.length > self.site.max_body_bytes:
            self.refuse_body()  # before super() could answer "100 Continue"
        else:
            super().allHeadersReceived()

    def rawDataReceived(self, data):
        if not self._refused:
            super().rawDataReceived(data)

    def refuse_body(self):
        """Answer 413 and close the connection, reading no more of it."""
        if self._refused:
            return
        self._refused = True
        self._cancel_deadline()
        log.info("web: a request body over %d bytes was refused", self.site.max_body_bytes)
        body = b"request body larger than %d bytes\n" % self.site.max_body_bytes
        self.transport.write(b"HTTP/1.1 413 Content Too Large\r\ncontent-type: text/plain\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                             % (len(body), body))
        self.loseConnection()

    def dataReceived(self, data):
        if self._deadline is None and not self._handlingRequest:  # a request begins
            self._deadline = self.callLater(self.site.request_timeout, self._too_slow)
        super().dataReceived(data)

    def allContentReceived(self):
        if self._refused:  # the rest of a chunked body came in the same read
            return
        self._cancel_deadline()
        super().allContentReceived()

    def connectionLost(self, reason):
        self._cancel_deadline()
        self.site.connection_closed()
        super().connectionLost(reason)

    def _too_slow(self):
        self._deadline = None
        log.info("web: a request did not arrive within %ss; connection closed",
                 self.site.request_timeout)
        self.transport.abortConnection()

    def _cancel_deadline(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class _CappedRequest(Request):
    """A request that counts its body as it arrives and has its channel refuse it once it
    grows past the site's `max_body_bytes`."""

    body_bytes = 0

    def handleContentChunk(self, data):
        self.body_bytes += len(data)
        if self.body_bytes > self.channel.site.max_body_bytes:
            self.channel.refuse_body()
        else:
            super().handleContentChunk(data)


class _LimitedSite(Site):
    """A Site that keeps at most `max_connections` open (further ones are closed at once),
    gives each request `request_timeout` seconds to arrive (idle connections as long), and
    takes request bodies of at most `max_body_bytes`."""

    protocol = _DeadlineChannel
    requestFactory = _CappedRequest
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, root, request_timeout: float, max_connections: int):
        super().__init__(root, timeout=request_timeout)
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.open_connections = 0
        self._full = False  # said so in the log

    def buildProtocol(self, addr):
        if self.open_connections >= self.max_connections:
            if not self._full:
                log.warning("web: %d connections open, the most [web] max_connections allows; "
                            "refusing more until some close", self.open_connections)
            self._full = True
            return None
        self.open_connections += 1
        return super().buildProtocol(addr)

    def connection_closed(self):
        self.open_connections -= 1
        if self.open_connections <= self.max_connections // 2:  # calm again: warn next time
            self._full = False


class _Guarded(Resource):
    """A branch that checks the bearer token (when one is configured) before going on."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def getChildWithDefault(self, path, request):
        if self.token and not bearer_matches(request, self.token):
            return errorPage(401, "Unauthorized", "Send Authorization: Bearer <token>.")
        return super().getChildWithDefault(path, request)


def bearer_matches(request, token: str) -> bool:
    """Exactly `Authorization: Bearer <token>` (the scheme's case aside, RFC 7235): the bare
    token, or the token under another scheme, is no credential here."""
    scheme, _, given = (request.getHeader("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


class AsyncResource(Resource):
    """A leaf whose answer a coroutine on the event loop computes (plugins' routes too):
    `async def respond(self, request) -> (status, content type, body bytes)`. It answers the
    methods named in `methods`; others get 405."""

    isLeaf = True
    methods = ("GET",)

    async def respond(self, request) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def render(self, request):
        method = request.method.decode("ascii", "replace")
        if method not in self.methods:
            request.setResponseCode(405)
            request.setHeader("allow", ", ".join(self.methods))
            return b"method not allowed\n"

        finished = request.notifyFinish()  # fails when the client goes away before the answer
        finished.addErrback(lambda _failure: None)  # nobody left to tell

        async def answer():
            try:
                status, content_type, body = await self.respond(request)
            except Exception:
                log.exception("web: %s failed", request.path.decode(errors="replace"))
                status, content_type, body = 500, "text/plain", b"internal error\n"
            if finished.called:
                log.debug("web: the client of %s went away before the answer",
                          request.path.decode(errors="replace"))
                return
            request.setResponseCode(status)
            request.setHeader("content-type", content_type)
            request.write(body)
            request.finish()
        asyncio.ensure_future(answer())
        return NOT_DONE_YET


class _Health(AsyncResource):
    def __init__(self, bot):
        super().__init__()
        self.bot = bot

    async def respond(self, request):
        report = await health(self.bot)
        status = 200 if report["ok"] else 503
        return status, "application/json", json.dumps(report).encode() + b"\n"


class _MetricsPage(AsyncResource):
    def __init__(self, bot):
        super().__init__()
        self.bot = bot

    async def respond(self, request):
        await refresh(self.bot)
        return 200, *exposition(self.bot.metrics)


async def health(bot) -> dict:
    """Connected, database reachable, outbox moving: what an admin or a probe needs to know."""
    connected = _connected(bot)
    try:
        depth, age, _failed = await bot.outbox.depth()
        database = True
    except Exception as exc:
        log.warning("health: the database is not reachable (%s)", type(exc).__name__)
        depth, age, database = None, None, False
    stuck = bool(age is not None and age > STUCK_AFTER)
    failed = dict(bot.failed_plugins)  # a plugin that did not start: its commands apologise
    return {"ok": connected and database and not stuck and not failed, "connected": connected,
            "database": database, "outbox": {"depth": depth, "oldest_age_s": age,
                                             "stuck": stuck},
            "plugins": {"failed": failed}, "checked_at": time.time()}


def _connected(bot) -> bool:
    """The bot's connection and its outbox's (its own in client mode) are both up."""
    return bool(bot.online) and bot.outbox.online


async def refresh(bot) -> None:
    """Bring the gauges up to date before they are read."""
    depth, age, failed = await bot.outbox.depth()
    bot.metrics.gauges.update({
        "botschaft_connected": 1 if _connected(bot) else 0,
        "botschaft_reconnects": bot.reconnects,
        "botschaft_outbox_depth": depth, "botschaft_outbox_oldest_age_seconds": age,
        "botschaft_outbox_failed": failed,
        "botschaft_handler_failures": bot.dispatcher.failures,
        "botschaft_workers": len(await bot.storage.run(workers.seen))})
