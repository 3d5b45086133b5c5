"""The status feed over real HTTP (twisted.web on the bot's loop): what the company's system
is told when its input cannot be taken."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request

import pytest

from bots import audit
from plugins.status import Status
from plugins.status.models import StatusChange

TOKEN = "feed-secret-for-tests"


@pytest.fixture
async def feed(make_bot):
    return await make_bot(plugins=[Status({**Status.default_config, "token": TOKEN})])


def post_now(bot, path: str, payload: dict, authorization: str = f"Bearer {TOKEN}"
             ) -> tuple[int, dict]:
    """A POST to the feed from a thread of the test's (the server runs on its event loop)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{bot.web.port}/status/{path}", method="POST",
        data=json.dumps(payload).encode(), headers={"authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def post(bot, path: str, payload: dict, authorization: str = f"Bearer {TOKEN}"
               ) -> tuple[int, dict]:
    return await asyncio.to_thread(post_now, bot, path, payload, authorization)


async def test_an_event_id_sent_again_for_another_item_is_a_conflict(feed):
    for ref in ("4711", "4712"):
        assert (await post(feed, "items", {"ref": ref, "kind": "vehicle"}))[0] == 201
    event = {"event_id": "dms-1", "ref": "4711", "state": "cleaning"}
    assert (await post(feed, "events", event))[1]["changed"] is True
    assert (await post(feed, "events", event))[1]["duplicate"] is True
    status, answer = await post(feed, "events", {**event, "ref": "4712"})
    assert status == 409 and answer == {
        "error": "event_id: dms-1 was sent for item 4711 already; give each event an id of "
                 "its own", "field": "event_id"}
    status, answer = await post(feed, "events", {**event, "event_id": "x" * 201})
    assert status == 400 and answer["field"] == "event_id"
    assert await feed.storage.run(lambda: [
        (entry.actor, entry.channel, entry.action, entry.subject)
        for entry in audit.entries()]) == [("system", "http", "status.set", "4711"),
                                           ("system", "http", "status.create", "4712"),
                                           ("system", "http", "status.create", "4711")]


async def test_the_token_alone_is_no_bearer_token(feed):
    status, answer = await post(feed, "items", {"ref": "4711", "kind": "vehicle"},
                                authorization=TOKEN)
    assert status == 401 and answer["field"] == "token"


async def test_concurrent_creates_of_one_item_give_one_201_and_conflicts(make_bot, database_url):
    """They raced past the existence check: PostgreSQL's unique index refused all but one
    with an IntegrityError, answered 500; SQLite's write lock made them a 400."""
    bot = await make_bot(plugins=[Status({**Status.default_config, "token": TOKEN})],
                         DATABASE_URL=database_url)
    together = threading.Barrier(20)

    def create(_number) -> tuple[int, dict]:
        together.wait(timeout=30)
        return post_now(bot, "items", {"ref": "4711", "kind": "vehicle"})

    def all_at_once() -> list[tuple[int, dict]]:
        with ThreadPoolExecutor(20) as clients:
            return list(clients.map(create, range(20)))
    answers = await asyncio.to_thread(all_at_once)
    assert sorted(status for status, _answer in answers) == [201] + [409] * 19
    assert {answer["field"] for status, answer in answers if status == 409} == {"ref"}


async def test_text_the_stream_cannot_carry_is_cleaned_or_refused_by_name(make_bot,
                                                                          database_url):
    """A NUL in a note was a 500 on PostgreSQL, and a \\x01 was stored and pushed as is."""
    bot = await make_bot(plugins=[Status({**Status.default_config, "token": TOKEN})],
                         DATABASE_URL=database_url)
    status, _ = await post(bot, "items", {"ref": "4711", "kind": "vehicle",
                                          "note": "angenommen\x00"})
    assert status == 201
    event = {"event_id": "dms-1", "ref": "4711", "state": "cleaning",
             "note": "Felgen\x01 extra\x00"}
    assert (await post(bot, "events", event))[0] == 200
    for field in ("event_id", "ref"):
        status, answer = await post(bot, "events", {**event, field: "dms\x002"})
        assert status == 400 and answer["field"] == field
    status, answer = await post(bot, "items", {"ref": "47\x0012", "kind": "vehicle"})
    assert status == 400 and answer["field"] == "ref"

    def notes() -> list[str]:
        return [change.note for change in StatusChange.select().order_by(StatusChange.id)]
    assert await bot.storage.run(notes) == ["angenommen", "Felgen extra"]
