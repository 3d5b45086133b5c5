"""The knowledge file in Markdown (a file named *.md), for companies that write it as a page:

    # Our answers                                   (a title: ignored)

    ## en: When are you open? | opening hours       (questions: language, phrases split by |)
    ## de: Wann haben Sie geöffnet? | Öffnungszeiten
    en: We are open Monday to Friday, 8 am to 6 pm.  (the answer, per language; the lines
    de: Wir haben Montag bis Freitag von 8 bis 18 Uhr geöffnet.    below one continue it)
    link: https://example.com/opening-hours         (optional)

Headings that follow each other belong to one entry; the next heading after an answer starts
the next entry. Checked like the YAML form, each problem with its line.
"""

from __future__ import annotations

import re

from bots.i18n import LANGUAGES
from plugins.support.knowledge import Entry, checked_link

QUESTION = re.compile(r"^##\s+(\w+)\s*:\s*(.*)$")
FIELD = re.compile(r"^(\w+)\s*:\s*(.*)$")


class _Draft:
    def __init__(self, line: int):
        self.line = line
        self.questions: dict[str, list[str]] = {}
        self.answer: dict[str, str] = {}
        self.link: tuple[str, str] | None = None  # (where, address)
        self.last: str | None = None  # the answer's language continuation lines go to


def entries(text: str, path: str, problems: list[str]) -> list[Entry]:
    drafts: list[_Draft] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line or (line.startswith("# ") and not drafts) or line.startswith("<!--"):
            continue
        question = QUESTION.match(line)
        if line.startswith("##"):
            if not question:
                problems.append(f"{where}: write questions as \"## en: When are you open? | "
                                "opening hours\"")
                continue
            if not drafts or drafts[-1].answer or drafts[-1].link:
                drafts.append(_Draft(number))
            _add_questions(drafts[-1], question.group(1), question.group(2), where, problems)
            continue
        if not drafts:
            problems.append(f"{where}: start with the questions, e.g. \"## en: When are you "
                            "open?\"")
            continue
        _add_line(drafts[-1], line, where, problems)
    return [_finished(draft, path, problems) for draft in drafts]


def _add_questions(draft: _Draft, language: str, phrases: str, where: str,
                   problems: list[str]) -> None:
    if language not in LANGUAGES:
        problems.append(f"{where}: {language!r} is no language of the bot "
                        f"({', '.join(LANGUAGES)})")
        return
    found = [phrase.strip() for phrase in phrases.split("|") if phrase.strip()]
    if not found:
        problems.append(f"{where}: the heading has no question")
    draft.questions.setdefault(language, []).extend(found)


def _add_line(draft: _Draft, line: str, where: str, problems: list[str]) -> None:
    field = FIELD.match(line)
    key = field.group(1) if field else None
    if key in LANGUAGES:
        draft.answer[key] = field.group(2).strip()
        draft.last = key
    elif key == "link":
        draft.link = (where, field.group(2))
        draft.last = None
    elif draft.last is not None:
        draft.answer[draft.last] += "\n" + line
    else:
        problems.append(f"{where}: write the answer as \"en: …\" and \"de: …\" (and "
                        "\"link: …\")")


def _finished(draft: _Draft, path: str, problems: list[str]) -> Entry:
    """The entry, also when it has problems (its questions are checked for doubles)."""
    where = f"{path}:{draft.line}"
    missing = [language for language in LANGUAGES if not draft.answer.get(language)]
    if not draft.answer:
        problems.append(f"{where}: the entry has no answer (write en: and de: lines below "
                        "its questions)")
    elif missing:
        problems.append(f"{where}: the answer in {missing[0]} is missing or empty")
    link = checked_link(draft.link[1], draft.link[0], problems) if draft.link else None
    return Entry(draft.line, draft.questions, draft.answer, link)
