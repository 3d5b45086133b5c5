"""Status queries: "is my car ready?" answered at once, and a message when the status changes.

Customers link an item to their account with the reference and the short code on their receipt
(`claim 4711 K7M2QX`), ask `status` (or just "ist mein Auto fertig?"), and are told of each
change through the outbox. Staff set states from their Jabber client, the company's system
through `POST /status/events`, and admins with `botschaft status …`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bots import audit, consent
from bots.i18n import format_moment, plural_translator, render, translator
from bots.invites import InvitationAction
from bots.plugin import Plugin, command, job
from plugins.status import service
from plugins.status.kinds import load_kinds
from plugins.status.models import MODELS, PERSONAL_DATA, Item
from plugins.status.service import (NOTIFY_PURPOSE, ClaimLimits, ClaimResult, StatusBook,
                                    StatusError, bare_jid)

_ = translator(__name__)
_n = plural_translator(__name__)
log = logging.getLogger(__name__)

NOTIFY_TEXT_VERSION = "status.notify.1"  # the wording of the `notify on` answer
REFERENCE = _("reference")
TOLD = _n("{count} person was told.", "{count} people were told.")
# what `privacy` says of a customer's data and consent
LINKED_ITEMS = _n("{count} item linked to you: {items}", "{count} items linked to you: {items}")
FAILED_CLAIMS = _n("{count} failed attempt to link an item (kept a short time, against "
                   "guessing)", "{count} failed attempts to link an item (kept a short time, "
                   "against guessing)")
NOTIFICATIONS = _("messages when the status of your items changes")
CLEARED = _n("{count} failed attempt was cleared.", "{count} failed attempts were cleared.")
class Status(Plugin):
    name = "status"
    description = "Status queries: customers ask, and are told when the status changes."
    models = MODELS
    personal_data_kinds = PERSONAL_DATA
    default_config = {
        "kinds": {},  # extra or replaced kinds, as in kinds.toml
        "token": "",  # bearer token of the HTTP feed; empty: the [web] token
        "claim_attempts_per_person": 5,  # failed claims per person in the window
        "claim_attempts_global": 200,  # everybody's failures in the window: then …
        "claim_attempts_under_attack": 1,  # … each person may fail only this often
        "claim_window_minutes": 60,
        "feed_event_days": 30,  # how long an event id is remembered to spot a repeat
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.kinds = load_kinds(self.config["kinds"])
        self.book: StatusBook | None = None  # from start() on: the service for other plugins

    def make_book(self, bot) -> StatusBook:
        """The book over `bot`'s services (the running bot's, or a CLI command's)."""
        limits = ClaimLimits(self.config["claim_attempts_per_person"],
                             self.config["claim_attempts_global"],
                             self.config["claim_attempts_under_attack"],
                             timedelta(minutes=self.config["claim_window_minutes"]))
        return StatusBook(self.kinds, bot, limits)

    async def start(self, bot) -> None:
        self.book = self.make_book(bot)
        if self.config["token"] and bot.web_token and self.config["token"] != bot.web_token:
            log.error("[plugins.status] token differs from [web] token, which guards every "
                      "route: no request can carry both, so set only one of them")

    # --- customers -------------------------------------------------------------------------
    @command(help=_("your items and their status, or one of them"),
             aliases={"de": ["stand"]}, arguments={"ref": REFERENCE},
             examples={"en": ["is my car ready", "is my vehicle ready", "where is my order",
                              "is my order there yet", "is my book there",
                              "what is the status of my order", "is my repair done"],
                       "de": ["ist mein auto fertig", "ist mein fahrzeug fertig",
                              "wo ist meine bestellung", "ist meine bestellung da",
                              "ist mein buch da", "wie ist der stand",
                              "ist meine reparatur fertig"]})
    def status(self, ctx, ref: str | None = None) -> str:
        staff = ctx.person.may("staff")
        if ref:
            item = self.book.visible(ctx.person.jid, ref, staff)
            if item is None:
                return ctx._(_("I know no item {ref} of yours. To link it, write: claim {ref} "
                               "<code> (the code is on your receipt)."), ref=ref.strip()[:64])
            return self._one_item(ctx, item, staff)
        items = self.book.items_of(ctx.person.jid)
        if not items:
            return ctx._(_("You have not linked anything yet. Write: claim <reference> <code> "
                           "(both are on your receipt or job card)."))
        lines = [ctx._(_("Your items:"))]
        for item in items:
            kind = self.kinds[item.kind]
            lines.append(f"• {kind.label[ctx.language]} {item.ref}: "
                         f"{kind.text(item.state, ctx.language)} "
                         f"({self._when(ctx, item.updated_at)})")
        return "\n".join(lines)

    def _one_item(self, ctx, item: Item, staff: bool) -> str:
        kind = self.kinds[item.kind]
        lines = [f"{kind.label[ctx.language]} {item.ref}: {kind.text(item.state, ctx.language)}"]
        history = self.book.history(item, limit=6)
        # a message sent once more (resend) is no change: show it once
        history = [change for newer, change in zip([None, *history], history)
                   if newer is None or (newer.state, newer.note) != (change.state, change.note)]
        if history:
            lines.append(ctx._(_("Last changes:")))
            for change in history[:3]:
                note = f" — {change.note}" if change.note else ""
                lines.append(f"• {self._when(ctx, change.changed_at)}: "
                             f"{kind.text(change.state, ctx.language)}{note}")
        if staff:
            lines.append(ctx._(_("(staff) state {state}, claim code {code}"), state=item.state,
                               code=item.code))
        return "\n".join(lines)

    @command(help=_("link an item to you with the code on your receipt"),
             aliases={"de": ["verknüpfen", "verknuepfen"]},
             arguments={"ref": REFERENCE, "code": _("code")})
    def claim(self, ctx, ref: str, code: str) -> str:
        result, item = self.book.claim(ctx.person.jid, ref, code, ctx.language)
        if result is ClaimResult.LIMITED:
            return ctx._(_("Too many attempts that did not match. Please try again in an hour, "
                           "or ask us in person."))
        if result is ClaimResult.NO_MATCH:
            return ctx._(_("Reference and code do not match. Please check both on your "
                           "receipt."))
        kind = self.kinds[item.kind]
        what = f"{kind.label[ctx.language]} {item.ref}"
        state = kind.text(item.state, ctx.language)
        if result is ClaimResult.ALREADY:
            return ctx._(_("{item} is linked to you already. {state}"), item=what, state=state)
        if consent.has(ctx.person.jid, NOTIFY_PURPOSE):
            told = _("I will write to you here when its status changes (to stop: notify off).")
        else:
            told = _("Your notifications are off; to be told of changes, write: notify on")
        return ctx._(_("Linked: {item}. {state}"), item=what, state=state) + "\n" + ctx._(told)

    @command(help=_("messages when the status of your items changes"),
             aliases={"de": ["benachrichtigen", "benachrichtigung"]},
             arguments={"switch": _("on|off")})
    def notify(self, ctx, switch: bool | None = None) -> str:
        jid = ctx.person.jid
        if switch is None:
            if consent.has(jid, NOTIFY_PURPOSE):
                return ctx._(_("Notifications are on. To stop them: notify off"))
            return ctx._(_("Notifications are off. To switch them on: notify on"))
        self.book.set_notify(jid, switch, NOTIFY_TEXT_VERSION)
        if switch:
            return ctx._(_("I will tell you here when the status of your items changes. To "
                           "stop: notify off"))
        return ctx._(_("Done: I will not write to you about changes any more. You can still "
                       "ask with status. To switch it on again: notify on"))

    # --- staff -----------------------------------------------------------------------------
    @command("set", help=_("set an item's status; the note is shown to the customer"),
             role="staff", aliases={"de": ["setze", "setzen"]},
             arguments={"ref": REFERENCE, "state": _("status"), "note": _("note")})
    def set_state(self, ctx, ref: str, state: str, note: str | None = None) -> str:
        try:
            result = self.book.set_state(ref, state, note, source="chat", by=audit.in_chat(ctx))
        except StatusError as error:
            return ctx._(_("Not changed: {error}"), error=error.text(ctx.language))
        item = result.item
        if result.changed:
            return ctx._(_("{ref} is now {state}; {told}"), ref=item.ref, state=item.state,
                         told=ctx._(TOLD, count=result.told))
        unchanged = (_("{ref} is {state} already with this note; nobody was told again. To "
                       "send it once more: resend {ref}") if note else
                     _("{ref} is {state} already; nobody was told again. To send its last "
                       "message once more: resend {ref}"))
        return ctx._(unchanged, ref=item.ref, state=item.state)

    @command(help=_("send an item's last message once more to everyone who claimed it"),
             role="staff", aliases={"de": ["erneut"]}, arguments={"ref": REFERENCE})
    def resend(self, ctx, ref: str) -> str:
        try:
            result = self.book.resend(ref, source="chat", by=audit.in_chat(ctx))
        except StatusError as error:
            return ctx._(_("Not sent: {error}"), error=error.text(ctx.language))
        return ctx._(_("{ref} ({state}) sent once more; {told}"), ref=result.item.ref,
                     state=result.item.state, told=ctx._(TOLD, count=result.told))

    @command("open", help=_("open items, the longest unchanged first"), role="staff",
             aliases={"de": ["offen"]})
    def open_items(self, ctx) -> str:
        items, total = self.book.open_items()
        if not items:
            return ctx._(_("No open items."))
        lines = [ctx._(_("Open items: {total}"), total=total)]
        for item in items:
            lines.append(f"• {self.kinds[item.kind].label[ctx.language]} {item.ref}: "
                         f"{item.state}, {self._when(ctx, item.updated_at)}")
        if total > len(items):
            lines.append(ctx._(_("… and {more} more (botschaft status list)"),
                               more=total - len(items)))
        return "\n".join(lines)

    @command(help=_("create an item and get its claim code"), role="staff",
             aliases={"de": ["anlegen"]}, arguments={"kind": _("kind"), "ref": REFERENCE})
    def create(self, ctx, kind: str, ref: str) -> str:
        try:
            item = self.book.create(ref, kind, source="chat", by=audit.in_chat(ctx))
        except StatusError as error:
            return ctx._(_("Not created: {error}"), error=error.text(ctx.language))
        return ctx._(_("Created: {kind} {ref}, state {state}. Claim code for the customer: "
                       "{code}"), kind=self.kinds[item.kind].label[ctx.language], ref=item.ref,
                     state=item.state, code=item.code)

    @command(help=_("let a person claim again at once after too many wrong codes"),
             role="staff", aliases={"de": ["entsperren"]}, arguments={"jid": _("address")})
    def unlock(self, ctx, jid: str) -> str:
        try:
            jid = bare_jid(jid)
        except StatusError as error:
            return ctx._(_("Not unlocked: {error}."), error=error.text(ctx.language))
        cleared = self.book.unlock(jid, by=audit.in_chat(ctx))
        return ctx._(_("{jid} may claim again; {cleared}"), jid=jid,
                     cleared=ctx._(CLEARED, count=cleared))

    # --- housekeeping, extensions --------------------------------------------------------
    @job(every="1h")
    def forget_old_feed_events(self, ctx) -> None:
        self.book.forget_feed_events(timedelta(days=self.config["feed_event_days"]))

    def _when(self, ctx, moment) -> str:
        return format_moment(moment, ctx.language, ctx.bot.timezone)

    def cli(self):
        from plugins.status.cli import status_cli
        return status_cli()

    def routes(self):
        from plugins.status.web import feed_routes
        return feed_routes(self)

    def invitation_actions(self, bot) -> dict[str, InvitationAction]:
        """`invite 4711`, `botschaft invite create --claim 4711`, the job card: whoever joins
        has the item linked, and its status waiting."""
        book = self.book or self.make_book(bot)
        return {"claim": InvitationAction(check=book.invited_ref, run=book.claim_invited,
                                          describe=_("Item {value} is linked to the new "
                                                    "account, and changes of its status are "
                                                    "sent there"))}

    def personal_data(self, jid: str) -> dict:
        return service.personal_data(jid)

    def describe_personal_data(self, data: dict, language: str) -> list[str]:
        lines = []
        items = [f"{self.kinds[claimed['kind']].label[language]} {claimed['ref']}"
                 if claimed["kind"] in self.kinds else claimed["ref"]
                 for claimed in data["claimed_items"]]
        if items:
            lines.append(render(LINKED_ITEMS, language, count=len(items),
                                items=", ".join(items)))
        if data["failed_claims"]:
            lines.append(render(FAILED_CLAIMS, language, count=len(data["failed_claims"])))
        return lines

    def describe_purpose(self, purpose: str, language: str) -> str | None:
        """Pushes ask for the consent when a change is told: a withdrawn one gets none."""
        return render(NOTIFICATIONS, language) if purpose == NOTIFY_PURPOSE else None

    def erase_person(self, jid: str) -> int:
        return service.erase_person(jid)
