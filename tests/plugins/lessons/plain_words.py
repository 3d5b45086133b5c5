"""What a learner must never read: `bots.testing.technical_tokens` with the lessons plugin's
labels and the English words of its standard phrases. The course's own texts (lessons,
quizzes, links) are the trainer's words, not the bot's, and are left out."""

from __future__ import annotations

from typing import Iterable

from bots import testing

LABELS = {"en": {"course", "time", "time zone", "command", "number", "me"},
          "de": {"Kurs", "Uhrzeit", "Zeitzone", "Befehl", "Nummer", "mich"}}
ENGLISH = {"lesson", "lessons", "course", "courses", "subscribe", "next", "again", "progress",
           "resume", "timezone", "right", "answer", "today", "tomorrow", "the", "your", "you",
           "of", "at", "on", "is", "and", "to"}


def technical_tokens(answer: str, language: str, course_texts: Iterable[str] = ()
                     ) -> list[str]:
    return testing.technical_tokens(answer, language, LABELS[language], ENGLISH, course_texts)
