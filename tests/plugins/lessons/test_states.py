"""Every learner command in every state of a subscription answers truthfully and leaves the state
it says: a table over the states (new, active, paused, stopped, finished) × the commands.

The course "Kurs" has three lessons; the clock stands at Monday 07:00 in Berlin, so the daily
lesson (07:30) comes "today". Each cell gets a learner of its own in the row's state.
"""

from __future__ import annotations

import pytest

from bots.dispatch import Context, Message
from bots.people import Person
from plugins.lessons.models import Delivery, Subscription
from tests.plugins.lessons.conftest import spec
from tests.plugins.lessons.plain_words import technical_tokens

COMMANDS = ["courses", "subscribe kurs", "next", "again", "progress", "time 18 Uhr",
            "timezone Europe/Vienna", "pause", "resume", "stop"]
NO_COURSE = 'You have no course yet. Write "courses" to see what is offered.'
TAKING = "You are taking Kurs: a lesson comes every day at 07:30 (Europe/Berlin)."
PAUSED = "Kurs is paused. To go on: resume"
LEFT = "You have left Kurs. To come back (your progress is kept): subscribe kurs"
FINISHED = 'You have finished Kurs. Write "courses" to find another one.'
STOPPING = "You have left Kurs; I will send no more lessons."
SIX_IN_THE_EVENING = "Your lessons come at 18:00 from now on (1 course)."
VIENNA = "Your time zone is Europe/Vienna from now on (1 course)."
BACK = "Welcome back to Kurs: your progress is kept (1 of 3 lessons)."

# state → command → (what the answer says, the state afterwards, lessons had afterwards)
TABLE = {
    "new": {
        "courses": ("• kurs — Kurs (3 lessons)\nTo take part, write e.g.: subscribe kurs",
                    None, 0),
        "subscribe kurs": ("You are subscribed to Kurs. I will send you one lesson a day at "
                           "07:30 (Europe/Berlin); the next comes today at 07:30.",
                           "active", 0),
        **{command: (NO_COURSE, None, 0) for command in COMMANDS[2:]},
    },
    "active": {
        "courses": ("• kurs — Kurs (3 lessons; subscribed)", "active", 1),
        "subscribe kurs": (TAKING, "active", 1),
        "next": ("Kurs — lesson 2 of 3: B", "active", 2),
        "again": ("Kurs — lesson 1 of 3: A", "active", 1),
        "progress": ("Kurs: lesson 1 of 3 — 33 % — quiz 0/0 right", "active", 1),
        "time 18 Uhr": (SIX_IN_THE_EVENING, "active", 1),
        "timezone Europe/Vienna": (VIENNA, "active", 1),
        "pause": (PAUSED, "paused", 1),
        "resume": (TAKING, "active", 1),
        "stop": (STOPPING, "stopped", 1),
    },
    "paused": {
        "courses": ("• kurs — Kurs (3 lessons; paused)", "paused", 1),
        "subscribe kurs": (BACK, "active", 1),
        "next": (PAUSED, "paused", 1),
        "again": ("Kurs — lesson 1 of 3: A", "paused", 1),
        "progress": ("Kurs: lesson 1 of 3 — 33 % — quiz 0/0 right (paused)", "paused", 1),
        "time 18 Uhr": (SIX_IN_THE_EVENING, "paused", 1),
        "timezone Europe/Vienna": (VIENNA, "paused", 1),
        "pause": (PAUSED, "paused", 1),
        "resume": ("Kurs goes on: the next lesson comes today at 07:30.", "active", 1),
        "stop": (STOPPING, "stopped", 1),
    },
    "stopped": {
        "courses": ("• kurs — Kurs (3 lessons; stopped)", "stopped", 1),
        "subscribe kurs": (BACK, "active", 1),
        "progress": ("Kurs: lesson 1 of 3 — 33 % — quiz 0/0 right (stopped)", "stopped", 1),
        **{command: (LEFT, "stopped", 1) for command in COMMANDS
           if command not in ("courses", "subscribe kurs", "progress")},
    },
    "finished": {
        "courses": ("• kurs — Kurs (3 lessons; finished)", "finished", 3),
        "again": ("Kurs — lesson 3 of 3: C", "finished", 3),
        "progress": ("Kurs: lesson 3 of 3 — 100 % — quiz 0/0 right (finished)", "finished", 3),
        **{command: (FINISHED, "finished", 3) for command in COMMANDS
           if command not in ("courses", "again", "progress")},
    },
}
ANSWERS_TO_RETURNING = "Lesson 2 right now: next"  # and `next` then gives lesson 2


