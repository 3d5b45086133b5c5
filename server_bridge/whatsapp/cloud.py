"""The client of Meta's WhatsApp Cloud API: `POST /{version}/{phone-number-id}/messages` with
the bearer token. It says what an answer means (`CloudError.retry`); the pacing and the retries
are the sender's (bridge.py). The token is never logged."""

from __future__ import annotations

import json
import logging
from typing import NamedTuple

from server_bridge.whatsapp.http import FAILURES, Http

log = logging.getLogger(__name__)

# Meta's codes that say "later": throughput (130429), the pair rate limit (131056), the
# account's rate limit (80007), and its temporary errors
RETRY_CODES = {1, 2, 4, 130429, 131000, 131056, 133004, 80007}


class CloudError(Exception):
    """The Cloud API did not take a message. `code` is Meta's error code (None: no answer,
    or no readable one); `retry` says whether sending it again later may succeed."""

    def __init__(self, reason: str, code: int | None = None, http_status: int | None = None,
                 retry: bool = False):
        super().__init__(reason)
        self.code = code
        self.http_status = http_status
        self.retry = retry


class MediaInfo(NamedTuple):
    """A file Meta keeps (`GET /{media-id}`): its address is valid for 5 minutes."""

    url: str
    mime_type: str
    sha256: str  # hex
    file_size: int


class Cloud:
    def __init__(self, api_url: str, version: str, phone_number_id: str, access_token: str,
                 timeout: float = 30.0, connections: int = 32):
        self.graph = f"{api_url.rstrip('/')}/{version}"
        self.url = f"{self.graph}/{phone_number_id}/messages"
        self.access_token = access_token
        self.http = Http(timeout, connections)

    async def send_text(self, number: str, body: str) -> str:
        """Send a text; returns its wamid."""
        return await self.send({"messaging_product": "whatsapp", "recipient_type": "individual",
                                "to": number, "type": "text",
                                "text": {"preview_url": False, "body": body}})

    async def send_object(self, number: str, content: dict) -> str:
        """Send a message object that is no text: a file by link, a reaction."""
        return await self.send({"messaging_product": "whatsapp", "recipient_type": "individual",
                                "to": number, **content})

    async def send_template(self, number: str, name: str, language: str) -> str:
        return await self.send({"messaging_product": "whatsapp", "to": number,
                                "type": "template",
                                "template": {"name": name, "language": {"code": language}}})

    async def send(self, message: dict) -> str:
        content = await self._call("POST", self.url, json.dumps(message).encode())
        try:
            return content["messages"][0]["id"]
        except (TypeError, KeyError, IndexError):  # taken or not: unknown, so try again
            raise CloudError("an answer without a message id", http_status=200,
                             retry=True) from None

    async def media_info(self, media_id: str) -> MediaInfo:
        """Where a file a user sent can be downloaded (CloudError, not `retry`: Meta no
        longer has it)."""
        content = await self._call("GET", f"{self.graph}/{media_id}")
        try:
            return MediaInfo(str(content["url"]), str(content["mime_type"]),
                             str(content["sha256"]), int(content["file_size"]))
        except (TypeError, KeyError, ValueError):
            raise CloudError("a media answer without url, mime_type, sha256 or file_size",
                             http_status=200, retry=True) from None

    async def download(self, url: str) -> bytes:
        """A file from the address `media_info` gave (with the bearer token, as Meta asks)."""
        try:
            answer = await self.http.request("GET", url, self._authorization())
        except FAILURES as exc:
            raise CloudError(f"no answer ({type(exc).__name__})", retry=True) from None
        if answer.status != 200:
            raise CloudError(f"HTTP {answer.status}", http_status=answer.status, retry=True)
        return answer.body

    def _authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def _call(self, method: str, url: str, body: bytes | None = None) -> dict:
        """A Graph API call's JSON answer; CloudError says what went wrong."""
        headers = self._authorization()
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = await self.http.request(method, url, headers, body)
        except FAILURES as exc:
            raise CloudError(f"no answer ({type(exc).__name__})", retry=True) from None
        try:
            content = json.loads(answer.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            content = None
        if answer.status == 200:
            return content
        error = content.get("error") if isinstance(content, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        code = code if isinstance(code, int) else None
        retry = answer.status >= 500 or answer.status == 429 or code in RETRY_CODES
        raise CloudError(f"HTTP {answer.status}, error {code}", code, answer.status, retry)

    async def check(self) -> str:
        """Ask for the phone number's details (`GET /{version}/{phone-number-id}`): proves the
        address, the id and the token; returns the number as Meta shows it."""
        try:
            answer = await self.http.request("GET", self.url.removesuffix("/messages"),
                                             self._authorization())
            details = json.loads(answer.body)
        except FAILURES as exc:
            raise CloudError(f"no answer ({type(exc).__name__})", retry=True) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CloudError(f"HTTP {answer.status}, no JSON") from None
        if answer.status != 200 or not isinstance(details, dict):
            error = details.get("error") if isinstance(details, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            raise CloudError(f"HTTP {answer.status}, error {code}", code, answer.status)
        return str(details.get("display_phone_number", "?"))

    async def close(self) -> None:
        await self.http.close()
