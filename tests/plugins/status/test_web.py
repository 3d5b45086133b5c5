"""The status feed over real HTTP (twisted.web on the bot's loop): what the company's system
is told when its input cannot be taken."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from plugins.status import Status

TOKEN = "feed-secret-for-tests"


@pytest.fixture
async def feed(make_bot):
    return await make_bot(plugins=[Status({**Status.default_config, "token": TOKEN})])


async def post(bot, path: str, payload: dict, authorization: str = f"Bearer {TOKEN}"
               ) -> tuple[int, dict]:
    def call():
        request = urllib.request.Request(
            f"http://127.0.0.1:{bot.web.port}/status/{path}", method="POST",
            data=json.dumps(payload).encode(), headers={"authorization": authorization})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
    return await asyncio.to_thread(call)


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


async def test_the_token_alone_is_no_bearer_token(feed):
    status, answer = await post(feed, "items", {"ref": "4711", "kind": "vehicle"},
                                authorization=TOKEN)
    assert status == 401 and answer["field"] == "token"
