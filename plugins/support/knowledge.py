"""The knowledge file: common questions the company answers itself, in YAML (or Markdown,
for a file named *.md: plugins/support/knowledge_markdown.py).

    - questions:
        en: ["When are you open?", "opening hours"]
        de: ["Wann haben Sie geöffnet?", "Öffnungszeiten"]
      answer:
        en: "Monday to Friday, 8 am to 6 pm."
        de: "Montag bis Freitag, 8 bis 18 Uhr."
      link: https://example.com/opening-hours   # optional

A customer's question is matched against every phrase by the core's word matching
(bots/phrases.py), as plain questions are matched to commands. Checked when it is read: every
problem is named with the file and line (`botschaft support validate FILE`). The running bot
reads it again when it changes; a file with errors leaves the last good one in use.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bots.i18n import LANGUAGES
from bots.phrases import Match, PhraseIndex, words

log = logging.getLogger(__name__)

KEYS = ("answer", "link", "questions")
MARKDOWN = (".md", ".markdown")  # read as plugins/support/knowledge_markdown.py says
HOST = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?$")  # a name with a dot: example.com
RECHECK_SECONDS = 2.0  # how often the running bot looks whether the file changed


class KnowledgeError(ValueError):
    """The knowledge file has errors; `problems` are lines "file:line: what is wrong"."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    line: int
    questions: dict[str, list[str]]  # language → phrases
    answer: dict[str, str]  # language → text
    link: str | None

    def text(self, language: str) -> str:
        return self.answer[language] + (f"\n{self.link}" if self.link else "")

    def question(self, language: str) -> str:
        """The question as the company wrote it first, in `language` if it has one there."""
        phrases = self.questions.get(language) or next(iter(self.questions.values()))
        return phrases[0]


class Knowledge:
    """The entries of one file, and which one a question means."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self._index = PhraseIndex()
        for number, entry in enumerate(entries):
            for phrases in entry.questions.values():
                for phrase in phrases:
                    self._index.add(str(number), phrase)

    def match(self, text: str) -> tuple[Entry, float] | None:
        """The entry a question resembles most, with the score (0 … 1); None: none at all."""
        matches: list[Match] = self._index.match(text)
        if not matches:
            return None
        return self.entries[int(matches[0].command)], matches[0].score


def load(path: Path) -> Knowledge:
    """The file's entries, checked; KnowledgeError lists every problem with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise KnowledgeError([f"{path}: cannot be read ({error.strerror})"]) from None
    except UnicodeDecodeError:
        raise KnowledgeError([f"{path}: not UTF-8; save it as UTF-8"]) from None
    problems: list[str] = []
    if Path(path).suffix.lower() in MARKDOWN:
        from plugins.support.knowledge_markdown import entries  # it builds on this module
        found = entries(text, str(path), problems)
    else:
        try:
            root = yaml.compose(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise KnowledgeError([f"{path}{line}: not valid YAML "
                                  f"({getattr(error, 'problem', None) or error})"]) from None
        found = _entries(root, str(path), problems)
    _no_question_twice(found, str(path), problems)
    if problems:
        # in the file's order: "FILE:12: …" by its line
        raise KnowledgeError(sorted(problems, key=lambda problem: int(
            problem.removeprefix(f"{path}:").split(":", 1)[0])))
    return Knowledge(found)


def _line(node) -> int:
    return node.start_mark.line + 1


def _entries(root, path: str, problems: list[str]) -> list[Entry]:
    if root is None or not isinstance(root, yaml.SequenceNode) or not root.value:
        problems.append(f"{path}:1: write a list of entries, each starting with "
                        "\"- questions:\" (see the example file shipped with the plugin)")
        return []
    entries = []
    for node in root.value:
        entry = _entry(node, path, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(node, path: str, problems: list[str]) -> Entry | None:
    where = f"{path}:{_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{where}: an entry has questions:, answer: and optionally link:")
        return None
    keys = {key.value: value for key, value in node.value}
    for key, value in node.value:
        if key.value not in KEYS:
            problems.append(f"{path}:{_line(key)}: unknown key {key.value!r}; allowed: "
                            f"{', '.join(KEYS)}")
    if "questions" not in keys:
        problems.append(f"{where}: the entry has no questions:")
    if "answer" not in keys:
        problems.append(f"{where}: the entry has no answer: (write answer: with en: and de:)")
    questions = _phrases(keys["questions"], path, problems) if "questions" in keys else {}
    answer = _answer(keys["answer"], path, problems) if "answer" in keys else {}
    link = _link(keys["link"], path, problems) if "link" in keys else None
    # kept with what it has when it has problems too: its questions are checked for doubles
    return Entry(_line(node), questions, answer, link)


def _phrases(node, path: str, problems: list[str]) -> dict[str, list[str]]:
    where = f"{path}:{_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{where}: questions: needs phrases per language, e.g. "
                        "en: [\"When are you open?\"] and de: [\"Wann haben Sie geöffnet?\"]")
        return {}
    phrases: dict[str, list[str]] = {}
    for key, value in node.value:
        if key.value not in LANGUAGES:
            problems.append(f"{path}:{_line(key)}: {key.value!r} is no language of the bot "
                            f"({', '.join(LANGUAGES)})")
            continue
        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
        texts = [item.value.strip() for item in items
                 if isinstance(item, yaml.ScalarNode) and item.value.strip()]
        if len(texts) != len(items) or not texts:
            problems.append(f"{path}:{_line(value)}: the questions in {key.value} must be "
                            "texts, at least one")
            continue
        phrases[key.value] = texts
    if not phrases and not any(problem.startswith(where) for problem in problems):
        problems.append(f"{where}: questions: has no phrase")
    return phrases


