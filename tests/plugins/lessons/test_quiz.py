"""Quiz answers as learners type them: every choice of the example course is understood as
written and typed quickly (lower case, no punctuation, ue for ü, ss for ß), and the feedback
never doubles a punctuation mark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugins.lessons import EXAMPLE_COURSES
from plugins.lessons.classroom import choice_of, feedback
from plugins.lessons.course import load_courses
from tests.plugins.lessons.plain_words import technical_tokens

(EXAMPLE,) = load_courses(Path(str(EXAMPLE_COURSES)))
QUIZZES = [lesson.quiz for lesson in EXAMPLE.lessons]


def quickly(choice: str) -> str:
    """A choice as typed on a phone in a hurry: lower case, no punctuation or quotes."""
    return re.sub(r"[^\w\s]", "", choice).lower()


def umlauts_spelled_out(choice: str) -> str:
    return (choice.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
            .replace("Ü", "Ue"))


@pytest.mark.parametrize("quiz", QUIZZES, ids=[lesson.id for lesson in EXAMPLE.lessons])
def test_every_choice_of_the_example_course_is_understood_however_it_is_typed(quiz):
    for index, choice in enumerate(quiz.choices):
        for typed in (choice, quickly(choice), umlauts_spelled_out(choice), f"„{choice}“",
                      f"  {choice.upper()}  ", "abcdef"[index], f"{'ABCDEF'[index]})"):
            assert choice_of(quiz, typed) == index, (typed, choice)
    assert choice_of(quiz, "something else") is None and choice_of(quiz, "?") is None


def test_the_first_lesson_s_answers_in_words():
    begruessen, vorstellen = QUIZZES[:2]
    assert choice_of(begruessen, "Guten Morgen!") == begruessen.answer
    assert choice_of(vorstellen, "wie heißen sie") == vorstellen.answer
    assert choice_of(vorstellen, "Wie heissen Sie") == vorstellen.answer
    assert choice_of(QUIZZES[3], "8.30") == choice_of(QUIZZES[3], "8 30") == QUIZZES[3].answer


@pytest.mark.parametrize("language", ["de", "en"])
def test_feedback_ends_with_the_choice_as_written_and_adds_no_mark(language):
    for quiz in QUIZZES:
        for right in (True, False):
            text = feedback(quiz, right, language)
            assert technical_tokens(text, language) == [], text
            if not (quiz.right if right else quiz.wrong):  # our own words, not the trainer's
                assert text.endswith(quiz.choices[quiz.answer])