def put_in_state(classroom, jid: str, state: str, language: str) -> None:
    """A learner who subscribed and had lesson 1, then paused, stopped or went to the end."""
    if state == "new":
        return
    subscription = classroom.subscribe(jid, "kurs", language).subscription
    for _ in range(4 if state == "finished" else 1):
        classroom.next_text(subscription, language)
    if state == "paused":
        classroom.pause(subscription)
    if state == "stopped":
        classroom.stop(subscription)


def say(classroom, jid: str, text: str, language: str = "en", room: str | None = None) -> str:
    """The command's answer, as the dispatcher gets it: its words parsed, its handler run."""
    word, _, rest = text.partition(" ")
    spec = next(spec for spec in classroom.plugin.commands() if spec.name == word)
    ctx = Context(Message(Person(jid, "customer", language), text, room), classroom.bot,
                  classroom.plugin)
    return spec.handler(ctx, **spec.parse(rest))


def state_of(jid: str) -> tuple[str | None, int]:
    subscription = Subscription.get_or_none(Subscription.jid == jid)
    if subscription is None:
        return None, 0
    return subscription.state, Delivery.select().where(
        Delivery.subscription == subscription).count()


@pytest.mark.parametrize("state", list(TABLE))
def test_every_command_answers_truthfully_in_every_state(classroom, state):
    classroom.import_course(spec("a", "b", "c"))
    wrong = []
    for number, command in enumerate(COMMANDS):
        answers = {}
        for language in ("en", "de"):
            jid = f"learner{number}-{language}@example.com"
            put_in_state(classroom, jid, state, language)
            answers[language] = answer = say(classroom, jid, command, language)
            if technical_tokens(answer, language):
                wrong.append(f"{command!r} in {language}: {answer!r} has "
                             f"{technical_tokens(answer, language)}")
        says, then, had = TABLE[state][command]
        jid = f"learner{number}-en@example.com"
        if says not in answers["en"] or state_of(jid) != (then, had):
            wrong.append(f"{command!r}: {answers['en']!r} → {state_of(jid)}; expected "
                         f"{says!r} → {(then, had)}")
        if command == "subscribe kurs" and state in ("paused", "stopped"):
            assert ANSWERS_TO_RETURNING in answers["en"]
            assert "lesson 2 of 3" in say(classroom, jid, "next")
    assert wrong == [], "\n".join(wrong)


def test_a_named_course_is_one_the_learner_takes_or_one_that_exists(classroom):
    classroom.import_course(spec("a", "b", "c"))
    assert say(classroom, "new@example.com", "progress kurs") == (
        "You do not take part in Kurs. To take part: subscribe kurs")
    assert say(classroom, "new@example.com", "next klingon").startswith(
        'There is no course "klingon".')
    put_in_state(classroom, "paused@example.com", "paused", "en")
    assert say(classroom, "paused@example.com", "pause kurs") == PAUSED


def test_in_a_group_room_courses_do_not_tell_others_what_the_asker_takes(classroom):
    classroom.import_course(spec("a", "b", "c"))
    put_in_state(classroom, "paused@example.com", "paused", "en")
    answer = say(classroom, "paused@example.com", "courses", room="team@conference.example.com")
    assert "• kurs — Kurs (3 lessons)\n" in answer
