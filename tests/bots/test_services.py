"""The services a plugin gets (bots/services.py): news between plugins, the admin API."""

from __future__ import annotations

import pytest

from bots.app import schemas
from bots.ejabberd_api import EjabberdAPIError
from bots.people import PersonSetting
from bots.plugin import Plugin
from bots.storage import Storage
from bots.testing import services_over
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.course import load_courses


class Listener(Plugin):
    """Writes down what it hears, and fails on "boom" after writing."""

    name = "listener"

    def __init__(self, name: str = "listener"):
        super().__init__()
        self.name = name
        self.heard = []

    def on_event(self, bot, event, data):
        self.heard.append((event, data))
        PersonSetting.create(jid=f"{self.name}.{event}@example.com", language="de")
        if event == "boom":
            raise RuntimeError("a listener that fails")


@pytest.fixture
def storage(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([Lessons()]))
    yield storage
    storage.close()


def test_news_reach_every_plugin_and_a_failing_one_undoes_only_its_own_writes(storage):
    first, second = Listener("first"), Listener("second")
    bot = services_over(storage, [first, second])
    with bot.database.atomic():
        PersonSetting.create(jid="emitter@example.com", language="en")
        bot.emit("boom", jid="a@example.com")
        bot.emit("fine", jid="a@example.com")
    assert first.heard == second.heard == [("boom", {"jid": "a@example.com"}),
                                           ("fine", {"jid": "a@example.com"})]
    kept = sorted(row.jid for row in PersonSetting.select())
    assert kept == ["emitter@example.com", "first.fine@example.com", "second.fine@example.com"]


def test_lessons_tell_other_plugins_of_subscriptions_and_stops(storage):
    listener, lessons = Listener(), Lessons()
    bot = services_over(storage, [lessons, listener])
    classroom = lessons.make_classroom(bot)
    for course in load_courses(EXAMPLE_COURSES):
        classroom.import_course(course)
    subscribed = classroom.subscribe("learner@example.com", "deutsch-alltag", "de")
    classroom.stop(subscribed.subscription)
    assert listener.heard == [
        ("lessons.subscribed", {"jid": "learner@example.com", "course": "deutsch-alltag"}),
        ("lessons.stopped", {"jid": "learner@example.com", "course": "deutsch-alltag"})]


def test_the_admin_api_without_settings_says_what_to_set(storage):
    with pytest.raises(EjabberdAPIError, match=r"\[ejabberd\] api_url"):
        services_over(storage).ejabberd


def test_room_actions_need_the_running_bot(storage):
    with pytest.raises(RuntimeError, match="running bot"):
        services_over(storage).rooms.say("room@conference.example.com", "hello")


def test_the_admin_api_from_the_settings_uses_a_token(storage, xmpp_server):
    instance = xmpp_server.instance
    bot = services_over(storage, EJABBERD_API_URL=instance.api().url,
                        EJABBERD_ADMIN_JID=instance.admin_jid,
                        EJABBERD_ADMIN_PASSWORD=instance.admin_password)
    assert bot.ejabberd.uses_token and bot.ejabberd.call("status")
    assert bot.ejabberd is bot.ejabberd  # one client, one token
