"""A learner's journey through the real ejabberd, on a clock the test moves: subscribe, a lesson
now, lessons on the following days at 07:30 local time (across the change to summer time in
Berlin, and in New York), quiz, progress, pause and resume, stop; lessons in the language the
learner chose; and a whole first hour with the example course, in German and in English, where
no answer shows the program's own tokens."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bots.app import schemas
from bots.outbox import OutboxMessage
from bots.scheduler import FakeClock, Schedule
from bots.storage import Storage
from bots.testing import kill_during, run_environment, run_until, services_over
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.course import load_courses
from plugins.lessons.models import Delivery
from tests.plugins.lessons.plain_words import technical_tokens


QUIET = 2.5  # seconds: the scheduler looks every second, the outbox every half second

COURSE = """
id: kurs
title: Testkurs
language: de
description: Vier Lektionen.
lessons:
""" + "".join(f"""
  - id: l{number}
    title: Lektion {number}
    text: Inhalt {number}.
    quiz:
      question: Frage {number}?
      choices: ["falsch", "richtig {number}", "auch falsch"]
      answer: "richtig {number}"
""" for number in range(1, 6))


@pytest.fixture
def course_file(tmp_path) -> Path:
    path = tmp_path / "kurs.yaml"
    path.write_text(COURSE, encoding="utf-8")
    return path


async def everything_received(client) -> list[str]:
    """The bodies of all messages that reached the client so far, and of those still on their
    way through the server: it delivers to one client in order, so they come before a message
    the client sends itself now."""
    client.say(client.boundjid.bare, "sentinel")
    bodies = []
    while (body := (await client.next_message())["body"]) != "sentinel":
        bodies.append(body)
    return bodies


async def quiet(client, sender: str) -> None:
    with pytest.raises(TimeoutError):
        message = await client.next_message(sender, timeout=QUIET)
        pytest.fail(f"unexpected message: {message['body']!r}")


async def test_a_learner_gets_one_lesson_a_day_at_local_time_across_dst(
        make_bot, chat_client, course_file):
    # Friday 26 March 2027, noon in Berlin; summer time begins on Sunday the 28th at 02:00.
    clock = FakeClock(datetime(2027, 3, 26, 11, 0, tzinfo=UTC))
    plugin = Lessons({**Lessons.default_config, "courses": str(course_file)})
    bot = await make_bot(plugins=[plugin], clock=clock, BOT_TIMEZONE="Europe/Berlin")
    jid = bot.boundjid.bare
    berlin, new_york = await chat_client(), await chat_client()

    assert "Testkurs (5 lessons)" in await berlin.ask(jid, "courses")
    subscribed = await berlin.ask(jid, "subscribe kurs")
    assert "at 07:30 (Europe/Berlin)" in subscribed and "to stop: stop" in subscribed
    assert "Lektion 1" in await berlin.ask(jid, "next")
    assert (await berlin.ask(jid, "richtig 1")) == "Right: richtig 1"
    assert "not quite" in (await berlin.ask(jid, "a")).lower()  # a second try: feedback only
    assert await berlin.ask(jid, "how far am I?") == (
        "Testkurs: lesson 1 of 5 — 20 % — quiz 1/1 right")
    assert "Lektion 1" in await berlin.ask(jid, "again")

    await new_york.ask(jid, "subscribe kurs")
    assert "America/New_York" in await new_york.ask(jid, "timezone America/New_York")

    # Saturday 07:30 in Berlin is 06:30 UTC (winter time): not a minute earlier
    clock.set(datetime(2027, 3, 27, 6, 29, tzinfo=UTC))
    await quiet(berlin, jid)
    clock.set(datetime(2027, 3, 27, 6, 30, tzinfo=UTC))
    assert "lesson 2 of 5: Lektion 2" in (await berlin.next_message(jid))["body"]
    await quiet(berlin, jid)
    # New York (summer time since 14 March): 07:30 EDT is 11:30 UTC; its first lesson
    clock.set(datetime(2027, 3, 27, 11, 30, tzinfo=UTC))
    assert "lesson 1 of 5: Lektion 1" in (await new_york.next_message(jid))["body"]

    # Sunday: summer time in Berlin since 02:00, so 07:30 is 05:30 UTC
    clock.set(datetime(2027, 3, 28, 5, 30, tzinfo=UTC))
    assert "Lektion 3" in (await berlin.next_message(jid))["body"]
    assert (await berlin.ask(jid, "b")) == "Right: richtig 3"

    assert "paused" in await berlin.ask(jid, "pause")
    clock.set(datetime(2027, 3, 29, 5, 30, tzinfo=UTC))
    await quiet(berlin, jid)
    assert "goes on" in await berlin.ask(jid, "resume")
    clock.set(datetime(2027, 3, 30, 5, 30, tzinfo=UTC))
    assert "Lektion 4" in (await berlin.next_message(jid))["body"]
    assert await berlin.ask(jid, "wie weit bin ich?") == (
        "Testkurs: lesson 4 of 5 — 80 % — quiz 2/2 right")

    assert "no more lessons" in await berlin.ask(jid, "stop")
    clock.set(datetime(2027, 3, 31, 5, 30, tzinfo=UTC))
    await quiet(berlin, jid)
    # New York got one lesson a day meanwhile (07:30 EDT is 11:30 UTC), none twice
    bodies = []
    for _ in range(4):
        bodies.append((await new_york.next_message(jid))["body"])
    assert [body.split(": ")[1].split("\n")[0] for body in bodies] == [
        "Lektion 2", "Lektion 3", "Lektion 4", "Lektion 5"]
    await quiet(new_york, jid)


async def test_after_downtime_one_lesson_comes_not_a_pile(make_bot, chat_client, course_file,
                                                          tmp_path):
    clock = FakeClock(datetime(2027, 6, 1, 8, 0, tzinfo=UTC))
    database = f"sqlite:///{tmp_path / 'lessons.db'}"
    plugin = Lessons({**Lessons.default_config, "courses": str(course_file)})
    bot = await make_bot(plugins=[plugin], clock=clock, DATABASE_URL=database)
    jid = bot.boundjid.bare
    learner = await chat_client()
    await learner.ask(jid, "subscribe kurs")
    await bot.stop()

    clock.advance(timedelta(days=3))  # the bot was down for three days
    plugin = Lessons({**Lessons.default_config, "courses": str(course_file)})
    await make_bot(plugins=[plugin], clock=clock, DATABASE_URL=database)
    assert "lesson 1 of 5" in (await learner.next_message(jid, timeout=15))["body"]
    await quiet(learner, jid)
    clock.advance(timedelta(days=1))
    assert "lesson 2 of 5" in (await learner.next_message(jid, timeout=15))["body"]


async def test_the_end_of_a_course_says_so_and_offers_the_next(make_bot, chat_client,
                                                              course_file, tmp_path):
    (course_file.parent / "zwei.yaml").write_text(
        COURSE.replace("id: kurs", "id: zwei").replace("Testkurs", "Zweiter Kurs"),
        encoding="utf-8")
    clock = FakeClock(datetime(2027, 6, 1, 8, 0, tzinfo=UTC))
    plugin = Lessons({**Lessons.default_config, "courses": str(course_file.parent)})
    bot = await make_bot(plugins=[plugin], clock=clock)
    jid = bot.boundjid.bare
    learner = await chat_client()
    await learner.ask(jid, "subscribe kurs")
    for _ in range(5):
        await learner.ask(jid, "next")
    clock.advance(timedelta(days=1))
    end = (await learner.next_message(jid, timeout=15))["body"]
    assert "finished Testkurs" in end and "subscribe zwei" in end
    assert "(finished)" in await learner.ask(jid, "progress")


async def test_lessons_follow_the_language_the_learner_chooses(make_bot, chat_client,
                                                               course_file):
    """One learner writes `sprache de` after subscribing in English; another stops and comes
    back from a German client: `next`, `again` and the daily lesson speak German to both."""
    clock = FakeClock(datetime(2027, 6, 1, 8, 0, tzinfo=UTC))
    plugin = Lessons({**Lessons.default_config, "courses": str(course_file)})
    bot = await make_bot(plugins=[plugin], clock=clock, BOT_TIMEZONE="Europe/Berlin")
    jid = bot.boundjid.bare
    chose, came_back = await chat_client(), await chat_client()

    await chose.ask(jid, "subscribe kurs")
    assert "Testkurs — lesson 1 of 5" in await chose.ask(jid, "next")
    await chose.ask(jid, "sprache de")
    lesson = await chose.ask(jid, "weiter")
    assert "Testkurs — Lektion 2 von 5" in lesson and "(Antworten Sie mit dem" in lesson
    assert "Testkurs — Lektion 2 von 5" in await chose.ask(jid, "nochmal")
    await came_back.ask(jid, "subscribe kurs", language="en")
    await came_back.ask(jid, "stop", language="en")
    await came_back.ask(jid, "abonnieren kurs", language="de")

    clock.set(datetime(2027, 6, 2, 5, 30, tzinfo=UTC))  # 07:30 in Berlin
    assert "Testkurs — Lektion 3 von 5" in (await chose.next_message(jid))["body"]
    assert "Testkurs — Lektion 1 von 5" in (await came_back.next_message(jid))["body"]


def course_texts() -> list[str]:
    """The example course's own words (the trainer's, in German whatever the reader's
    language)."""
    (course,) = load_courses(Path(str(EXAMPLE_COURSES)))
    texts = [course.title, course.description]
    for lesson in course.lessons:
        quiz = lesson.quiz
        texts += [lesson.title, lesson.text.strip(), quiz.question, *quiz.choices]
        texts += [feedback for feedback in (quiz.right, quiz.wrong) if feedback]
    return texts


def first_hour(language: str, now: datetime) -> list[tuple[str, str]]:
    """What a new learner writes in their first hour with the example course, and what each
    answer must say; the daily time becomes 7:00 (German) or 19:00 (English) in Vienna."""
    vienna = now.astimezone(ZoneInfo("Europe/Vienna")).time()
    if language == "de":
        day = "heute" if vienna < time(7) else "morgen"
        return [
            ("kurse", "• deutsch-alltag — Deutsch im Alltag (12 Lektionen): Zwölf"),
            ("abonnieren deutsch-alltag", "Lektion 1 sofort: weiter"),
            ("weiter", "Deutsch im Alltag — Lektion 1 von 12: Begrüßen"),
            ("guten morgen", "Genau! Bis etwa 11 Uhr"),  # the course's own feedback
            ("weiter", "Lektion 2 von 12: Sich vorstellen"),
            ("b", "Nicht ganz. Die richtige Antwort: Wie heißen Sie?"),
            ("fortschritt", "Deutsch im Alltag: Lektion 2 von 12 — 17 % — Quiz 1/2 richtig"),
            ("uhrzeit 7 Uhr", "Ihre Lektionen kommen ab jetzt um 07:00 (1 Kurs)."),
            ("zeitzone Europe/Vienna", "Ihre Zeitzone ist ab jetzt Europe/Vienna (1 Kurs)."),
            ("pausieren", "Deutsch im Alltag ist pausiert. Weiter geht es mit: fortsetzen"),
            ("weiter", "Deutsch im Alltag ist pausiert. Weiter geht es mit: fortsetzen"),
            ("fortsetzen", f"Die nächste Lektion kommt {day} um 07:00."),
            ("nochmal", "Lektion 2 von 12: Sich vorstellen"),
            ("abmelden", "ich schicke keine Lektionen mehr"),
            ("fortschritt", "Lektion 2 von 12 — 17 % — Quiz 1/2 richtig (abgemeldet)"),
            ("abonnieren deutsch-alltag", "Lektion 3 sofort: weiter"),
            ("weiter", "Lektion 3 von 12: Zahlen bis 20"),
            ("hilfe", "• uhrzeit <Uhrzeit> — wann Ihre tägliche Lektion kommt"),
            ("hilfe weiter", "weiter [Kurs]\ndie nächste Lektion sofort"),
            ("uhrzeit", "Uhrzeit fehlt. Schreiben Sie: uhrzeit <Uhrzeit>"),
            ("abonnieren klingonisch", "Einen Kurs „klingonisch“ gibt es nicht."),
        ]
    day = "today" if vienna < time(19) else "tomorrow"
    return [
        ("courses", "• deutsch-alltag — Deutsch im Alltag (12 lessons): Zwölf"),
        ("subscribe deutsch-alltag", "Lesson 1 right now: next"),
        ("next", "Deutsch im Alltag — lesson 1 of 12: Begrüßen"),
        ("Guten Morgen!", "Genau! Bis etwa 11 Uhr"),
        ("next", "lesson 2 of 12: Sich vorstellen"),
        ("b", "Not quite. The right answer: Wie heißen Sie?"),
        ("progress", "Deutsch im Alltag: lesson 2 of 12 — 17 % — quiz 1/2 right"),
        ("time 19h", "Your lessons come at 19:00 from now on (1 course)."),
        ("timezone Europe/Vienna", "Your time zone is Europe/Vienna from now on (1 course)."),
        ("pause", "Deutsch im Alltag is paused. To go on: resume"),
        ("next", "Deutsch im Alltag is paused. To go on: resume"),
        ("resume", f"the next lesson comes {day} at 19:00."),
        ("again", "lesson 2 of 12: Sich vorstellen"),
        ("stop", "I will send no more lessons"),
        ("progress", "lesson 2 of 12 — 17 % — quiz 1/2 right (stopped)"),
        ("subscribe deutsch-alltag", "Lesson 3 right now: next"),
        ("next", "lesson 3 of 12: Zahlen bis 20"),
        ("help", "• time <time> — when your daily lesson comes"),
        ("help next", "next [course]\nthe next lesson now"),
        ("time", "time is missing. Write: time <time>"),
        ("subscribe klingon", 'There is no course "klingon".'),
    ]


@pytest.mark.parametrize("language", ["de", "en"])
async def test_a_first_hour_with_the_example_course_reads_as_plain_words(make_bot, chat_client,
                                                                         language):
    now = datetime.now(UTC)
    bot = await make_bot(plugins=[Lessons()], clock=FakeClock(now))  # no lesson comes meanwhile
    jid = bot.boundjid.bare
    learner = await chat_client()
    unexpected = []
    for words, expected in first_hour(language, now):
        answer = await learner.ask(jid, words, language=language)
        tokens = technical_tokens(answer, language, course_texts())
        if expected not in answer or tokens:
            unexpected.append(f"{words!r} → {answer!r}: expected {expected!r}; tokens {tokens}")
    assert unexpected == [], "\n".join(unexpected)


@pytest.mark.timeout(600)
async def test_kill_9_in_the_middle_of_a_delivery_run_sends_each_lesson_once(
        xmpp_server, make_account, chat_client, database_url, tmp_path):
    """200 lessons due at once (4 learners × 50 courses); the bot process is killed twice
    while it delivers them, then started again: every learner has each lesson exactly once."""
    learners = [await chat_client(*make_account("learner")) for _ in range(4)]
    folder = tmp_path / "courses"
    folder.mkdir()
    for number in range(50):
        (folder / f"k{number}.yaml").write_text(
            COURSE.replace("id: kurs", f"id: k{number}").replace("Testkurs", f"Kurs {number}"),
            encoding="utf-8")
    storage = Storage(database_url)
    storage.migrate(schemas([Lessons()]))
    plugin = Lessons()
    classroom = plugin.make_classroom(services_over(storage, [plugin],
                                                    BOT_TIMEZONE="Europe/Berlin"))
    for course in load_courses(folder):
        classroom.import_course(course)
        for learner in learners:
            classroom.subscribe(learner.boundjid.bare, course.id, "en")
    Schedule.update(next_due_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
                    ).execute()  # all due now
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          database_url, OUTBOX_RATE="40", PLUGINS_LESSONS_COURSES=str(folder))

    def started() -> int:
        return OutboxMessage.select().where(OutboxMessage.state != "pending").count()

    await kill_during(env, started, [30, 110])
    await run_until(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state == "done").count() == 200)

    for learner in learners:  # every row is done: the server has taken each message
        titles = Counter(body.split(" — ")[0] for body in await everything_received(learner))
        assert set(titles) == {f"Kurs {number}" for number in range(50)}
        assert set(titles.values()) == {1}, titles.most_common(3)
    assert Delivery.select().count() == 200
    storage.close()
