"""Daily lessons: a course in the messenger, one small lesson a day at the learner's time.

Learners `subscribe` to a course (their consent is recorded), get a lesson every day at their
local time (`time 07:30`, `timezone Europe/Berlin`), answer its quiz with a letter, and ask
`progress` ("how far am I?"). Trainers write courses as YAML files
(`botschaft lessons validate|import`) and follow them with `stats`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from bots.i18n import format_moment, render, translator
from bots.plugin import Plugin, command
from plugins.lessons.classroom import JOB, Classroom, LessonsError
from plugins.lessons.course import load_courses
from plugins.lessons.models import MODELS, Lesson

_ = translator(__name__)

EXAMPLE_COURSES = files(__package__) / "courses"


class Lessons(Plugin):
    name = "lessons"
    description = "Daily lessons: one small lesson a day, quizzes and progress."
    models = MODELS
    default_config = {
        "courses": "",  # a course file or folder imported at start (empty: the bundled example)
        "time": "07:30",  # default delivery time for learners who set none
    }

    def __init__(self, config=None):
        super().__init__(config)
        self.classroom: Classroom | None = None  # from start() on

    def make_classroom(self, bot) -> Classroom:
        """The classroom over `bot`'s services (the running bot's, or a CLI command's)."""
        return Classroom(bot, self.config["time"])

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
        lines = [ctx._(_("Courses on offer:"))]
        for course in courses:
            total = course.lessons.where(~Lesson.retired).count()
            lines.append(f"• {course.slug} — {course.title} ({total}): {course.description}")
        lines.append(ctx._(_("To take part, write: subscribe <course>")))
        return "\n".join(lines)

    @command(help=_("get one lesson a day: subscribe <course>"),
             aliases={"de": ["abonnieren", "anmelden"]})
    def subscribe(self, ctx, course: str) -> str:
        try:
            subscription, due = self.classroom.subscribe(ctx.person.jid, course, ctx.language)
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        return ctx._(_("You are subscribed to {course}. I will send you one lesson a day at "
                       "{time} ({zone}); the next comes {due}. Your answers and progress are "
                       "stored for the course; nothing else.\n"
                       "Lesson 1 right now: next · another time: time 18:00 · time zone: "
                       "timezone Europe/Berlin · a break: pause · to stop: stop"),
                     course=subscription.course.title, time=subscription.time,
                     zone=subscription.timezone,
                     due=format_moment(due.replace(tzinfo=None), ctx.language,
                                       subscription.timezone))

    @command(help=_("the next lesson now"), aliases={"de": ["weiter", "nächste"]})
    def next(self, ctx, course: str | None = None) -> str:
        try:
            subscription = self.classroom.pick(ctx.person.jid, course, ("active",))
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        lesson = self.classroom.take_next(subscription)
        if lesson is None:
            return ctx._(_("That was the last lesson of {course}."),
                         course=subscription.course.title)
        return self.classroom.lesson_text(subscription, lesson)

    @command(help=_("today's lesson once more"), aliases={"de": ["nochmal", "wiederholen"]})
    def again(self, ctx, course: str | None = None) -> str:
        try:
            subscription = self.classroom.pick(ctx.person.jid, course)
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        lesson = self.classroom.last_delivered(subscription)
        if lesson is None:
            return ctx._(_('You have no lesson yet. Write "next" for the first one.'))
        return self.classroom.lesson_text(subscription, lesson)

    @command(help=_("how far you are: lessons, percent, quiz"),
             aliases={"de": ["fortschritt"]},
             examples={"en": ["how far am I", "what is my progress", "how am I doing"],
                       "de": ["wie weit bin ich", "wie ist mein fortschritt",
                              "wie viele lektionen habe ich"]})
    def progress(self, ctx, course: str | None = None) -> str:
        subscriptions = self.classroom.subscriptions_of(ctx.person.jid,
                                                        ("active", "paused", "finished"))
        if course:
            subscriptions = [s for s in subscriptions if s.course.slug == course.lower()]
        if not subscriptions:
            return ctx._(_('You have no course yet. Write "courses" to see what is offered.'))
        lines = []
        for subscription in subscriptions:
            figures = self.classroom.progress(subscription)
            lines.append(ctx._(_("{course}: lesson {delivered} of {total} — {percent} % — quiz "
                                 "{right}/{answered} right"), course=subscription.course.title,
                               delivered=figures.delivered, total=figures.total,
                               percent=figures.percent, right=figures.right,
                               answered=figures.answered)
                         + ("" if subscription.state == "active" else
                            f" ({ctx._(STATE_NAMES[subscription.state])})"))
        return "\n".join(lines)

    @command("time", help=_("when your daily lesson comes: time 07:30"),
             aliases={"de": ["uhrzeit", "zeit"]})
    def time_of_day(self, ctx, at: str) -> str:
        try:
            count = self.classroom.set_time(ctx.person.jid, at)
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        return ctx._(_("Your lessons come at {time} from now on ({count} course(s))."),
                     time=at.strip(), count=count)

    @command(help=_("your time zone: timezone Europe/Berlin"), aliases={"de": ["zeitzone"]})
    def timezone(self, ctx, zone: str) -> str:
        try:
            count = self.classroom.set_timezone(ctx.person.jid, zone)
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        return ctx._(_("Your time zone is {zone} from now on ({count} course(s))."),
                     zone=zone.strip(), count=count)

    @command("pause", help=_("a break from the daily lessons"), aliases={"de": ["pausieren"]})
    def pause_course(self, ctx, course: str | None = None) -> str:
        return self._change(ctx, course, ("active",), "pause",
                            _("{course} is paused. To go on: resume"))

    @command("resume", help=_("the daily lessons again after a break"),
             aliases={"de": ["fortsetzen", "weitermachen"]})
    def resume_course(self, ctx, course: str | None = None) -> str:
        return self._change(ctx, course, ("paused",), "resume",
                            _("{course} goes on: the next lesson comes at {time}."))

    @command("stop", help=_("end a course: no more lessons"),
             aliases={"de": ["abmelden", "beenden"]})
    def stop_course(self, ctx, course: str | None = None) -> str:
        return self._change(ctx, course, ("active", "paused"), "stop",
                            _("You have left {course}; I will send no more lessons. Your "
                              "progress is kept if you come back: subscribe {slug}"))

    def _change(self, ctx, course, states, action: str, done) -> str:
        try:
            subscription = self.classroom.pick(ctx.person.jid, course, states)
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        getattr(self.classroom, action)(subscription)
        return ctx._(done, course=subscription.course.title, slug=subscription.course.slug,
                     time=subscription.time)

    async def on_message(self, ctx) -> str | None:
        """A quiz answer ("b", or the words of a choice) to the latest lesson's quiz."""
        if ctx.message.room or len(ctx.message.text) > 200:
            return None  # quizzes are answered in the direct chat
        result = await ctx.db(self.classroom.answer, ctx.person.jid, ctx.message.text)
        if result is None:
            return None
        right, quiz = result
        correct = quiz.choices[quiz.answer]
        if right:
            return quiz.right or render(_("Right: {answer}!"), ctx.language, answer=correct)
        return quiz.wrong or render(_("Not quite: the answer is {answer}."), ctx.language,
                                    answer=correct)

    # --- trainers --------------------------------------------------------------------------
    @command(help=_("a course's figures: stats <course>"), role="staff",
             aliases={"de": ["statistik"]})
    def stats(self, ctx, course: str) -> str:
        from plugins.lessons.stats import course_stats, summary
        try:
            figures = course_stats(self.classroom.course(course))
        except LessonsError as error:
            return ctx._(error.text, **error.values)
        return summary(figures)

    def cli(self):
        from plugins.lessons.cli import lessons_cli
        return lessons_cli()

    def personal_data(self, jid: str) -> dict:
        from plugins.lessons.stats import personal_data
        return personal_data(jid)

    def erase_person(self, jid: str) -> int:
        from plugins.lessons.stats import erase_person
        return erase_person(jid, self.bot)


STATE_NAMES = {"paused": _("paused"), "finished": _("finished"), "stopped": _("stopped")}
