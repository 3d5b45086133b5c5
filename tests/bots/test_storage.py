"""The database from a URL, on SQLite and the real PostgreSQL: migrations and the worker pool."""

from __future__ import annotations

import sys
import threading

import peewee
import pytest

from bots.storage import Schema, Storage, StorageError


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


async def test_database_work_runs_on_the_worker_pool_not_the_event_loop(storage):
    Ticket = make_models(with_priority=True)
    storage.migrate([Schema("demo", (Ticket,))])

    def create_and_report_thread():
        Ticket.create(title="from a worker")
        return threading.current_thread().name

    assert (await storage.run(create_and_report_thread)).startswith("db")
    assert await storage.run(lambda: Ticket.select().count()) == 1


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
