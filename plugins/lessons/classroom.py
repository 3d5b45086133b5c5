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
from datetime import datetime


from bots import consent
from bots.i18n import render, translator
from bots.scheduler import Run, zone
from bots.services import Services
from plugins.lessons.course import TIME, CourseSpec, Quiz
from plugins.lessons.models import (ACTIVE, FINISHED, PAUSED, STOPPED, Course, Delivery, Lesson,
                                    QuizAnswer, Subscription, utcnow)

_ = translator(__name__)

JOB = "lessons.deliver"
CONSENT_VERSION = "lessons.subscribe.1"  # the wording of the subscribe answer
LETTERS = "abcdef"


class LessonsError(ValueError):
    """What a learner or trainer asked cannot be done; the text says why (a Text to render)."""

    def __init__(self, text, **values):
        super().__init__(str(text))
        self.text = text
        self.values = values


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
class ImportResult:
    course: str
    created: int
    updated: int
    retired: int


def purpose(course: Course) -> str:
    return f"lessons.daily:{course.slug}"


def quiz_of(lesson: Lesson) -> Quiz | None:
    if not lesson.quiz:
        return None
    data = json.loads(lesson.quiz)
    return Quiz(data["question"], tuple(data["choices"]), data["answer"], data.get("right"),
                data.get("wrong"))


class Classroom:
    def __init__(self, bot: Services, default_time: str):
        self.bot = bot
        self.db = bot.database
        self.default_time = default_time

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

    def subscribe(self, jid: str, slug: str, language: str) -> tuple[Subscription, datetime]:
        """Subscribe (or come back after stop/pause, keeping progress); records consent.
        Returns the subscription and when its next lesson comes (UTC)."""
        course = self.course(slug)
        with self.db.atomic():
            settings = self._settings_of(jid, course)
            subscription = Subscription.get_or_none((Subscription.jid == jid)
                                                    & (Subscription.course == course))
            if subscription is None:
                subscription = Subscription.create(jid=jid, course=course, language=language,
                                                   **settings)
            elif subscription.state == FINISHED:
                raise LessonsError(_("You have finished {course} already."),
                                   course=course.title)
            else:
                subscription.state, subscription.ended_at = ACTIVE, None
                subscription.save()
            consent.give(jid, purpose(course), CONSENT_VERSION)
            due = self._plan(subscription)
        return subscription, due

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
                    .order_by(Subscription.subscribed_at.desc()))

    def pick(self, jid: str, slug: str | None, states=(ACTIVE, PAUSED)) -> Subscription:
        """The subscription a command means: the named course, else the only/latest one."""
        subscriptions = self.subscriptions_of(jid, states)
        if slug:
            subscriptions = [s for s in subscriptions if s.course.slug == slug.strip().lower()]
        if not subscriptions:
            raise LessonsError(_('You have no course running. Write "courses" to see what is '
                                 "offered, then: subscribe <course>"))
        return subscriptions[0]

    def set_time(self, jid: str, at: str) -> int:
        if not TIME.match(at.strip()):
            raise LessonsError(_('Write the time like 07:30.'))
        return self._replan(jid, time=at.strip())

    def set_timezone(self, jid: str, name: str) -> int:
        try:
            zone(name.strip())
        except ValueError:
            raise LessonsError(_('I do not know the time zone "{zone}". Write it like '
                                 "Europe/Berlin or America/New_York."), zone=name[:64]) from None
        return self._replan(jid, timezone=name.strip())

    def _replan(self, jid: str, **change) -> int:
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

    # --- lessons ---------------------------------------------------------------------------
    def take_next(self, subscription: Subscription) -> Lesson | None:
        """Record the next lesson as delivered and return it; None at the course's end."""
        return self._take_next([subscription])[subscription.id]

    def _take_next(self, subscriptions: list[Subscription]) -> dict[int, Lesson | None]:
        """The next lesson of each subscription, recorded as delivered: a few queries for the
        whole list, however long it is."""
        if not subscriptions:
            return {}
        ids = [subscription.id for subscription in subscriptions]
        delivered: dict[int, set[int]] = {number: set() for number in ids}
        for subscription_id, lesson_id in (Delivery.select(Delivery.subscription, Delivery.lesson)
                                           .where(Delivery.subscription.in_(ids)).tuples()):
            delivered[subscription_id].add(lesson_id)
        lessons = self._lessons_of({subscription.course_id for subscription in subscriptions})
        chosen = {}
        for subscription in subscriptions:
            chosen[subscription.id] = next(
                (lesson for lesson in lessons[subscription.course_id]
                 if lesson.id not in delivered[subscription.id]), None)
        deliveries = [{"subscription": number, "lesson": lesson.id}
                      for number, lesson in chosen.items() if lesson]
        if deliveries:
            Delivery.insert_many(deliveries).execute()
        return chosen

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
        the outbox, or the course's end. A batch job (`bot.on_due`)."""
        ids = [int(run.key.removeprefix("subscription:")) for run in runs]
        subscriptions = list(Subscription.select(Subscription, Course).join(Course)
                             .where(Subscription.id.in_(ids)))
        active = [subscription for subscription in subscriptions if subscription.state == ACTIVE]
        gone = set(ids) - {subscription.id for subscription in active}
        if gone:
            self.bot.cancel(JOB, *map(schedule_key, gone))
        chosen = self._take_next(active)
        totals = {course_id: len(lessons)
                  for course_id, lessons in self._lessons_of({s.course_id for s in active}).items()}
        messages, finished = [], []
        for subscription in active:
            lesson = chosen[subscription.id]
            if lesson is None:
                finished.append(subscription)
                messages.append((f"lessons-end:{subscription.id}", subscription.jid,
                                 self.end_text(subscription)))
            else:
                messages.append((f"lesson:{subscription.id}:{lesson.slug}", subscription.jid,
                                 self.lesson_text(subscription, lesson,
                                                  totals[subscription.course_id])))
        if finished:
            Subscription.update(state=FINISHED, ended_at=utcnow()).where(
                Subscription.id.in_([subscription.id for subscription in finished])).execute()
            self.bot.cancel(JOB, *(schedule_key(subscription.id) for subscription in finished))
        self.bot.notify_many(messages)

    def lesson_text(self, subscription: Subscription, lesson: Lesson,
                    total: int | None = None) -> str:
        course = subscription.course
        if total is None:
            total = Lesson.select().where((Lesson.course == course) & ~Lesson.retired).count()
        language = subscription.language
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

    def end_text(self, subscription: Subscription) -> str:
        language = subscription.language
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
    def answer(self, jid: str, text: str) -> tuple[bool, Quiz] | None:
        """If `text` answers the quiz of the learner's latest lesson: record it (the first
        answer counts) and return (right?, quiz). None: it is no quiz answer."""
        for subscription in self.subscriptions_of(jid, (ACTIVE, PAUSED, FINISHED)):
            lesson = self.last_delivered(subscription)
            quiz = quiz_of(lesson) if lesson else None
            if quiz is None:
                continue
            choice = _choice(quiz, text)
            if choice is None:
                return None
            QuizAnswer.insert(subscription=subscription, lesson=lesson, choice=choice,
                              correct=choice == quiz.answer).on_conflict_ignore().execute()
            return choice == quiz.answer, quiz
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


def _choice(quiz: Quiz, text: str) -> int | None:
    cleaned = text.strip().strip(".)!").casefold()
    if len(cleaned) == 1 and cleaned in LETTERS[:len(quiz.choices)]:
        return LETTERS.index(cleaned)
    folded = [choice.casefold() for choice in quiz.choices]
    return folded.index(cleaned) if cleaned in folded else None
