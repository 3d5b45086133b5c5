"""A small client for ejabberd's administration API (mod_http_api).

Used to provision accounts and group rooms on the company's own server. The API listens on
loopback and every call authenticates as an admin account (see api_permissions in ejabberd.yml).
Command names and arguments follow ejabberd 23.01, the version in Debian bookworm. Besides the
generic `call`, the typed helpers are what production code uses: `register` (raising
`AccountExists` for a taken name), `keep_apart` (the customer privacy list), `add_contacts`,
and for rooms (XEP-0045) `create_room_with_opts` (raising `RoomExists`), `destroy_room`,
`set_room_affiliation`, `get_room_affiliations`, `get_room_options`, `change_room_option`,
`get_room_occupants` and `send_direct_invitation` (raising `NoSuchRoom` for a missing room).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import urllib.error

PRIVACY_LIST = "botschaft"
TOKEN_SCOPE = "ejabberd:admin"
TOKEN_TTL = 86400  # seconds

AFFILIATIONS = ("owner", "admin", "member", "outcast", "none")
# The room options 23.01 takes both at creation and in change_room_option (mod_muc_admin's
# change_option). At creation it drops an unknown name without a word (a typo in
# "members_only" would make an open room), so names and the kinds of values are checked here.
BOOLEAN_ROOM_OPTIONS = frozenset({
    "allow_change_subj", "allow_private_messages", "allow_query_users", "allow_subscription",
    "allow_user_invites", "allow_visitor_nickchange", "allow_visitor_status",
    "allow_voice_requests", "anonymous", "captcha_protected", "logging", "mam",
    "members_by_default", "members_only", "moderated", "password_protected", "persistent",
    "public", "public_list"})
INTEGER_ROOM_OPTIONS = frozenset({"max_users", "voice_request_min_interval"})
TEXT_ROOM_OPTIONS = frozenset({
    "allow_private_messages_from_visitors", "description", "lang", "password",
    "presence_broadcast", "pubsub", "title", "vcard", "vcard_xupdate"})
ROOM_OPTIONS = BOOLEAN_ROOM_OPTIONS | INTEGER_ROOM_OPTIONS | TEXT_ROOM_OPTIONS
# 23.01 answers a room command for a missing room with HTTP 400 in one of these wordings.
_NO_SUCH_ROOM = ("Room doesn't exists", "The room does not exist.", "Room not found",
                 "room_not_found")


class EjabberdAPIError(Exception):
    """The server refused or failed a command; the message is the server's own, `status` its
    HTTP status code (None when the server could not be reached)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AccountExists(EjabberdAPIError):
    """`register` for a name that is taken: the caller asks for another one."""


class RoomExists(EjabberdAPIError):
    """`create_room_with_opts` for a room that exists (23.01: HTTP 400 "Room already exists");
    the caller treats it as "no change": the room keeps its options."""


class NoSuchRoom(EjabberdAPIError):
    """A room command for a room that does not exist (or is not on that MUC service)."""


@dataclass(frozen=True)
class RoomAffiliation:
    """One entry of a room's affiliation list: a bare JID (or a domain), its affiliation
    (owner, admin, member, outcast) and the reason given when it was set ("" for none)."""

    jid: str
    affiliation: str
    reason: str


