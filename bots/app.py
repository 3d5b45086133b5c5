"""The bot process: one XMPP client connection that hands each chat message to the dispatcher."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import slixmpp

from bots.dispatch import Dispatcher
from bots.plugin import Plugin

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """The server refused the bot's account or password."""


class Bot(slixmpp.ClientXMPP):
    """A Botschaft bot logged in as an ordinary account (client mode)."""

    def __init__(self, jid: str, password: str, plugins: list[Plugin],
                 ca_file: Path | None = None):
        super().__init__(jid, password)
        self.dispatcher = Dispatcher(plugins)
        if ca_file:
            self.ca_certs = Path(ca_file)
        self.ready = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("failed_all_auth", self._on_failed_auth)
        self.add_event_handler("message", self._on_message)

    async def _on_session_start(self, _event) -> None:
        self.send_presence()
        log.info("bot is online")
        if not self.ready.done():
            self.ready.set_result(True)

    def _on_failed_auth(self, _event) -> None:
        if not self.ready.done():
            self.ready.set_exception(LoginFailed(f"the server refused the login of {self.boundjid.bare}"))
        self.disconnect(wait=0)

    def _on_message(self, message: slixmpp.Message) -> None:
        if message["type"] not in ("chat", "normal") or not message["body"]:
            return
        if message["from"].bare == self.boundjid.bare:
            return
        reply = self.dispatcher.reply_to(message["body"])
        message.reply(reply).send()

    async def start(self, host: str | None = None, port: int | None = None,
                    timeout: float = 30) -> None:
        """Connect and return once the bot is online; raises LoginFailed or TimeoutError."""
        self.connect(host, port)
        await asyncio.wait_for(asyncio.shield(self.ready), timeout)

    async def stop(self) -> None:
        await self.disconnect(wait=2)


async def run_until_signal(bot: Bot, host: str | None, port: int | None) -> None:
    """Run the bot until SIGINT or SIGTERM, then log out cleanly."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await bot.start(host, port)
    await stopping.wait()
    log.info("stopping the bot")
    await bot.stop()
