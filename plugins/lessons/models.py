"""The tables of the lessons plugin: courses and lessons (from the files), subscriptions, and
what each learner got and answered; and what of these is personal data, for how long
(bots/personal_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.personal_data import PersonalData

ACTIVE, PAUSED, STOPPED, FINISHED = "active", "paused", "stopped", "finished"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Course(peewee.Model):
    slug = peewee.CharField(max_length=64, unique=True)
    title = peewee.CharField(max_length=200)
    language = peewee.CharField(max_length=8)
    description = peewee.TextField(default="")
    time = peewee.CharField(max_length=5, null=True)
    timezone = peewee.CharField(max_length=64, null=True)
    imported_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "lessons_course"


class Lesson(peewee.Model):
    """A lesson keeps its row across re-imports (matched by slug); `position` orders the
    course, and lessons dropped from the file are `retired`, so old progress still reads."""

    course = peewee.ForeignKeyField(Course, backref="lessons", on_delete="CASCADE")
    slug = peewee.CharField(max_length=64)
    position = peewee.IntegerField()
    title = peewee.CharField(max_length=200, default="")
    text = peewee.TextField()
    link = peewee.TextField(null=True)
    image = peewee.TextField(null=True)
    quiz = peewee.TextField(null=True)  # JSON: question, choices, answer, right, wrong
    retired = peewee.BooleanField(default=False)

    class Meta:
        table_name = "lessons_lesson"
        indexes = ((("course", "slug"), True),)


class Subscription(peewee.Model):
    jid = peewee.CharField(max_length=3071, index=True)
    course = peewee.ForeignKeyField(Course, backref="subscriptions", on_delete="CASCADE")
    state = peewee.CharField(max_length=10, default=ACTIVE)
    time = peewee.CharField(max_length=5)  # local delivery time, "07:30"
    timezone = peewee.CharField(max_length=64)
    language = peewee.CharField(max_length=8)  # of the framing texts (lessons: the course's)
    subscribed_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "lessons_subscription"
        indexes = ((("jid", "course"), True),)


class Delivery(peewee.Model):
    """A lesson a learner got: at most once (the unique index), the basis of their progress."""

    subscription = peewee.ForeignKeyField(Subscription, backref="deliveries",
                                          on_delete="CASCADE")
    lesson = peewee.ForeignKeyField(Lesson, on_delete="CASCADE")
    delivered_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "lessons_delivery"
        indexes = ((("subscription", "lesson"), True),)


class QuizAnswer(peewee.Model):
    """A learner's first answer to a lesson's quiz (later tries get feedback, not a score)."""

    subscription = peewee.ForeignKeyField(Subscription, backref="answers", on_delete="CASCADE")
    lesson = peewee.ForeignKeyField(Lesson, on_delete="CASCADE")
    choice = peewee.IntegerField()
    correct = peewee.BooleanField()
    answered_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "lessons_quiz_answer"
        indexes = ((("subscription", "lesson"), True),)


MODELS = [Course, Lesson, Subscription, Delivery, QuizAnswer]


def ended_before(cutoff: datetime) -> peewee.SelectQuery:
    """The subscriptions whose course ended (stopped or finished) before `cutoff`."""
    return Subscription.select(Subscription.id).where(Subscription.ended_at < cutoff)


PROGRESS_DAYS = 365  # after the course ended: a learner who comes back goes on where they were
PERSONAL_DATA = [
    PersonalData("lessons.subscriptions", Subscription, Subscription.jid,
                 "Who takes which course, how far (state), at what time and in which "
                 "language: to send the daily lesson. Counted from the course's end (stopped "
                 "or finished); kept while it runs.", retention_days=PROGRESS_DAYS,
                 since=Subscription.ended_at),
    PersonalData("lessons.deliveries", Delivery, Subscription.jid,
                 "Which lesson a learner got when: their progress. Counted from the course's "
                 "end; goes with the subscription at the latest.", retention_days=PROGRESS_DAYS,
                 expired=lambda cutoff: Delivery.subscription.in_(ended_before(cutoff))),
    PersonalData("lessons.quiz_answers", QuizAnswer, Subscription.jid,
                 "A learner's first answer to each quiz, and whether it was right: their "
                 "progress, and the course's figures. Counted from the course's end; goes "
                 "with the subscription at the latest.", retention_days=PROGRESS_DAYS,
                 expired=lambda cutoff: QuizAnswer.subscription.in_(ended_before(cutoff))),
]
