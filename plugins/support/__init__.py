"""The support desk: common questions answered from the company's knowledge file, and a
person when the bot cannot help.

A customer's plain question is matched against the knowledge file (plugins/support/
knowledge.py); a sure match is answered, an unsure one offers the closest question and a
person. `agent` ("talk to a person", "Mitarbeiter"), or two questions in a row the bot could
not answer, puts the conversation in the queue (plugins/support/desk.py): available staff
(online, not away or busy, within business hours) hear of it and `take` it; then the bot
relays both ways, from the company's address, until `done` (a rating 1–5 follows) or the
customer's `cancel`.

While a customer's case is open, everything they write goes to the case (Plugin.on_conversation),
command words too, except `cancel`. A staff member who holds cases: their words that are no
command go to the customer of the case they took, answered or were handed last; `to N text`
to case N; `/c NAME` sends a canned reply.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from bots import audit
from bots.dispatch import RUN_THRESHOLD, SUGGEST_THRESHOLD
from bots.i18n import translator
from bots.personal_data import erase
from bots.phrases import PhraseIndex
from bots.plugin import NO_ANSWER, Plugin, command
from plugins.support.canned import load_canned
from plugins.support.desk import LANGUAGE_NAMES, Desk, SupportError
from plugins.support.hours import EXAMPLE_HOURS, Hours
from plugins.support.knowledge import KnowledgeFile
from plugins.support.models import BOT, CUSTOMER, MODELS, PERSONAL_DATA, Case, utcnow
from plugins.support.stats import count_bot_answer

_ = translator(__name__)

HERE = Path(__file__).parent
UNANSWERED_IN_A_ROW = 2  # questions the bot could not answer before it offers a person itself
TO_CASE = re.compile(r"^(?:to|an)\s+(\d+)\s+(.+)$", re.IGNORECASE | re.DOTALL)
CANNED = re.compile(r"^/c\s+(\S+)\s*$", re.IGNORECASE)
NUMBER, ADDRESS, TEXT = _("case number"), _("address"), _("text")
HANDOFF = {"en": ["talk to a person", "I want to speak to someone", "can I talk to a human",
                  "speak to an employee"],
           "de": ["ich möchte mit jemandem sprechen", "mit einem Mitarbeiter sprechen",
                  "kann ich mit einem Menschen reden", "Mitarbeiter bitte"]}
NOT_SURE = _("I am not sure I understand. Did you mean: “{question}”? Then ask me like that. "
             "Or write \"agent\" to talk to a person.")
PASSING_ON = _("I could not answer that, so I am passing you on to a person.")
FILE_PASSING_ON = _("Thank you for your file. A person of our team will look at it.")
NO_DESK = _("Sorry, our team cannot be reached in this chat. Please contact us another way.")
NO_CASE = _("You are not waiting for anyone. Write \"agent\" to talk to a person.")
NOBODY_WAITS = _("Nobody is waiting.")
IN_QUEUE = _("Case {number}: waits {minutes} min ({language})")


def explained(handler):
    """A command whose SupportError is its answer: what cannot be done, and why."""
    @functools.wraps(handler)
    def answer(self, ctx, *arguments, **keywords):
        try:
            return handler(self, ctx, *arguments, **keywords)
        except SupportError as error:
            return error.text(ctx.language)
    return answer


class Support(Plugin):
    name = "support"
    description = "Support desk: answers from a knowledge file, and a person when needed."
    models = MODELS
    personal_data_kinds = PERSONAL_DATA
    default_config = {
        "knowledge": "",  # the knowledge file (YAML); empty: the example shipped
        "canned": "",  # the canned replies (YAML); empty: the examples shipped
        # who answers, with the name customers see: { "anna@example.com" = "Anna" }; none: the
        # bot answers from the knowledge file only, and nobody is offered a person
        "staff": {},
        "hours": EXAMPLE_HOURS,  # plugins/support/hours.py
        "holidays": [],
        "timezone": "",  # default: [bot] timezone
        "minutes_per_case": 5,  # for the expected wait a customer is told
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.knowledge = KnowledgeFile(self.config["knowledge"] or HERE / "knowledge.yaml")
        self.canned = load_canned(self.config["canned"] or HERE / "canned.yaml")
        self.staff = {jid.strip().lower(): name for jid, name in self.config["staff"].items()}
        if not all(isinstance(name, str) and name.strip() for name in self.staff.values()):
            raise ValueError("[plugins.support] staff: give each address the name customers "
                             "see, e.g. { \"anna@example.com\" = \"Anna\" }")
        if self.config["minutes_per_case"] < 1:
            raise ValueError("[plugins.support] minutes_per_case must be 1 or more")
        # wrong hours, holidays or time zone stop the plugin as it loads, not at start
        Hours(self.config["hours"], self.config["holidays"], self.config["timezone"] or "UTC")
        self.desk: Desk | None = None  # from start() on
        self.unanswered: dict[str, int] = {}  # customer → questions in a row not answered
        self.handoff = PhraseIndex()  # asking for a person comes before the knowledge
        for phrase in (phrase for phrases in HANDOFF.values() for phrase in phrases):
            self.handoff.add("agent", phrase)

    def make_desk(self, bot) -> Desk:
        hours = Hours(self.config["hours"], self.config["holidays"],
                      self.config["timezone"] or bot.timezone)
        return Desk(bot, self.staff, hours, self.config["minutes_per_case"], self.canned)

    async def start(self, bot) -> None:
        desk = self.make_desk(bot)
        await bot.run(desk.rebuild)
        self.desk = desk

    # --- the message path ----------------------------------------------------------------------
    async def on_conversation(self, ctx) -> str | None:
        jid = ctx.person.jid
        desk = self.desk
        if desk is None or not desk.concerns(jid):
            return None
        text = ctx.message.text.strip()
        try:
            if jid in desk.memory.customers:
                if ctx.message.command == "cancel":
                    return None
                answer = await self.bot.run_batched(
                    desk.from_customers,
                    (jid, text, ctx.language, ctx.message.file_url is not None))
                return answer or NO_ANSWER
            if jid in desk.memory.held and ctx.message.command is None:
                await self._from_staff(ctx, desk, text)
                return NO_ANSWER
            if jid in desk.memory.rating_due:
                return await ctx.db(desk.rate, jid, text)
        except SupportError as error:
            return error.text(ctx.language)
        return None

    async def _from_staff(self, ctx, desk: Desk, text: str) -> None:
        """`/c NAME`, `to N text`, or words for the case answered last."""
        canned = CANNED.match(text)
        if canned:
            await ctx.db(desk.canned_reply, ctx.person.jid, canned.group(1))
            return
        shares_file = ctx.message.file_url is not None
        to_case = None if shares_file else TO_CASE.match(text)
        number, text = (int(to_case.group(1)), to_case.group(2)) if to_case else (None, text)
        await self.bot.run_batched(desk.from_staff_many,
                                   (ctx.person.jid, text, number, shares_file))

    async def on_message(self, ctx) -> str | None:
        """A plain question: answered from the knowledge file when the match is sure."""
        if ctx.message.room is not None or self.desk is None:
            return None
        jid, text = ctx.person.jid, ctx.message.text.strip()
        if ctx.message.file_url is not None:
            return await self._file_for_a_person(ctx)
        asks_for_person = self.handoff.match(text)
        if asks_for_person and asks_for_person[0].score >= RUN_THRESHOLD:
            self.desk.remember(jid, CUSTOMER, text)  # staff see what they asked
            return None  # the core runs `agent`, as for every command's example phrases
        found = self.knowledge.current().match(text)
        score = found[1] if found else 0.0
        if score >= RUN_THRESHOLD:
            self.unanswered.pop(jid, None)
            answer = found[0].text(ctx.language)
            await ctx.db(count_bot_answer)
            self.desk.remember(jid, CUSTOMER, text)
            self.desk.remember(jid, BOT, answer)
            return answer
        self.desk.remember(jid, CUSTOMER, text)
        if len(self.unanswered) > 10_000:
            self.unanswered.clear()
        if not self.staff or jid in self.staff:  # no desk, or one of its own staff: the core
            return None  # says it did not understand, as without this plugin
        self.unanswered[jid] = self.unanswered.get(jid, 0) + 1
        if self.unanswered[jid] >= UNANSWERED_IN_A_ROW:
            del self.unanswered[jid]
            queued = await ctx.db(self.desk.ask_for_person, jid, ctx.language)
            return f"{ctx._(PASSING_ON)} {queued}"
        if score >= SUGGEST_THRESHOLD:
            return ctx._(NOT_SURE, question=found[0].question(ctx.language))
        return None

    async def _file_for_a_person(self, ctx) -> str | None:
        """A picture or document outside a conversation: only a person can look at it, so the
        customer goes to the queue at once (staff see the link in the history)."""
        jid = ctx.person.jid
        if not self.staff or jid in self.staff:
            return None
        self.desk.remember(jid, CUSTOMER, ctx.message.file_url)
        self.unanswered.pop(jid, None)
        queued = await ctx.db(self.desk.ask_for_person, jid, ctx.language)
        return f"{ctx._(FILE_PASSING_ON)} {queued}"

    async def on_presence(self, presence) -> None:
        if self.desk is None:
            return
        sender = presence["from"]
        if self.desk.presence(sender.bare.lower(), sender.resource, presence["type"]):
            await self.bot.run(self.desk.came_online, sender.bare.lower())

    # --- customers -----------------------------------------------------------------------------
    @command(help=_("talk to a person of our team"),
             aliases={"de": ["mitarbeiter", "mensch"], "en": ["human", "person"]},
             examples=HANDOFF)
    def agent(self, ctx) -> str:
        if not self.staff:
            return ctx._(NO_DESK)
        self.unanswered.pop(ctx.person.jid, None)
        return self.desk.ask_for_person(ctx.person.jid, ctx.language)

    @command(help=_("leave the queue, or end the conversation with our team"),
             aliases={"de": ["abbrechen"]})
    def cancel(self, ctx) -> str:
        return self.desk.leave(ctx.person.jid) or ctx._(NO_CASE)

    # --- staff ---------------------------------------------------------------------------------
    @command(help=_("answer a waiting customer: the first, or case N"), role="staff",
             aliases={"de": ["übernehmen", "nehmen"]}, arguments={"number": NUMBER})
    @explained
    def take(self, ctx, number: int | None = None) -> str:
        return self.desk.take(ctx.person.jid, number)

    @command(help=_("who waits for a person"), role="staff", aliases={"de": ["warteschlange"]})
    def queue(self, ctx) -> str:
        waiting = self.desk.waiting()
        if not waiting:
            return ctx._(NOBODY_WAITS)
        now = utcnow()
        return "\n".join(ctx._(IN_QUEUE, number=case.id,
                               minutes=int((now - case.queued_at).total_seconds() // 60),
                               language=ctx._(LANGUAGE_NAMES[case.language]))
                         for case in waiting)

    @command(help=_("hand your case to another member of the support staff"), role="staff",
             aliases={"de": ["weitergeben"]}, arguments={"jid": ADDRESS, "number": NUMBER})
    @explained
    def transfer(self, ctx, jid: str, number: int | None = None) -> str:
        return self.desk.transfer(ctx.person.jid, jid, number)

    @command(help=_("an internal note on your case (the customer does not see it)"),
             role="staff", aliases={"de": ["notiz"]}, arguments={"text": TEXT})
    @explained
    def note(self, ctx, text: str) -> str:
        return self.desk.note(ctx.person.jid, text)

    @command(help=_("close your case (the customer is asked for a rating)"), role="staff",
             aliases={"de": ["erledigt"]}, arguments={"number": NUMBER})
    @explained
    def done(self, ctx, number: int | None = None) -> str:
        return self.desk.done(ctx.person.jid, number)

    # --- extensions ----------------------------------------------------------------------------
    def cli(self):
        from plugins.support.cli import support_cli
        return support_cli()

    def erase_person(self, jid: str) -> int:
        """A customer's cases and texts go; where they answered as staff, their address is
        replaced (the case stays for the customer's export and the figures)."""
        return erase(self.personal_data_kinds, jid) + Case.update(staff=audit.ERASED).where(
            Case.staff == jid).execute()
