"""Which bot processes are running on this database: each `botschaft run` reports in now and
then (`heartbeat`), so that `botschaft doctor` and /metrics can say how many workers are up
and which, without any process knowing the others. A worker stopped cleanly leaves at once
(`leave`); one that died is simply not seen any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee

from bots.storage import Schema

HEARTBEAT_EVERY = 30  # seconds between a worker's reports
SEEN_WITHIN = timedelta(seconds=3 * HEARTBEAT_EVERY)  # up: reported this recently


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Worker(peewee.Model):
    name = peewee.CharField(max_length=255, primary_key=True)  # host:pid, as the outbox's claims
    mode = peewee.CharField(max_length=16)  # client or component
    started_at = peewee.DateTimeField(default=_utcnow)
    seen_at = peewee.DateTimeField(default=_utcnow, index=True)

    class Meta:
        table_name = "bots_worker"


SCHEMA = Schema("workers", (Worker,))


def heartbeat(name: str, mode: str) -> None:
    """This process is up (its first report records when it started)."""
    now = _utcnow()
    Worker.insert(name=name, mode=mode, started_at=now, seen_at=now).on_conflict(
        conflict_target=[Worker.name], update={Worker.seen_at: now}).execute()


def leave(name: str) -> None:
    Worker.delete().where(Worker.name == name).execute()


def seen(now: datetime | None = None) -> list[Worker]:
    """The workers that reported within SEEN_WITHIN, oldest first; older rows are removed."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    Worker.delete().where(Worker.seen_at < now - 10 * SEEN_WITHIN).execute()
    return list(Worker.select().where(Worker.seen_at >= now - SEEN_WITHIN)
                .order_by(Worker.started_at))
