"""The classroom on SQLite and PostgreSQL: re-imports keep progress, each lesson goes into the
outbox once, stop withdraws consent, a learner's data is exported and erased."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bots import consent
from bots.outbox import OutboxMessage
from bots.people import PersonSetting
from bots.stanza_text import MAX_BODY_CHARACTERS
from plugins.lessons.classroom import LessonsError
from plugins.lessons.course import CourseSpec, LessonSpec, Quiz, message_characters
from plugins.lessons.stats import course_stats, erase_person, personal_data
from tests.plugins.lessons.conftest import spec

ALICE, BOB = "alice@example.com", "bob@example.com"


def test_reimporting_a_changed_course_keeps_progress(classroom):
    classroom.import_course(spec("a", "b", "c"))
    subscription = classroom.subscribe(ALICE, "kurs", "en").subscription
    assert [classroom.take_next(subscription).slug for _ in range(2)] == ["a", "b"]
    result = classroom.import_course(spec("new", "b", "a", "c"))  # "new" first, order changed
    assert (result.created, result.updated, result.retired) == (1, 3, 0)
    assert classroom.take_next(subscription).slug == "new"
    classroom.import_course(spec("a", "c"))  # "b" and "new" dropped
    progress = classroom.progress(subscription)
    assert (progress.delivered, progress.total) == (1, 2)
    assert classroom.take_next(subscription).slug == "c"


def test_the_daily_job_puts_each_lesson_into_the_outbox_once(classroom):
    classroom.import_course(spec("a", "b"))
    subscribed = classroom.subscribe(ALICE, "kurs", "en")
    subscription, due = subscribed.subscription, subscribed.due
    assert due == datetime(2027, 1, 4, 6, 30, tzinfo=UTC)  # 07:30 in Berlin, winter time
    classroom.clock.set(due)
    assert classroom.scheduler.run_due() == 1
    assert classroom.scheduler.run_due() == 0  # due again only tomorrow
    classroom.clock.advance(timedelta(days=5))  # down for days: one lesson, not a pile
    classroom.scheduler.run_due()
    classroom.clock.advance(timedelta(days=1))
    classroom.scheduler.run_due()  # the course has ended: a last message, then nothing
    classroom.clock.advance(timedelta(days=1))
    assert classroom.scheduler.run_due() == 0
    keys = [key for (key,) in OutboxMessage.select(OutboxMessage.key).order_by(
        OutboxMessage.id).tuples()]
    assert keys == [f"lesson:{subscription.id}:a", f"lesson:{subscription.id}:b",
                    f"lessons-end:{subscription.id}"]


def test_stop_withdraws_consent_and_ends_the_schedule(classroom):
    classroom.import_course(spec("a", "b"))
    subscription = classroom.subscribe(ALICE, "kurs", "en").subscription
    assert consent.has(ALICE, "lessons.daily:kurs")
    classroom.stop(subscription)
    assert not consent.has(ALICE, "lessons.daily:kurs")
    classroom.clock.advance(timedelta(days=2))
    assert classroom.scheduler.run_due() == 0 and OutboxMessage.select().count() == 0
    assert course_stats(subscription.course).by_state["stopped"] == 1
    again = classroom.subscribe(ALICE, "kurs", "en").subscription  # coming back keeps progress
    assert again.id == subscription.id and consent.has(ALICE, "lessons.daily:kurs")


def test_a_learner_s_data_is_exported_and_erased(classroom):
    classroom.import_course(spec("a", "b"))
    subscription = classroom.subscribe(ALICE, "kurs", "en").subscription
    classroom.take_next(subscription)
    assert personal_data(ALICE)["subscriptions"][0]["lessons_received"] == ["a"]
    assert erase_person(ALICE, classroom.bot) == 1
    assert personal_data(ALICE) == {"subscriptions": []}
    classroom.clock.advance(timedelta(days=2))
    assert classroom.scheduler.run_due() == 0  # no schedule left behind


def test_the_longest_lesson_the_course_check_takes_fits_in_one_message(classroom):
    """The check counts a lesson's texts plus FRAME_CHARACTERS for what the bot writes around
    them; the lesson as sent, in either language, stays within what a message carries."""
    quiz = Quiz("Was passt?", tuple(f"Antwort {letter}" for letter in "abcdef"), 0)
    lesson = LessonSpec("lang", "Ein langer Titel " * 5, "", "https://example.org/audio.mp3",
                        "https://example.org/bild.png", quiz)
    course = CourseSpec("kurs", "Ein langer Kurstitel " * 5, "de")
    room = MAX_BODY_CHARACTERS - message_characters(course.title, lesson)
    course.lessons.append(dataclasses.replace(lesson, text="x" * room))
    assert message_characters(course.title, course.lessons[0]) == MAX_BODY_CHARACTERS
    classroom.import_course(course)
    for learner, language in ((ALICE, "de"), (BOB, "en")):
        subscription = classroom.subscribe(learner, "kurs", language).subscription
        sent = classroom.lesson_text(subscription, classroom.take_next(subscription), language)
        assert len(sent) <= MAX_BODY_CHARACTERS


def test_daily_lessons_speak_the_language_the_learner_chose_or_came_back_in(classroom):
    """One learner chose German (`sprache de`) after subscribing in English; another came back
    writing German after a stop: both read the daily lesson's frame in German."""
    classroom.import_course(spec("a", "b"))
    due = classroom.subscribe(ALICE, "kurs", "en").due
    PersonSetting.create(jid=ALICE, language="de")  # what `sprache de` stores
    returning = classroom.subscribe(BOB, "kurs", "en").subscription
    classroom.stop(returning)
    classroom.subscribe(BOB, "kurs", "de")
    classroom.clock.set(due)
    classroom.scheduler.run_due()
    bodies = dict(OutboxMessage.select(OutboxMessage.recipient, OutboxMessage.body).tuples())
    assert set(bodies) == {ALICE, BOB}
    assert all(body.startswith("Kurs — Lektion 1 von 2: A") for body in bodies.values()), bodies


def test_coming_back_after_every_lesson_came_finishes_the_course(classroom):
    classroom.import_course(spec("a"))
    subscription = classroom.subscribe(ALICE, "kurs", "en").subscription
    classroom.take_next(subscription)
    classroom.stop(subscription)
    with pytest.raises(LessonsError) as refusal:
        classroom.subscribe(ALICE, "kurs", "en")
    assert refusal.value.render("en").startswith("You have finished Kurs.")
    assert classroom.taken(ALICE)[0].state == "finished"
