"""Retention: finished outbox rows (message texts: personal data) are deleted after
`[retention] outbox_days` by a core job the scheduler runs; queued rows and recent ones stay."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from bots.outbox import DONE, FAILED, PENDING, SENT, OutboxMessage
from bots.outbox import SCHEMA as OUTBOX_SCHEMA
from bots.retention import RETENTION_EVERY, RETENTION_JOB, purge_outbox
from bots.scheduler import SCHEMA as SCHEDULER_SCHEMA
from bots.scheduler import FakeClock, Scheduler
from bots.storage import Storage

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
RECIPIENT = "anna@example.com"


def outbox_row(key: str, state: str, days_ago: float) -> None:
    """A row finished (or, if pending or sent, written) `days_ago` days before NOW."""
    moment = (NOW - timedelta(days=days_ago)).replace(tzinfo=None)
    finished = state in (DONE, FAILED)
    OutboxMessage.create(key=key, origin_id=key, recipient=RECIPIENT, body="Lektion 3",
                         state=state, created_at=moment - timedelta(minutes=5),
                         done_at=moment if finished else None)


def outbox_keys() -> set[str]:
    return {row.key for row in OutboxMessage.select(OutboxMessage.key)}


def test_finished_rows_older_than_keep_days_are_deleted_in_batches_the_rest_stay(
        database_url, caplog):
    storage = Storage(database_url)
    storage.migrate([SCHEDULER_SCHEMA, OUTBOX_SCHEMA])
    for number in range(3):
        outbox_row(f"done-long-ago-{number}", DONE, 8)
    outbox_row("failed-long-ago", FAILED, 8)
    outbox_row("done-recently", DONE, 6.9)
    outbox_row("pending-for-a-month", PENDING, 30)  # not sent yet: never deleted
    outbox_row("sent-a-month-ago", SENT, 30)  # not acknowledged yet: still needed
    clock = FakeClock(NOW)
    scheduler = Scheduler(storage.db, clock)
    scheduler.register(RETENTION_JOB, lambda run: purge_outbox(run.now, keep_days=7, batch=2))
    scheduler.every(RETENTION_JOB, "plugin", RETENTION_EVERY)

    with caplog.at_level(logging.INFO, logger="bots"):
        assert scheduler.run_due() == 0  # not due before an hour has passed
        clock.advance(timedelta(seconds=RETENTION_EVERY))
        assert scheduler.run_due() == 1
    assert outbox_keys() == {"done-recently", "pending-for-a-month", "sent-a-month-ago"}
    assert "deleted 4 outbox messages" in caplog.text
    assert RECIPIENT not in caplog.text and "Lektion" not in caplog.text  # counts only
    storage.close()


async def test_the_running_bot_deletes_old_finished_rows_when_the_job_is_due(make_bot):
    clock = FakeClock(NOW)
    bot = await make_bot(plugins=[], clock=clock, RETENTION_OUTBOX_DAYS="3")
    await bot.storage.run(lambda: (outbox_row("done-4-days-ago", DONE, 4),
                                   outbox_row("done-2-days-ago", DONE, 2)))
    clock.advance(timedelta(seconds=RETENTION_EVERY))
    deadline = time.monotonic() + 30
    while await bot.storage.run(outbox_keys) != {"done-2-days-ago"}:
        assert time.monotonic() < deadline, "the old row was not deleted"
        await asyncio.sleep(0.1)
