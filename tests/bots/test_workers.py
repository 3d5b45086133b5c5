"""The list of running bot processes (bots.workers), on SQLite and PostgreSQL, and a real bot
on it: in while it runs, out when it stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bots import workers
from bots.storage import Storage
from tests.conftest import eventually


def test_a_worker_is_seen_while_it_reports_and_gone_when_it_leaves_or_stops_reporting(
        database_url):
    storage = Storage(database_url)
    storage.migrate([workers.SCHEMA])
    workers.heartbeat("host-a:1", "component")
    workers.heartbeat("host-b:2", "component")
    workers.heartbeat("host-a:1", "component")  # again: still one row, started when it came
    assert [worker.name for worker in workers.seen()] == ["host-a:1", "host-b:2"]

    workers.leave("host-b:2")
    later = datetime.now(UTC) + workers.SEEN_WITHIN + timedelta(seconds=1)
    assert [worker.name for worker in workers.seen()] == ["host-a:1"]
    assert workers.seen(later) == []  # it stopped reporting: not up any more
    assert workers.Worker.select().count() == 1  # …but remembered for a while
    assert workers.seen(later + 10 * workers.SEEN_WITHIN) == []
    assert workers.Worker.select().count() == 0
    storage.close()


async def test_a_running_bot_is_on_the_list_and_off_it_once_stopped(make_bot):
    bot = await make_bot(plugins=[])
    await eventually(lambda: [worker.name for worker in workers.seen()] == [bot.outbox.worker])
    assert workers.seen()[0].mode == "client"
    await bot.stop()
    assert workers.seen() == []