@dataclass(frozen=True)
class RoomOccupant:
    """Someone in the room now: the full JID of the device, the nick, the role (moderator,
    participant, visitor)."""

    jid: str
    nick: str
    role: str


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
        self._token_ttl = None  # a refused password raises here, not asking for a token again
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
        # imported at the first call: the bot imports this module for its errors, and
        # urllib's HTTP client is a twentieth of what its start imports
        import urllib.error
        import urllib.request

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

    # --- group rooms (XEP-0045, mod_muc_admin) -------------------------------------------
    def create_room_with_opts(self, name: str, service: str, host: str,
                              options: dict[str, str | bool | int]) -> None:
        """Create name@service on the virtual host `host` with `options` (see ROOM_OPTIONS;
        True/False become "true"/"false"), over mod_muc's default_room_options. RoomExists
        when the room is there already: its options are then left as they are. Give
        persistent=True for a room that must outlive its last occupant and a restart."""
        listed = [{"name": option, "value": room_option_value(option, value)}
                  for option, value in options.items()]
        try:
            self._run_room_command("create_room_with_opts", name=name, service=service,
                                   host=host, options=listed)
        except EjabberdAPIError as exc:
            if exc.status == 400 and "Room already exists" in str(exc):
                raise RoomExists(str(exc), exc.status) from None
            raise

    def destroy_room(self, name: str, service: str) -> None:
        """Destroy the room, its affiliations and (mod_mam's clear_archive_on_room_destroy)
        its archive. 23.01 does so just after answering: for a moment the room may still be
        found (and a new one of that name refused). The occupants are told (XEP-0045
        <destroy/>) and are out."""
        self._run_room_command("destroy_room", name=name, service=service)

    def set_room_affiliation(self, name: str, service: str, jid: str,
                             affiliation: str) -> None:
        """Make the bare `jid` owner, admin, member or outcast of the room, or nothing
        ("none"); setting the affiliation it has already changes nothing. An occupant who
        loses membership of a members-only room is removed from it by the room."""
        if affiliation not in AFFILIATIONS:
            raise ValueError(f"unknown room affiliation {affiliation!r}; "
                             f"use one of {', '.join(AFFILIATIONS)}")
        self._run_room_command("set_room_affiliation", name=name, service=service, jid=jid,
                               affiliation=affiliation)

    def get_room_affiliations(self, name: str, service: str) -> list[RoomAffiliation]:
        """Everyone with an affiliation other than none, read back from the room itself."""
        entries = self._room_call("get_room_affiliations", name=name, service=service)
        return [RoomAffiliation(
                    f"{entry['username']}@{entry['domain']}" if entry["username"]
                    else entry["domain"], entry["affiliation"], entry["reason"])
                for entry in entries]

    def get_room_options(self, name: str, service: str) -> dict[str, str]:
        """The room's whole configuration as 23.01 reports it: every value a string ("true",
        "false", "30", "[moderator,participant,visitor]"). 23.01 answers a missing room with
        no options rather than an error; as every room has options, that is NoSuchRoom."""
        options = self._room_call("get_room_options", name=name, service=service)
        if not options:
            raise NoSuchRoom(f"get_room_options: no room {name}@{service}")
        return options

    def change_room_option(self, name: str, service: str, option: str,
                           value: str | bool | int) -> None:
        """Change one option of an existing room (see ROOM_OPTIONS), as its owner could in
        the room's configuration form."""
        self._run_room_command("change_room_option", name=name, service=service,
                               option=option, value=room_option_value(option, value))

    def get_room_occupants(self, name: str, service: str) -> list[RoomOccupant]:
        """Who is in the room right now (not who may join: that is the affiliations)."""
        entries = self._room_call("get_room_occupants", name=name, service=service)
        return [RoomOccupant(entry["jid"], entry["nick"], entry["role"]) for entry in entries]

    def send_direct_invitation(self, name: str, service: str, users: list[str],
                               reason: str | None = None, password: str | None = None) -> None:
        """Send each of `users` (bare JIDs) a direct invitation (XEP-0249) from the room, with
        `reason` as its note; those already in the room get none. 23.01 takes the JIDs as one
        ":"-joined argument and sends asynchronously: the call may return before they are out.
        It invites anyone: membership of a members-only room is set_room_affiliation's job."""
        for user in users:
            if not user or ":" in user:
                raise ValueError(f"cannot invite {user!r}: give bare JIDs such as "
                                 "anna@example.com (a JID's name never holds a ':')")
        self._run_room_command("send_direct_invitation", name=name, service=service,
                               password=password or "none", reason=reason or "none",
                               users=":".join(users))

    def _room_call(self, command: str, **arguments):
        """`call` for a room command, with a missing room raised as NoSuchRoom."""
        try:
            return self.call(command, **arguments)
        except EjabberdAPIError as exc:
            if exc.status == 400 and any(text in str(exc) for text in _NO_SUCH_ROOM):
                raise NoSuchRoom(str(exc), exc.status) from None
            raise

    def _run_room_command(self, command: str, **arguments) -> None:
        """A room command answered with a result code: 0 is done, anything else refused
        (change_room_option of `logging` without mod_muc_log, for one)."""
        if self._room_call(command, **arguments) != 0:
            room = f"{arguments['name']}@{arguments['service']}"
            raise EjabberdAPIError(f"{command}: the server refused it for the room {room}")


def room_option_value(option: str, value: str | bool | int) -> str:
    """The text 23.01 expects for a room option's value; ValueError names what is wrong."""
    if option not in ROOM_OPTIONS:
        raise ValueError(f"unknown room option {option!r}; ejabberd 23.01 takes "
                         f"{', '.join(sorted(ROOM_OPTIONS))}")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if option in BOOLEAN_ROOM_OPTIONS and text not in ("true", "false"):
        raise ValueError(f"room option {option} is true or false, not {value!r}")
    if option in INTEGER_ROOM_OPTIONS and not text.isdigit():
        raise ValueError(f"room option {option} is a whole number, not {value!r}")
    return text


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
    """The server's own words: a JSON object with a message, a JSON string (23.01's room
    commands: "Room already exists"), or plain text."""
    body = error.read().decode(errors="replace")
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = body
    message = decoded.get("message", body) if isinstance(decoded, dict) else str(decoded)
    return f"{command}: {message} (HTTP {error.code})"
