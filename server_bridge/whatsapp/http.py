"""HTTP requests from the asyncio loop, through Twisted's Agent (Twisted runs on that loop):
the Cloud API client and the fake Cloud API's webhooks both use it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import warnings
from io import BytesIO
from typing import NamedTuple

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.error import ConnectError
from twisted.web.client import (Agent, BrowserLikePolicyForHTTPS, FileBodyProducer,
                                HTTPConnectionPool, ResponseFailed, ResponseNeverReceived,
                                readBody)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer


# what a request raises when the other side did not answer: no connection, a broken or late
# answer, a certificate not trusted
FAILURES = (TimeoutError, ConnectError, ResponseFailed, ResponseNeverReceived, OSError)


class Response(NamedTuple):
    status: int
    body: bytes


class Http:
    """A pool of persistent connections; every request ends within `timeout` seconds
    (TimeoutError), whatever the other side does."""

    def __init__(self, timeout: float = 30.0, connections: int = 20):
        from twisted.internet import reactor  # installed on the asyncio loop by now
        if not reactor.running:  # the asyncio loop runs; Twisted's client side must know
            reactor.startRunning(installSignalHandlers=False)  # (asyncio keeps the signals)
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = connections
        self.pool.retryAutomatically = False  # a POST must not go twice behind our back
        self.agent = Agent.usingEndpointFactory(reactor, _Endpoints(reactor, timeout),
                                                pool=self.pool)
        self.timeout = timeout

    async def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                      body: bytes | None = None) -> Response:
        async def exchange() -> Response:
            loop = asyncio.get_running_loop()
            producer = FileBodyProducer(BytesIO(body)) if body is not None else None
            answer = await Deferred.asFuture(self.agent.request(
                method.encode(), url.encode(),
                Headers({name: [value] for name, value in (headers or {}).items()}), producer),
                loop)
            with warnings.catch_warnings():
                # Twisted's own Agent hands readBody a transport proxy without abortConnection
                # (twisted.web._newclient.TransportProxyProducer), so it warns on every call
                warnings.filterwarnings("ignore", "Using readBody with a transport",
                                        DeprecationWarning)
                reading = readBody(answer)
            return Response(answer.code, await Deferred.asFuture(reading, loop))
        return await asyncio.wait_for(exchange(), self.timeout)

    async def close(self) -> None:
        """Close the kept connections; a TLS peer that never answers the close is not waited
        for longer than a second."""
        try:
            await asyncio.wait_for(Deferred.asFuture(self.pool.closeCachedConnections(),
                                                     asyncio.get_running_loop()), 1.0)
        except TimeoutError:
            pass


@implementer(IAgentEndpointFactory)
class _Endpoints:
    """Where the Agent connects: names resolved by asyncio, not by Twisted's thread pool, whose
    threads would keep a finished command (`botschaft bridge doctor`) from exiting."""

    def __init__(self, reactor, timeout: float):
        self.reactor = reactor
        self.timeout = timeout
        self.tls = BrowserLikePolicyForHTTPS()

    def endpointForURI(self, uri):
        endpoint = _ResolvedByAsyncio(self.reactor, uri.host.decode(), uri.port, self.timeout)
        if uri.scheme == b"https":
            return wrapClientTLS(self.tls.creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


@implementer(IStreamClientEndpoint)
class _ResolvedByAsyncio:
    def __init__(self, reactor, host: str, port: int, timeout: float):
        self.reactor, self.host, self.port, self.timeout = reactor, host, port, timeout

    def connect(self, factory):
        async def address() -> str:
            found = await asyncio.get_running_loop().getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM)
            return found[0][4][0]

        def connect_to(ip: str):
            kind = TCP6ClientEndpoint if ipaddress.ip_address(ip).version == 6 \
                else TCP4ClientEndpoint
            return kind(self.reactor, ip, self.port, self.timeout).connect(factory)
        return Deferred.fromFuture(asyncio.ensure_future(address())).addCallback(connect_to)
