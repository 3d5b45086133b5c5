"""Due work from the database: local times across DST, restarts, downtime, failures, and
several workers on PostgreSQL sharing 1,000 due jobs without doing one twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import peewee
import pytest

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
