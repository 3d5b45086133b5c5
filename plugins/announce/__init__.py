"""Announcements: lists people follow, and messages from the company to their followers.

People follow a list the company configures (`follow news`, German `folgen neuigkeiten`; their
consent is recorded with the list's wording version) and stop at once (`unfollow news`,
`abbestellen neuigkeiten`). Staff write `announce news We close at 2 pm on Monday`, see what
goes to how many people, and send it with `yes`; admins use `botschaft announce send`, also at
a time to come (`--at`). Each follower gets an announcement exactly once, through the outbox.

The words are not the lessons plugin's `subscribe` and `stop`: one word means one command
(bots/dispatch.py), so a list and a course may share a name and `follow X` still means the
list, `subscribe X` the course.
"""

from __future__ import annotations

import functools

from bots import audit, consent
from bots.commands import split_words
from bots.i18n import plural_translator, render, translator
from bots.personal_data import erase
from bots.plugin import Plugin, command
from plugins.announce.lists import EXAMPLE_LISTS, PURPOSE_PREFIX, load_lists
from plugins.announce.models import MODELS, PERSONAL_DATA, SUBSCRIPTIONS, Announcement
from plugins.announce.service import (CONFIRM_MINUTES, JOB, AnnounceError, Announcer)

_ = translator(__name__)
_n = plural_translator(__name__)

LIST, TEXT = _("list"), _("text")  # what people read for the arguments
FOLLOWED = _("You follow {title} now: I will send you its announcements here{about}. To "
             "stop: unfollow {title}")
ALREADY = _("You follow {title} already. To stop: unfollow {title}")
UNFOLLOWED = _("You no longer follow {title}; I will send you nothing more from it.")
HELD_BACK = _("The announcement going out right now will not reach you either.")
FOLLOWING_IT = _("you follow it")
PREVIEW = _n("This goes to {count} person who follows {title}:",
             "This goes to the {count} people who follow {title}:")
CONFIRM = _("Write yes within {minutes} minutes to send it.")
SENT = _n("Sent: {count} person gets it now.", "Sent: {count} people get it now.")
# what `privacy` says of a person's data and consent
LISTS_FOLLOWED = _("Lists you follow: {titles}")
ANNOUNCEMENTS_MADE = _n("{count} announcement you sent or scheduled",
                        "{count} announcements you sent or scheduled")
PURPOSE = _("announcements of the list {title}")


def explained(handler):
    """A command whose AnnounceError is its answer: what cannot be done, and why."""
    @functools.wraps(handler)
    def answer(self, ctx, *arguments, **keywords):
        try:
            return handler(self, ctx, *arguments, **keywords)
        except AnnounceError as error:
            return error.text(ctx.language)
    return answer


def written_text(message: str, parsed: str) -> str:
    """The announcement as staff wrote it, line breaks and quotation marks kept (the command
    parser joins words with single spaces): all after the command word and the list, when
    the list was one plain word; else what the parser read (a quoted list, an ad-hoc form)."""
    parts = message.strip().split(maxsplit=2)
    if parsed.strip() and len(parts) == 3 and " ".join(split_words(parts[2])) == parsed:
        return parts[2]
    return parsed


