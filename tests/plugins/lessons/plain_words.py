"""What a customer must never read in an answer: the program's own tokens instead of words.

Decided here: square brackets mark an optional part only in the usage lines of `help` ("weiter
[Kurs]"), and angle brackets a required one there and in the "Write: …" of a usage error; in
both, the brackets hold a label translated for the reader ("Kurs", "Uhrzeit") or the words to
choose from ("de|en"). Anywhere else a bracket is a leak. The course's own texts (its lessons,
quizzes and links) are the trainer's words, not the bot's, and are not read.
"""

from __future__ import annotations

import re
from typing import Iterable

LABELS = {"en": {"course", "time", "time zone", "command"},
          "de": {"Kurs", "Uhrzeit", "Zeitzone", "Befehl"}}
CHOICES = re.compile(r"^\w+(\|\w+)+$")  # "de|en": the words to type, not a code
CHOICES_IN_TEXT = re.compile(r"\b\w+(?:\|\w+)+\b")
LINK = re.compile(r"https?://\S+")
# The standard phrases' English words that a German answer must not contain.
ENGLISH = {"lesson", "lessons", "course", "courses", "subscribe", "next", "again", "progress",
           "resume", "timezone", "right", "answer", "today", "tomorrow", "the", "your", "you",
           "of", "at", "on", "is", "and", "to"}


def technical_tokens(answer: str, language: str, help_answer: bool = False,
                     course_texts: Iterable[str] = ()) -> list[str]:
    """The tokens in `answer` a customer should not read (empty: a clean answer)."""
    found = []
    text = LINK.sub(" ", answer)
    for course_text in sorted(course_texts, key=len, reverse=True):  # its closing mark stays,
        mark = course_text[-1:] if course_text[-1:] in ".!?" else ""  # so "Sie?." shows
        text = text.replace(course_text, "…" + mark)
    for number, line in enumerate(text.splitlines()):
        usage_line = help_answer and (number == 0 or line.startswith("• "))
        for inner in re.findall(r"\[([^\[\]]*)\]", line):
            if not (usage_line and _label_or_choices(inner, language)):
                found.append(f"[{inner}]")
        found += re.findall(r"[\[\]]", re.sub(r"\[[^\[\]]*\]", "", line))  # unpaired
        for inner in re.findall(r"<([^<>]*)>", line):
            if not _label_or_choices(inner, language):
                found.append(f"<{inner}>")
    found += re.findall(r"\bNone\b|[{}]|(?<!\w)'[^'\n]+'(?!\w)|[.!?][.!?]", text)
    found += re.findall(r"\b(?:de|en)\b", CHOICES_IN_TEXT.sub(" ", text))
    if language == "de":
        found += [word for word in re.findall(r"[^\W\d_]+", text) if word.lower() in ENGLISH]
    return found


def _label_or_choices(inner: str, language: str) -> bool:
    return inner in LABELS[language] or bool(CHOICES.match(inner))
