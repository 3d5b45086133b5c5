"""Kinds of items (vehicle, order, book…), their states and the texts customers read.

The built-in kinds live in `kinds.toml` beside this file; a site adds or replaces kinds in its
botschaft.toml under `[plugins.status.kinds.<kind>]` with the same shape. Every state needs a
text in every language the bot speaks, so no customer ever reads a bare state name.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from dataclasses import dataclass

from bots.i18n import LANGUAGES

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class KindError(ValueError):
    """A kind is configured wrongly; the message names the kind and the field."""


@dataclass(frozen=True)
class Kind:
    name: str
    label: dict[str, str]  # language → "Vehicle"
    states: dict[str, dict[str, str]]  # state → language → text, in the configured order
    final: frozenset[str]

    def text(self, state: str, language: str) -> str:
        return self.states[state][language]

    def is_final(self, state: str) -> bool:
        return state in self.final


def builtin_kinds() -> dict[str, dict]:
    resource = importlib.resources.files(__package__) / "kinds.toml"
    return tomllib.loads(resource.read_text(encoding="utf-8"))


def load_kinds(configured: dict[str, dict]) -> dict[str, Kind]:
    """The built-in kinds with the site's kinds added or replacing them, checked."""
    raw = builtin_kinds()
    raw.update(configured)
    return {name: _checked(name, data) for name, data in raw.items()}


def _checked(name: str, data) -> Kind:
    where = f"[plugins.status.kinds.{name}]"
    if not NAME.match(name):
        raise KindError(f"{where}: a kind's name is lower-case letters, digits and _")
    if not isinstance(data, dict):
        raise KindError(f"{where} must be a table with label, states and final")
    unknown = sorted(set(data) - {"label", "states", "final"})
    if unknown:
        raise KindError(f"{where}: unknown key {unknown[0]!r}; allowed: final, label, states")
    label = _texts(data.get("label"), f"{where} label")
    states = data.get("states")
    if not isinstance(states, dict) or not states:
        raise KindError(f"{where} states: give at least one state, e.g. "
                        "ready = { en = \"…\", de = \"…\" }")
    checked_states = {}
    for state, texts in states.items():
        if not NAME.match(state):
            raise KindError(f"{where} states: {state!r} is no valid state name (lower-case "
                            "letters, digits and _)")
        checked_states[state] = _texts(texts, f"{where} states.{state}")
    final = data.get("final", [])
    if not isinstance(final, list):
        raise KindError(f"{where} final must be a list of states")
    for state in final:
        if state not in checked_states:
            raise KindError(f"{where} final: {state!r} is not one of its states "
                            f"({', '.join(checked_states)})")
    return Kind(name, label, checked_states, frozenset(final))


def _texts(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise KindError(f"{where} must be a table of texts: {{ en = \"…\", de = \"…\" }}")
    missing = [language for language in LANGUAGES
               if not isinstance(value.get(language), str) or not value[language].strip()]
    if missing:
        raise KindError(f"{where}: the text in {missing[0]!r} is missing")
    return {language: value[language].strip() for language in LANGUAGES}
