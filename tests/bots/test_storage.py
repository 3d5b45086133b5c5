"""The database from a URL, on SQLite and the real PostgreSQL: migrations, the worker pool, a
binding per Storage (two bots in one process), reconnecting after a PostgreSQL restart."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import peewee
import pytest

from bots.outbox import OutboxMessage, enqueue
from bots.plugin import Plugin, command
from bots.storage import BATCH_MOST, Schema, Storage, StorageError, redacted


@pytest.fixture
def storage(database_url):
    store = Storage(database_url, workers=2)
    yield store
    store.close()


def make_models(with_priority: bool):
    """Version 1 of a plugin's table, or version 2 with one more column."""
    class Ticket(peewee.Model):
        title = peewee.CharField()
        if with_priority:
            priority = peewee.IntegerField(default=3)

        class Meta:
            table_name = "demo_ticket"
    return Ticket


@pytest.fixture
def migrations_package(tmp_path, monkeypatch):
    """A plugin package whose migrations/ adds the priority column (version 1 → 2)."""
    package = tmp_path / "demo_plugin"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "migrations" / "0001_add_priority.py").write_text(
        "import peewee\n\n"
        "def up(migrator, db):\n"
        "    migrator.migrate(migrator.add_column('demo_ticket', 'priority',\n"
        "                                         peewee.IntegerField(default=3)))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "demo_plugin.migrations"
    for name in [name for name in sys.modules if name.startswith("demo_plugin")]:
        del sys.modules[name]


def test_a_fresh_database_gets_the_current_tables_and_records_the_migrations(
        storage, migrations_package):
    Ticket = make_models(with_priority=True)
    schema = Schema("demo", (Ticket,), migrations_package)
    assert storage.migrate([schema]) == []  # nothing to run: the tables are new
    assert storage.pending([schema]) == []
    Ticket.create(title="first", priority=1)
    assert Ticket.get().priority == 1


def test_an_existing_database_is_migrated_and_keeps_its_rows(storage, migrations_package):
    old = make_models(with_priority=False)
    storage.migrate([Schema("demo", (old,))])
    old.create(title="kept")

    new = make_models(with_priority=True)
    schema = Schema("demo", (new,), migrations_package)
    assert storage.pending([schema]) == ["demo: 0001_add_priority"]
    assert storage.migrate([schema]) == ["demo: 0001_add_priority"]
    assert [(t.title, t.priority) for t in new.select()] == [("kept", 3)]
    assert storage.migrate([schema]) == []  # running it again changes nothing


def test_workers_starting_together_migrate_a_fresh_database_one_after_another(database_url):
    """Four processes' worth of Storages migrate the core's tables at the same moment; without
    the lock the losers fail on tables the winner just made (PostgreSQL) or on the file the
    winner is switching to WAL (SQLite)."""
    from bots.app import schemas
    ready, results = threading.Barrier(4), []

    def start_worker():  # each on its own Storage's threads, as in its own process
        store = Storage(database_url)
        try:
            ready.wait(10)
            results.append(asyncio.run(store.run(store.migrate, schemas([]))))
        except Exception as exc:
            results.append(exc)
        finally:
            store.close()
    workers = [threading.Thread(target=start_worker) for _worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert results == [[], [], [], []]


def test_one_at_a_time_holds_out_the_other_process_until_the_first_is_done(database_url):
    first, second = Storage(database_url), Storage(database_url)
    inside, release, order = threading.Event(), threading.Event(), []

    def hold():
        with first.one_at_a_time("test.turns"):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    def wait_turn():
        inside.wait(10)
        with second.one_at_a_time("test.turns"):
            order.append("second in")
    holder, waiter = threading.Thread(target=hold), threading.Thread(target=wait_turn)
    holder.start()
    waiter.start()
    inside.wait(10)
    waiter.join(0.5)  # it is waiting for the lock, not done
    assert waiter.is_alive() and order == ["first in"]
    release.set()
    holder.join(10)
    waiter.join(10)
    assert order == ["first in", "first out", "second in"]
    first.close()
    second.close()


def test_a_second_bot_process_on_one_sqlite_file_is_refused_with_the_way_out(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    serving, second = Storage(url), Storage(url)
    serving.serve_alone()
    with pytest.raises(StorageError, match=f"another bot process \\(pid {os.getpid()}\\) "
                                           "serves the SQLite database .*PostgreSQL"):
        second.serve_alone()
    serving.close()  # the process ends: the next one may serve
    second.serve_alone()
    second.close()


async def test_database_work_runs_on_the_worker_pool_not_the_event_loop(storage):
    Ticket = make_models(with_priority=True)
    storage.migrate([Schema("demo", (Ticket,))])

    def create_and_report_thread():
        Ticket.create(title="from a worker")
        return threading.current_thread().name

    assert (await storage.run(create_and_report_thread)).startswith("db")
    assert await storage.run(lambda: Ticket.select().count()) == 1


async def test_writes_that_arrive_together_share_a_transaction_and_keep_their_own_results(
        storage):
    Ticket = make_models(with_priority=True)
    storage.migrate([Schema("demo", (Ticket,))])
    batches = []

    def write(titles: list[str]) -> list:
        batches.append(len(titles))
        Ticket.insert_many([{"title": title} for title in titles if title != "bad"]).execute()
        return [ValueError("no bad titles") if title == "bad" else title.upper()
                for title in titles]

    results = await asyncio.gather(*(storage.run_batched(write, f"t{n}") for n in range(50)),
                                   storage.run_batched(write, "bad"), return_exceptions=True)
    assert batches == [51]  # all arrived before the first batch was written: one transaction
    assert results[:50] == [f"T{n}" for n in range(50)]
    assert isinstance(results[50], ValueError)  # to its caller alone
    assert await storage.run(lambda: Ticket.select().count()) == 50

    def broken(titles: list[str]) -> list:
        Ticket.insert_many([{"title": title} for title in titles]).execute()
        raise RuntimeError("the disk is full")

    results = await asyncio.gather(storage.run_batched(broken, "x"),
                                   storage.run_batched(broken, "y"), return_exceptions=True)
    assert [str(result) for result in results] == ["the disk is full"] * 2
    assert await storage.run(lambda: Ticket.select().count()) == 50  # rolled back, both

    batches.clear()
    await asyncio.gather(*(storage.run_batched(write, f"u{n}") for n in range(BATCH_MOST + 9)))
    assert batches == [BATCH_MOST, 9]  # no burst holds the writer's lock for long


def test_the_backend_is_the_one_the_url_names(storage, database_url):
    assert storage.backend == database_url.split(":")[0]
    if storage.backend == "sqlite":
        assert storage.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("url, message", [
    ("mysql://localhost/x", "the scheme must be sqlite or postgresql"),
    ("sqlite://", "write sqlite:///relative/file.db"),
])
def test_a_bad_url_is_explained(url, message):
    with pytest.raises(StorageError, match=message):
        Storage(url)


def test_an_unreachable_postgresql_is_reported_with_the_url_but_not_the_password():
    storage = Storage("postgresql://bot:secret@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(StorageError) as error:
            storage.check()
        assert "127.0.0.1:1" in str(error.value) and "secret" not in str(error.value)
    finally:
        storage.close()


@pytest.mark.parametrize("url, shown", [
    ("postgresql://bot:s3cr3t@db.example.com:5432/bots",
     "postgresql://bot:***@db.example.com:5432/bots"),
    ("postgresql://bot:s3/cr@3t@db.example.com/bots",  # not percent-encoded, as people type it
     "postgresql://bot:***@db.example.com/bots"),
    ("postgresql://db.example.com/bots?user=bot&password=s3cr3t&sslmode=require",
     "postgresql://db.example.com/bots?user=bot&password=***&sslmode=require"),
    ("postgresql://bot@db.example.com:5432/bots", "postgresql://bot@db.example.com:5432/bots"),
    ("sqlite:///var/lib/botschaft/bot.db", "sqlite:///var/lib/botschaft/bot.db"),
])
def test_a_printed_database_url_never_shows_the_password(url, shown):
    assert redacted(url) == shown


@pytest.mark.parametrize("url", ["mysql://bot:s3cr3t@localhost/bots",
                                 "sqlite://bot:s3cr3t@"])
def test_a_bad_url_with_a_password_is_explained_without_it(url):
    with pytest.raises(StorageError) as error:
        Storage(url)
    assert "bot:***@" in str(error.value) and "s3cr3t" not in str(error.value)


def column_in(path, table: str, column: str) -> list:
    """One column of a table in a SQLite file, read past peewee and every binding."""
    with sqlite3.connect(path) as connection:
        return [value for (value,) in connection.execute(f"SELECT {column} FROM {table}")]


async def test_two_storages_in_one_process_each_get_their_own_rows(tmp_path):
    Ticket = make_models(with_priority=True)
    first = Storage(f"sqlite:///{tmp_path / 'first.db'}", workers=2)
    second = Storage(f"sqlite:///{tmp_path / 'second.db'}", workers=2)
    try:
        for storage in (first, second):
            storage.migrate([Schema("demo", (Ticket,))])
        await asyncio.gather(*(storage.run(Ticket.create, title=f"{name} {number}")
                               for number in range(10)
                               for name, storage in (("first", first), ("second", second))))
        for name, storage in (("first", first), ("second", second)):
            assert sorted(column_in(storage.db.database, "demo_ticket", "title")) == sorted(
                f"{name} {number}" for number in range(10))
        assert await first.run(lambda: Ticket.select().count()) == 10
        # a thread outside both pools (the event loop, a CLI command) sees the one bound last
        assert Ticket.select().where(Ticket.title.startswith("second")).count() == 10
    finally:
        first.close()
        second.close()


async def test_two_bots_in_one_test_each_write_to_their_own_database(make_bot, chat_client):
    first = await make_bot(plugins=[])
    second = await make_bot(plugins=[])
    customer = await chat_client()
    await first.storage.run(enqueue, "test:first-only", customer.boundjid.bare, "From the first")
    assert (await customer.next_message(first.boundjid.bare))["body"] == "From the first"
    table = OutboxMessage._meta.table_name
    assert column_in(first.storage.db.database, table, "key") == ["test:first-only"]
    assert column_in(second.storage.db.database, table, "key") == []


POSTGRES_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))


class PrivatePostgres:
    """A PostgreSQL server of the test's own (Debian's binaries, a free port, a temporary
    directory), so that tests may restart it: the machine's shared one is never touched."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="botschaft-test-pg-"))
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.dir / "data"),
                        "-l", str(self.dir / "log"), "-w", "-t", "120", *args], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "initdb"), "-D", str(self.dir / "data"),
                        "-U", "postgres", "--auth=trust", "-E", "UTF8"], check=True,
                       stdout=subprocess.DEVNULL)
        self._pg_ctl("-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                           f"-c unix_socket_directories={self.dir}", "start")

    def restart(self) -> None:
        """As an admin's `systemctl restart postgresql`: every connection is cut."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self) -> str:
        import psycopg
        name = f"test_{uuid.uuid4().hex[:12]}"
        url = f"postgresql://postgres@127.0.0.1:{self.port}"
        with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return f"{url}/{name}"


@pytest.fixture(scope="module")
def private_postgres():
    if not POSTGRES_BINARIES:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl, initdb): "
                    "apt-get install postgresql")
    server = PrivatePostgres(Path(POSTGRES_BINARIES[-1]).parent)
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_after_a_postgresql_restart_the_next_call_works_with_the_data_intact(
        private_postgres):
    storage = Storage(private_postgres.new_database(), workers=1)  # one thread, one connection
    try:
        Ticket = make_models(with_priority=True)
        await storage.run(storage.migrate, [Schema("demo", (Ticket,))])
        await storage.run(Ticket.create, title="before the restart")
        private_postgres.restart()
        assert await storage.run(lambda: [t.title for t in Ticket.select()]) == [
            "before the restart"]
        await storage.run(Ticket.create, title="after the restart")
        assert await storage.run(lambda: Ticket.select().count()) == 2
    finally:
        storage.close()


