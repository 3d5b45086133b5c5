"""The public join page: an invitation link opens it, one button makes the account.

`GET /join/<token>` shows the invitation (the privacy notice, a name to choose), `POST` makes
the account through ejabberd's admin API, records the consent, does what the invitation asks
and shows address and password once. `GET /chat` is the chat in the browser (Converse.js
served by ejabberd). Its own listener (`[join] listen`), apart from /metrics.

Forms carry a random value that must match the page's cookie (double submit; the cookie is
SameSite=Strict), so no other site can post them. A second click on the button, or a reload
after it, shows the same answer to the same browser, and never makes a second account.
Unknown, spent and made-up tokens look alike and count against the visitor's address.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.resource import Resource

from bots import consent
from bots.accounts import (NameProblem, account_domain, chosen_name, create_account, generated_name,
                           generated_password)
from bots.config import web_address
from bots.ejabberd_api import AccountExists, EjabberdAPI, EjabberdAPIError
from bots.i18n import LANGUAGES, Text, negotiate, render, translator
from bots.invites import Invitation, token_hash
from bots.join_html import Page, chat_page, join_form, origin, problem, welcome
from bots.people import PersonSetting
from bots.web import AsyncResource, listen_site

log = logging.getLogger(__name__)
_ = translator(__name__)

CONSENT_PURPOSE = "join.privacy"
NOTICE_VERSION = "join.privacy.1"  # the wording of join_html.join_form's notice: change both
CSRF_COOKIE = b"botschaft_join"
ATTEMPT_WINDOW = 600.0  # seconds over which [join] attempts_per_address counts
ANSWER_KEPT = 900.0  # seconds a browser sees its own welcome page again (double click, reload)
API_WORKERS = 4  # threads for the admin API's blocking HTTP calls
GENERATED_NAME_TRIES = 5
NAME_TAKEN = _("This name is taken. Please choose another, or leave the field empty for one "
               "we make up.")


class AttemptLimiter:
    """Failed attempts per network address within a sliding window, in memory."""

    def __init__(self, limit: int, window: float = ATTEMPT_WINDOW):
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, address: str) -> bool:
        failures = self._failures.get(address)
        if not failures:
            return False
        cutoff = time.monotonic() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return len(failures) >= self.limit

    def failed(self, address: str) -> None:
        if len(self._failures) > 10_000:  # forget the calm addresses
            cutoff = time.monotonic() - self.window
            self._failures = {key: value for key, value in self._failures.items()
                              if value and value[-1] >= cutoff}
        self._failures.setdefault(address, deque()).append(time.monotonic())


class JoinService:
    """What the join page does, apart from HTTP: look up, redeem, make the account."""

    def __init__(self, bot):
        self.bot = bot
        join, server = bot.config.values["join"], bot.config.values["ejabberd"]
        self.join = join
        self.company = join["company"]
        self.bot_jid = bot.config.get("xmpp", "jid")
        self.domain = account_domain(self.bot_jid, bot.config.get("xmpp", "mode"))
        # the other bots, by address, may write to the new accounts (a whole "@domain" never)
        self.other_bots = [jid for jid in bot.config.get("people", "bots")
                           if not jid.startswith("@") and jid != self.bot_jid]
        self.api = EjabberdAPI(server["api_url"], server["admin_jid"],
                               server["admin_password"])
        self._token_refused = False
        self.bot_name = join["company"] or bot.config.get("bot", "nick")  # in their contacts
        self.limiter = AttemptLimiter(join["attempts_per_address"])
        self.keep_days = bot.retention["outbox"]  # the period in force, as the purge keeps it
        self._answers: dict[tuple[str, str], tuple[float, Page]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._api_pool = ThreadPoolExecutor(API_WORKERS, thread_name_prefix="ejabberd-api")

    def close(self) -> None:
        self._api_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def invitations(self):
        return self.bot.services.invitations

    async def show(self, token: str, address: str, language: str, csrf: str) -> Page:
        if self.limiter.blocked(address):
            return self._slow_down(language)
        invitation = await self.bot.storage.run(self.invitations.find, token)
        if invitation is None or invitation.state() != "usable":
            self.limiter.failed(address)
            return self._not_usable(invitation, language)
        return self._form(invitation, language, csrf)

    def _form(self, invitation: Invitation, language: str, csrf: str, name: str = "",
              why: Text | None = None, status: int = 200) -> Page:
        actions = self.invitations.actions
        does = [render(actions[action].describe, language, value=value)
                for action, value in invitation.wanted.items() if action in actions]
        return join_form(language, self.company, csrf, does, self.keep_days, name, why, status)

    async def redeem(self, token: str, address: str, language: str, csrf: str,
                     wanted_name: str) -> Page:
        key = (token_hash(token), csrf)
        lock = self._locks.setdefault(key[0], asyncio.Lock())
        async with lock:  # a double click waits here for the first click's answer
            answer = self._kept_answer(key)
            if answer is None:
                answer = await self._redeem(token, address, language, csrf, wanted_name)
                if answer.status == 200:
                    self._answers[key] = (time.monotonic(), answer)
        if not lock.locked():
            self._locks.pop(key[0], None)
        return answer

    def _kept_answer(self, key: tuple[str, str]) -> Page | None:
        now = time.monotonic()
        for old in [k for k, (at, _page) in self._answers.items() if now - at > ANSWER_KEPT]:
            del self._answers[old]
        kept = self._answers.get(key)
        return kept[1] if kept else None

    async def _redeem(self, token, address, language, csrf, wanted_name) -> Page:
        if self.limiter.blocked(address):
            return self._slow_down(language)
        found = await self.bot.storage.run(self.invitations.find, token)
        if found is None or found.state() != "usable":
            self.limiter.failed(address)
            return self._not_usable(found, language)
        try:
            user = chosen_name(wanted_name, self.domain) if wanted_name.strip() else None
        except NameProblem as name_problem:
            return self._form(found, language, csrf, wanted_name, name_problem.text, 422)
        if user is not None and self._reserved(f"{user}@{self.domain}"):
            return self._form(found, language, csrf, wanted_name, NAME_TAKEN, 409)
        for _attempt in range(1 if user else GENERATED_NAME_TRIES):
            name = user or generated_name(self.join["name_prefix"])
            jid = f"{name}@{self.domain}"
            invitation = await self.bot.storage.run(self.invitations.take, token, jid)
            if invitation is None:
                self.limiter.failed(address)
                found = await self.bot.storage.run(self.invitations.find, token)
                return self._not_usable(found, language)
            password = generated_password()
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._api_pool, self._create_account, name, password)
            except AccountExists:
                await self.bot.storage.run(self.invitations.give_back, invitation)
                if user:
                    return self._form(found, language, csrf, wanted_name, NAME_TAKEN, 409)
                continue  # a generated name someone has: another one
            except EjabberdAPIError as exc:
                await self.bot.storage.run(self.invitations.give_back, invitation)
                log.error("join: the account could not be made: %s", exc)
                return self._try_again(language)
            await self.bot.storage.run(self._welcome_in_db, invitation, jid, language)
            log.info("join: invitation %d redeemed, an account was made", invitation.id)
            return welcome(language, self.company, jid, password, self.bot_jid,
                           "/chat" if self.join["chat_url"] else None)
        return self._try_again(language)

    def _create_account(self, name: str, password: str) -> None:
        """On an API thread: the account, through a token once one is to be had."""
        if not self.api.uses_token and not self._token_refused:
            try:
                self.api.use_token()
            except EjabberdAPIError as exc:
                self._token_refused = True
                log.warning("join: the admin API gives no token (%s), so every call costs "
                            "ejabberd a password check: see api_tokens in ejabberd.yml", exc)
        create_account(self.api, name, self.domain, password, self.bot_jid, self.other_bots,
                       self.bot_name)

    def _try_again(self, language: str) -> Page:
        return problem(503, language, self.company, _("Please try again shortly"),
                       _("Your account could not be made just now. Your invitation is still "
                         "valid: please try again in a few minutes."))

    def _welcome_in_db(self, invitation: Invitation, jid: str, language: str) -> None:
        """Consent, language and the invitation's actions in one transaction; an action that
        fails is logged and the rest stands (the account exists either way)."""
        db = self.bot.storage.db
        with db.atomic():
            consent.give(jid, CONSENT_PURPOSE, NOTICE_VERSION, channel="web")
            PersonSetting.insert(jid=jid, language=language).on_conflict_replace().execute()
            try:
                with db.atomic():
                    self.invitations.carry_out(invitation, jid, language)
            except Exception:
                log.exception("join: invitation %d: its actions failed", invitation.id)

    def _reserved(self, jid: str) -> bool:
        """Addresses the settings give a role or call a bot: nobody may take them by joining."""
        people = self.bot.people
        return people.role_of(jid) != "customer" or people.is_bot(jid) or jid == self.bot_jid

    def _slow_down(self, language: str) -> Page:
        return problem(429, language, self.company, _("Please wait a little"),
                       _("Too many invitation links from your network did not work. Please "
                         "try again in a few minutes."))

    def _not_usable(self, invitation: Invitation | None, language: str) -> Page:
        """Made-up and unknown tokens: 404; known but expired, used or revoked: 410. Neither
        says anything about other invitations."""
        if invitation is None:
            return problem(404, language, self.company, _("This link does not work"),
                           _("This invitation link is not valid. Please check that you "
                             "copied it whole, or ask us for a new one."))
        return problem(410, language, self.company, _("This invitation is no longer valid"),
                       _("This invitation has been used already, or it expired. If you "
                         "already have an account, log in with it; otherwise ask us for a "
                         "new invitation."))


def client_address(request, behind_proxy: bool) -> str:
    if behind_proxy:
        forwarded = (request.getHeader("x-forwarded-for") or "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return getattr(request.getClientAddress(), "host", "unknown")


def page_language(request) -> str | None:
    """?lang=de|en, else the browser's most preferred language we have."""
    chosen = (request.args.get(b"lang") or [b""])[0].decode("ascii", "replace")
    if chosen in LANGUAGES:
        return chosen
    ranked = []
    for position, entry in enumerate((request.getHeader("accept-language") or "").split(",")):
        tag, _semicolon, weight = entry.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, position, tag))
    for _quality, _position, tag in sorted(ranked):
        language = negotiate(tag)
        if language:
            return language
    return None


