"""A small client for ejabberd's administration API (mod_http_api).

Used to provision accounts (and later rooms) on the company's own server. The API listens on
loopback and every call authenticates as an admin account (see api_permissions in ejabberd.yml).
Command names and arguments follow ejabberd 23.01, the version in Debian bookworm. Besides the
generic `call`, the typed helpers are what production code uses: `register` (raising
`AccountExists` for a taken name), `keep_apart` (the customer privacy list) and `add_contacts`.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

PRIVACY_LIST = "botschaft"
TOKEN_SCOPE = "ejabberd:admin"
TOKEN_TTL = 86400  # seconds


class EjabberdAPIError(Exception):
    """The server refused or failed a command; the message is the server's own, `status` its
    HTTP status code (None when the server could not be reached)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AccountExists(EjabberdAPIError):
    """`register` for a name that is taken: the caller asks for another one."""


class EjabberdAPI:
    """Calls authenticate with the admin's password, or, after `use_token()`, with a token:
    ejabberd checks a SCRAM password at a cost of ~15 ms of its CPU on every call, a token by
    looking it up. A token that expired is renewed once with the password."""

    def __init__(self, url: str, admin_jid: str, password: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.admin_jid = admin_jid
        credentials = base64.b64encode(f"{admin_jid}:{password}".encode()).decode()
        self._basic = f"Basic {credentials}"
        self._authorization = self._basic
        self._token_ttl: int | None = None
        self.timeout = timeout

    @property
    def uses_token(self) -> bool:
        return self._token_ttl is not None

    def use_token(self, ttl: int = TOKEN_TTL) -> None:
        """From now on, authenticate with a token valid for `ttl` seconds (asked for with the
        password; needs the "admin accounts' tokens" rule of ejabberd.yml)."""
        self._authorization = self._basic
        answer = self.call("oauth_issue_token", jid=self.admin_jid, ttl=ttl,
                           scopes=TOKEN_SCOPE)
        self._authorization = f"Bearer {answer['token']}"
        self._token_ttl = ttl

    def call(self, command: str, **arguments):
        """Run one command and return its decoded result (ejabberd's JSON)."""
        try:
            return self._call(command, arguments)
        except EjabberdAPIError as exc:
            if exc.status != 401 or self._token_ttl is None:
                raise
        self.use_token(self._token_ttl)  # the token expired, or the server forgot it
        return self._call(command, arguments)

    def _call(self, command: str, arguments: dict):
        request = urllib.request.Request(
            f"{self.url}/{command}", data=json.dumps(arguments).encode(),
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise EjabberdAPIError(_describe(command, exc), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise EjabberdAPIError(f"{command}: cannot reach {self.url}: {exc}") from None

    def register(self, user: str, host: str, password: str) -> None:
        """Create the account user@host; AccountExists when the name is taken. The account is
        not yet kept apart from the others: call `keep_apart` next for a person's account."""
        try:
            self.call("register", user=user, host=host, password=password)
        except EjabberdAPIError as exc:
            if exc.status == 409:  # 23.01: Conflict, "User … already registered"
                raise AccountExists(str(exc), exc.status) from None
            raise

    def keep_apart(self, user: str, domain: str, bot_jids: list[str]) -> None:
        """Give user@domain the default privacy list that keeps customers apart (see
        `customer_privacy_list`); not for bot accounts, which everyone must reach."""
        for query in customer_privacy_list(user, domain, bot_jids):
            if self.call("privacy_set", user=user, host=domain, xmlquery=query) != 0:
                raise EjabberdAPIError(f"privacy_set: the server refused the privacy list of "
                                       f"{user}@{domain}")

    def add_contacts(self, user: str, other: str, host: str, group: str = "Botschaft") -> None:
        """Put user@host and other@host in each other's contact list (subscription both), so
        each sees the other online and the privacy list lets them talk."""
        for local, remote in ((user, other), (other, user)):
            self.add_contact(local, host, f"{remote}@{host}", remote, group, "both")

    def add_contact(self, user: str, host: str, contact: str, nick: str,
                    group: str = "Botschaft", subscription: str = "none") -> None:
        """Put `contact` (a JID) in user@host's contact list, on that side only."""
        contact_user, _at, contact_host = contact.partition("@")
        if self.call("add_rosteritem", localuser=user, localhost=host, user=contact_user,
                     host=contact_host, nick=nick, group=group, subs=subscription) != 0:
            raise EjabberdAPIError(f"add_rosteritem: the server refused to add {contact} to "
                                   f"the contacts of {user}@{host}")


def customer_privacy_list(user: str, domain: str, bot_jids: list[str]) -> list[str]:
    """The two privacy queries (XEP-0016) that keep a person's account apart from the others
    on `domain`: the list, then making it the account's default. For `ejabberdctl privacy_set
    USER DOMAIN QUERY` or `EjabberdAPI.keep_apart`; why and what it costs: ejabberd.yml."""
    allowed = [f"{user}@{domain}", *bot_jids]
    items = [f"<item type='jid' value='{jid}' action='allow' order='{order}'/>"
             for order, jid in enumerate(allowed, start=1)]
    items.append(f"<item type='subscription' value='both' action='allow' "
                 f"order='{len(items) + 1}'/>")
    items.append(f"<item type='jid' value='{domain}' action='deny' order='{len(items) + 1}'/>")
    return [(f"<query xmlns='jabber:iq:privacy'><list name='{PRIVACY_LIST}'>{''.join(items)}"
             "</list></query>"),
            f"<query xmlns='jabber:iq:privacy'><default name='{PRIVACY_LIST}'/></query>"]


def _describe(command: str, error: urllib.error.HTTPError) -> str:
    body = error.read().decode(errors="replace")
    try:
        message = json.loads(body).get("message", body)
    except (ValueError, AttributeError):
        message = body
    return f"{command}: {message} (HTTP {error.code})"