async def test_a_transaction_cut_by_a_restart_runs_again_whole_and_lands_once(
        private_postgres):
    storage = Storage(private_postgres.new_database(), workers=1)
    try:
        Ticket = make_models(with_priority=True)
        await storage.run(storage.migrate, [Schema("demo", (Ticket,))])
        runs = []

        def two_rows_in_one_transaction():
            runs.append(1)
            with storage.db.atomic():
                Ticket.create(title=f"first row, run {len(runs)}")
                if len(runs) == 1:
                    private_postgres.restart()
                Ticket.create(title="second row")
        await storage.run(two_rows_in_one_transaction)
        assert len(runs) == 2
        assert sorted(await storage.run(lambda: [t.title for t in Ticket.select()])) == [
            "first row, run 2", "second row"]
    finally:
        storage.close()


async def test_work_that_left_its_transaction_open_is_not_run_again(private_postgres):
    storage = Storage(private_postgres.new_database(), workers=1)
    try:
        Ticket = make_models(with_priority=True)
        await storage.run(storage.migrate, [Schema("demo", (Ticket,))])
        runs = []

        def restarted_inside_an_unfinished_transaction():
            runs.append(1)
            storage.db.atomic().__enter__()  # begun by hand and never ended
            Ticket.create(title="never committed")
            private_postgres.restart()
            return Ticket.select().count()
        with pytest.raises(peewee.OperationalError):
            await storage.run(restarted_inside_an_unfinished_transaction)
        assert len(runs) == 1
        assert await storage.run(lambda: Ticket.select().count()) == 0  # the next call works
    finally:
        storage.close()


