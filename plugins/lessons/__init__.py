"""Daily lessons: a course in the messenger, one small lesson a day at the learner's time.

Learners `subscribe` to a course (their consent is recorded), get a lesson every day at their
local time (`time 7:30`, `timezone Europe/Berlin`), answer its quiz with a letter or the
words, and ask `progress` ("how far am I?"). Trainers write courses as YAML files
(`botschaft lessons validate|import`) and follow them with `stats`.
"""

from __future__ import annotations

import datetime
import functools
from importlib.resources import files
from pathlib import Path

from bots import consent
from bots.i18n import plural_translator, render, translator
from bots.invites import InvitationAction
from bots.plugin import Plugin, command
from plugins.lessons.classroom import (JOB, PURPOSE_PREFIX, STATE_ANSWERS, Classroom,
                                       LessonsError, Subscribed, wall_clock)
from plugins.lessons.course import load_courses
from plugins.lessons.models import (ACTIVE, FINISHED, MODELS, PAUSED, PERSONAL_DATA, STOPPED,
                                    Course, Lesson)
from plugins.lessons.moments import clock_time, day_and_time

_ = translator(__name__)
_n = plural_translator(__name__)

EXAMPLE_COURSES = files(__package__) / "courses"
COURSE, AT, ZONE = _("course"), _("time"), _("time zone")  # what learners read for arguments
LEARNING = (ACTIVE, PAUSED, FINISHED)  # where the lessons had can be read again
STATE_NAMES = {ACTIVE: _("subscribed"), PAUSED: _("paused"), FINISHED: _("finished"),
               STOPPED: _("stopped")}
# what `privacy` says of a learner's data and consent
COURSE_DATA = _("course {course} ({state}): {lessons}, {answers}")
LESSONS_RECEIVED = _n("{count} lesson received", "{count} lessons received")
QUIZ_ANSWERS = _n("{count} quiz answer", "{count} quiz answers")
DAILY_LESSONS = _("daily lessons of the course {course}")


def explained(handler):
    """A command whose LessonsError is its answer: what cannot be done, and why."""
    @functools.wraps(handler)
    def answer(self, ctx, *arguments, **keywords):
        try:
            return handler(self, ctx, *arguments, **keywords)
        except LessonsError as error:
            return error.render(ctx.language)
    return answer