class Announce(Plugin):
    name = "announce"
    description = "Announcements: lists people follow, sent by staff exactly once each."
    models = MODELS
    personal_data_kinds = PERSONAL_DATA
    default_config = {
        "lists": EXAMPLE_LISTS,  # [plugins.announce.lists.<name>]: see plugins/announce/lists.py
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.lists = load_lists(self.config["lists"])
        self.announcer: Announcer | None = None  # from start() on

    def make_announcer(self, bot) -> Announcer:
        """The announcer over `bot`'s services (the running bot's, or a CLI command's)."""
        return Announcer(self.lists, bot)

    async def start(self, bot) -> None:
        self.announcer = self.make_announcer(bot)
        bot.on_due(JOB, self.announcer.go_out_due)

    # --- followers -------------------------------------------------------------------------
    @command(help=_("announcements you choose: follow <list>, or the lists on offer"),
             aliases={"de": ["folgen", "bestellen"]}, arguments={"list_name": LIST})
    @explained
    def follow(self, ctx, list_name: str | None = None) -> str:
        if not list_name:
            return self._on_offer(ctx)
        announce_list, new = self.announcer.follow(ctx.person.jid, list_name, ctx.language)
        if not new:
            return ctx._(ALREADY, title=announce_list.shown)
        about = announce_list.about.get(ctx.language)
        return ctx._(FOLLOWED, title=announce_list.shown, about=f" ({about})" if about else "")

    def _on_offer(self, ctx) -> str:
        followed = {announce_list.name for announce_list
                    in self.announcer.followed(ctx.person.jid)}
        lines = [ctx._(_("Lists you can follow:"))]
        for announce_list in self.lists.values():
            about = announce_list.about.get(ctx.language)
            lines.append(f"• {announce_list.title[ctx.language]}"
                         + (f": {about}" if about else "")
                         + (f" ({ctx._(FOLLOWING_IT)})" if announce_list.name in followed
                            else ""))
        lines.append(ctx._(_("To follow one, write e.g.: follow {title}"),
                           title=next(iter(self.lists.values())).shown))
        return "\n".join(lines)

    @command(help=_("no more announcements of a list"),
             aliases={"de": ["abbestellen", "entfolgen"], "en": ["unsubscribe"]},
             arguments={"list_name": LIST})
    @explained
    def unfollow(self, ctx, list_name: str | None = None) -> str:
        announce_list, held_back = self.announcer.unfollow(ctx.person.jid, list_name)
        answer = ctx._(UNFOLLOWED, title=announce_list.shown)
        return f"{answer} {ctx._(HELD_BACK)}" if held_back else answer

    # --- staff -----------------------------------------------------------------------------
    @command(help=_("a message to everyone who follows a list; you confirm it with yes"),
             role="staff", aliases={"de": ["ankündigen"]},
             arguments={"list_name": LIST, "text": TEXT})
    @explained
    def announce(self, ctx, list_name: str, text: str) -> str:
        draft = self.announcer.draft(ctx.person.jid, list_name,
                                     written_text(ctx.message.text, text))
        body = self.announcer.body(draft.announce_list, draft.announcement.text, ctx.language)
        return "\n\n".join([ctx._(PREVIEW, count=draft.recipients,
                                  title=draft.announce_list.shown),
                            body, ctx._(CONFIRM, minutes=CONFIRM_MINUTES)])

    @command(help=_("send the announcement you just wrote"), role="staff",
             aliases={"de": ["ja"]})
    @explained
    def yes(self, ctx) -> str:
        announcement = self.announcer.confirm(ctx.person.jid)
        return ctx._(SENT, count=announcement.recipients)

    # --- extensions ------------------------------------------------------------------------
    def cli(self):
        from plugins.announce.cli import announce_cli
        return announce_cli()

    def describe_personal_data(self, data: dict, language: str) -> list[str]:
        lines = []
        names = [subscription["list"] for subscription in data["subscriptions"]]
        if names:
            lines.append(render(LISTS_FOLLOWED, language, titles=", ".join(
                self.lists[name].title[language] if name in self.lists else name
                for name in names)))
        if data["announcements"]:
            lines.append(render(ANNOUNCEMENTS_MADE, language, count=len(data["announcements"])))
        return lines

    def describe_purpose(self, purpose: str, language: str) -> str | None:
        if not purpose.startswith(PURPOSE_PREFIX):
            return None
        name = purpose.removeprefix(PURPOSE_PREFIX)
        title = self.lists[name].shown if name in self.lists else name
        return render(PURPOSE, language, title=title)

    def on_event(self, bot, event: str, data: dict) -> None:
        """A follower withdrew their consent to a list in chat: they follow it no more."""
        if event == consent.WITHDRAWN and data["purpose"].startswith(PURPOSE_PREFIX):
            (self.announcer or self.make_announcer(bot)).consent_withdrawn(data["jid"],
                                                                           data["purpose"])

    def erase_person(self, jid: str) -> int:
        """Their subscriptions go; in the history, a staff member's address is replaced (what
        the company sent stays, as in the audit log)."""
        return erase([SUBSCRIPTIONS], jid) + Announcement.update(created_by=audit.ERASED).where(
            Announcement.created_by == jid).execute()
