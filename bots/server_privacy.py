"""What the XMPP server keeps about a person: export it and erase it (GDPR art. 15, 17, 20).

bots/privacy.py does the bot's own tables; this is ejabberd's side, through its admin API
(bots/ejabberd_api.py, ejabberd 23.01):

- the bot account's contact-list entry of them (get_roster, delete_rosteritem; ejabberd pushes
  the removal to the running bot, whose client forgets the entry at once);
- the bot account's archive of its conversation with them (remove_mam_for_user_with_peer).
  23.01's API can neither count nor list an archive (get_mam_count and get_mam_messages came
  with 24.10), so the export reads it over XMPP as the bot (XEP-0313, an account's way to its
  own archive);
- their own archive, if they switched it on (remove_mam_for_user: the messages; their archive
  setting goes with the account). No admin command and no other account can read it in 23.01:
  the export says so; they read it in their own client;
- messages waiting for them (get_offline_count). 23.01 deletes one person's waiting messages
  only with their account (unregister runs mod_offline's remove_user; delete_old_messages
  would take everyone's), so without --account they are counted and kept;
- with `account`, the account itself (unregister), and with it what ejabberd keeps per account:
  contact list, waiting messages, archive setting, privacy lists, vCard, private storage, last
  seen.

Their room memberships are the rooms plugin's (its erase_person). In component mode the bot is
no account: it has no contact list and no archive on the server. Blocking HTTP and, for the
archive, an XMPP login: for CLI commands, or a thread of the running bot (`forget me`, which
erases without the account), never its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slixmpp import JID

from bots.connection import Session
from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError

if TYPE_CHECKING:
    from bots.config import Config
    from bots.services import Services

ARCHIVE_PAGE = 100  # archived messages asked for at once
NOT_CONFIGURED = ("the admin API is not configured: set [ejabberd] api_url, admin_jid and "
                  "admin_password (or BOTSCHAFT_EJABBERD_API_URL, …_ADMIN_JID, "
                  "…_ADMIN_PASSWORD)")
OWN_ARCHIVE = ("their own message archive, if they switched it on, is not in this export: "
               "ejabberd 23.01 lets no admin command and no other account read it; they read it "
               "in their own client")


@dataclass(frozen=True)
class Outcome:
    """What erasing one part on the server did: `recorded` goes into the erasure record (a
    count, or a word where the server gives none), `line` to whoever asked. Neither names the
    person."""

    part: str
    recorded: int | str
    line: str


@dataclass
class ServerErasure:
    """The server's part of one erasure: the parts done, and the server's error if it failed
    part-way (running the erasure again finishes it)."""

    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    configured: bool = True

    @property
    def record(self) -> dict[str, int | str | bool]:
        """For the erasure record (bots/privacy.py `Erasure`): no data, no address."""
        if not self.configured:
            return {"not_done": "no admin API configured"}
        record: dict[str, int | str | bool] = {o.part: o.recorded for o in self.outcomes}
        if self.error is not None:
            record["incomplete"] = True
        return record

    def lines(self) -> list[str]:
        if not self.configured:
            return [f"nothing done on the XMPP server: {NOT_CONFIGURED}, and run this again "
                    "(erasing twice is fine)"]
        return [outcome.line for outcome in self.outcomes]


class ServerPrivacy:
    """One person on the company's ejabberd. `bot_jid`: the bot's account (None in component
    mode). Blocking HTTP: ~8 calls, one of them the bot's whole contact list."""

    def __init__(self, api: EjabberdAPI, bot_jid: str | None):
        self.api = api
        self.bot = _split(bot_jid) if bot_jid else None

    def export(self, jid: str) -> dict:
        """Their entry in the bot's contact list, whether they have an account here, and how many
        messages wait for them (23.01 counts them but cannot show them)."""
        user, domain = _split(jid)
        data: dict = {}
        if self.bot:
            data["contact_of_the_bot"] = self._contact_entry(jid)
        here = self._serves(domain) and self._has_account(user, domain)
        data["account_on_this_server"] = here
        data["offline_messages"] = self._waiting(user, domain) if here else 0
        return data

    def erase(self, jid: str, account: bool) -> ServerErasure:
        """Erase what the server keeps of `jid` (with `account`, the account too); idempotent.
        A server error stops it: what was done so far is reported, with the server's words."""
        erasure = ServerErasure()
        try:
            for outcome in self._erase(jid, account):
                erasure.outcomes.append(outcome)
        except EjabberdAPIError as exc:
            erasure.error = str(exc)
        return erasure

    def _erase(self, jid: str, account: bool):
        user, domain = _split(jid)
        if self.bot:
            bot_user, bot_domain = self.bot
            listed = self._contact_entry(jid) is not None
            if listed:
                self._done("delete_rosteritem", localuser=bot_user, localhost=bot_domain,
                           user=user, host=domain)
            yield Outcome("bot_contact", int(listed),
                          "the bot's contact list: removed them" if listed
                          else "the bot's contact list: they were not in it")
            self.api.call("remove_mam_for_user_with_peer", user=bot_user, host=bot_domain,
                          **{"with": jid})
            yield Outcome("bot_archive", "removed", "the bot's message archive: removed its "
                          "conversation with them, if it kept one (ejabberd gives no count)")
        if not self._serves(domain):
            yield Outcome("account", "elsewhere", f"their account is on another server "
                          f"({domain}): nothing else of theirs is kept here")
            return
        self.api.call("remove_mam_for_user", user=user, host=domain)
        yield Outcome("archive", "removed", "their message archive: removed, if they had one "
                      "(ejabberd gives no count)")
        if not self._has_account(user, domain):
            yield Outcome("account", 0, "their account: there is none (erased before, or "
                          "never made), nor anything kept with one")
            return
        waiting = self._waiting(user, domain)
        if not account:
            if waiting:
                yield Outcome("offline_messages", f"kept: {waiting}", f"messages waiting for "
                              f"them: {waiting} kept: ejabberd 23.01 deletes them only with the "
                              "account (--account); else they get them at their next login")
            else:
                yield Outcome("offline_messages", 0, "messages waiting for them: none")
            yield Outcome("account", "kept", "their account: kept (--account deletes it)")
            return
        self.api.call("unregister", user=user, host=domain)
        yield Outcome("offline_messages", waiting,
                      f"messages waiting for them: removed {waiting} with the account")
        yield Outcome("account", 1, "their account: removed, and with it what ejabberd keeps per "
                      "account (contact list, archive setting, privacy lists, vCard, private "
                      "storage, last seen)")

    def _contact_entry(self, jid: str) -> dict | None:
        """The bot's contact-list entry of `jid` (23.01 lists a contact once per group)."""
        bot_user, bot_domain = self.bot
        rows = [row for row in self.api.call("get_roster", user=bot_user, host=bot_domain)
                if row["jid"].lower() == jid]
        if not rows:
            return None
        return {"name": rows[0]["nick"], "subscription": rows[0]["subscription"],
                "request_pending": rows[0]["ask"] == "subscribe",
                "groups": sorted(row["group"] for row in rows if row["group"])}

    def _serves(self, domain: str) -> bool:
        return domain in self.api.call("registered_vhosts")

    def _has_account(self, user: str, domain: str) -> bool:
        return self.api.call("check_account", user=user, host=domain) == 0

    def _waiting(self, user: str, domain: str) -> int:
        return self.api.call("get_offline_count", user=user, host=domain)["value"]

    def _done(self, command: str, **arguments) -> None:
        """A command answered with a result code: anything but 0 is a refusal."""
        if self.api.call(command, **arguments) != 0:
            raise EjabberdAPIError(f"{command}: the server refused it")


