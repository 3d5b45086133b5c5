"""Personal data is kept only as long as it serves its purpose.

An outbox row holds a message's text and recipient so that it is sent exactly once; once it is
done (acknowledged) or failed, it is history. A core job, run hourly by the scheduler, deletes
such rows after `[retention] outbox_days`, in batches, so no statement grows with the backlog.
Rows still pending or sent (awaiting the server's acknowledgement) are never touched.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from peewee import fn

from bots.outbox import DONE, FAILED, OutboxMessage

log = logging.getLogger(__name__)

RETENTION_JOB = "bots.outbox_retention"
RETENTION_EVERY = 3600  # seconds
BATCH = 1000


def purge_outbox(now: datetime, keep_days: int, batch: int = BATCH) -> int:
    """Delete done and failed outbox rows finished more than `keep_days` before `now`;
    returns how many."""
    cutoff = (now - timedelta(days=keep_days)).astimezone(UTC).replace(tzinfo=None)
    finished_before = (OutboxMessage.state.in_((DONE, FAILED))
                       & (fn.COALESCE(OutboxMessage.done_at, OutboxMessage.created_at) < cutoff))
    deleted = 0
    while True:
        next_batch = OutboxMessage.select(OutboxMessage.id).where(finished_before).limit(batch)
        count = OutboxMessage.delete().where(OutboxMessage.id.in_(next_batch)).execute()
        deleted += count
        if count < batch:
            break
    if deleted:
        log.info("retention: deleted %d outbox messages finished more than %d days ago",
                 deleted, keep_days)
    return deleted
