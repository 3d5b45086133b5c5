"""A logged-in XMPP client session: TLS verified against the system's or a given CA file,
`start()` returns once the session is up and says clearly when the login was refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import slixmpp


class LoginFailed(Exception):
    """The server refused the account or password."""


class Session(slixmpp.ClientXMPP):
    def __init__(self, jid: str, password: str, ca_file: str | Path | None = None):
        super().__init__(jid, password)
        if ca_file:
            self.ca_certs = Path(ca_file)
        self.ready = asyncio.get_running_loop().create_future()
        self.last_connection_error = None
        self.add_event_handler("session_start", self._session_ready)
        self.add_event_handler("failed_all_auth", self._login_refused)
        self.add_event_handler("connection_failed", self._remember_connection_error)
        self.add_event_handler("ssl_invalid_chain", self._certificate_refused)

    async def start(self, host: str | None = None, port: int | None = None,
                    timeout: float = 30) -> None:
        """Connect and return once online; raises LoginFailed, ConnectionError, TimeoutError."""
        self.connect(host, port)
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        except BaseException as exc:
            self.cancel_connection_attempt()
            await self.stop(wait=0)
            if isinstance(exc, TimeoutError) and self.last_connection_error is not None:
                raise ConnectionError(f"no connection within {timeout:.0f} s; last error: "
                                      f"{self.last_connection_error}") from None
            raise

    async def stop(self, wait: float = 2) -> None:
        """Log out, and end the send task slixmpp keeps for the next connection."""
        await self.disconnect(wait=wait)
        if self._run_out_filters is not None:
            self._run_out_filters.cancel()

    async def on_session_start(self) -> None:
        """What to do once online, before `start()` returns (subclasses)."""
        self.send_presence()

    async def _session_ready(self, _event) -> None:
        await self.on_session_start()
        if not self.ready.done():
            self.ready.set_result(True)

    def _login_refused(self, _event) -> None:
        if not self.ready.done():
            self.ready.set_exception(LoginFailed(
                f"the server refused the login of {self.boundjid.bare}: check the JID and the "
                "password"))

    def _certificate_refused(self, error) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)  # an ssl.SSLError: the caller says what to do
        self.disconnect(wait=0)

    def _remember_connection_error(self, error) -> None:
        # Not fatal: slixmpp goes on to the next way in (direct TLS, then STARTTLS).
        self.last_connection_error = error
