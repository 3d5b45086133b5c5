"""Courses, subscriptions, daily delivery, quizzes and progress: the lessons plugin's logic.

Plain peewee code for a database thread. Each subscription has one schedule row
(`lessons.deliver`, key `subscription:<id>`, daily at the learner's local time). When it is
due, the next lesson not yet delivered is recorded (`Delivery`, unique per subscription and
lesson) and put in the outbox (key `lesson:<subscription>:<lesson>`) in the transaction that
moves the schedule on: each lesson arrives exactly once, none is skipped. After downtime the
scheduler runs a missed day once, so a learner gets the next lesson, not a pile of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Callable

from bots import consent
from bots.invites import InvitationError
from bots.i18n import render, translator
from bots.scheduler import Run, zone
from bots.services import Services
from plugins.lessons.course import CourseSpec, Quiz, comparable
from plugins.lessons.models import (ACTIVE, FINISHED, PAUSED, STOPPED, Course, Delivery, Lesson,
                                    QuizAnswer, Subscription, utcnow)
from plugins.lessons.moments import clock_time

_ = translator(__name__)

JOB = "lessons.deliver"
CONSENT_VERSION = "lessons.subscribe.2"  # the wording of the subscribe answer
LETTERS = "abcdef"
STATES = (ACTIVE, PAUSED, STOPPED, FINISHED)  # also the order in which they explain a refusal

NO_COURSE = _('You have no course yet. Write "courses" to see what is offered.')
NOT_TAKING = _("You do not take part in {course}. To take part: subscribe {slug}")
# What a command that does not fit a subscription's state answers instead: how things stand.
STATE_ANSWERS = {
    ACTIVE: _("You are taking {course}: a lesson comes every day at {time} ({zone})."),
    PAUSED: _("{course} is paused. To go on: resume"),
    STOPPED: _("You have left {course}. To come back (your progress is kept): subscribe {slug}"),
    FINISHED: _('You have finished {course}. Write "courses" to find another one.'),
}


class LessonsError(ValueError):
    """What a learner or trainer asked cannot be done; the text says why (a Text to render,
    with values; a time of day among them is shown as the learner's language writes it)."""

    def __init__(self, text, **values):
        super().__init__(str(text))
        self.text = text
        self.values = values

    def render(self, language: str) -> str:
        return render(self.text, language, **{
            name: clock_time(value, language) if isinstance(value, time) else value
            for name, value in self.values.items()})


def state_error(subscription: Subscription) -> LessonsError:
    """How a subscription stands, for a command its state does not allow."""
    return LessonsError(STATE_ANSWERS[subscription.state], course=subscription.course.title,
                        slug=subscription.course.slug, time=time.fromisoformat(subscription.time),
                        zone=subscription.timezone)


@dataclass(frozen=True)
class Progress:
    delivered: int
    total: int
    answered: int
    right: int

    @property
    def percent(self) -> int:
        return round(100 * self.delivered / self.total) if self.total else 0


@dataclass(frozen=True)
class Subscribed:
    """A subscription made or taken up again: what the learner is told about it."""

    subscription: Subscription
    due: datetime  # the next daily lesson (aware UTC)
    upcoming: Lesson  # the lesson `next` gives now
    progress: Progress
    returning: bool  # taken up again after pause or stop, with the progress kept


@dataclass(frozen=True)
class ImportResult:
    course: str
    created: int
    updated: int
    retired: int


PURPOSE_PREFIX = "lessons.daily:"  # the consent to a course's daily lessons: + its slug


def purpose(course: Course) -> str:
    return f"{PURPOSE_PREFIX}{course.slug}"


def quiz_of(lesson: Lesson) -> Quiz | None:
    if not lesson.quiz:
        return None
    data = json.loads(lesson.quiz)
    return Quiz(data["question"], tuple(data["choices"]), data["answer"], data.get("right"),
                data.get("wrong"))


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Classroom:
    def __init__(self, bot: Services, default_time: str,
                 now: Callable[[], datetime] = wall_clock):
        self.bot = bot
        self.db = bot.database
        self.default_time = default_time
        self.now = now  # for "today"/"tomorrow" in answers; the scheduler keeps its own clock

    # --- trainers: importing ---------------------------------------------------------------
    def import_course(self, spec: CourseSpec) -> ImportResult:
        """Create or update a course; lessons are matched by id, so progress survives."""
        with self.db.atomic():
            course = Course.get_or_none(Course.slug == spec.id)
            values = dict(title=spec.title, language=spec.language,
                          description=spec.description, time=spec.time,
                          timezone=spec.timezone, imported_at=utcnow())
            if course is None:
                course = Course.create(slug=spec.id, **values)
            else:
                Course.update(**values).where(Course.id == course.id).execute()
            existing = {lesson.slug: lesson for lesson in course.lessons}
            created = updated = 0
            for position, lesson in enumerate(spec.lessons, start=1):
                quiz = json.dumps({"question": lesson.quiz.question,
                                   "choices": list(lesson.quiz.choices),
                                   "answer": lesson.quiz.answer, "right": lesson.quiz.right,
                                   "wrong": lesson.quiz.wrong}) if lesson.quiz else None
                row = dict(position=position, title=lesson.title, text=lesson.text,
                           link=lesson.link, image=lesson.image, quiz=quiz, retired=False)
                if lesson.id in existing:
                    Lesson.update(**row).where(Lesson.id == existing[lesson.id].id).execute()
                    updated += 1
                else:
                    Lesson.create(course=course, slug=lesson.id, **row)
                    created += 1
            kept = {lesson.id for lesson in spec.lessons}
            retired = [lesson.id for slug, lesson in existing.items() if slug not in kept]
            if retired:
                Lesson.update(retired=True).where(Lesson.id.in_(retired)).execute()
        return ImportResult(spec.id, created, updated, len(retired))

    # --- learners --------------------------------------------------------------------------
    def courses(self) -> list[Course]:
        return list(Course.select().order_by(Course.title))

    def course(self, slug: str) -> Course:
        course = Course.get_or_none(Course.slug == (slug or "").strip().lower())
        if course is None:
            raise LessonsError(_('There is no course "{course}". Write "courses" to see them.'),
                               course=(slug or "")[:64])
        return course

    def subscribe(self, jid: str, slug: str, language: str) -> Subscribed:
        """Subscribe (or come back after stop/pause, keeping progress); records consent.
        A learner already taking the course, or done with it, is told how things stand."""
        course = self.course(slug)
        subscription = Subscription.get_or_none((Subscription.jid == jid)
                                                & (Subscription.course == course))
        if subscription and subscription.state in (PAUSED, STOPPED) \
                and self.upcoming(subscription) is None:
            with self.db.atomic():
                self._finish([subscription])  # every lesson had come before the break
        if subscription and subscription.state in (ACTIVE, FINISHED):
            raise state_error(subscription)
        with self.db.atomic():
            if subscription is None:
                subscription = Subscription.create(jid=jid, course=course, language=language,
                                                   **self._settings_of(jid, course))
            else:
                subscription.state, subscription.ended_at = ACTIVE, None
                subscription.language = language  # what they write in now, not back then
                subscription.save()
            consent.give(jid, purpose(course), CONSENT_VERSION)
            due = self._plan(subscription)
            self.bot.emit("lessons.subscribed", jid=jid, course=course.slug)
        progress = self.progress(subscription)
        return Subscribed(subscription, due, self.upcoming(subscription), progress,
                          returning=progress.delivered > 0)

    def learners(self, slug: str) -> list[str] | None:
        """Who takes the course now (subscribed, not paused or stopped), for other plugins
        (`bot.plugin("lessons")`); None when there is no such course."""
        course = Course.get_or_none(Course.slug == (slug or "").strip().lower())
        if course is None:
            return None
        return [jid for (jid,) in Subscription.select(Subscription.jid).where(
            (Subscription.course == course) & (Subscription.state == ACTIVE)).tuples()]

    def invited_course(self, slug: str) -> str:
        """An invitation may subscribe its new account to this course (bots.invites)."""
        try:
            return self.course(slug).slug
        except LessonsError:
            raise InvitationError(_('There is no course "{course}".'),
                                  course=(slug or "")[:64]) from None

    def _settings_of(self, jid: str, course: Course) -> dict:
        """A new subscription takes the learner's time and zone from their other ones, else
        the course's, else the bot's."""
        other = (Subscription.select().where(Subscription.jid == jid)
                 .order_by(Subscription.subscribed_at.desc()).first())
        if other:
            return {"time": other.time, "timezone": other.timezone}
        return {"time": course.time or self.default_time,
                "timezone": course.timezone or self.bot.timezone}

    def _plan(self, subscription: Subscription) -> datetime:
        return self.bot.daily(JOB, schedule_key(subscription.id), subscription.time,
                              subscription.timezone)

    def subscriptions_of(self, jid: str, states=(ACTIVE, PAUSED)) -> list[Subscription]:
        return list(Subscription.select(Subscription, Course).join(Course)
                    .where((Subscription.jid == jid) & Subscription.state.in_(states))
                    .order_by(Subscription.subscribed_at.desc(), Subscription.id.desc()))

    def states_of(self, jid: str) -> dict[int, str]:
        """Course id → the learner's state in it, for the courses they ever subscribed to."""
        return dict(Subscription.select(Subscription.course, Subscription.state)
                    .where(Subscription.jid == jid).tuples())

    def taken(self, jid: str, slug: str | None = None) -> list[Subscription]:
        """The learner's subscriptions in any state, latest first (or the named course's);
        raises when there is none, saying what to do."""
        subscriptions = self.subscriptions_of(jid, STATES)
        if slug:
            course = self.course(slug)
            subscriptions = [s for s in subscriptions if s.course_id == course.id]
            if not subscriptions:
                raise LessonsError(NOT_TAKING, course=course.title, slug=course.slug)
        if not subscriptions:
            raise LessonsError(NO_COURSE)
        return subscriptions

    def pick(self, jid: str, slug: str | None, states=(ACTIVE, PAUSED)) -> Subscription:
        """The subscription a command means: the named course, else the latest one in
        `states`. If none is in them, the error says how the learner's courses stand."""
        taken = self.taken(jid, slug)
        fitting = [subscription for subscription in taken if subscription.state in states]
        if fitting:
            return fitting[0]
        raise state_error(min(taken, key=lambda subscription: STATES.index(subscription.state)))

    def set_time(self, jid: str, at: time) -> int:
        return self._replan(jid, time=f"{at:%H:%M}")

    def set_timezone(self, jid: str, name: str) -> int:
        try:
            zone(name.strip())
        except ValueError:
            raise LessonsError(_('I do not know the time zone "{zone}". Write it like '
                                 "Europe/Berlin or America/New_York."), zone=name[:64]) from None
        return self._replan(jid, timezone=name.strip())

    def _replan(self, jid: str, **change) -> int:
        self.pick(jid, None)  # nothing running: say how things stand
        with self.db.atomic():
            subscriptions = self.subscriptions_of(jid, (ACTIVE, PAUSED))
            for subscription in subscriptions:
                Subscription.update(**change).where(Subscription.id == subscription.id).execute()
                if subscription.state == ACTIVE:
                    for field, value in change.items():
                        setattr(subscription, field, value)
                    self._plan(subscription)
        return len(subscriptions)

    def pause(self, subscription: Subscription) -> None:
        with self.db.atomic():
            Subscription.update(state=PAUSED).where(Subscription.id == subscription.id).execute()
            self.bot.cancel(JOB, schedule_key(subscription.id))

    def resume(self, subscription: Subscription) -> datetime:
        with self.db.atomic():
            Subscription.update(state=ACTIVE).where(Subscription.id == subscription.id).execute()
            return self._plan(subscription)

    def stop(self, subscription: Subscription) -> None:
        """Opt-out takes effect at once: no further lesson, consent withdrawn."""
        with self.db.atomic():
            Subscription.update(state=STOPPED, ended_at=utcnow()).where(
                Subscription.id == subscription.id).execute()
            self.bot.cancel(JOB, schedule_key(subscription.id))
            consent.withdraw(subscription.jid, purpose(subscription.course))
            self.bot.emit("lessons.stopped", jid=subscription.jid,
                          course=subscription.course.slug)

    def consent_withdrawn(self, jid: str, withdrawn: str) -> None:
        """The learner withdrew their consent to a course's lessons (`withdraw N` in chat):
        the subscription ends as with `stop`, so the next lesson is not sent."""
        slug = withdrawn.removeprefix(PURPOSE_PREFIX)
        for subscription in self.subscriptions_of(jid):
            if subscription.course.slug == slug:
                self.stop(subscription)

    # --- lessons ---------------------------------------------------------------------------
    def next_text(self, subscription: Subscription, language: str) -> str:
        """`next`: the next lesson now, recorded as delivered; after the last one, the end."""
        with self.db.atomic():
            lesson = self.take_next(subscription)
            if lesson is None:
                self._finish([subscription])
                return self.end_text(subscription, language)
        return self.lesson_text(subscription, lesson, language)

    def take_next(self, subscription: Subscription) -> Lesson | None:
        """Record the next lesson as delivered and return it; None at the course's end."""
        return self._take_next([subscription])[subscription.id]

    def upcoming(self, subscription: Subscription) -> Lesson | None:
        """The lesson `next` would give now; None at the course's end."""
        return self._upcoming([subscription])[subscription.id]

    def _take_next(self, subscriptions: list[Subscription],
                   lessons: dict[int, list[Lesson]] | None = None) -> dict[int, Lesson | None]:
        """The next lesson of each subscription, recorded as delivered (`lessons`: their
        courses' lessons, when the caller has read them already)."""
        chosen = self._upcoming(subscriptions, lessons)
        deliveries = [{"subscription": number, "lesson": lesson.id}
                      for number, lesson in chosen.items() if lesson]
        if deliveries:
            Delivery.insert_many(deliveries).execute()
        return chosen

    def _upcoming(self, subscriptions: list[Subscription],
                  lessons: dict[int, list[Lesson]] | None = None) -> dict[int, Lesson | None]:
        """The first lesson not yet delivered of each subscription: a few queries for the
        whole list, however long it is."""
        if not subscriptions:
            return {}
        ids = [subscription.id for subscription in subscriptions]
        delivered: dict[int, set[int]] = {number: set() for number in ids}
        for subscription_id, lesson_id in (Delivery.select(Delivery.subscription, Delivery.lesson)
                                           .where(Delivery.subscription.in_(ids)).tuples()):
            delivered[subscription_id].add(lesson_id)
        if lessons is None:
            lessons = self._lessons_of({subscription.course_id
                                        for subscription in subscriptions})
        return {subscription.id: next((lesson for lesson in lessons[subscription.course_id]
                                       if lesson.id not in delivered[subscription.id]), None)
                for subscription in subscriptions}

    def _lessons_of(self, course_ids) -> dict[int, list[Lesson]]:
        lessons: dict[int, list[Lesson]] = {number: [] for number in course_ids}
        for lesson in (Lesson.select().where(Lesson.course.in_(list(course_ids)) & ~Lesson.retired)
                       .order_by(Lesson.position)):
            lessons[lesson.course_id].append(lesson)
        return lessons

    def last_delivered(self, subscription: Subscription) -> Lesson | None:
        delivery = (Delivery.select().where(Delivery.subscription == subscription)
                    .order_by(Delivery.delivered_at.desc(), Delivery.id.desc()).first())
        return delivery.lesson if delivery else None

    def deliver_due(self, runs: list[Run]) -> None:
        """The daily job, for all subscriptions due in this pass: each one's next lesson into
        the outbox, or the course's end. A batch job (`bot.on_due`). Each learner reads it in
        the language they chose (`language de`), else the one they subscribed in."""
        ids = [int(run.key.removeprefix("subscription:")) for run in runs]
        subscriptions = list(Subscription.select(Subscription, Course).join(Course)
                             .where(Subscription.id.in_(ids)))
        active = [subscription for subscription in subscriptions if subscription.state == ACTIVE]
        gone = set(ids) - {subscription.id for subscription in active}
        if gone:
            self.bot.cancel(JOB, *map(schedule_key, gone))
        lessons = self._lessons_of({subscription.course_id for subscription in active})
        chosen = self._take_next(active, lessons)
        totals = {course_id: len(course_lessons) for course_id, course_lessons in lessons.items()}
        languages = self.bot.languages_of({subscription.jid for subscription in active})
        messages, finished = [], []
        for subscription in active:
            lesson = chosen[subscription.id]
            language = languages.get(subscription.jid, subscription.language)
            if lesson is None:
                finished.append(subscription)
                messages.append((f"lessons-end:{subscription.id}", subscription.jid,
                                 self.end_text(subscription, language)))
            else:
                messages.append((f"lesson:{subscription.id}:{lesson.slug}", subscription.jid,
                                 self.lesson_text(subscription, lesson, language,
                                                  totals[subscription.course_id])))
        self._finish(finished)
        self.bot.notify_many(messages)

    def _finish(self, subscriptions: list[Subscription]) -> None:
        """Every lesson has come: the course is done, no more daily runs."""
        if not subscriptions:
            return
        Subscription.update(state=FINISHED, ended_at=utcnow()).where(
            Subscription.id.in_([subscription.id for subscription in subscriptions])).execute()
        self.bot.cancel(JOB, *(schedule_key(subscription.id) for subscription in subscriptions))
        for subscription in subscriptions:
            subscription.state = FINISHED

    def lesson_text(self, subscription: Subscription, lesson: Lesson, language: str,
                    total: int | None = None) -> str:
        course = subscription.course
        if total is None:
            total = Lesson.select().where((Lesson.course == course) & ~Lesson.retired).count()
        lines = [render(_("{course} — lesson {number} of {total}: {title}"), language,
                        course=course.title, number=lesson.position, total=total,
                        title=lesson.title).rstrip(": "),
                 "", lesson.text]
        lines += [value for value in (lesson.link, lesson.image) if value]
        quiz = quiz_of(lesson)
        if quiz:
            lines += ["", quiz.question]
            lines += [f"{LETTERS[index]}) {choice}" for index, choice in enumerate(quiz.choices)]
            lines.append(render(_("(Answer with the letter or the words.)"), language))
        return "\n".join(lines)

    def end_text(self, subscription: Subscription, language: str) -> str:
        text = render(_("You have finished {course}: congratulations!"), language,
                      course=subscription.course.title)
        taken = Subscription.select(Subscription.course).where(
            Subscription.jid == subscription.jid)
        following = (Course.select().where(Course.id.not_in(taken))
                     .order_by(Course.title).first())
        if following:
            text += "\n" + render(_('Next, how about {course}? Write: subscribe {slug}'),
                                  language, course=following.title, slug=following.slug)
        return text

    # --- quizzes and progress --------------------------------------------------------------
    def answer(self, jid: str, text: str, language: str) -> str | None:
        """If `text` answers the quiz of the learner's latest lesson: record it (the first
        answer counts) and return the feedback. None: it is no quiz answer."""
        for subscription in self.subscriptions_of(jid, (ACTIVE, PAUSED, FINISHED)):
            lesson = self.last_delivered(subscription)
            quiz = quiz_of(lesson) if lesson else None
            if quiz is None:
                continue
            choice = choice_of(quiz, text)
            if choice is None:
                return None
            QuizAnswer.insert(subscription=subscription, lesson=lesson, choice=choice,
                              correct=choice == quiz.answer).on_conflict_ignore().execute()
            return feedback(quiz, choice == quiz.answer, language)
        return None

    def progress(self, subscription: Subscription) -> Progress:
        current = Lesson.select(Lesson.id).where((Lesson.course == subscription.course_id)
                                                 & ~Lesson.retired)
        delivered = Delivery.select().where((Delivery.subscription == subscription)
                                            & Delivery.lesson.in_(current)).count()
        answers = QuizAnswer.select().where(QuizAnswer.subscription == subscription)
        return Progress(delivered, current.count(), answers.count(),
                        answers.where(QuizAnswer.correct == True).count())  # noqa: E712


def schedule_key(subscription_id: int) -> str:
    """A subscription's key for its daily job."""
    return f"subscription:{subscription_id}"


def choice_of(quiz: Quiz, text: str) -> int | None:
    """Which choice `text` means: its letter ("b", "B)") or its words, typed any which way
    (see course.comparable); None if it means none."""
    typed = comparable(text)
    if len(typed) == 1 and typed in LETTERS[:len(quiz.choices)]:
        return LETTERS.index(typed)
    choices = [comparable(choice) for choice in quiz.choices]
    return choices.index(typed) if typed and typed in choices else None


def feedback(quiz: Quiz, right: bool, language: str) -> str:
    """Right or not first, in so many words, then the trainer's feedback, else the right
    choice as the course writes it (so its own "?" or "!" is not followed by another mark)."""
    if right:
        return (f"{render(_('Right!'), language)} {quiz.right}" if quiz.right else
                render(_("Right: {answer}"), language, answer=quiz.choices[quiz.answer]))
    return (f"{render(_('Not quite.'), language)} {quiz.wrong}" if quiz.wrong else
            render(_("Not quite. The right answer: {answer}"), language,
                   answer=quiz.choices[quiz.answer]))