class Lessons(Plugin):
    name = "lessons"
    description = "Daily lessons: one small lesson a day, quizzes and progress."
    models = MODELS
    personal_data_kinds = PERSONAL_DATA
    default_config = {
        "courses": "",  # a course file or folder imported at start (empty: the bundled example)
        "time": "07:30",  # default delivery time for learners who set none
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.classroom: Classroom | None = None  # from start() on

    def make_classroom(self, bot, now=wall_clock) -> Classroom:
        """The classroom over `bot`'s services (the running bot's, or a CLI command's)."""
        return Classroom(bot, self.config["time"], now)

    async def start(self, bot) -> None:
        self.classroom = self.make_classroom(bot)
        bot.on_due(JOB, self.classroom.deliver_due)
        source = Path(self.config["courses"]) if self.config["courses"] else EXAMPLE_COURSES
        for spec in load_courses(Path(str(source))):
            await bot.run(self.classroom.import_course, spec)

    # --- learners --------------------------------------------------------------------------
    @command(help=_("the courses on offer"), aliases={"de": ["kurse"]},
             examples={"en": ["which courses are there", "what can I learn"],
                       "de": ["welche kurse gibt es", "was kann ich lernen"]}, private=False)
    def courses(self, ctx) -> str:
        courses = self.classroom.courses()
        if not courses:
            return ctx._(_("No courses are on offer at the moment."))
        # in a group room everyone reads the answer: the asker's own courses stay unmarked
        states = {} if ctx.message.room else self.classroom.states_of(ctx.person.jid)
        lines = [ctx._(_("Courses on offer:"))]
        for course in courses:
            facts = [ctx._(_n("{count} lesson", "{count} lessons"),
                           count=course.lessons.where(~Lesson.retired).count())]
            if course.id in states:
                facts.append(ctx._(STATE_NAMES[states[course.id]]))
            lines.append(f"• {course.slug} — {course.title} ({'; '.join(facts)}): "
                         f"{course.description}".rstrip(": "))
        lines.append(ctx._(_("To take part, write e.g.: subscribe {slug}"), slug=courses[0].slug))
        return "\n".join(lines)

    @command(help=_("get one lesson a day"), aliases={"de": ["abonnieren", "anmelden"]},
             arguments={"course": COURSE})
    @explained
    def subscribe(self, ctx, course: str) -> str:
        subscribed = self.classroom.subscribe(ctx.person.jid, course, ctx.language)
        return self._welcome(ctx, subscribed)

    def _welcome(self, ctx, subscribed: Subscribed) -> str:
        subscription, progress = subscribed.subscription, subscribed.progress
        head = (ctx._(_n("Welcome back to {course}: your progress is kept ({delivered} of "
                         "{count} lesson).", "Welcome back to {course}: your progress is kept "
                         "({delivered} of {count} lessons)."), course=subscription.course.title,
                      delivered=progress.delivered, count=progress.total)
                if subscribed.returning else
                ctx._(_("You are subscribed to {course}."), course=subscription.course.title))
        return head + " " + ctx._(
            _("I will send you one lesson a day at {time} ({zone}); the next comes {due}. Your "
              "answers and progress are stored for the course; nothing else.\n"
              "Lesson {number} right now: next · another time: time 18:00 · time zone: "
              "timezone Europe/Berlin · a break: pause · to stop: stop"),
            time=clock_time(subscription.time, ctx.language), zone=subscription.timezone,
            due=self._when(ctx, subscribed.due, subscription.timezone),
            number=subscribed.upcoming.position)

    def _when(self, ctx, due: datetime.datetime, timezone: str) -> str:
        return day_and_time(due, self.classroom.now(), ctx.language, timezone)

    @command(help=_("the next lesson now"), aliases={"de": ["weiter", "nächste"]},
             arguments={"course": COURSE})
    @explained
    def next(self, ctx, course: str | None = None) -> str:
        subscription = self.classroom.pick(ctx.person.jid, course, (ACTIVE,))
        return self.classroom.next_text(subscription, ctx.language)

    @command(help=_("the last lesson once more"), aliases={"de": ["nochmal", "wiederholen"]},
             arguments={"course": COURSE})
    @explained
    def again(self, ctx, course: str | None = None) -> str:
        subscription = self.classroom.pick(ctx.person.jid, course, LEARNING)
        lesson = self.classroom.last_delivered(subscription)
        if lesson is not None:
            return self.classroom.lesson_text(subscription, lesson, ctx.language)
        if subscription.state == PAUSED:
            return ctx._(STATE_ANSWERS[PAUSED], course=subscription.course.title)
        return ctx._(_('You have no lesson yet. Write "next" for the first one.'))

    @command(help=_("how far you are: lessons, percent, quiz"),
             aliases={"de": ["fortschritt"]}, arguments={"course": COURSE},
             examples={"en": ["how far am I", "what is my progress", "how am I doing"],
                       "de": ["wie weit bin ich", "wie ist mein fortschritt",
                              "wie viele lektionen habe ich"]})
    @explained
    def progress(self, ctx, course: str | None = None) -> str:
        subscriptions = self.classroom.taken(ctx.person.jid, course)
        lines = []
        for subscription in subscriptions:
            figures = self.classroom.progress(subscription)
            lines.append(ctx._(_("{course}: lesson {delivered} of {total} — {percent} % — quiz "
                                 "{right}/{answered} right"), course=subscription.course.title,
                               delivered=figures.delivered, total=figures.total,
                               percent=figures.percent, right=figures.right,
                               answered=figures.answered)
                         + ("" if subscription.state == ACTIVE else
                            f" ({ctx._(STATE_NAMES[subscription.state])})"))
        return "\n".join(lines)

    @command("time", help=_("when your daily lesson comes, e.g. time 7:30"),
             aliases={"de": ["uhrzeit", "zeit"]}, arguments={"at": AT})
    @explained
    def time_of_day(self, ctx, at: datetime.time) -> str:
        count = self.classroom.set_time(ctx.person.jid, at)
        return ctx._(_n("Your lessons come at {time} from now on ({count} course).",
                        "Your lessons come at {time} from now on ({count} courses)."),
                     time=clock_time(at, ctx.language), count=count)

    @command(help=_("your time zone, e.g. timezone Europe/Berlin"), aliases={"de": ["zeitzone"]},
             arguments={"zone": ZONE})
    @explained
    def timezone(self, ctx, zone: str) -> str:
        count = self.classroom.set_timezone(ctx.person.jid, zone)
        return ctx._(_n("Your time zone is {zone} from now on ({count} course).",
                        "Your time zone is {zone} from now on ({count} courses)."),
                     zone=zone.strip(), count=count)

    @command("pause", help=_("a break from the daily lessons"), aliases={"de": ["pausieren"]},
             arguments={"course": COURSE})
    @explained
    def pause_course(self, ctx, course: str | None = None) -> str:
        subscription = self.classroom.pick(ctx.person.jid, course, (ACTIVE,))
        self.classroom.pause(subscription)
        return ctx._(STATE_ANSWERS[PAUSED], course=subscription.course.title)

    @command("resume", help=_("the daily lessons again after a break"),
             aliases={"de": ["fortsetzen", "weitermachen"]}, arguments={"course": COURSE})
    @explained
    def resume_course(self, ctx, course: str | None = None) -> str:
        subscription = self.classroom.pick(ctx.person.jid, course, (PAUSED,))
        due = self.classroom.resume(subscription)
        return ctx._(_("{course} goes on: the next lesson comes {due}."),
                     course=subscription.course.title,
                     due=self._when(ctx, due, subscription.timezone))

    @command("stop", help=_("end a course: no more lessons"),
             aliases={"de": ["abmelden", "beenden"]}, arguments={"course": COURSE})
    @explained
    def stop_course(self, ctx, course: str | None = None) -> str:
        subscription = self.classroom.pick(ctx.person.jid, course)
        self.classroom.stop(subscription)
        return ctx._(_("You have left {course}; I will send no more lessons. Your progress is "
                       "kept if you come back: subscribe {slug}"),
                     course=subscription.course.title, slug=subscription.course.slug)

    async def on_message(self, ctx) -> str | None:
        """A quiz answer ("b", or the words of a choice) to the latest lesson's quiz."""
        if ctx.message.room or len(ctx.message.text) > 200:
            return None  # quizzes are answered in the direct chat
        return await ctx.db(self.classroom.answer, ctx.person.jid, ctx.message.text,
                            ctx.language)

    # --- trainers --------------------------------------------------------------------------
    @command(help=_("a course's figures"), role="staff", aliases={"de": ["statistik"]},
             arguments={"course": COURSE})
    @explained
    def stats(self, ctx, course: str) -> str:
        from plugins.lessons.stats import course_stats, summary
        return summary(course_stats(self.classroom.course(course)))

    def cli(self):
        from plugins.lessons.cli import lessons_cli
        return lessons_cli()

    def invitation_actions(self, bot) -> dict[str, InvitationAction]:
        """`botschaft invite create --course ID`: the join page lists the course, and its
        button is the new learner's yes to it (consent recorded as for `subscribe`)."""
        classroom = self.classroom or self.make_classroom(bot)
        return {"course": InvitationAction(check=classroom.invited_course,
                                           run=classroom.subscribe,
                                           describe=_("The new account is subscribed to "
                                                    "the course {value}, one lesson a "
                                                    "day"))}

    def personal_data(self, jid: str) -> dict:
        from plugins.lessons.stats import personal_data
        return personal_data(jid)

    def describe_personal_data(self, data: dict, language: str) -> list[str]:
        titles = dict(Course.select(Course.slug, Course.title).tuples())
        return [render(COURSE_DATA, language,
                       course=titles.get(subscription["course"], subscription["course"]),
                       state=render(STATE_NAMES[subscription["state"]], language),
                       lessons=render(LESSONS_RECEIVED, language,
                                      count=len(subscription["lessons_received"])),
                       answers=render(QUIZ_ANSWERS, language,
                                      count=len(subscription["quiz_answers"])))
                for subscription in data["subscriptions"]]

    def describe_purpose(self, purpose: str, language: str) -> str | None:
        if not purpose.startswith(PURPOSE_PREFIX):
            return None
        slug = purpose.removeprefix(PURPOSE_PREFIX)
        course = Course.get_or_none(Course.slug == slug)
        return render(DAILY_LESSONS, language, course=course.title if course else slug)

    def on_event(self, bot, event: str, data: dict) -> None:
        """A learner withdrew their consent to a course in chat: the course ends for them."""
        if event == consent.WITHDRAWN and data["purpose"].startswith(PURPOSE_PREFIX):
            (self.classroom or self.make_classroom(bot)).consent_withdrawn(data["jid"],
                                                                           data["purpose"])

    def erase_person(self, jid: str) -> int:
        from plugins.lessons.stats import erase_person
        return erase_person(jid, self.bot)

