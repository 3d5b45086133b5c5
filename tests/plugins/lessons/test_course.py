"""Course files: every mistake a trainer can make is named with file and line; nothing of a
bad file is imported; re-importing a changed course keeps learners' progress."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bots.cli import main
from plugins.lessons import EXAMPLE_COURSES
from plugins.lessons.course import CourseError, load_courses

GOOD = """\
id: kurs
title: Kurs
language: de
lessons:
  - id: eins
    text: Eins.
    quiz:
      question: Was?
      choices: [a, b]
      answer: b
  - id: zwei
    text: Zwei.
"""


def problems(tmp_path: Path, text: str, name: str = "kurs.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CourseError) as error:
        load_courses(path)
    return [problem.replace(f"{path}:", "LINE ", 1).replace(":", "", 1) for problem in error.value.problems]


def test_the_example_course_is_valid_and_has_at_least_ten_lessons_with_quizzes():
    (course,) = load_courses(Path(str(EXAMPLE_COURSES)))
    assert course.language == "de" and len(course.lessons) >= 10
    assert all(lesson.quiz for lesson in course.lessons)


def test_missing_fields_are_named_with_their_line(tmp_path):
    assert problems(tmp_path, GOOD.replace("title: Kurs\n", "").replace("    text: Zwei.\n", "")
                    ) == ["LINE 1 title is missing", "LINE 10 lessons[2].text is missing"]


def test_duplicate_lesson_ids(tmp_path):
    assert problems(tmp_path, GOOD.replace("id: zwei", "id: eins")) == [
        "LINE 11 lessons[2]: id 'eins' is taken by lesson 1"]


def test_broken_yaml_names_the_line(tmp_path):
    assert problems(tmp_path, GOOD.replace("choices: [a, b]", "choices: [a, b")) == [
        "LINE 10 broken YAML: expected ',' or ']', but got ':'"]


def test_a_quiz_answer_not_among_the_choices(tmp_path):
    assert problems(tmp_path, GOOD.replace("answer: b", "answer: c")) == [
        "LINE 10 lessons[1].quiz.answer 'c' is not one of the choices (a, b)"]


def test_choices_are_told_apart_as_learners_type_them(tmp_path):
    """A learner answers in words as they type them (see classroom.choice_of): two choices
    that read the same that way could not be told apart; the answer may be written that way."""
    assert problems(tmp_path, GOOD.replace("[a, b]", '["Tschüss!", tschuess]')
                    .replace("answer: b", "answer: tschuess")) == [
        "LINE 9 lessons[1].quiz.choices: two choices are the same"]
    path = tmp_path / "good.yaml"
    path.write_text(GOOD.replace("[a, b]", '["Guten Morgen!", "Gute Nacht!"]')
                    .replace("answer: b", "answer: guten morgen"), encoding="utf-8")
    assert load_courses(path)[0].lessons[0].quiz.answer == 0


def test_an_unknown_time_zone_and_a_wrong_time(tmp_path):
    text = GOOD.replace("language: de\n", "language: de\ntimezone: Europe/Berlni\ntime: 7.30\n")
    assert problems(tmp_path, text) == [
        "LINE 5 time '7.3': write it like \"07:30\" (in quotes)",
        "LINE 4 unknown time zone 'Europe/Berlni'; write e.g. Europe/Berlin"]


def test_unknown_fields_and_a_link_that_is_no_address(tmp_path):
    text = GOOD.replace("    text: Zwei.\n", "    text: Zwei.\n    link: www.example.org\n"
                        "    vidoe: x\n")
    assert problems(tmp_path, text) == [
        "LINE 14 lessons[2].unknown field 'vidoe'; allowed: id, image, link, quiz, text, title",
        "LINE 13 lessons[2].link must be a web address (https://…)"]


def test_two_files_with_one_course_id(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(CourseError) as error:
        load_courses(tmp_path)
    assert error.value.problems == [f"{tmp_path / 'b.yaml'}:1: id 'kurs' is used by "
                                    f"{tmp_path / 'a.yaml'} too"]


def test_cli_validate_and_import_a_bad_file_imports_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("answer: b", "answer: c"), encoding="utf-8")
    runner = CliRunner()
    for command in ("validate", "import"):
        result = runner.invoke(main, ["lessons", command, str(bad)])
        assert result.exit_code == 1
        assert f"{bad}:10: lessons[1].quiz.answer 'c'" in result.output
        assert "nothing imported" in result.output
    assert 'There is no course "kurs"' in runner.invoke(main, ["lessons", "stats", "kurs"]
                                                        ).output


def test_an_import_from_the_command_line_is_in_the_audit_log(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    (tmp_path / "kurs.yaml").write_text(GOOD, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["lessons", "import", str(tmp_path / "kurs.yaml")]).exit_code == 0
    logged = json.loads(runner.invoke(main, ["audit", "--format", "json"]).output)
    assert [(entry["actor"], entry["action"], entry["subject"], entry["details"])
            for entry in logged] == [(getpass.getuser(), "lessons.import", "kurs",
                                      {"new": 2, "updated": 0, "retired": 0})]


MARKDOWN = """\
---
id: kurz
title: Kurz
language: de
---

