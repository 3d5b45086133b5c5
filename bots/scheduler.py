"""Due work that lives in the database, so a restart forgets nothing.

A schedule row says which job runs for which key (`lessons.deliver` for `subscription:42`),
when it is due next (`next_due_at`, UTC), and how it repeats: every N seconds, or daily at a
local time in a time zone (`zoneinfo`; DST-correct: 07:30 Berlin stays 07:30 all year).

A worker claims due rows, runs the job and moves `next_due_at` on, in one transaction: what the
job writes (e.g. outbox rows) and the new due time commit together or not at all, so no run is
lost or doubled by a crash. On PostgreSQL several workers share the rows without double work
(`SELECT … FOR UPDATE SKIP LOCKED`); SQLite serialises writers, so one worker is the rule.

After downtime a row that was due several times runs once, then continues from now: a bot that
was down for three days sends today's lesson, not three (jobs that need catching up read
`run.missed`).

A run that fails is rolled back and tried again after 1 minute, then 2, 4 … (at most the job's
own interval, or a day), so a broken job neither hammers what it talks to nor fills the log:
its traceback is logged once, later failures in a row one line each; a success resets it.
Only rows of registered jobs are taken: the rows of a job nobody registers (its plugin is
disabled, or failed to start) are the plugin's data; they wait untouched and are reported once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Callable, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import peewee

from bots.storage import Schema

log = logging.getLogger(__name__)

RETRY_SECONDS = 60  # a job that raised runs again this much later, then twice as late each time
MAX_RETRY_SECONDS = 24 * 3600  # ...but at the latest after its own interval, or a day
REPORT_EVERY = timedelta(hours=1)  # how often to look for rows of jobs nobody registers


class Clock:
    """The time in UTC; tests use `FakeClock` to move it."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock(Clock):
    def __init__(self, start: datetime):
        self.current = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, moment: datetime) -> None:
        self.current = moment.astimezone(UTC)


class Schedule(peewee.Model):
    job = peewee.CharField(max_length=200)
    key = peewee.CharField(max_length=200)
    next_due_at = peewee.DateTimeField()  # naive UTC: portable across backends
    every_seconds = peewee.IntegerField(null=True)
    daily_at = peewee.CharField(max_length=5, null=True)  # "07:30", local time
    timezone = peewee.CharField(max_length=64, null=True)
    payload = peewee.TextField(default="{}")
    last_run_at = peewee.DateTimeField(null=True)
    runs = peewee.IntegerField(default=0)
    failures = peewee.IntegerField(default=0)  # in a row; how long the next retry waits

    class Meta:
        table_name = "bots_schedule"
        indexes = ((("job", "key"), True), (("job", "next_due_at", "id"), False))


SCHEMA = Schema("scheduler", (Schedule,), "bots.migrations.scheduler")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; write e.g. Europe/Berlin") from None