def _answer(node, path: str, problems: list[str]) -> dict[str, str]:
    where = f"{path}:{_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{where}: answer: needs a text per language: en: \"…\" and de: \"…\"")
        return {}
    texts = {key.value: value.value.strip() for key, value in node.value
             if isinstance(value, yaml.ScalarNode)}
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        problems.append(f"{where}: {unknown[0]!r} is no language of the bot "
                        f"({', '.join(LANGUAGES)})")
    missing = [language for language in LANGUAGES if not texts.get(language)]
    if missing:
        problems.append(f"{where}: the answer in {missing[0]} is missing or empty")
    return texts


def _link(node, path: str, problems: list[str]) -> str | None:
    value = node.value if isinstance(node, yaml.ScalarNode) else ""
    return checked_link(value, f"{path}:{_line(node)}", problems)


def checked_link(value: str, where: str, problems: list[str]) -> str | None:
    """A web address, or None and a problem named `where` ("file:line")."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not HOST.match(parts.netloc) or " " in value:
        problems.append(f"{where}: link {value[:80]!r} is no web address; write it as "
                        "https://example.com/page")
        return None
    return value


def _no_question_twice(entries: list[Entry], path: str, problems: list[str]) -> None:
    first: dict[str, int] = {}
    for entry in entries:
        for phrases in entry.questions.values():
            for phrase in phrases:
                spelled = " ".join(words(phrase))
                line = first.setdefault(spelled, entry.line)
                if line != entry.line:
                    problems.append(f"{path}:{entry.line}: the question {phrase!r} is asked "
                                    f"at line {line} already; give it one answer")


class KnowledgeFile:
    """The running bot's knowledge: read again when the file changes (looked at most every
    RECHECK_SECONDS); a changed file with errors is logged and the last good one stays."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp = self._modified()
        self.knowledge = load(self.path)
        self._looked = time.monotonic()

    def current(self) -> Knowledge:
        now = time.monotonic()
        if now - self._looked >= RECHECK_SECONDS:
            self._looked = now
            stamp = self._modified()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self.knowledge = load(self.path)
                    log.info("support: knowledge file read again (%d entries)",
                             len(self.knowledge.entries))
                except KnowledgeError as error:
                    log.error("support: the changed knowledge file has errors; the last good "
                              "one stays in use:\n%s", error)
        return self.knowledge

    def _modified(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size
