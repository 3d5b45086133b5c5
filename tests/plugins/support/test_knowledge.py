"""The knowledge file: the example works, questions find their answers in German and
English, every mistake is named with file and line (also by `botschaft support validate`),
and the running bot takes a changed file without a restart, keeping the last good one."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from bots.cli import main
from plugins.support import HERE, knowledge
from plugins.support.knowledge import KnowledgeError, KnowledgeFile, load

GOOD = """\
- questions:
    en: ["When are you open?"]
    de: ["Wann haben Sie geöffnet?"]
  answer:
    en: "Weekdays 8 to 6."
    de: "Werktags 8 bis 18 Uhr."
  link: https://example.com/hours
"""


def written(tmp_path, text: str, name: str = "knowledge.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("question, language, start", [
    ("when are you open", "en", "We are open Monday to Friday"),
    ("Wann haben Sie heute geöffnet?", "de", "Wir haben Montag bis Freitag"),
    ("Kann ich mit Karte bezahlen?", "de", "Sie können bar"),
])
def test_the_example_answers_questions_in_both_languages(question, language, start):
    entry, score = load(HERE / "knowledge.yaml").match(question)
    assert score >= 0.6
    assert entry.text(language).startswith(start)


def test_duplicate_questions_a_missing_answer_and_a_bad_link_are_named_by_line(tmp_path):
    path = written(tmp_path, GOOD + """\
- questions:
    en: ["when are YOU open"]
  answer:
    en: "Always."
    de: "Immer."
- questions:
    de: ["Wo sind Sie?"]
- questions:
    en: ["Do you deliver?"]
  answer: {en: "Yes.", de: "Ja."}
  link: www.example.com
  colour: red
""")
    with pytest.raises(KnowledgeError) as error:
        load(path)
    assert error.value.problems == [
        f"{path}:8: the question 'when are YOU open' is asked at line 1 already; give it one "
        "answer",
        f"{path}:13: the entry has no answer: (write answer: with en: and de:)",
        f"{path}:18: link 'www.example.com' is no web address; write it as "
        "https://example.com/page",
        f"{path}:19: unknown key 'colour'; allowed: answer, link, questions"]


def test_an_answer_missing_a_language_and_broken_yaml_are_named(tmp_path):
    with pytest.raises(KnowledgeError) as error:
        load(written(tmp_path, GOOD.replace('    de: "Werktags 8 bis 18 Uhr."\n', "")))
    assert error.value.problems == [f"{tmp_path / 'knowledge.yaml'}:5: the answer in de is "
                                    "missing or empty"]
    with pytest.raises(KnowledgeError) as error:
        load(written(tmp_path, "- questions: [unclosed\n"))
    assert str(error.value).startswith(f"{tmp_path / 'knowledge.yaml'}:2: not valid YAML")


def test_validate_names_each_problem_and_fails(tmp_path):
    good, bad = written(tmp_path, GOOD, "good.yaml"), written(tmp_path, GOOD + GOOD, "bad.yaml")
    result = CliRunner().invoke(main, ["support", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{good}: fine, 1 answers to 2 questions.\n"
    result = CliRunner().invoke(main, ["support", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:8: the question 'When are you open?' is asked at line 1 already" in \
        result.output
    assert "2 problem(s); the file was not taken" in result.output


def test_a_changed_file_is_read_again_and_a_broken_change_keeps_the_last_good_one(
        tmp_path, monkeypatch):
    monkeypatch.setattr(knowledge, "RECHECK_SECONDS", 0)
    path = written(tmp_path, GOOD)
    running = KnowledgeFile(path)
    assert running.current().match("when are you open")[0].answer["en"] == "Weekdays 8 to 6."
    written(tmp_path, GOOD.replace("Weekdays 8 to 6.", "Weekdays 9 to 5, Saturdays 10 to 1."))
    assert running.current().match("when are you open")[0].answer["en"].startswith("Weekdays 9")
    written(tmp_path, GOOD.replace("  answer:", "  answers:"))
    os.utime(path, ns=(1, 1))  # a different time stamp even on a coarse file system
    assert running.current().match("when are you open")[0].answer["en"].startswith("Weekdays 9")


MARKDOWN = """\
# Our answers

## en: When are you open? | opening hours
## de: Wann haben Sie geöffnet?
en: Weekdays 8 to 6.
de: Werktags 8 bis 18 Uhr,
samstags 9 bis 12 Uhr.
link: https://example.com/hours

## en: Where are you?
de: Hauptstraße 1.

## en: Opening hours
en: Always.
de: Immer.
link: example.com
"""


def test_a_markdown_file_is_read_and_checked_like_the_yaml_one(tmp_path):
    path = written(tmp_path, MARKDOWN.split("\n## en: Where")[0], "knowledge.md")
    entry, score = load(path).match("Wann haben Sie geöffnet?")
    assert score == 1.0 and entry.link == "https://example.com/hours"
    assert entry.text("de") == ("Werktags 8 bis 18 Uhr,\nsamstags 9 bis 12 Uhr.\n"
                                "https://example.com/hours")
    with pytest.raises(KnowledgeError) as error:
        load(written(tmp_path, MARKDOWN, "knowledge.md"))
    path = tmp_path / "knowledge.md"
    assert error.value.problems == [
        f"{path}:10: the answer in en is missing or empty",
        f"{path}:13: the question 'Opening hours' is asked at line 3 already; give it one "
        "answer",
        f"{path}:16: link 'example.com' is no web address; write it as "
        "https://example.com/page"]