async def test_a_failing_query_is_not_taken_for_a_lost_connection(storage):
    runs = []

    def broken_query():
        runs.append(1)
        storage.db.execute_sql("SELECT * FROM no_such_table")
    with pytest.raises(peewee.DatabaseError):
        await storage.run(broken_query)
    assert len(runs) == 1


async def test_a_bot_on_postgresql_answers_and_delivers_after_the_database_restarted(
        private_postgres, make_bot, chat_client):
    bot = await make_bot(plugins=[], DATABASE_URL=private_postgres.new_database(),
                         DATABASE_WORKERS="1")
    customer = await chat_client()
    assert "English" in await customer.ask(bot.boundjid.bare, "language en")
    private_postgres.restart()
    assert "English" in await customer.ask(bot.boundjid.bare, "language en", timeout=30)
    await bot.storage.run(enqueue, "test:after-restart", customer.boundjid.bare, "Still here")
    assert (await customer.next_message(bot.boundjid.bare, 30))["body"] == "Still here"


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_an_unreachable_postgresql_fails_the_run_under_ci_and_is_skipped_elsewhere(ci, outcome):
    environ = {**os.environ, "CI": ci,
               "BOTSCHAFT_TEST_POSTGRES_URL": "postgresql://bot:s3cr3t@127.0.0.1:1/none"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{__file__}::test_the_backend_is_the_one_the_url_names[postgresql]"],
        cwd=Path(__file__).parents[2], env=environ, capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1].startswith(outcome), result.stdout
    assert result.returncode == (1 if ci else 0)
    assert "no PostgreSQL at postgresql://bot:***@127.0.0.1:1/none" in result.stdout
    assert "s3cr3t" not in result.stdout


class Stuck(Plugin):
    """Plain handlers that wait until told: a slow ERP call, a stuck lock."""
    name = "stuck"

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.waiting = threading.Semaphore(0)

    @command(help="waits")
    def wait(self, ctx) -> str:
        self.waiting.release()
        self.release.wait(60)
        return "released"


async def test_slow_plain_handlers_do_not_hold_up_delivery(make_bot, chat_client):
    plugin = Stuck()
    bot = await make_bot(plugins=[plugin], DATABASE_WORKERS="2", DATABASE_HANDLER_WORKERS="2")
    customers = [await chat_client() for _ in range(3)]
    try:
        for customer in customers:  # more than all the threads of either pool
            customer.say(bot.boundjid.bare, "wait")
        for _ in range(2):
            await asyncio.to_thread(plugin.waiting.acquire, timeout=10)
        await bot.storage.run(enqueue, "push:meanwhile", customers[0].boundjid.bare,
                              "Your car is ready")
        bot.outbox.wake()
        assert (await customers[0].next_message(bot.boundjid.bare))["body"] == \
            "Your car is ready"
    finally:
        plugin.release.set()
    for customer in customers:
        assert (await customer.next_message(bot.boundjid.bare, timeout=20))["body"] == "released"
