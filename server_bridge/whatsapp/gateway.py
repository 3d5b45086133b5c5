"""The bridge's XMPP side: a component (XEP-0114) at whatsapp.<domain>, where each WhatsApp
user who agreed is an address, +4917612345678@whatsapp.<domain>. What the bots write to such
an address goes to `on_message`; what the users write arrives from it (`deliver`)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Awaitable, Callable

import slixmpp

from bots.connection import ComponentSession

NUMBER = re.compile(r"\+([1-9][0-9]{6,14})")  # E.164: a country code, at most 15 digits
STANZA_IDS = uuid.UUID("0b7a3a52-54f0-4a4e-9a53-0d1c58f3c2a1")


class Gateway(ComponentSession):
    role = "WhatsApp gateway"

    def __init__(self, domain: str, secret: str, host: str, port: int,
                 on_message: Callable[[slixmpp.Message], Awaitable[None]]):
        super().__init__(domain, secret, host, port)
        # a receipt would say "delivered" before WhatsApp has said so
        self.plugin["xep_0184"].auto_ack = False
        self.register_plugin("xep_0333")  # chat markers: WhatsApp's delivered and read
        self.on_message = on_message
        self.add_event_handler("message", self._message)

    def _message(self, message: slixmpp.Message) -> None:
        if message["type"] in ("chat", "normal") and message["body"]:
            asyncio.ensure_future(self.on_message(message))

    def address(self, number: str) -> str:
        return f"+{number}@{self.boundjid.domain}"

    @staticmethod
    def number_of(jid: slixmpp.JID) -> str | None:
        """The number an address of the bridge stands for (digits), or None."""
        found = NUMBER.fullmatch(jid.user or "")
        return found.group(1) if found else None

    def deliver(self, number: str, to: str, body: str, wamid: str) -> None:
        """A WhatsApp user's message, from their address; its id follows from the wamid, so
        a copy sent again is recognisably the same message."""
        message = self.make_message(mto=to, mfrom=self.address(number), mbody=body,
                                    mtype="chat")
        message["id"] = str(uuid.uuid5(STANZA_IDS, wamid))
        message.send()

    def news(self, to: str, number: str, stanza_id: str, receipt: bool,
             marker: str | None) -> None:
        """What WhatsApp said of a message, as the sender asked for it: a receipt (XEP-0184)
        once it is delivered, a chat marker (XEP-0333: received, displayed)."""
        message = self.make_message(mto=to, mfrom=self.address(number), mtype="chat")
        if receipt:
            message["receipt"] = stanza_id
        if marker:
            message[marker]["id"] = stanza_id
        message.send()

    def refuse(self, to: str, number: str | None, text: str, condition: str,
               kind: str = "cancel", about: str | None = None) -> None:
        """Tell an XMPP sender that their message did not (yet) reach WhatsApp: an error
        message, which bots do not answer, so no two programs talk in a loop."""
        sender = self.address(number) if number else self.boundjid.bare
        message = self.make_message(mto=to, mfrom=sender, mtype="error")
        if about:
            message["id"] = about
        message["error"]["type"] = kind
        message["error"]["condition"] = condition
        message["error"]["text"] = text
        message.send()