## Begrüßen {#begruessen}

„Guten Morgen“ sagt man bis etwa 11 Uhr.
Danach „Guten Tag“.

Link: https://example.org/1.mp3

### Quiz: Was sagen Sie um 8 Uhr?
- [x] Guten Morgen
- [ ] Gute Nacht
Right: Genau!

## Zahlen {#zahlen}

eins, zwei, drei
"""


def test_a_markdown_course_reads_like_a_yaml_one(tmp_path):
    path = tmp_path / "kurz.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    (course,) = load_courses(path)
    first, second = course.lessons
    assert (course.id, first.id, first.title, second.id) == ("kurz", "begruessen", "Begrüßen",
                                                             "zahlen")
    assert first.text == "„Guten Morgen“ sagt man bis etwa 11 Uhr.\nDanach „Guten Tag“."
    assert first.link == "https://example.org/1.mp3"
    assert first.quiz.choices == ("Guten Morgen", "Gute Nacht") and first.quiz.answer == 0
    assert first.quiz.right == "Genau!" and second.quiz is None


def test_markdown_mistakes_are_named_with_their_line(tmp_path):
    text = (MARKDOWN.replace("language: de", "language: fr")
            .replace("- [x] Guten Morgen", "- [ ] Guten Morgen")
            .replace("## Zahlen {#zahlen}", "## Zahlen"))
    assert problems(tmp_path, text, "kurz.md") == [
        "LINE 4 language 'fr': one of de, en",
        "LINE 14 lessons[1].quiz.answer is missing",
        "LINE 19 lessons[2].id is missing"]


def test_characters_no_message_can_carry_are_named_with_their_line(tmp_path):
    """XML forbids them: a lesson with one would close the stream that sends it."""
    assert problems(tmp_path, GOOD.replace("text: Zwei.", "text: Zwei\x0b.\x01")) == [
        "LINE 12 the character U+000B cannot be sent in a message; delete it"]
    assert problems(tmp_path, MARKDOWN.replace("eins, zwei", "eins\x01, zwei"), "kurz.md") == [
        "LINE 21 the character U+0001 cannot be sent in a message; delete it"]
    # written as an escape in quotes, it is only there once YAML has read the file
    assert problems(tmp_path, GOOD.replace("choices: [a, b]", 'choices: [a, "b\\x01"]')) == [
        "LINE 9 lessons[1].quiz.choices: the character U+0001 cannot be sent in a message; "
        "delete it"]
    # one that XML allows but YAML does not
    assert problems(tmp_path, GOOD.replace("text: Eins.", "text: Eins\x7f.")) == [
        "LINE 6 broken YAML: the character U+007F is not allowed; delete it"]


def test_a_lesson_too_long_for_one_message_is_refused_with_its_line(tmp_path, monkeypatch):
    """A 312 kB lesson was imported, and then broke delivery: ejabberd closes the stream of a
    stanza over its max_stanza_size."""
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    long = tmp_path / "long.yaml"
    long.write_text(GOOD.replace("text: Zwei.", "text: " + "Wort " * 60_000), encoding="utf-8")
    runner = CliRunner()
    for command in ("validate", "import"):
        result = runner.invoke(main, ["lessons", command, str(long)])
        assert result.exit_code == 1
        assert f"{long}:11: lessons[2]: as a message (with its quiz) the lesson has about " \
               "300,3" in result.output
        assert "a message carries at most 40,000: split it into several lessons" in result.output
    assert 'There is no course "kurs"' in runner.invoke(main, ["lessons", "stats", "kurs"]
                                                        ).output
