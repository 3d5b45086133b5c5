"""What trainers see of a course (subscribers, progress per lesson, quiz results, drop-outs),
and a learner's own data for the privacy export."""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from plugins.lessons.classroom import JOB, schedule_key
from plugins.lessons.models import (ACTIVE, FINISHED, PAUSED, STOPPED, Course, Delivery, Lesson,
                                    QuizAnswer, Subscription)


@dataclass(frozen=True)
class LessonFigures:
    position: int
    slug: str
    reached: int  # learners who got it
    answered: int
    right: int


@dataclass(frozen=True)
class CourseFigures:
    course: Course
    by_state: dict[str, int]
    lessons: list[LessonFigures]

    @property
    def subscribers(self) -> int:
        return sum(self.by_state.values())


def course_stats(course: Course) -> CourseFigures:
    by_state = {state: 0 for state in (ACTIVE, PAUSED, FINISHED, STOPPED)}
    for state, count in (Subscription.select(Subscription.state, peewee.fn.COUNT(Subscription.id))
                         .where(Subscription.course == course)
                         .group_by(Subscription.state).tuples()):
        by_state[state] = count
    reached = dict(Delivery.select(Delivery.lesson, peewee.fn.COUNT(Delivery.id))
                   .join(Lesson).where(Lesson.course == course)
                   .group_by(Delivery.lesson).tuples())
    answered, right = {}, {}
    for lesson, correct, count in (QuizAnswer.select(QuizAnswer.lesson, QuizAnswer.correct,
                                                     peewee.fn.COUNT(QuizAnswer.id))
                                   .join(Lesson).where(Lesson.course == course)
                                   .group_by(QuizAnswer.lesson, QuizAnswer.correct).tuples()):
        answered[lesson] = answered.get(lesson, 0) + count
        if correct:
            right[lesson] = count
    lessons = [LessonFigures(lesson.position, lesson.slug, reached.get(lesson.id, 0),
                             answered.get(lesson.id, 0), right.get(lesson.id, 0))
               for lesson in course.lessons.where(~Lesson.retired).order_by(Lesson.position)]
    return CourseFigures(course, by_state, lessons)


def summary(figures: CourseFigures) -> str:
    """For chat: a few lines."""
    states = figures.by_state
    total = len(figures.lessons)
    lines = [f"{figures.course.title}: {figures.subscribers} learners — {states[ACTIVE]} active, "
             f"{states[PAUSED]} paused, {states[FINISHED]} finished, {states[STOPPED]} dropped out"]
    for lesson in figures.lessons:
        quiz = f", quiz {lesson.right}/{lesson.answered} right" if lesson.answered else ""
        lines.append(f"{lesson.position}/{total} {lesson.slug}: {lesson.reached} reached{quiz}")
    return "\n".join(lines)


def chart(figures: CourseFigures, path) -> None:
    """A PNG: learners reached per lesson (bars) and the share of right quiz answers."""
    import matplotlib
    matplotlib.use("Agg")  # no screen needed
    from matplotlib import pyplot

    positions = [lesson.position for lesson in figures.lessons]
    figure, reached_axis = pyplot.subplots(figsize=(max(6, len(positions) * 0.6), 4))
    reached_axis.bar(positions, [lesson.reached for lesson in figures.lessons],
                     color="#4a7ab0", label="learners reached")
    reached_axis.set_xlabel("lesson")
    reached_axis.set_ylabel("learners reached")
    reached_axis.set_xticks(positions)
    share_axis = reached_axis.twinx()
    share_axis.plot(positions, [100 * lesson.right / lesson.answered if lesson.answered else None
                                for lesson in figures.lessons],
                    color="#d0802a", marker="o", label="quiz right (%)")
    share_axis.set_ylim(0, 100)
    share_axis.set_ylabel("quiz answers right (%)")
    reached_axis.set_title(f"{figures.course.title}: {figures.subscribers} learners, "
                           f"{figures.by_state[STOPPED]} dropped out")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def personal_data(jid: str) -> dict:
    subscriptions = Subscription.select(Subscription, Course).join(Course).where(
        Subscription.jid == jid)
    return {"subscriptions": [
        {"course": subscription.course.slug, "state": subscription.state,
         "time": subscription.time, "timezone": subscription.timezone,
         "subscribed_at": subscription.subscribed_at.isoformat(),
         "lessons_received": [delivery.lesson.slug for delivery in subscription.deliveries],
         "quiz_answers": [{"lesson": answer.lesson.slug, "correct": answer.correct}
                          for answer in subscription.answers]}
        for subscription in subscriptions]}


def erase_person(jid: str, bot) -> int:
    """Subscriptions go, and with them (cascade) deliveries and answers; schedules too."""
    ids = [s.id for s in Subscription.select(Subscription.id).where(Subscription.jid == jid)]
    if not ids:
        return 0
    bot.cancel(JOB, *map(schedule_key, ids))
    QuizAnswer.delete().where(QuizAnswer.subscription.in_(ids)).execute()
    Delivery.delete().where(Delivery.subscription.in_(ids)).execute()
    return Subscription.delete().where(Subscription.id.in_(ids)).execute()