def for_bot(config: Config, services: Services) -> ServerPrivacy | None:
    """The server side for the configured bot; None when the admin API is not configured.
    Raises EjabberdAPIError when the API cannot be reached."""
    if not config.get("ejabberd", "api_url"):
        return None
    client_mode = config.get("xmpp", "mode") == "client"
    return ServerPrivacy(services.ejabberd, services.jid if client_mode else None)


def erase_on_server(config: Config, services: Services, jid: str,
                    account: bool) -> ServerErasure:
    """`ServerPrivacy.erase` for the configured bot; says so when there is no admin API."""
    try:
        server = for_bot(config, services)
    except EjabberdAPIError as exc:
        return ServerErasure(error=str(exc))
    if server is None:
        return ServerErasure(configured=False)
    return server.erase(jid, account)


async def export_from_server(config: Config, services: Services, jid: str,
                             with_archive: bool) -> dict:
    """What the server holds about `jid`, for the configured bot: `ServerPrivacy.export`, the
    bot's archive with them, and notes on what is not included and why. Raises
    EjabberdAPIError, and the login's errors (bots/connection.py) for the archive."""
    notes = [OWN_ARCHIVE]
    server = for_bot(config, services)
    data = server.export(jid) if server is not None else {}
    if server is None:
        notes.append(f"nothing read through ejabberd's admin API: {NOT_CONFIGURED}")
    if config.get("xmpp", "mode") != "client":
        notes.append("the bot is a component: it has no contact list or archive on the server")
    elif not (config.get("xmpp", "jid") and config.get("xmpp", "password")):
        notes.append("the bot's archive is not read: [xmpp] jid and password are not set")
    else:
        data["archive_of_the_bot"] = await bot_archive(config, jid, with_archive)
    return {**data, "not_included": notes}


async def bot_archive(config: Config, peer: str, texts: bool, timeout: float = 30) -> dict:
    """How many messages of its conversation with `peer` the bot's archive keeps, and with
    `texts` the messages: read over XMPP (XEP-0313) as the bot, in a session of its own."""
    from bots.app import server_address  # here: bots.app imports this module (forget me)

    session = _ArchiveSession(config.get("xmpp", "jid"), config.get("xmpp", "password"),
                              config.get("xmpp", "ca_file") or None)
    await session.start(*server_address(config), timeout=timeout)
    try:
        mam = session.plugin["xep_0313"]
        answer = await mam.retrieve(with_jid=JID(peer), rsm={"max": 0}, timeout=timeout)
        found: dict = {"messages": int(answer["mam_fin"]["rsm"]["count"] or 0)}
        if texts:
            found["texts"] = [_archived(message) async for message in mam.iterate(
                with_jid=JID(peer), rsm={"max": ARCHIVE_PAGE})]
        return found
    finally:
        await session.stop(wait=1)


class _ArchiveSession(Session):
    """The bot's account, logged in only to read its archive: it sends no presence, so
    nothing addressed to the running bot arrives here."""

    role = "archive session"  # for the log

    def __init__(self, jid: str, password: str, ca_file: str | None):
        super().__init__(JID(jid).bare, password, ca_file)
        self.register_plugin("xep_0313")

    async def on_session_start(self) -> None:
        """No presence (see the class)."""


def _archived(message) -> dict:
    forwarded = message["mam_result"]["forwarded"]
    inner = forwarded["stanza"]
    return {"at": forwarded["delay"]["stamp"].isoformat(), "from": inner["from"].bare,
            "to": inner["to"].bare, "text": inner["body"]}


def _split(jid: str) -> tuple[str, str]:
    user, _at, domain = JID(jid).bare.partition("@")
    return user, domain

