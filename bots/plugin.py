"""What a plugin author sees: the `Plugin` base class, the `@command` decorator, discovery.

Plugins register under the entry-point group `botschaft.plugins` (the built-ins too), so a
third-party package becomes part of the bot by being installed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "botschaft.plugins"


@dataclass(frozen=True)
class Command:
    """A command word, the help line shown for it, and the method that answers it."""

    name: str
    help: str
    handler: Callable


def command(name: str | None = None, *, help: str = ""):
    """Mark a plugin method as the answer to a command word (default: the method's name)."""

    def mark(method):
        method.botschaft_command = (name or method.__name__, help)
        return method

    return mark


class Plugin:
    """Base class of every plugin: a name, a description, and decorated command methods."""

    name: str = ""
    description: str = ""

    def commands(self) -> list[Command]:
        found = []
        for attribute in dir(type(self)):
            marker = getattr(getattr(type(self), attribute), "botschaft_command", None)
            if marker:
                word, help_text = marker
                found.append(Command(word, help_text, getattr(self, attribute)))
        return found


def discover_plugins() -> list[Plugin]:
    """Instantiate every installed plugin; one that fails to load is reported and skipped."""
    plugins = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            plugins.append(entry.load()())
        except Exception:
            log.exception("plugin %r (%s) failed to load; the other plugins run", entry.name,
                          entry.value)
    return plugins