def next_daily(after: datetime, at: time, timezone: str) -> datetime:
    """The first moment after `after` (aware) when the local clock in `timezone` shows `at`.

    A local time that does not exist on a spring-forward day (02:30 in Berlin on the last Sunday
    of March) fires at the same wall-clock distance after the jump (03:30); one that exists
    twice on a fall-back day fires at its first occurrence.
    """
    tz = zone(timezone)
    local_day = after.astimezone(tz).date()
    for offset in range(0, 3):
        candidate = _local(local_day + timedelta(days=offset), at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a day later is always later")


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0 reads a gap time with the offset before the jump (02:30 CET = 03:30 CEST) and an
    # ambiguous time as its first occurrence: both as the docstring above promises.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass
class Run:
    """What a job gets: its key, payload, when it was due, and how many dues it missed."""

    job: str
    key: str
    payload: dict
    due_at: datetime
    missed: int
    now: datetime


class Scheduler:
    """Plans and runs due jobs; `run_due()` is one pass, `loop()` keeps passing. `batch`: rows
    per transaction (500: 100,000 lessons due at once went 6 % faster than with 100; each
    statement of a batch costs a round trip to the database, whatever its size)."""

    def __init__(self, db: peewee.Database, clock: Clock | None = None,
                 worker: str = "worker", batch: int = 500):
        self.db = db
        self.clock = clock or Clock()
        self.worker = worker
        self.batch = batch
        self.jobs: dict[str, Callable[[Run], None]] = {}
        self.batch_jobs: dict[str, Callable[[list[Run]], None]] = {}
        self._reported: set[str] = set()  # jobs with rows but no handler, named in the log
        self._failed_batches: set[str] = set()  # batch jobs whose traceback was logged
        self._looked_for_unregistered_at: datetime | None = None

    def register(self, name: str, handler: Callable[[Run], None]) -> None:
        self.jobs[name] = handler

    def register_batch(self, name: str, handler: Callable[[list[Run]], None]) -> None:
        """A job that takes all its due runs of a pass at once (up to `batch`): thousands of
        learners due in the same minute cost a few queries per batch, not per learner. If a
        batch fails, its runs are tried one by one, so one bad row does not hold up the rest."""
        self.batch_jobs[name] = handler

    # --- planning --------------------------------------------------------------------------
    def every(self, job: str, key: str, seconds: int, payload: dict | None = None,
              keep: bool = False) -> None:
        """Plan `job` for `key` every `seconds`. `keep`: a plan from an earlier run stays as it
        is while it is declared the same (a restart); a changed declaration is planned anew."""
        due = self.clock.now() + timedelta(seconds=seconds)
        self._upsert(job, key, due, payload, keep, every_seconds=seconds)

    def daily(self, job: str, key: str, at: str, timezone: str, payload: dict | None = None,
              keep: bool = False) -> datetime:
        """Plan `job` for `key` every day at local time `at` ("07:30") in `timezone`; `keep`
        as in `every`."""
        local_time = _parse_time(at)
        due = next_daily(self.clock.now(), local_time, timezone)
        self._upsert(job, key, due, payload, keep, daily_at=at, timezone=timezone)
        return due

    def once(self, job: str, key: str, at: datetime, payload: dict | None = None) -> None:
        self._upsert(job, key, at, payload, keep=False)

    def cancel(self, job: str, key: str) -> bool:
        return Schedule.delete().where((Schedule.job == job) & (Schedule.key == key)).execute() > 0

    def remove_undeclared(self, key: str, declared: Iterable[str]) -> None:
        """Delete the plans under `key` of every job not in `declared` (a job its plugin no
        longer has, or the plugin itself is gone)."""
        undeclared = (Schedule.key == key) & Schedule.job.not_in(list(declared))
        for (job,) in Schedule.select(Schedule.job).where(undeclared).tuples():
            log.info("job %r is declared no more; its plan is removed", job)
        Schedule.delete().where(undeclared).execute()

    def _upsert(self, job, key, due: datetime, payload, keep: bool, every_seconds=None,
                daily_at=None, timezone=None) -> None:
        declaration = dict(every_seconds=every_seconds, daily_at=daily_at, timezone=timezone)
        if keep:
            existing = Schedule.get_or_none((Schedule.job == job) & (Schedule.key == key))
            if existing is not None:
                if all(getattr(existing, name) == value for name, value in declaration.items()):
                    return
                log.info("job %r is declared differently now; it is planned anew", job)
        values = dict(next_due_at=_naive_utc(due), payload=json.dumps(payload or {}), failures=0,
                      **declaration)
        Schedule.insert(job=job, key=key, **values).on_conflict(
            conflict_target=[Schedule.job, Schedule.key],
            update={getattr(Schedule, name): value for name, value in values.items()}).execute()

    # --- running ---------------------------------------------------------------------------
    def run_due(self) -> int:
        """Run every due row of a registered job; returns how many ran. Job by job, a batch of
        each in turn: a job with thousands due does not hold up the few due of another."""
        now = self.clock.now()
        self._report_unregistered(now)
        # a look without a transaction first: on SQLite each transaction takes the write lock
        # the outbox and every message need, and most passes find nothing due
        ran, busy = 0, [job for job in dict.fromkeys([*self.jobs, *self.batch_jobs])
                        if self._anything_due(job, now)]
        while busy:
            counts = {job: self._run_batch(job) for job in busy}
            ran += sum(counts.values())
            busy = [job for job, count in counts.items() if count == self.batch]
        return ran

    @staticmethod
    def _anything_due(job: str, now: datetime) -> bool:
        return Schedule.select(Schedule.id).where(
            (Schedule.job == job) & (Schedule.next_due_at <= _naive_utc(now))).exists()

    def _report_unregistered(self, now: datetime) -> None:
        """Name each job that has rows but no handler here, once (looking at most hourly)."""
        if (self._looked_for_unregistered_at is not None
                and now - self._looked_for_unregistered_at < REPORT_EVERY):
            return
        self._looked_for_unregistered_at = now
        known = [*self.jobs, *self.batch_jobs, *self._reported]
        waiting = (Schedule.select(Schedule.job, peewee.fn.COUNT(Schedule.id))
                   .where(Schedule.job.not_in(known)).group_by(Schedule.job).tuples())
        for job, count in waiting:
            self._reported.add(job)
            log.warning("%d schedule rows of job %r are skipped: nothing registers this job "
                        "(its plugin disabled, or failed to start?); they wait untouched",
                        count, job)

    def _run_batch(self, job: str) -> int:
        """Run up to `batch` due rows of `job`, the longest due first; returns how many. One
        job per query: its index (job, next_due_at, id) hands over the first rows in order,
        where asking for several jobs at once sorted every due row of them at each batch
        (100,000 lessons due: 1,000 sorts of up to 100,000 rows)."""
        now = self.clock.now()
        with self.db.atomic():
            query = (Schedule.select()
                     .where((Schedule.job == job) & (Schedule.next_due_at <= _naive_utc(now)))
                     .order_by(Schedule.next_due_at, Schedule.id)
                     .limit(self.batch))
            if isinstance(self.db, peewee.PostgresqlDatabase):
                query = query.for_update("FOR UPDATE SKIP LOCKED")
            due = list(query)
            if job in self.batch_jobs:
                if due:
                    self._run(self.batch_jobs[job], due, now)
            else:
                for row in due:
                    self._run(lambda runs, handler=self.jobs[job]: handler(runs[0]), [row], now)
        return len(due)

    def _run(self, handler, rows: list[Schedule], now: datetime) -> None:
        """Run the handler for these rows in a savepoint (a failing job rolls back alone) and
        move their schedules on; a failed batch is retried row by row."""
        plans = [(row, *self._following(row, row.next_due_at.replace(tzinfo=UTC), now))
                 for row in rows]
        runs = [Run(row.job, row.key, json.loads(row.payload), row.next_due_at.replace(
            tzinfo=UTC), missed, now) for row, _following, missed in plans]
        try:
            with self.db.atomic():
                handler(runs)
        except Exception as error:
            if len(rows) == 1:
                self._back_off(rows[0], now, error)
                return
            job = rows[0].job
            log.warning("batch job %r failed for %d runs (%s); running them one by one",
                        job, len(rows), type(error).__name__,
                        exc_info=job not in self._failed_batches)
            self._failed_batches.add(job)
            for row in rows:
                self._run(handler, [row], now)
            return
        by_following: dict[datetime | None, list[int]] = {}
        for row, following, _missed in plans:
            by_following.setdefault(following, []).append(row.id)
        for following, ids in by_following.items():
            if following is None:
                Schedule.delete().where(Schedule.id.in_(ids)).execute()
            else:
                Schedule.update(next_due_at=_naive_utc(following), last_run_at=_naive_utc(now),
                                runs=Schedule.runs + 1, failures=0
                                ).where(Schedule.id.in_(ids)).execute()

    def _back_off(self, row: Schedule, now: datetime, error: Exception) -> None:
        """Call inside the `except`: the first failure in a row logs its traceback."""
        failures = row.failures + 1
        wait = _retry_seconds(failures, row.every_seconds)
        if failures == 1:
            log.exception("job %r failed (schedule row %d); tried again in %d s",
                          row.job, row.id, wait)
        else:
            log.warning("job %r failed again (schedule row %d, %s, %d times in a row); "
                        "tried again in %d s", row.job, row.id, type(error).__name__, failures,
                        wait)
        Schedule.update(next_due_at=_naive_utc(now + timedelta(seconds=wait)),
                        failures=failures).where(Schedule.id == row.id).execute()

    def _following(self, row: Schedule, due_at: datetime, now: datetime):
        """The next due time after this run, and how many due times were skipped."""
        if row.every_seconds:
            step = timedelta(seconds=row.every_seconds)
            missed = int((now - due_at) / step)
            return due_at + step * (missed + 1), missed
        if row.daily_at:
            following = next_daily(now, _parse_time(row.daily_at), row.timezone)
            missed = max(0, (now - due_at).days)
            return following, missed
        return None, 0


def _retry_seconds(failures: int, every_seconds: int | None) -> int:
    """1 minute after the first failure, twice as long after each further one, capped."""
    cap = min(every_seconds or MAX_RETRY_SECONDS, MAX_RETRY_SECONDS)
    return min(RETRY_SECONDS * 2 ** min(failures - 1, 20), cap)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is no time of day; write e.g. 07:30") from None
