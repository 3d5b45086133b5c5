"""`privacy`, `withdraw N` and `forget me`: a person sees and controls in chat what the bot
stores about them.

`privacy` shows their data in words, the core's (language, invitation, the bot's messages) and
every plugin's (`Plugin.describe_personal_data`, else counted), and each consent they gave,
numbered, with its date and wording version. `withdraw N` ends consent N at once: the plugin
whose purpose it is hears of it in the same transaction (the event `consent.WITHDRAWN`) and
stops what it allowed, as its own opt-out would (the lessons plugin ends the subscription, so
the next lesson is not sent). `forget me` erases the person as `botschaft privacy erase` does,
the XMPP server's part included (bots/server_privacy.py, on a thread: blocking HTTP), once they
repeat the code it gave them. Their account stays: they are writing from it; the company
deletes it on request (`botschaft privacy erase --account`).

The code needs no memory in any worker: it comes from the person's address and the current
five minutes, so whichever worker gets the answer can check it. It is no secret (only the
person writes from their account): repeating it shows they read what goes, and mean it now.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bots import consent, privacy, server_privacy
from bots.i18n import LANGUAGE_NAMES, TIME_LOCALES, plural_translator, render, translator
from bots.plugin import Plugin, command

if TYPE_CHECKING:
    from bots.config import Config
    from bots.dispatch import Dispatcher
    from bots.people import People

log = logging.getLogger(__name__)
_ = translator(__name__)
_n = plural_translator(__name__)

CODE_MINUTES = 5  # a code is taken in the five minutes it was made in and the next five
ME_WORDS = {"me", "mich"}  # "forget me", "vergiss mich": the command word's companion
BY_THE_PERSON = "the person, in chat"  # Erasure.by for an erasure asked for in chat
CHANNEL = "xmpp"  # as consents given in chat record it (consent.give)

STORED = _("What I store about you:")
NOTHING_STORED = _("I store nothing about you.")
YOUR_LANGUAGE = _("your language: {language} (you chose it; change it: language de|en)")
YOUR_INVITATION = _("the invitation you joined with ({date})")
SENT_MESSAGES = _n("{count} message I sent you (deleted after a set number of days)",
                   "{count} messages I sent you (deleted after a set number of days)")
ENTRIES = _n("{part}: {count} entry", "{part}: {count} entries")
AGREED = _("What you agreed to:")
CONSENT_LINE = _("{number}. {what} — since {date} (text version {version}). To withdraw: "
                 "withdraw {number}")
WITHDRAWN_KEPT = _n("(Kept as a record: {count} consent you withdrew.)",
                    "(Kept as a record: {count} consents you withdrew.)")
TO_FORGET = _("To delete everything I store about you: forget me")
JOIN_NOTICE = _("what we store so that you can chat with us (the notice when you joined)")

NO_SUCH_CONSENT = _('You have no consent number {number}. Write "privacy" to see them.')
WITHDRAWN_BEFORE = _("You withdrew this on {date} already: {what}.")
WITHDRAWN = _("Withdrawn: {what}. It stops now.")
WITHDRAWN_NOTICE = _("Withdrawn: {what}. To have what I store about you deleted too, write: "
                     "forget me")

NOTHING_TO_FORGET = _("I store nothing about you, so there is nothing to delete.")
ASK_TO_FORGET = _("This deletes everything I store about you, for good; it cannot be undone:")
YOUR_CONSENTS = _n("{count} consent record", "{count} consent records")
ON_THE_SERVER = _("on the chat server: our chat history, your message archive and my contact "
                  "entry for you")
ON_THE_SERVER_OURS = _("on the chat server: our chat history and my contact entry for you")
ACCOUNT_STAYS = _("Your chat account itself stays: we delete it if you ask us.")
SERVER_STAYS = _("Your chat account and what the chat server itself keeps stay: ask us to "
                 "delete those.")
CONFIRM = _("If you are sure, write within {minutes} minutes: forget me {code}")
WRONG_CODE = _("That is not the code I gave you, or it is more than {minutes} minutes old: "
               "nothing was deleted. For a new code, write: forget me")
FORGOTTEN = _("Done: everything I stored about you is deleted. If you write to me again, I "
              "know nothing about you.")
FORGOTTEN_ON_THE_SERVER = _("On the chat server, our chat history, your message archive and my "
                            "contact entry for you are deleted too.")


class PrivacyCommands:
    """The privacy commands, part of the core's Builtins (which sets `people` and
    `dispatcher`; the running bot sets `bot_config`): every person may use them, customers,
    staff and admins alike. Roles come from the configuration and are no stored data: `forget
    me` leaves them."""

    people: People
    dispatcher: Dispatcher
    bot_config: Config  # the whole configuration: [ejabberd] for the server's part

    @command(help=_("what I store about you and what you agreed to"),
             aliases={"de": ["datenschutz"]},
             examples={"en": ["what do you store about me", "what data do you have about me"],
                       "de": ["was speicherst du über mich",
                              "welche daten haben sie über mich"]})
    def privacy(self, ctx) -> str:
        return overview(ctx.person.jid, self._plugins(), ctx.language, ctx.bot.timezone)

    @command(help=_("withdraw a consent, by its number in privacy"),
             aliases={"de": ["widerrufen", "widerruf"]}, arguments={"number": _("number")})
    def withdraw(self, ctx, number: int) -> str:
        return withdraw(ctx.bot, self._plugins(), ctx.person.jid, number, ctx.language)

    @command(help=_("delete everything I store about you: forget me"),
             aliases={"de": ["vergiss", "vergessen"]}, arguments={"words": _("me")})
    async def forget(self, ctx, words: str | None = None) -> str:
        jid, language, plugins = ctx.person.jid, ctx.language, self._plugins()
        given = [word for word in (words or "").split() if word.casefold() not in ME_WORDS]
        if not given:
            server = bool(self.bot_config.get("ejabberd", "api_url"))
            account_here = jid.rpartition("@")[2] == ctx.bot.account_domain
            return await ctx.db(ask_to_forget, jid, plugins, language, ctx.bot.timezone,
                                time.time(), server, account_here)
        if len(given) > 1 or not confirmed(jid, given[0], time.time()):
            return render(WRONG_CODE, language, minutes=CODE_MINUTES)
        on_server = await asyncio.to_thread(server_privacy.erase_on_server, self.bot_config,
                                            ctx.bot, jid, False)
        await ctx.db(privacy.erase, jid, plugins, BY_THE_PERSON, on_server.record)
        self.people.forget(jid)
        return forgotten(on_server, language)

    def _plugins(self) -> list[Plugin]:
        return [plugin for plugin in self.dispatcher.plugins if plugin is not self]


# --- what the person reads (plain peewee code: a database thread) ----------------------------
def overview(jid: str, plugins: list[Plugin], language: str, timezone: str) -> str:
    stored = stored_lines(privacy.export(jid, plugins), plugins, language, timezone)
    rows = consent.rows_of(jid)
    if not stored and not rows:
        return render(NOTHING_STORED, language)
    lines = [render(STORED, language)] + [f"• {line}" for line in stored]
    standing = [(number, row) for number, row in enumerate(rows, 1) if row.withdrawn_at is None]
    if standing:
        lines.append(render(AGREED, language))
        lines += [render(CONSENT_LINE, language, number=number,
                         what=purpose_in_words(row.purpose, plugins, language),
                         date=_day(row.given_at, language, timezone),
                         version=wording_number(row.text_version))
                  for number, row in standing]
    if len(rows) > len(standing):
        lines.append(render(WITHDRAWN_KEPT, language, count=len(rows) - len(standing)))
    lines.append(render(TO_FORGET, language))
    return "\n".join(lines)


def wording_number(text_version: str) -> str:
    """"lessons.subscribe.2" as a person reads it: "2" (the program's name stays inside)."""
    return text_version.rsplit(".", 1)[-1]


def stored_lines(data: dict, plugins: list[Plugin], language: str, timezone: str) -> list[str]:
    """`privacy.export`'s data in words, consents aside (they are listed on their own)."""
    lines = []
    if data["settings"].get("language"):
        lines.append(render(YOUR_LANGUAGE, language,
                            language=LANGUAGE_NAMES[data["settings"]["language"]]))
    for invitation in data["invitations"]:
        lines.append(render(YOUR_INVITATION, language, date=_day(
            datetime.fromisoformat(invitation["joined_at"]), language, timezone)))
    for plugin in plugins:
        own = data.get(plugin.name)
        if own and any(own.values()):
            lines += plugin.describe_personal_data(own, language) or counted(own, plugin.name,
                                                                              language)
    if data["messages_from_the_bot"]:
        lines.append(render(SENT_MESSAGES, language, count=len(data["messages_from_the_bot"])))
    return lines


def counted(data: dict, name: str, language: str) -> list[str]:
    """A plugin's data that it does not describe itself: how many entries of each part."""
    return [render(ENTRIES, language, part=f"{name}, {part.replace('_', ' ')}",
                   count=len(value) if isinstance(value, (list, dict)) else 1)
            for part, value in data.items() if value]


def purpose_in_words(purpose: str, plugins: list[Plugin], language: str) -> str:
    """As the plugin describes it; the core's own purpose; else the purpose's name."""
    if purpose == "join.privacy":
        return render(JOIN_NOTICE, language)
    for plugin in plugins:
        described = plugin.describe_purpose(purpose, language)
        if described:
            return described
    return purpose


def withdraw(bot, plugins: list[Plugin], jid: str, number: int, language: str) -> str:
    """End the person's consent `number` (as `privacy` numbers them) and tell the plugins, in
    one transaction: what it allowed stops with the commit."""
    rows = consent.rows_of(jid)
    if not 1 <= number <= len(rows):
        return render(NO_SUCH_CONSENT, language, number=number)
    row = rows[number - 1]
    what = purpose_in_words(row.purpose, plugins, language)
    if row.withdrawn_at is not None:
        return render(WITHDRAWN_BEFORE, language, what=what,
                      date=_day(row.withdrawn_at, language, bot.timezone))
    with bot.database.atomic():
        consent.withdraw(jid, row.purpose, CHANNEL)
        bot.emit(consent.WITHDRAWN, jid=jid, purpose=row.purpose)
    return render(WITHDRAWN_NOTICE if row.purpose == "join.privacy" else WITHDRAWN, language,
                  what=what)


def ask_to_forget(jid: str, plugins: list[Plugin], language: str, timezone: str,
                  now: float, server: bool, account_here: bool = True) -> str:
    """What `forget me` would delete (`server`: the XMPP server's part too, through its admin
    API), and the code that confirms it. Someone whose account is elsewhere (another server,
    or a WhatsApp user through the bridge) has no account or archive of their own here."""
    stored = stored_lines(privacy.export(jid, plugins), plugins, language, timezone)
    consents = len(consent.rows_of(jid))
    if not stored and not consents:
        return render(NOTHING_TO_FORGET, language)
    if consents:
        stored.append(render(YOUR_CONSENTS, language, count=consents))
    if server:
        stored.append(render(ON_THE_SERVER if account_here else ON_THE_SERVER_OURS, language))
    staying = [] if server and not account_here else [
        render(ACCOUNT_STAYS if server else SERVER_STAYS, language)]
    return "\n".join([render(ASK_TO_FORGET, language)] + [f"• {line}" for line in stored]
                     + staying + [render(CONFIRM, language, minutes=CODE_MINUTES,
                                         code=confirmation_code(jid, now))])


def forgotten(on_server: server_privacy.ServerErasure, language: str) -> str:
    """The answer once the bot's data is gone: whether the server's part is too."""
    if on_server.configured and on_server.error is None:
        return "\n".join(render(text, language) for text in (
            FORGOTTEN, FORGOTTEN_ON_THE_SERVER, ACCOUNT_STAYS))
    if on_server.error is not None:
        log.warning("forget me: the XMPP server's part of an erasure failed, the bot's own "
                    "data is erased: %s", on_server.error)
    return "\n".join(render(text, language) for text in (FORGOTTEN, SERVER_STAYS))


# --- the confirmation code ------------------------------------------------------------------
def confirmation_code(jid: str, now: float) -> str:
    """Four digits for this person and these five minutes (see the module's docstring)."""
    window = int(now // (CODE_MINUTES * 60))
    digest = hashlib.sha256(f"botschaft.forget:{jid}:{window}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10_000:04d}"


def confirmed(jid: str, code: str, now: float) -> bool:
    """The code of this five minutes or of the five before: 5 to 10 minutes to answer."""
    return code in (confirmation_code(jid, now),
                    confirmation_code(jid, now - CODE_MINUTES * 60))


def _day(moment: datetime, language: str, timezone: str) -> str:
    """A stored moment (naive UTC) as its local date: "30/11/2026", "30.11.26"."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
    return format_date(local.date(), "short", locale=TIME_LOCALES.get(language, language))
