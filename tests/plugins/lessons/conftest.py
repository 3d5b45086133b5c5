"""A classroom on a real database (SQLite and PostgreSQL) and a clock the test moves; the
plugin over it, for its commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.app import schemas
from bots.scheduler import FakeClock, Scheduler
from bots.storage import Storage
from bots.testing import services_over
from plugins.lessons import Lessons
from plugins.lessons.classroom import JOB
from plugins.lessons.course import CourseSpec, LessonSpec


def spec(*slugs: str) -> CourseSpec:
    """A course "kurs" with one short lesson per slug."""
    return CourseSpec("kurs", "Kurs", "de", lessons=[
        LessonSpec(slug, slug.title(), f"Text {slug}") for slug in slugs])


@pytest.fixture
def classroom(database_url):
    """Monday 4 January 2027, 07:00 in Berlin (the bot's time zone)."""
    plugin = Lessons()
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    clock = FakeClock(datetime(2027, 1, 4, 6, 0, tzinfo=UTC))
    scheduler = Scheduler(storage.db, clock)
    bot = services_over(storage, [plugin], scheduler, BOT_TIMEZONE="Europe/Berlin")
    classroom = plugin.classroom = plugin.make_classroom(bot, now=clock.now)
    bot.on_due(JOB, classroom.deliver_due)
    classroom.clock, classroom.scheduler, classroom.plugin = clock, scheduler, plugin
    yield classroom
    storage.close()
