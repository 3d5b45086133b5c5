"""HTTP requests from the asyncio loop, with aiohttp (the client slixmpp's own XEP-0363 plugin
uses, on Python's ssl): the Cloud API client, the uploads of files, and the fake Cloud API's
webhooks. Twisted stays the server side (the webhook); its HTTPS client would need pyOpenSSL,
which Twisted then loads into every process that listens on a port, the bot's too."""

from __future__ import annotations

import ssl
from typing import NamedTuple

import aiohttp

# what a request raises when the other side did not answer: no connection, a broken or late
# answer, a certificate not trusted
FAILURES = (aiohttp.ClientError, TimeoutError, OSError)


class Response(NamedTuple):
    status: int
    body: bytes


class Http:
    """A pool of persistent connections (up to `connections` to one host); every request
    ends within `timeout` seconds (TimeoutError), whatever the other side does. `ca_file`:
    trust only that certificate (a server with a self-signed one), not the system's CAs."""

    def __init__(self, timeout: float = 30.0, connections: int = 20,
                 ca_file: str | None = None):
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.connections = connections
        self.tls = ssl.create_default_context(cafile=ca_file)
        self._session: aiohttp.ClientSession | None = None

    async def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                      body: bytes | None = None) -> Response:
        if self._session is None:  # made in the running loop, at the first request
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=self.connections, ssl=self.tls),
                timeout=self.timeout, auto_decompress=True)
        async with self._session.request(method, url, headers=headers, data=body) as answer:
            return Response(answer.status, await answer.read())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
