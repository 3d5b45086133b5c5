"""Due work from the database: local times across DST, restarts, downtime, failures, and
several workers on PostgreSQL sharing 1,000 due jobs without doing one twice."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import peewee
import pytest

from bots.plugin import Plugin, job
from bots.scheduler import SCHEMA, FakeClock, Schedule, Scheduler, next_daily
from bots.storage import Schema, Storage

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*fields) -> datetime:
    return datetime(*fields, tzinfo=UTC)


@pytest.mark.parametrize("after, expected", [
    (utc(2026, 3, 27, 12), utc(2026, 3, 28, 6, 30)),   # Saturday: CET, UTC+1
    (utc(2026, 3, 28, 12), utc(2026, 3, 29, 5, 30)),   # DST starts that night: CEST, UTC+2
    (utc(2026, 10, 24, 12), utc(2026, 10, 25, 6, 30)),  # DST ends that night: CET again
    (utc(2026, 3, 29, 5, 30), utc(2026, 3, 30, 5, 30)),  # exactly at the time: the next day
])
def test_a_daily_time_in_berlin_stays_at_0730_local_across_dst(after, expected):
    due = next_daily(after, time(7, 30), "Europe/Berlin")
    assert due == expected
    assert due.astimezone(BERLIN).time() == time(7, 30)


def test_a_learner_in_another_zone_gets_their_own_local_time():
    # New York changes on other dates (8 March, 1 November 2026): 07:30 there all the same.
    for day in (6, 7, 8, 9):
        due = next_daily(utc(2026, 3, day, 15), time(7, 30), "America/New_York")
        assert due.astimezone(ZoneInfo("America/New_York")).time() == time(7, 30)
    assert next_daily(utc(2026, 3, 8, 15), time(7, 30), "America/New_York") == \
        utc(2026, 3, 9, 11, 30)


def test_times_that_do_not_exist_or_exist_twice_are_well_defined():
    # 02:30 does not exist in Berlin on 29 March 2026: it fires at 03:30 local (01:30 UTC).
    assert next_daily(utc(2026, 3, 29, 0), time(2, 30), "Europe/Berlin") == utc(2026, 3, 29, 1, 30)
    # 02:30 exists twice on 25 October 2026: it fires once, at the first one.
    assert next_daily(utc(2026, 10, 25, 0), time(2, 30), "Europe/Berlin") == \
        utc(2026, 10, 25, 0, 30)


def test_an_unknown_time_zone_is_named():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Berlinn'"):
        next_daily(utc(2026, 1, 1), time(7), "Europe/Berlinn")


class Ran(peewee.Model):
    """What the jobs in these tests leave behind: one row per run."""
    key = peewee.CharField()
    local = peewee.CharField()
    worker = peewee.CharField(default="")

    class Meta:
        table_name = "test_ran"


@pytest.fixture
def storage(database_url):
    store = Storage(database_url, workers=2)
    store.migrate([SCHEMA, Schema("test", (Ran,))])
    yield store
    store.close()


def record(run):
    Ran.create(key=run.key, local=run.now.astimezone(BERLIN).strftime("%m-%d %H:%M"))


def test_a_daily_job_runs_once_a_day_at_local_time_through_the_march_change(storage):
    clock = FakeClock(utc(2026, 3, 26, 12))
    scheduler = Scheduler(storage.db, clock)
    scheduler.register("lesson", record)
    scheduler.daily("lesson", "learner-1", "07:30", "Europe/Berlin")
    for _ in range(4 * 24 * 4):  # four days in steps of 15 minutes
        clock.advance(timedelta(minutes=15))
        scheduler.run_due()
    assert [ran.local for ran in Ran.select().order_by(Ran.id)] == \
        ["03-27 07:30", "03-28 07:30", "03-29 07:30", "03-30 07:30"]


def test_schedules_survive_a_restart(storage):
    clock = FakeClock(utc(2026, 10, 24, 12))
    Scheduler(storage.db, clock).daily("lesson", "learner-1", "07:30", "Europe/Berlin")
    restarted = Scheduler(storage.db, clock)  # a new process: only the database is left
    restarted.register("lesson", record)
    clock.set(utc(2026, 10, 25, 6, 30))
    assert restarted.run_due() == 1
    assert [ran.local for ran in Ran.select()] == ["10-25 07:30"]


def test_after_downtime_a_missed_daily_job_runs_once_then_keeps_its_time(storage):
    clock = FakeClock(utc(2026, 5, 1, 12))
    scheduler = Scheduler(storage.db, clock)
    missed = []
    scheduler.register("lesson", lambda run: missed.append(run.missed))
    scheduler.daily("lesson", "learner-1", "07:30", "Europe/Berlin")
    clock.set(utc(2026, 5, 4, 9))  # down from Friday noon until Monday 11:00 local
    assert scheduler.run_due() == 1
    assert missed == [2]  # due on Saturday; Sunday's and Monday's passed too
    assert scheduler.run_due() == 0
    row = Schedule.get()
    assert row.next_due_at == datetime(2026, 5, 5, 5, 30)  # Tuesday 07:30 Berlin, in UTC


def test_a_failing_job_rolls_back_alone_and_is_tried_again(storage):
    clock = FakeClock(utc(2026, 6, 1, 12))
    scheduler = Scheduler(storage.db, clock)
    attempts = Counter()

    def flaky(run):
        attempts[run.key] += 1
        Ran.create(key=run.key, local="written before the failure")
        if run.key == "bad" and attempts[run.key] == 1:
            raise RuntimeError("the mail server is down")

    scheduler.register("job", flaky)
    for key in ("good", "bad"):
        scheduler.once("job", key, clock.now())
    assert scheduler.run_due() == 2
    assert [ran.key for ran in Ran.select()] == ["good"]  # the failed run left nothing behind
    clock.advance(timedelta(seconds=61))
    assert scheduler.run_due() == 1
    assert sorted(ran.key for ran in Ran.select()) == ["bad", "good"]


def test_jobs_take_turns_so_thousands_due_of_one_hold_up_none_of_another(storage):
    clock = FakeClock(utc(2026, 6, 1, 12))
    scheduler = Scheduler(storage.db, clock, batch=10)
    order = []
    scheduler.register_batch("lesson", lambda runs: order.extend(run.job for run in runs))
    scheduler.register("reminder", lambda run: order.append(run.job))
    with storage.db.atomic():
        for number in range(35):
            scheduler.once("lesson", f"learner-{number}", clock.now() - timedelta(minutes=2))
        scheduler.once("reminder", "one", clock.now() - timedelta(minutes=1))
    assert scheduler.run_due() == 36
    assert order.index("reminder") <= 10  # in the first round, not after the 35 lessons


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one worker
def test_two_workers_on_postgresql_run_each_of_1000_due_jobs_exactly_once(storage):
    clock = FakeClock(utc(2026, 7, 1, 12))
    planner = Scheduler(storage.db, clock)
    with storage.db.atomic():
        for number in range(1000):
            planner.once("job", f"job-{number}", clock.now() - timedelta(minutes=1))

    start = threading.Barrier(2)
    done = Counter()

    def work(name: str):
        scheduler = Scheduler(storage.db, clock, worker=name, batch=25)
        scheduler.register("job", lambda run: Ran.create(key=run.key, local="", worker=name))
        start.wait()
        done[name] = scheduler.run_due()
        storage.db.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    runs = Counter(ran.key for ran in Ran.select())
    assert len(runs) == 1000 and set(runs.values()) == {1}
    assert done["a"] + done["b"] == 1000
    assert done["a"] > 0 and done["b"] > 0, done  # both did share the work
    assert Schedule.select().count() == 0


@pytest.mark.timeout(60)  # the bug this guards against made run_due() loop forever
def test_rows_of_a_job_nobody_registers_neither_stall_others_nor_flood_the_log(storage, caplog):
    clock = FakeClock(utc(2026, 8, 3, 12))
    scheduler = Scheduler(storage.db, clock)
    with storage.db.atomic():  # a plugin, now disabled, left 150 subscriptions due
        for number in range(150):
            scheduler.once("lessons.deliver", f"subscription:{number}",
                           clock.now() - timedelta(minutes=1))
    scheduler.once("job", "after-them", clock.now())
    scheduler.register("job", record)
    due_before = sorted(row.next_due_at for row in Schedule.select().where(
        Schedule.job == "lessons.deliver"))

    with caplog.at_level(logging.WARNING, logger="bots.scheduler"):
        assert scheduler.run_due() == 1
        for _ in range(3):  # more passes, an hour later too: still one report
            clock.advance(timedelta(minutes=40))
            assert scheduler.run_due() == 0
    assert [ran.key for ran in Ran.select()] == ["after-them"]
    reports = [record.getMessage() for record in caplog.records]
    assert len(reports) == 1 and "'lessons.deliver'" in reports[0] and "150" in reports[0]
    assert sorted(row.next_due_at for row in Schedule.select().where(
        Schedule.job == "lessons.deliver")) == due_before  # the plugin's data, untouched


def test_a_plan_is_kept_while_its_declaration_stays_and_replanned_when_it_changes(storage):
    clock = FakeClock(utc(2026, 8, 3, 12))
    scheduler = Scheduler(storage.db, clock)
    scheduler.every("tick", "plugin", 600, keep=True)
    clock.advance(timedelta(minutes=5))
    scheduler.every("tick", "plugin", 600, keep=True)  # a restart, nothing changed
    assert Schedule.get().next_due_at == datetime(2026, 8, 3, 12, 10)
    scheduler.every("tick", "plugin", 3600, keep=True)  # every="10m" became every="1h"
    assert (Schedule.get().every_seconds, Schedule.get().next_due_at) == \
        (3600, datetime(2026, 8, 3, 13, 5))
    scheduler.daily("tick", "plugin", "07:30", "Europe/Berlin", keep=True)  # at= instead
    scheduler.daily("tick", "plugin", "08:00", "Europe/Berlin", keep=True)  # at= changed
    row = Schedule.get()
    assert (row.every_seconds, row.daily_at, row.next_due_at) == \
        (None, "08:00", datetime(2026, 8, 4, 6, 0))


def test_a_failing_job_backs_off_logs_its_traceback_once_and_recovers(storage, caplog):
    clock = FakeClock(utc(2026, 8, 3, 12))
    start = clock.now()
    scheduler = Scheduler(storage.db, clock)
    attempts = []
    healthy = threading.Event()

    def mail(run):
        attempts.append(int((run.now - start).total_seconds() // 60))
        if not healthy.is_set():
            raise RuntimeError("the mail server is down")

    scheduler.register("mail", mail)
    scheduler.daily("mail", "office", "14:00", "Europe/Berlin")  # 12:00 UTC
    clock.advance(timedelta(days=1))

    def minutes(count: int) -> None:
        for _ in range(count):
            scheduler.run_due()
            clock.advance(timedelta(minutes=1))

    with caplog.at_level(logging.WARNING, logger="bots.scheduler"):
        minutes(40)
    day = 24 * 60
    assert attempts == [day, day + 1, day + 3, day + 7, day + 15, day + 31]  # 1, 2, 4, 8, 16 min
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info  # the traceback, once
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 5 and not any(record.exc_info for record in warnings)
    assert "RuntimeError" in warnings[0].getMessage()

    healthy.set()  # a success resets the backoff: the next failure waits a minute again
    minutes(30)
    assert attempts[-1] == day + 63 and Schedule.get().next_due_at == datetime(2026, 8, 5, 12)
    healthy.clear()
    clock.set(utc(2026, 8, 5, 12))
    minutes(3)
    assert attempts[-2:] == [2 * day, 2 * day + 1]


def test_the_backoff_stops_growing_at_the_jobs_own_interval(storage):
    clock = FakeClock(utc(2026, 8, 3, 12))
    start = clock.now()
    scheduler = Scheduler(storage.db, clock)
    attempts = []

    def failing(run):
        attempts.append(int((run.now - start).total_seconds() // 60))
        raise RuntimeError("still broken")

    scheduler.register("sync", failing)
    scheduler.every("sync", "feed", 300)
    for _ in range(30):
        clock.advance(timedelta(minutes=1))
        scheduler.run_due()
    assert attempts == [5, 6, 8, 12, 17, 22, 27]  # 1, 2, 4, then every 5 minutes


def test_a_schedule_from_before_the_backoff_is_migrated_and_keeps_its_rows(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'old.db'}")
    for statement in (  # the table as the previous release created it
            'CREATE TABLE "bots_schedule" ("id" INTEGER NOT NULL PRIMARY KEY, "job" VARCHAR(200) '
            'NOT NULL, "key" VARCHAR(200) NOT NULL, "next_due_at" DATETIME NOT NULL, '
            '"every_seconds" INTEGER, "daily_at" VARCHAR(5), "timezone" VARCHAR(64), '
            '"payload" TEXT NOT NULL, "last_run_at" DATETIME, "runs" INTEGER NOT NULL)',
            'CREATE INDEX "schedule_next_due_at" ON "bots_schedule" ("next_due_at")',
            'CREATE UNIQUE INDEX "schedule_job_key" ON "bots_schedule" ("job", "key")',
            "INSERT INTO bots_schedule (job, key, next_due_at, every_seconds, payload, runs) "
            "VALUES ('status.expire', 'plugin', '2026-08-03 12:00:00', 60, '{}', 4)"):
        storage.db.execute_sql(statement)
    assert storage.migrate([SCHEMA]) == ["scheduler: 0001_backoff_and_due_by_job",
                                         "scheduler: 0002_due_rows_in_order_per_job"]
    assert {index.name for index in storage.db.get_indexes("bots_schedule")} == {
        "schedule_job_key", "schedule_job_next_due_at_id"}  # as a fresh database has them
    row = Schedule.get()
    assert (row.job, row.runs, row.failures) == ("status.expire", 4, 0)
    assert storage.migrate([SCHEMA]) == []
    storage.close()


def ticker(every: str) -> Plugin:
    """The plugin 'ticker' in a release whose one job runs `every`."""
    class Ticker(Plugin):
        name = "ticker"

        @job(every=every)
        def tick(self, ctx):
            """Does nothing: only its plan matters here."""
    return Ticker()


class Retired(Plugin):
    """A plugin the next release no longer has (or that is disabled now)."""
    name = "retired"

    @job(at="03:00")
    def cleanup(self, ctx):
        """Does nothing: only its plan matters here."""


async def test_at_start_changed_jobs_are_replanned_and_undeclared_ones_removed(
        make_bot, tmp_path):
    clock = FakeClock(utc(2026, 8, 3, 12))
    database = f"sqlite:///{tmp_path / 'jobs.db'}"
    first = await make_bot(plugins=[ticker("10m"), Retired()], clock=clock,
                           DATABASE_URL=database)
    await first.storage.run(  # a per-person plan of the retired plugin: its data, not ours
        first.scheduler.daily, "retired.remind", "person:7", "07:30", "Europe/Berlin")
    await first.stop()

    clock.advance(timedelta(minutes=5))
    second = await make_bot(plugins=[ticker("1h")], clock=clock, DATABASE_URL=database)
    plans = {(row.job, row.key): row for row in await second.storage.run(
        lambda: list(Schedule.select()))}
    tick = plans.pop(("ticker.tick", "plugin"))
    assert (tick.every_seconds, tick.next_due_at) == (3600, datetime(2026, 8, 3, 13, 5))
    assert ("retired.cleanup", "plugin") not in plans
    assert ("retired.remind", "person:7") in plans


def test_a_batch_that_fails_where_its_runs_alone_succeed_logs_its_traceback_once(
        storage, caplog):
    clock = FakeClock(utc(2026, 8, 3, 12))
    scheduler = Scheduler(storage.db, clock)

    def one_at_a_time(runs):
        if len(runs) > 1:
            raise RuntimeError("a bug in the batch path")
        record(runs[0])

    scheduler.register_batch("lesson", one_at_a_time)
    for learner in ("anna", "bert", "cem"):
        scheduler.daily("lesson", learner, "07:30", "Europe/Berlin")
    with caplog.at_level(logging.WARNING, logger="bots.scheduler"):
        for _ in range(2):  # two mornings
            clock.advance(timedelta(days=1))
            assert scheduler.run_due() == 3
    assert Ran.select().count() == 6
    assert [bool(record.exc_info) for record in caplog.records] == [True, False]
