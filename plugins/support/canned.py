"""Canned replies staff send with `/c NAME`, from a YAML file: a name, and the text in German
and English (the customer gets it in their language).

    hello:
      en: "Hello! How can I help you?"
      de: "Hallo! Wie kann ich Ihnen helfen?"
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bots.i18n import LANGUAGES

NAME = re.compile(r"^[\w-]{1,32}$")


class CannedError(ValueError):
    """The canned replies are written wrongly; the message names the file and the reply."""


def load_canned(path: Path) -> dict[str, dict[str, str]]:
    """name → {language: text}, checked."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CannedError(f"{path}: cannot be read as UTF-8 YAML ({error})") from None
    if not isinstance(data, dict):
        raise CannedError(f"{path}: write names, each with en: and de: texts")
    replies = {}
    for name, texts in data.items():
        if not NAME.match(str(name)):
            raise CannedError(f"{path}: {name!r}: a name is letters, digits, - and _ (at most "
                              "32), one word")
        if not isinstance(texts, dict) or any(
                not isinstance(texts.get(language), str) or not texts[language].strip()
                for language in LANGUAGES):
            raise CannedError(f"{path}: {name}: needs a text in en: and in de:")
        replies[str(name).casefold()] = {language: texts[language].strip()
                                         for language in LANGUAGES}
    return replies
