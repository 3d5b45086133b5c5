"""Text the people read, in their language: gettext catalogues (.po files) per package.

A package marks its texts with `_ = translator(__name__)`; `_("Hello {name}")` gives a
`Text` that stays English (the msgid) until it is rendered for a person's language. German
and English ship from the start; a catalogue lives in `<package>/locale/<language>.po`.
"""

from __future__ import annotations

import importlib.resources
import logging
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LANGUAGES = ("de", "en")
SOURCE_LANGUAGE = "en"


def negotiate(tag: str | None) -> str | None:
    """The supported language for a tag like 'de-AT' or 'en_GB', or None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


@lru_cache(maxsize=None)
def _catalogue(package: str, language: str) -> dict[str, str | tuple[str, ...]]:
    """msgid → translation for one package and language (plural forms: singular msgid → the
    forms); empty when there is no file."""
    if language == SOURCE_LANGUAGE:
        return {}
    try:
        resource = importlib.resources.files(package) / "locale" / f"{language}.po"
        with resource.open("rb") as po_file:
            catalogue = read_po(po_file, locale=language)
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    return {message.id[0] if message.pluralizable else message.id: message.string
            for message in catalogue if message.id and _complete(message.string)
            and not message.fuzzy}


def _complete(translation: str | tuple[str, ...]) -> bool:
    """Translated at all (a plural entry: every form)."""
    return all(translation) if isinstance(translation, tuple) else bool(translation)


class Text(str):
    """An English text that knows its catalogue; `render(language, **values)` translates it."""

    package: str

    def __new__(cls, msgid: str, package: str):
        text = super().__new__(cls, msgid)
        text.package = package
        return text

    def render(self, language: str, /, **values) -> str:
        translated = _catalogue(self.package, language).get(str(self), str(self))
        return translated.format(**_rendered(values, language)) if values else translated


class Plural(Text):
    """"{count} person was told" / "{count} people were told": `render(language, count=n)`
    takes the form for n in that language (German and English: one form for 1, one for the
    rest). In a catalogue it is an entry with msgid_plural and msgstr[0], msgstr[1]."""

    plural: str

    def __new__(cls, singular: str, plural: str, package: str):
        text = super().__new__(cls, singular, package)
        text.plural = plural
        return text

    def render(self, language: str, /, **values) -> str:
        forms = _catalogue(self.package, language).get(str(self))
        if not isinstance(forms, tuple):
            forms = (str(self), self.plural)
        return forms[0 if values["count"] == 1 else 1].format(**_rendered(values, language))


def plural_translator(package: str):
    """`_n = plural_translator(__name__)`; `_n("{count} person", "{count} people")`."""
    package = package.rpartition(".")[0] if not _is_package(package) else package

    def mark(singular: str, plural: str) -> Plural:
        return Plural(singular, plural, package)

    return mark


def translator(package: str):
    """`_ = translator(__name__)`: marks texts of this package for translation."""
    package = package.rpartition(".")[0] if not _is_package(package) else package

    def mark(msgid: str) -> Text:
        return Text(msgid, package)

    return mark


def _is_package(name: str) -> bool:
    try:
        importlib.resources.files(name)
        return True
    except (ModuleNotFoundError, TypeError):
        return False


def render(text: str, language: str, /, **values) -> str:
    """Translate a `Text`, or format a plain string as it is; values that are Texts are
    translated too ("{name} is missing" with name=_("reference"))."""
    if isinstance(text, Text):
        return text.render(language, **values)
    return text.format(**_rendered(values, language)) if values else text


def _rendered(values: dict, language: str) -> dict:
    return {name: value.render(language) if isinstance(value, Text) else value
            for name, value in values.items()}


# Babel's "en" writes US dates (3/4/26, 6:05 PM); customers in Europe read day, month and a
# 24-hour clock: British English does both.
TIME_LOCALES = {"en": "en_GB"}


def format_moment(moment: datetime, language: str, timezone: str) -> str:
    """A stored time (naive UTC) as people read it: local time, their language's short form."""
    return format_datetime(moment.replace(tzinfo=UTC), "short", tzinfo=ZoneInfo(timezone),
                           locale=TIME_LOCALES.get(language, language))


class TextError(ValueError):
    """What someone asked cannot be done, and why, in their language: `text(language)`;
    `str()` is the English (for logs, the CLI, an HTTP feed). `field` names the part at
    fault, when there is one ("ref", "jid")."""

    def __init__(self, message: Text, field: str = "", **values):
        english = render(message, SOURCE_LANGUAGE, **values)
        super().__init__(f"{field}: {english}" if field else english)
        self.field = field
        self.message = message
        self.values = values

    def text(self, language: str) -> str:
        return render(self.message, language, **self.values)


_ = translator(__name__)
LANGUAGE_NAMES = {"de": _("German"), "en": _("English")}  # in the reader's language
