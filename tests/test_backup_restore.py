"""Backup and restore as deploy/README.md ("Backup and restore") tells an admin: the bot's
database saved with the guide's commands (`sqlite3 … ".backup …"`, `pg_dump -Fc`), restored
with them into a new database (`sqlite3 … ".restore …"`, `pg_restore`), and a bot started on
the copy carries on: the message waiting in its outbox reaches the customer, and the lesson
that fell due while it was down is delivered, then planned for the next day. ejabberd's side:
its SQLite database and its Mnesia backup (`ejabberdctl backup`/`restore`) on the test server."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from bots.app import schemas
from bots.outbox import PENDING, OutboxMessage
from bots.scheduler import FakeClock, Schedule, Scheduler
from bots.storage import Storage
from bots.testing import services_over
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.classroom import JOB
from plugins.lessons.course import load_courses
from tests.fresh_databases import fresh_postgres_database

NOTE = "Ihr Fahrzeug ist abholbereit."


def utcnow() -> datetime:
    """Naive UTC, as the tables store time."""
    return datetime.now(UTC).replace(tzinfo=None)


def fill(url: str, customer: str) -> None:
    """A bot's database as it is when the bot goes down: a message in the outbox not yet sent,
    and the customer's daily lesson planned for a moment that will have passed."""
    storage = Storage(url)
    try:
        lessons = Lessons()
        storage.migrate(schemas([lessons]))
        two_days_ago = datetime.now(UTC) - timedelta(days=2)
        bot = services_over(storage, [lessons], Scheduler(storage.db, FakeClock(two_days_ago)),
                            BOT_LANGUAGE="en")
        classroom = lessons.make_classroom(bot)
        for course in load_courses(EXAMPLE_COURSES):
            classroom.import_course(course)
        classroom.subscribe(customer, "deutsch-alltag", "en")
        assert bot.notify("backup-test", customer, NOTE)
    finally:
        storage.close()


def back_up_and_restore(backend: str, url: str, tmp_path, restored_url: str) -> None:
    """The guide's commands, with the test's paths and databases (and without `runuser` and
    `--role`: here one database role does everything)."""
    if backend == "sqlite":
        source, copy = url.removeprefix("sqlite:///"), tmp_path / "backup.db"
        subprocess.run(["sqlite3", source, f".backup {copy}"], check=True)
        subprocess.run(["sqlite3", restored_url.removeprefix("sqlite:///"), f".restore {copy}"],
                       check=True)
        return
    copy = tmp_path / "botschaft.pgdump"
    with copy.open("wb") as out:
        subprocess.run(["pg_dump", "-Fc", url], stdout=out, check=True)
    with copy.open("rb") as backup:
        subprocess.run(["pg_restore", "--no-owner", "-d", restored_url], stdin=backup,
                       check=True)


def waiting_work(url: str) -> tuple[int, int]:
    """(messages pending in the outbox, lessons due by now) in the database at `url`."""
    storage = Storage(url)
    try:
        storage.migrate(schemas([Lessons()]))
        pending = OutboxMessage.select().where(OutboxMessage.state == PENDING).count()
        due = Schedule.select().where((Schedule.job == JOB)
                                      & (Schedule.next_due_at < utcnow())).count()
        return pending, due
    finally:
        storage.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request, tmp_path):
    """(backend, the bot's database URL, the URL of a new one to restore into)."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'bot.db'}", f"sqlite:///{tmp_path / 'new.db'}"
        return
    with fresh_postgres_database("backup") as url, fresh_postgres_database("restored") as new:
        yield "postgresql", url, new


async def test_a_restored_bot_sends_what_waited_and_delivers_what_fell_due(
        two_databases, tmp_path, make_account, chat_client, make_bot):
    backend, url, restored_url = two_databases
    customer, password = make_account("kunde")
    fill(url, customer)
    back_up_and_restore(backend, url, tmp_path, restored_url)
    assert waiting_work(restored_url) == (1, 1)

    client = await chat_client(customer, password)
    bot = await make_bot(DATABASE_URL=restored_url)
    bodies = {(await client.next_message(bot.boundjid.bare, timeout=15))["body"]
              for _ in range(2)}
    assert NOTE in bodies
    assert any(body.startswith("Deutsch im Alltag — lesson 1 of") for body in bodies), bodies

    def next_lesson() -> datetime:
        return Schedule.get(Schedule.job == JOB).next_due_at
    assert await bot.storage.run(next_lesson) > utcnow()  # tomorrow's is planned


def test_ejabberd_s_database_and_mnesia_are_saved_and_mnesia_restored(xmpp_server,
                                                                      make_account, tmp_path):
    customer = make_account("kunde")[0]
    devserver = xmpp_server.devserver
    copy = tmp_path / "ejabberd.sqlite"
    subprocess.run(["sqlite3", str(devserver.spool / "ejabberd.sqlite"), f".backup {copy}"],
                   check=True)
    with sqlite3.connect(copy) as saved:
        users = {name for (name,) in saved.execute("SELECT username FROM users")}
    saved.close()
    assert customer.split("@")[0] in users

    mnesia = devserver.spool / "mnesia.backup"  # where the ejabberd user may write
    try:
        devserver.ctl("backup", str(mnesia))
        assert mnesia.stat().st_size > 0
        devserver.ctl("restore", str(mnesia))
    finally:
        mnesia.unlink(missing_ok=True)
    assert devserver.status()["running"]
