"""Courses written in Markdown: YAML front matter for the course, one `##` heading per lesson.

    ---
    id: deutsch-kurz
    title: Deutsch kurz
    language: de
    ---

    ## Begrüßen {#begruessen}

    „Guten Morgen“ sagt man bis etwa 11 Uhr.

    Link: https://example.org/audio/1.mp3

    ### Quiz: Was sagen Sie um 8 Uhr?
    - [x] Guten Morgen
    - [ ] Gute Nacht
    Right: Genau!
    Wrong: Am Morgen sagt man „Guten Morgen“.

The heading's `{#id}` is the lesson's stable id; `Link:` and `Image:` lines, and a `### Quiz:`
section whose right choice is ticked (`[x]`), are optional. The result has the same shape (and
the same line numbers for errors) as a YAML course, so one checker serves both.
"""

from __future__ import annotations

import re

import yaml

HEADING = re.compile(r"^##\s+(?P<title>.*?)\s*(\{#(?P<id>[^}]*)\})?\s*$")
QUIZ = re.compile(r"^###\s+Quiz:?\s*(?P<question>.*)$", re.IGNORECASE)
CHOICE = re.compile(r"^[-*]\s+\[(?P<mark>[ xX])\]\s+(?P<text>.+)$")
FIELD = re.compile(r"^(?P<key>Link|Image|Right|Wrong):\s*(?P<value>.+)$", re.IGNORECASE)


def parse(text: str, loader, mapping: type) -> tuple[dict, list[tuple[int, str]]]:
    """(the course as YAML would give it, [(line, problem)]). `loader` is the line-keeping YAML
    loader of course.py (for the front matter), `mapping` its line-keeping dict."""
    lines = text.split("\n")
    problems: list[tuple[int, str]] = []
    if not lines or lines[0].strip() != "---":
        return None, [(1, "a Markdown course starts with front matter between --- lines")]
    try:
        end = next(number for number in range(1, len(lines)) if lines[number].strip() == "---")
    except StopIteration:
        return None, [(1, "the front matter has no closing --- line")]
    course = yaml.load("\n" * 1 + "\n".join(lines[1:end]), Loader=loader) or {}
    if not isinstance(course, dict):
        return None, [(2, "the front matter must be fields like id: …, title: …")]
    lessons = []
    lesson = quiz = None
    body: list[str] = []

    def finish_lesson():
        if lesson is not None and body:
            lesson["text"] = "\n".join(body).strip()
            if not lesson["text"]:
                del lesson["text"]

    for number in range(end + 1, len(lines)):
        line, line_number = lines[number].rstrip(), number + 1
        heading = HEADING.match(line)
        if heading:
            finish_lesson()
            lesson, quiz, body = _located(mapping, line_number), None, []
            _put(lesson, "title", heading["title"], line_number)
            if heading["id"] is not None:
                _put(lesson, "id", heading["id"].strip(), line_number)
            lessons.append(lesson)
            continue
        if lesson is None:
            if line.strip():
                problems.append((line_number, "text before the first lesson (## heading)"))
            continue
        quiz_heading = QUIZ.match(line)
        if quiz_heading:
            quiz = _located(mapping, line_number)
            _put(quiz, "question", quiz_heading["question"], line_number)
            _put(quiz, "choices", [], line_number)
            _put(lesson, "quiz", quiz, line_number)
            continue
        field = FIELD.match(line)
        choice = CHOICE.match(line) if quiz is not None else None
        if choice:
            quiz["choices"].append(choice["text"].strip())
            if choice["mark"] != " ":
                if "answer" in quiz:
                    problems.append((line_number, "more than one choice is ticked [x]"))
                _put(quiz, "answer", choice["text"].strip(), line_number)
        elif field and field["key"].lower() in ("right", "wrong") and quiz is not None:
            quiz.setdefault("feedback", {})[field["key"].lower()] = field["value"].strip()
        elif field and field["key"].lower() in ("link", "image"):
            _put(lesson, field["key"].lower(), field["value"].strip(), line_number)
        elif quiz is not None and line.strip():
            problems.append((line_number, "in a quiz only choices (- [ ] …, - [x] …) and "
                             "Right:/Wrong: lines may follow"))
        elif quiz is None:
            body.append(line)
    finish_lesson()
    _put(course, "lessons", lessons, end + 2)
    return course, problems


def _located(mapping: type, line: int):
    located = mapping()
    located.line = line
    located.key_lines = {}
    return located


def _put(mapping, key: str, value, line: int) -> None:
    mapping[key] = value
    if hasattr(mapping, "key_lines"):
        mapping.key_lines[key] = line
