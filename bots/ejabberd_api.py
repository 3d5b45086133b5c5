"""A small client for ejabberd's administration API (mod_http_api).

Used to provision accounts (and later rooms) on the company's own server. The API listens on
loopback and every call authenticates as an admin account (see api_permissions in ejabberd.yml).
Command names and arguments follow ejabberd 23.01, the version in Debian bookworm.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request


class EjabberdAPIError(Exception):
    """The server refused or failed a command; the message is the server's own."""


class EjabberdAPI:
    def __init__(self, url: str, admin_jid: str, password: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        credentials = base64.b64encode(f"{admin_jid}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {credentials}",
                         "Content-Type": "application/json"}
        self.timeout = timeout

    def call(self, command: str, **arguments):
        """Run one command and return its decoded result (ejabberd's JSON)."""
        request = urllib.request.Request(
            f"{self.url}/{command}", data=json.dumps(arguments).encode(),
            headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise EjabberdAPIError(_describe(command, exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise EjabberdAPIError(f"{command}: cannot reach {self.url}: {exc}") from None


def _describe(command: str, error: urllib.error.HTTPError) -> str:
    body = error.read().decode(errors="replace")
    try:
        message = json.loads(body).get("message", body)
    except (ValueError, AttributeError):
        message = body
    return f"{command}: {message} (HTTP {error.code})"
