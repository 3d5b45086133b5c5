"""Where Meta's Cloud API tells the bridge what happened: new messages and the fate of those it
sent (statuses). A twisted.web leaf on a listener of its own, behind the reverse proxy with TLS.

GET answers Meta's verification handshake. POST must carry `X-Hub-Signature-256`, the
HMAC-SHA256 of the raw body with the app secret, checked in constant time; anything unsigned,
forged or malformed is refused before anything is stored. A good delivery is stored
(`receive`, one transaction) and only then answered 200, so a delivery Meta sees answered is
never lost; Meta retries the others, and what arrives twice changes nothing (by message id)."""

from __future__ import annotations

import hmac
import logging
from typing import Awaitable, Callable

from bots.web import AsyncResource
from server_bridge.whatsapp.updates import (SIGNATURE_HEADER, Incoming, Malformed, Status,
                                            parse, signed)

log = logging.getLogger(__name__)


class Webhook(AsyncResource):
    """The webhook's address; `receive(updates)` stores a delivery (raises: 500, Meta
    retries)."""

    methods = ("GET", "POST")

    def __init__(self, app_secret: str, verify_token: str, phone_number_id: str,
                 receive: Callable[[list[Incoming | Status]], Awaitable[None]]):
        super().__init__()
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.phone_number_id = phone_number_id
        self.receive = receive

    async def respond(self, request) -> tuple[int, str, bytes]:
        if request.method == b"GET":
            return self._handshake(request)
        body = request.content.read()
        if not signed(self.app_secret, body, request.getHeader(SIGNATURE_HEADER)):
            log.warning("webhook: a delivery without a valid signature was refused")
            return 401, "text/plain", b"signature missing or wrong\n"
        try:
            updates = parse(body, self.phone_number_id)
        except Malformed as exc:
            log.warning("webhook: a signed delivery was malformed and refused: %s", exc)
            return 400, "text/plain", f"{exc}\n".encode()
        await self.receive(updates)
        return 200, "text/plain", b"ok\n"

    def _handshake(self, request) -> tuple[int, str, bytes]:
        def arg(name: str) -> str:
            return (request.args.get(name.encode()) or [b""])[0].decode("utf-8", "replace")
        if arg("hub.mode") == "subscribe" and self.verify_token and hmac.compare_digest(
                arg("hub.verify_token").encode(), self.verify_token.encode()):
            log.info("webhook: Meta's verification handshake answered")
            return 200, "text/plain", arg("hub.challenge").encode()
        log.warning("webhook: a verification request with a wrong token was refused")
        return 403, "text/plain", b"verification failed\n"
