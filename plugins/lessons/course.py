"""Course files: what a trainer writes by hand, checked with the file and line of every error.

A course is a YAML file, or Markdown with front matter (see markdown.py), or a folder of them:

    id: deutsch-alltag            # stable: learners' progress hangs on it
    title: Deutsch im Alltag
    language: de
    description: Zehn kurze Lektionen für jeden Tag.
    time: "07:30"                 # optional: default delivery time and zone for learners
    timezone: Europe/Berlin
    lessons:
      - id: begruessen            # stable too: re-importing a changed course keeps progress
        title: Begrüßen
        text: |
          „Guten Morgen“ sagt man bis etwa 11 Uhr …
        link: https://example.org/audio/1.mp3     # optional
        image: https://example.org/img/1.png      # optional
        quiz:                                     # optional
          question: Was sagen Sie um 8 Uhr?
          choices: [Guten Morgen, Gute Nacht, Tschüss]
          answer: Guten Morgen
          feedback: { right: Genau!, wrong: Um 8 Uhr sagt man „Guten Morgen“. }
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bots.i18n import LANGUAGES
from bots.scheduler import zone
from bots.stanza_text import MAX_BODY_CHARACTERS, without_forbidden_characters
from plugins.lessons import markdown

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
COURSE_KEYS = {"id", "title", "language", "description", "time", "timezone", "lessons"}
LESSON_KEYS = {"id", "title", "text", "link", "image", "quiz"}
QUIZ_KEYS = {"question", "choices", "answer", "feedback"}
MAX_CHOICES = 6
# What the bot writes around a lesson's own texts when it sends it (the heading with course and
# lesson number, the letters of the choices, the answer hint, line breaks), generously counted
# for any language: the test of classroom.lesson_text holds it to that.
FRAME_CHARACTERS = 300


@dataclass(frozen=True)
class Quiz:
    question: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    right: str | None = None
    wrong: str | None = None


_SPELLINGS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def comparable(text: str) -> str:
    """The form in which a typed answer and a quiz choice are compared: learners type on
    phones, so case, punctuation, quotes, spaces and the spellings ue/ü, ss/ß do not count
    ("wie heissen sie" answers "Wie heißen Sie?", "8.30" and "830" answer "8:30")."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_SPELLINGS)  # ß: ss
    return "".join(character for character in folded if not character.isspace()
                   and not unicodedata.category(character).startswith("P"))


@dataclass(frozen=True)
class LessonSpec:
    id: str
    title: str
    text: str
    link: str | None = None
    image: str | None = None
    quiz: Quiz | None = None


@dataclass
class CourseSpec:
    id: str
    title: str
    language: str
    description: str = ""
    time: str | None = None
    timezone: str | None = None
    lessons: list[LessonSpec] = field(default_factory=list)
    source: str = ""


class CourseError(ValueError):
    """Everything wrong with one or more course files, one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Mapping(dict):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int
    key_lines: dict


class _LineMappings:
    def construct_mapping(self, node, deep=False):
        mapping = _Mapping(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {key.value: key.start_mark.line + 1 for key, _value in node.value
                             if isinstance(key, yaml.ScalarNode)}
        return mapping


class _Loader(_LineMappings, yaml.SafeLoader):
    """PyYAML's own parser: its messages name a problem plainly ("expected ',' or ']', but
    got ':'"); used for the error when libyaml finds one."""


class _FastLoader(_LineMappings, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's parser, several times faster: courses load at every start."""


for loader in (_Loader, _FastLoader):
    loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node:
                           loader.construct_mapping(node))


def _parsed(text: str):
    try:
        return yaml.load(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=_Loader)  # raises again, in PyYAML's words


SUFFIXES = (".yaml", ".yml", ".md")


def course_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
    return [path]


def load_courses(path: Path) -> list[CourseSpec]:
    """Every course under `path`, checked; raises CourseError naming every problem."""
    files = course_files(path)
    if not files:
        raise CourseError([f"{path}: no course files (*.yaml, *.yml, *.md) here"])
    courses, problems, seen = [], [], {}
    for file in files:
        try:
            course = load_course(file)
        except CourseError as error:
            problems += error.problems
            continue
        if course.id in seen:
            problems.append(f"{file}:1: id {course.id!r} is used by {seen[course.id]} too")
        seen[course.id] = file
        courses.append(course)
    if problems:
        raise CourseError(problems)
    return courses


