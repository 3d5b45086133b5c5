"""The room book as the running bot has it, over a test database and the session's ejabberd
(its admin API), for the service tests and for steps a CLI test cannot take on the command
line (a person's `join`)."""

from __future__ import annotations

import pytest

from bots.app import schemas
from bots.devserver import BOT_USER
from bots.storage import Storage
from bots.testing import join_settings, services_over
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.course import load_courses
from plugins.rooms import Rooms


@pytest.fixture
def open_book(xmpp_server):
    """Factory: `open_book(url)` is the rooms plugin's book over the database at `url`
    (migrated; the lessons plugin beside it with its example courses); closed after the
    test."""
    storages = []

    def open_(url: str):
        plugin, lessons = Rooms(), Lessons()
        storage = Storage(url)
        storages.append(storage)
        storage.migrate(schemas([plugin, lessons]))
        settings = {name: value for name, value in join_settings(xmpp_server).items()
                    if name.startswith("EJABBERD_")}
        xmpp_server.devserver.ensure_user(BOT_USER)
        bot = services_over(storage, [plugin, lessons], BOT_LANGUAGE="en",
                            XMPP_JID=f"{BOT_USER}@{xmpp_server.domain}", **settings)
        for course in load_courses(EXAMPLE_COURSES):
            lessons.make_classroom(bot).import_course(course)
        return plugin.make_book(bot)

    yield open_
    for storage in storages:
        storage.close()
