"""The announcer over a real database (SQLite and PostgreSQL), with a scheduler whose clock the
test moves: the plugin's logic without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.app import schemas
from bots.scheduler import FakeClock, Scheduler
from bots.storage import Storage
from bots.testing import services_over
from plugins.announce import Announce
from plugins.announce.service import JOB

LISTS = {"news": {"title": {"en": "News", "de": "Neuigkeiten"},
                  "about": {"en": "closures and events", "de": "Schließtage und Termine"}},
         "offers": {"title": {"en": "Offers", "de": "Angebote"}, "timezone": "America/New_York",
                    "wording_version": 3}}


@pytest.fixture
def announcer(database_url):
    """The announcer of a plugin with the lists `news` and `offers`; `.scheduler` and
    `.clock` (from now on, moved by the test) beside it."""
    plugin = Announce({"lists": LISTS})
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    clock = FakeClock(datetime.now(UTC))
    scheduler = Scheduler(storage.db, clock)
    bot = services_over(storage, [plugin], scheduler, BOT_TIMEZONE="Europe/Berlin",
                        BOT_LANGUAGE="en")
    announcer = plugin.announcer = plugin.make_announcer(bot)
    bot.on_due(JOB, announcer.go_out_due)
    announcer.clock, announcer.scheduler, announcer.plugin = clock, scheduler, plugin
    yield announcer
    storage.close()