def load_course(file: Path) -> CourseSpec:
    problems: list[str] = []
    try:
        text = file.read_text(encoding="utf-8")
        _refuse_forbidden_characters(file, text)
        if file.suffix == ".md":
            data, found = markdown.parse(text, _Loader, _Mapping)
            problems = [f"{file}:{line}: {problem}" for line, problem in found]
            if data is None:
                raise CourseError(problems)
        else:
            data = _parsed(text)
    except UnicodeDecodeError:
        raise CourseError([f"{file}:1: not UTF-8; save the file as UTF-8"]) from None
    except OSError as error:
        raise CourseError([f"{file}: cannot read it ({error.strerror})"]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise CourseError([f"{file}:{line}: broken YAML: {error.problem or error.context}"]
                          ) from None
    except yaml.reader.ReaderError as error:  # a character YAML refuses, such as DEL
        line = text.count("\n", 0, text.find(chr(error.character))) + 1
        raise CourseError([f"{file}:{line}: broken YAML: the character "
                           f"U+{error.character:04X} is not allowed; delete it"]) from None
    checker = _Checker(file)
    course = checker.course(data)
    if problems or checker.problems:
        raise CourseError(problems + checker.problems)
    return course


def _refuse_forbidden_characters(file: Path, text: str) -> None:
    """Every line with a character XML forbids (a control character, often pasted from a
    word processor): no message could carry the lesson, so the trainer deletes it."""
    problems = [f"{file}:{number}: {_unsendable(found)}"
                for number, line in enumerate(text.split("\n"), start=1)
                if (found := _first_forbidden(line))]
    if problems:
        raise CourseError(problems)


def _first_forbidden(text: str) -> str | None:
    """The first character of `text` that XML forbids, if any."""
    if without_forbidden_characters(text) == text:
        return None
    return next(character for character in text if not without_forbidden_characters(character))


def _unsendable(character: str) -> str:
    return f"the character U+{ord(character):04X} cannot be sent in a message; delete it"


def message_characters(course_title: str, lesson: LessonSpec) -> int:
    """How long the message of this lesson gets at most (classroom.lesson_text writes it)."""
    parts = [course_title, lesson.title, lesson.text, lesson.link or "", lesson.image or ""]
    if lesson.quiz:
        parts += [lesson.quiz.question, *lesson.quiz.choices]
    return FRAME_CHARACTERS + sum(len(part) + 4 for part in parts)


class _Checker:
    """Walks one file's data, collecting every problem with its line."""

    def __init__(self, file: Path):
        self.file = file
        self.problems: list[str] = []

    def problem(self, node, key: str | None, message: str) -> None:
        line = 1
        if isinstance(node, _Mapping):
            line = node.key_lines.get(key, node.line) if key else node.line
        self.problems.append(f"{self.file}:{line}: {message}")

    def text(self, node, key: str, where: str, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(node, None, f"{where}{key} is missing")
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) \
                or not str(value).strip():
            self.problem(node, key, f"{where}{key} must be a text")
            return None
        value = str(value).strip()
        return value if self.sendable(node, key, value, f"{where}{key}") else None

    def sendable(self, node, key: str, value, name: str) -> bool:
        """Whether a value is free of characters XML forbids; YAML can write them as escapes
        in quotes ("\\x01"), which the check of the file's lines does not see."""
        found = _first_forbidden(value) if isinstance(value, str) else None
        if found:
            self.problem(node, key, f"{name}: {_unsendable(found)}")
        return not found

    def unknown(self, node, allowed: set[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(node, key, f"{where}unknown field {key!r}; allowed: "
                             f"{', '.join(sorted(allowed))}")

    def course(self, data) -> CourseSpec:
        if not isinstance(data, _Mapping):
            self.problem(data, None, "a course file is a mapping with id, title, language and "
                         "lessons")
            return CourseSpec("", "", "")
        self.unknown(data, COURSE_KEYS, "")
        course_id = self.text(data, "id", "")
        if course_id and not SLUG.match(course_id):
            self.problem(data, "id", f"id {course_id!r}: use lower-case letters, digits, - "
                         "and _")
        language = self.text(data, "language", "")
        if language and language not in LANGUAGES:
            self.problem(data, "language", f"language {language!r}: one of "
                         f"{', '.join(LANGUAGES)}")
        time = self.text(data, "time", "", required=False)
        if time and not TIME.match(time):
            self.problem(data, "time", f"time {time!r}: write it like \"07:30\" (in quotes)")
        timezone = self.text(data, "timezone", "", required=False)
        if timezone:
            try:
                zone(timezone)
            except ValueError as error:
                self.problem(data, "timezone", str(error))
        course = CourseSpec(course_id or "", self.text(data, "title", "") or "",
                            language or "", self.text(data, "description", "", False) or "",
                            time, timezone, source=str(self.file))
        lessons = data.get("lessons")
        if not isinstance(lessons, list) or not lessons:
            self.problem(data, "lessons" if "lessons" in data else None,
                         "lessons: give a list of at least one lesson")
            return course
        seen: dict[str, int] = {}
        for number, lesson in enumerate(lessons, start=1):
            spec = self.lesson(lesson, number, data)
            if spec is None:
                continue
            if spec.id in seen:
                self.problem(lesson, "id", f"lessons[{number}]: id {spec.id!r} is taken by "
                             f"lesson {seen[spec.id]}")
            seen[spec.id] = number
            length = message_characters(course.title, spec)
            if length > MAX_BODY_CHARACTERS:  # ejabberd would close the stream that sends it
                self.problem(lesson, None, f"lessons[{number}]: as a message (with its quiz) "
                             f"the lesson has about {length:,} characters; a message carries "
                             f"at most {MAX_BODY_CHARACTERS:,}: split it into several lessons")
            course.lessons.append(spec)
        return course

    def lesson(self, node, number: int, parent) -> LessonSpec | None:
        where = f"lessons[{number}]."
        if not isinstance(node, _Mapping):
            self.problem(parent, "lessons", f"lessons[{number}] must be a mapping with id and "
                         "text")
            return None
        self.unknown(node, LESSON_KEYS, where)
        lesson_id = self.text(node, "id", where)
        if lesson_id and not SLUG.match(lesson_id):
            self.problem(node, "id", f"{where}id {lesson_id!r}: use lower-case letters, "
                         "digits, - and _")
        text = self.text(node, "text", where)
        for key in ("link", "image"):
            value = self.text(node, key, where, required=False)
            if value and not value.startswith(("https://", "http://")):
                self.problem(node, key, f"{where}{key} must be a web address (https://…)")
        quiz = self.quiz(node["quiz"], where + "quiz.") if "quiz" in node else None
        if not (lesson_id and text):
            return None
        return LessonSpec(lesson_id, self.text(node, "title", where, False) or "", text,
                          node.get("link"), node.get("image"), quiz)

    def quiz(self, node, where: str) -> Quiz | None:
        if not isinstance(node, _Mapping):
            self.problems.append(f"{self.file}: {where[:-1]} must be a mapping with question, "
                                 "choices and answer")
            return None
        self.unknown(node, QUIZ_KEYS, where)
        question = self.text(node, "question", where)
        choices = node.get("choices")
        if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES \
                or not all(isinstance(choice, (str, int)) and str(choice).strip()
                           for choice in choices):
            self.problem(node, "choices" if "choices" in node else None,
                         f"{where}choices: give 2 to {MAX_CHOICES} texts")
            return None
        choices = [str(choice).strip() for choice in choices]
        if not all(self.sendable(node, "choices", choice, f"{where}choices")
                   for choice in choices):
            return None
        folded = [comparable(choice) for choice in choices]
        if len(set(folded)) < len(choices):  # a learner could not tell them apart in words
            self.problem(node, "choices", f"{where}choices: two choices are the same")
        answer = self.text(node, "answer", where)
        if answer is None:
            return None
        if comparable(answer) not in folded:
            self.problem(node, "answer", f"{where}answer {answer!r} is not one of the choices "
                         f"({', '.join(choices)})")
            return None
        feedback = node.get("feedback") or {}
        if not isinstance(feedback, dict) or set(feedback) - {"right", "wrong"}:
            self.problem(node, "feedback", f"{where}feedback: a mapping with right and/or "
                         "wrong")
            feedback = {}
        if not all(self.sendable(node, "feedback", value, f"{where}feedback.{name}")
                   for name, value in feedback.items()):
            return None
        if not question:
            return None
        return Quiz(question, tuple(choices), folded.index(comparable(answer)),
                    feedback.get("right"), feedback.get("wrong"))
