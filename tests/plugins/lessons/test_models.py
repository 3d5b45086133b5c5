"""The lessons plugin's declared personal data, through the framework's daily purge with a
clock the test sets, on SQLite and PostgreSQL: a learner's subscription and progress go a
year after their course ended; a course still taken, or paused, stays whatever its age."""

from __future__ import annotations

from datetime import timedelta

from bots.retention import purge
from plugins.lessons import Lessons
from plugins.lessons.models import Delivery, Lesson, QuizAnswer, Subscription
from tests.plugins.lessons.conftest import spec

KINDS = Lessons.personal_data_kinds
DEFAULTS = {kind.kind: kind.retention_days for kind in KINDS}


def learner(classroom, jid: str, ended_days_ago: float | None = None) -> None:
    """A learner who got a lesson and answered its quiz; their course ended `ended_days_ago`
    before the clock's now (None: they take it still)."""
    subscription = classroom.subscribe(jid, "kurs", "en").subscription
    lesson = classroom.take_next(subscription)
    QuizAnswer.create(subscription=subscription, lesson=lesson, choice=0, correct=True)
    if ended_days_ago is not None:
        classroom.stop(subscription)
        Subscription.update(ended_at=ago(classroom, ended_days_ago)).where(
            Subscription.id == subscription.id).execute()


def ago(classroom, days: float):
    return (classroom.clock.now() - timedelta(days=days)).replace(tzinfo=None)


def learners(model) -> set[str]:
    query = model.select(Subscription.jid)
    return {jid for (jid,) in (query if model is Subscription else query.join(Subscription))
            .tuples()}


def test_progress_goes_a_year_after_the_course_ended(classroom):
    classroom.import_course(spec("a", "b"))
    learner(classroom, "old@example.com", ended_days_ago=366)
    learner(classroom, "recent@example.com", ended_days_ago=364)
    learner(classroom, "learning@example.com")
    learner(classroom, "paused@example.com")
    classroom.pause(Subscription.get(Subscription.jid == "paused@example.com"))
    long_ago = ago(classroom, 730)  # only the course's end counts
    Subscription.update(subscribed_at=long_ago).execute()
    Delivery.update(delivered_at=long_ago).execute()
    QuizAnswer.update(answered_at=long_ago).execute()
    now = classroom.clock.now()
    counts = purge(KINDS, DEFAULTS, now, dry_run=True)
    assert purge(KINDS, DEFAULTS, now) == counts == {
        "lessons.subscriptions": 1, "lessons.deliveries": 1, "lessons.quiz_answers": 1}
    staying = {"recent@example.com", "learning@example.com", "paused@example.com"}
    assert learners(Subscription) == learners(Delivery) == learners(QuizAnswer) == staying
    assert Lesson.select().count() == 2  # the course is the company's, not the learner's
