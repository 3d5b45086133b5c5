"""The bridge's XMPP side: a component (XEP-0114) at whatsapp.<domain>, where each WhatsApp
user who agreed is an address, +4917612345678@whatsapp.<domain>. What the bots write to such
an address goes to `on_message` (called as it arrives: it must not block); what the users
write arrives from it (`deliver`)."""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from bots.connection import ComponentSession

NUMBER = re.compile(r"\+([1-9][0-9]{6,14})")  # E.164: a country code, at most 15 digits


class Slot(NamedTuple):
    """Where to put a file on the XMPP server (XEP-0363), and where it is then fetched."""

    put_url: str
    headers: dict[str, str]
    get_url: str


class UploadRefused(Exception):
    """The XMPP server gives no slot for the file; `too_large` when that is why."""

    def __init__(self, reason: str, too_large: bool = False):
        super().__init__(reason)
        self.too_large = too_large


class Gateway(ComponentSession):
    role = "WhatsApp gateway"

    def __init__(self, domain: str, secret: str, host: str, port: int,
                 on_message: Callable[[slixmpp.Message], None]):
        super().__init__(domain, secret, host, port)
        # a receipt would say "delivered" before WhatsApp has said so
        self.plugin["xep_0184"].auto_ack = False
        self.register_plugin("xep_0333")  # chat markers: WhatsApp's delivered and read
        self.register_plugin("xep_0066")  # a file's link (out of band data)
        self.register_plugin("xep_0363")  # files from WhatsApp go to the XMPP server's storage
        self.register_plugin("xep_0444")  # reactions
        self.on_message = on_message
        self.add_event_handler("message", self._message)  # messages with a body
        self.add_event_handler("reactions", self._reactions)  # reactions come without one

    def _message(self, message: slixmpp.Message) -> None:
        if message["type"] in ("chat", "normal") and message["body"] and \
                message.get_plugin("reactions", check=True) is None:
            self.on_message(message)

    def _reactions(self, message: slixmpp.Message) -> None:
        if message["type"] in ("chat", "normal"):
            self.on_message(message)

    def address(self, number: str) -> str:
        return f"+{number}@{self.boundjid.domain}"

    @staticmethod
    def number_of(jid: slixmpp.JID) -> str | None:
        """The number an address of the bridge stands for (digits), or None."""
        found = NUMBER.fullmatch(jid.user or "")
        return found.group(1) if found else None

    def deliver(self, number: str, to: str, body: str, stanza_id: str,
                file_url: str | None = None, language: str | None = None) -> None:
        """A WhatsApp user's message, from their address, with the id given (the same for a
        copy sent again), in their language where known. A file is its link, as body and
        out-of-band data (XEP-0066), which clients show as the picture or file itself."""
        message = self.make_message(mto=to, mfrom=self.address(number),
                                    mbody=file_url or body, mtype="chat")
        message["id"] = stanza_id
        if language:
            message["lang"] = language
        if file_url:
            message["oob"]["url"] = file_url
        message.send()

    def react(self, number: str, to: str, reacts_to: str, emoji: str, stanza_id: str) -> None:
        """A WhatsApp user's reaction (XEP-0444) to the message `reacts_to` ("": none now)."""
        message = self.make_message(mto=to, mfrom=self.address(number), mtype="chat")
        message["id"] = stanza_id
        message["reactions"]["id"] = reacts_to  # any emoji WhatsApp sends, not only known ones
        message["reactions"].set_values([emoji] if emoji else [], all_chars=True)
        message.enable("store")
        message.send()

    def upload_limit_mb(self) -> int:
        """The largest file the upload service takes, in MiB (once asked)."""
        size = self.plugin["xep_0363"].max_file_size
        return int(size // 2**20) if size != float("inf") else 0

    async def upload_slot(self, domain: str, filename: str, size: int, content_type: str
                          ) -> Slot:
        """A slot on `domain`'s upload service for a file (UploadRefused when none is given:
        no service, the file too large, or the bridge not allowed to upload)."""
        upload = self.plugin["xep_0363"]
        try:
            if upload.upload_service is None:
                found = await upload.find_upload_service(domain=slixmpp.JID(domain), timeout=10)
                if found is None:
                    raise UploadRefused(f"{domain} offers no HTTP upload (XEP-0363)")
                upload.upload_service = found["from"]
                for form in found["disco_info"].iterables:
                    if form["values"].get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
                        limit = str(form["values"].get("max-file-size") or "")
                        upload.max_file_size = int(limit) if limit.isdigit() else float("inf")
            if size > upload.max_file_size:
                raise UploadRefused(f"{size} bytes, more than {upload.max_file_size}", True)
            answer = await upload.request_slot(upload.upload_service, filename, size,
                                               content_type, ifrom=self.boundjid, timeout=10)
        except IqError as exc:
            condition = exc.iq["error"]["condition"]
            raise UploadRefused(f"no slot: {condition}",
                                condition == "not-acceptable" and upload.max_file_size
                                != float("inf")) from None
        except IqTimeout:
            raise UploadRefused("the XMPP server gave no answer in time") from None
        slot = answer["http_upload_slot"]
        return Slot(slot["put"]["url"], {header["name"]: header["value"]
                                         for header in slot["put"]["headers"]},
                    slot["get"]["url"])

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