class _JoinResource(AsyncResource):
    methods = ("GET", "POST")

    def __init__(self, site: JoinSite, token: str):
        super().__init__()
        self.site = site
        self.token = token

    async def respond(self, request):
        site = self.site
        language = page_language(request) or site.default_language
        address = client_address(request, site.behind_proxy)
        csrf = (request.getCookie(CSRF_COOKIE) or b"").decode("ascii", "replace")
        if request.method == b"GET":
            if not _valid_csrf(csrf):
                csrf = secrets.token_urlsafe(24)
                request.addCookie(CSRF_COOKIE, csrf.encode(), path="/join", httpOnly=True,
                                  secure=site.secure, sameSite="strict")
            answer = await site.service.show(self.token, address, language, csrf)
        else:
            posted = (request.args.get(b"csrf") or [b""])[0].decode("ascii", "replace")
            if not _valid_csrf(csrf) or not hmac.compare_digest(csrf, posted):
                answer = problem(403, language, site.service.company,
                                 _("Please open your invitation link again"),
                                 _("This form was not sent from the invitation page (or your "
                                   "browser refused its cookie). Please open your invitation "
                                   "link again and press the button there."))
            else:
                name = (request.args.get(b"name") or [b""])[0].decode("utf-8", "replace")
                answer = await site.service.redeem(self.token, address, language, csrf, name)
        return site.finish(request, answer)


