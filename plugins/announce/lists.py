"""The lists people follow, as the company configures them in botschaft.toml:

    [plugins.announce.lists.news]
    title = { en = "News", de = "Neuigkeiten" }   # also what people write: folgen neuigkeiten
    about = { en = "opening hours and closures", de = "Öffnungszeiten und Schließtage" }
    timezone = "Europe/Berlin"   # for `--at`; default: [bot] timezone
    wording_version = 1          # raise it when title or about change: consents name it

The lists configured replace the example list `news`. A list is found by its name (`news`) or
its title in any language, without regard to case; two lists may not share one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bots.i18n import LANGUAGES, Text
from bots.scheduler import zone

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
KEYS = ("about", "timezone", "title", "wording_version")
PURPOSE_PREFIX = "announce."  # a list's consent purpose: announce.<name>
EXAMPLE_LISTS = {"news": {"title": {"en": "News", "de": "Neuigkeiten"},
                          "about": {"en": "news from us, such as opening hours and closures",
                                    "de": "Neuigkeiten von uns, etwa Öffnungszeiten und "
                                          "Schließtage"}}}


class ListError(ValueError):
    """A list is configured wrongly; the message names the list and the key."""


class Title(Text):
    """A list's title as a value of a text: rendered in the reader's language, as the core
    renders a `Text` value ("{title}" in "You follow {title} now")."""

    def __new__(cls, titles: dict[str, str]):
        title = super().__new__(cls, titles["en"], __package__)
        title.titles = titles
        return title

    def render(self, language: str, /, **values) -> str:
        return self.titles.get(language, str(self))


@dataclass(frozen=True)
class AnnounceList:
    name: str  # the key in the configuration: "news"
    title: dict[str, str]  # language → "Neuigkeiten"
    about: dict[str, str]  # language → what it sends; empty: nothing said
    timezone: str | None  # None: the bot's
    wording_version: int

    @property
    def shown(self) -> Title:
        return Title(self.title)

    @property
    def purpose(self) -> str:
        return PURPOSE_PREFIX + self.name

    @property
    def text_version(self) -> str:
        """The consent's wording: `privacy` shows its last part ("text version 2")."""
        return f"{self.purpose}.{self.wording_version}"

    def words(self) -> set[str]:
        """What people may write for it."""
        return {self.name, *(spoken(title) for title in self.title.values())}


def spoken(text: str) -> str:
    """A list's name as people write it: any case, spaces as they come."""
    return " ".join(text.split()).casefold()


def load_lists(configured: dict) -> dict[str, AnnounceList]:
    """The configured lists, checked; ListError names the first problem."""
    if not isinstance(configured, dict) or not configured:
        raise ListError("[plugins.announce] lists: configure at least one list, e.g. "
                        "[plugins.announce.lists.news] with title = { en = \"News\", "
                        "de = \"Neuigkeiten\" }")
    lists = {name: _checked(name, data) for name, data in configured.items()}
    owners: dict[str, str] = {}
    for announce_list in lists.values():
        for word in announce_list.words():
            other = owners.setdefault(word, announce_list.name)
            if other != announce_list.name:
                raise ListError(f"[plugins.announce.lists.{announce_list.name}]: {word!r} "
                                f"names the list {other} already; give each list its own "
                                "name and titles")
    return lists


def _checked(name: str, data) -> AnnounceList:
    where = f"[plugins.announce.lists.{name}]"
    if not NAME.match(str(name)):
        raise ListError(f"{where}: a list's name is lower-case letters, digits, - and _ "
                        "(at most 32), starting with a letter")
    if not isinstance(data, dict):
        raise ListError(f"{where} must be a table with title (and about, timezone, "
                        "wording_version)")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ListError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
    if "title" not in data:
        raise ListError(f"{where}: title is missing, e.g. title = {{ en = \"News\", "
                        "de = \"Neuigkeiten\" }")
    timezone = data.get("timezone")
    if timezone is not None:
        try:
            zone(timezone if isinstance(timezone, str) else "")
        except ValueError:
            raise ListError(f"{where}: timezone {timezone!r} is unknown; write e.g. "
                            "Europe/Berlin") from None
    version = data.get("wording_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ListError(f"{where}: wording_version must be a whole number from 1, not "
                        f"{version!r}")
    about = _texts(data["about"], f"{where} about") if "about" in data else {}
    return AnnounceList(name, _texts(data["title"], f"{where} title"), about, timezone, version)


def _texts(value, where: str) -> dict[str, str]:
    """A text in every language the bot speaks: { en = "…", de = "…" }."""
    wanted = " and ".join(LANGUAGES)
    if not isinstance(value, dict):
        raise ListError(f"{where} must be a table with {wanted}, e.g. "
                        "{ en = \"News\", de = \"Neuigkeiten\" }")
    unknown = sorted(set(value) - set(LANGUAGES))
    missing = [language for language in LANGUAGES
               if not isinstance(value.get(language), str) or not value[language].strip()]
    if unknown or missing:
        raise ListError(f"{where}: needs a text for {wanted}; "
                        + (f"{unknown[0]!r} is no language of the bot" if unknown
                           else f"{missing[0]} is missing or empty"))
    return {language: " ".join(value[language].split()) for language in LANGUAGES}