class _ChatResource(AsyncResource):
    def __init__(self, site: JoinSite):
        super().__init__()
        self.site = site

    async def respond(self, request):
        site = self.site
        join = site.service.join
        if not join["chat_url"]:
            return 404, "text/plain; charset=utf-8", b"no chat in the browser here\n"
        language = page_language(request) or site.default_language
        answer = chat_page(language, join["chat_url"], join["websocket_url"],
                           site.service.bot_jid)
        return site.finish(request, answer, chat=True)


class _JoinBranch(Resource):
    def __init__(self, site: JoinSite):
        super().__init__()
        self.site = site

    def getChild(self, path, request):
        return _JoinResource(self.site, path.decode("ascii", "replace"))


class JoinSite:
    """The resource tree and listener of the join page."""

    def __init__(self, bot):
        self.service = JoinService(bot)
        join = bot.config.values["join"]
        self.default_language = bot.config.get("bot", "language")
        self.behind_proxy = join["behind_proxy"]
        self.secure = urlparse(join["public_url"]).scheme == "https"
        self.listen = join["listen"]
        self.web_settings = bot.config.values["web"]
        origins = {origin(join["chat_url"]), origin(join["websocket_url"])} - {""}
        self._chat_sources = " ".join(sorted(origins))
        self._listening = None
        self.port: int | None = None  # from start() on

    def root(self) -> Resource:
        root = Resource()
        root.putChild(b"join", _JoinBranch(self))
        root.putChild(b"chat", _ChatResource(self))
        return root

    def start(self) -> int:
        host, port = web_address(self.listen)
        self._listening = listen_site(self.root(), host, port, self.web_settings,
                                      "[join] listen")
        self.port = self._listening.getHost().port
        log.info("join page: listening on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None:
            await Deferred.asFuture(maybeDeferred(listening.stopListening),
                                    asyncio.get_running_loop())
        self.service.close()

    def finish(self, request, answer: Page, chat: bool = False) -> tuple[int, str, bytes]:
        """Headers every join page carries: no caching, no referrer (the token is in the
        address), nothing from elsewhere but the chat's own server."""
        nonce = secrets.token_urlsafe(16)
        if chat:
            policy = (f"default-src 'none'; script-src 'nonce-{nonce}' {self._chat_sources}; "
                      f"style-src 'unsafe-inline' {self._chat_sources}; "
                      f"connect-src {self._chat_sources}; font-src {self._chat_sources}; "
                      f"img-src data: blob: {self._chat_sources}; base-uri 'none'")
        else:
            policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src "
                      "'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
                      "frame-ancestors 'none'")
        request.setHeader("content-security-policy", policy)
        request.setHeader("cache-control", "no-store")
        request.setHeader("referrer-policy", "no-referrer")
        request.setHeader("x-content-type-options", "nosniff")
        return (answer.status, "text/html; charset=utf-8",
                answer.html.replace(b"{nonce}", nonce.encode()))


def _valid_csrf(value: str) -> bool:
    return 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()

