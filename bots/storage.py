"""The database: peewee from a URL, schema migrations, and a small worker pool.

`sqlite:///path` is the embedded default (WAL mode, so readers never wait for the writer);
`postgresql://user@host/db` is the production path (psycopg 3). Database calls never run on the
event loop: `await storage.run(fn, ...)` hands them to a bounded pool of worker threads, each
with its own connection (peewee keeps connections per thread).

Schemas: a fresh database gets every model's table at once and its migrations are recorded as
done; an existing one runs its pending migrations (playhouse.migrations, numbered scripts with
`up(migrator, db)` in the package's `migrations/` folder), then creates tables of new models.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import importlib.util
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner

log = logging.getLogger(__name__)


class StorageError(Exception):
    """The database URL or the database itself is not usable; the message says why."""


@dataclass(frozen=True)
class Schema:
    """The tables one package (the core or a plugin) owns, and where its migrations live."""

    owner: str
    models: tuple
    migrations_package: str | None = None


def open_database(url: str) -> peewee.Database:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise StorageError(f"database url {url!r}: write sqlite:///relative/file.db or "
                               "sqlite:////absolute/file.db")
        # lock_type: transactions take the write lock when they begin (BEGIN IMMEDIATE). A
        # deferred one that reads first and writes later fails at once with "database is
        # locked" when another connection wrote in between, whatever busy_timeout says.
        return peewee.SqliteDatabase(path, lock_type="IMMEDIATE", pragmas={
            "journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
            "busy_timeout": 10000})
    if scheme in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg") is None:  # peewee uses psycopg 3 when present
            raise StorageError("PostgreSQL needs psycopg 3: pip install 'botschaft[postgres]'")
        return connect_url(url)
    raise StorageError(f"database url {url!r}: the scheme must be sqlite or postgresql")


class Storage:
    """One database for the core and all plugins, used from the event loop."""

    def __init__(self, url: str, workers: int = 4):
        self.url = url
        self.db = open_database(url)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")

    @property
    def backend(self) -> str:
        return "postgresql" if isinstance(self.db, peewee.PostgresqlDatabase) else "sqlite"

    async def run(self, fn, *args, **kwargs):
        """Run database work (plain peewee code) on a worker thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(self._call, fn, *args, **kwargs))

    def _call(self, fn, *args, **kwargs):
        self.db.connect(reuse_if_open=True)
        return fn(*args, **kwargs)

    def check(self) -> None:
        """Connect once and say clearly when that is impossible."""
        try:
            self.db.connect(reuse_if_open=True)
            self.db.execute_sql("SELECT 1")
        except peewee.OperationalError as exc:
            raise StorageError(f"cannot open the database {_redacted(self.url)}: "
                               f"{str(exc).strip()}") from None

    def migrate(self, schemas: list[Schema]) -> list[str]:
        """Bring every schema up to date; returns what was applied ("owner: migration")."""
        self.check()
        applied = []
        for schema in schemas:
            self.db.bind(list(schema.models))  # plugins declare models without a database
            fresh = not any(model.table_exists() for model in schema.models)
            runner = self._runner(schema)
            with self.db.atomic():
                if fresh:
                    self.db.create_tables(schema.models, safe=True)
                    if runner:
                        runner.fake()
                else:
                    if runner:
                        applied += [f"{schema.owner}: {name}" for name in runner.up()]
                    self.db.create_tables(schema.models, safe=True)
        return applied

    def pending(self, schemas: list[Schema]) -> list[str]:
        """Migrations not yet applied (for `botschaft doctor`)."""
        pending = []
        for schema in schemas:
            self.db.bind(list(schema.models))
            runner = self._runner(schema)
            if runner and any(model.table_exists() for model in schema.models):
                pending += [f"{schema.owner}: {m.name}" for m in runner.status() if not m.applied]
        return pending

    def _runner(self, schema: Schema) -> Runner | None:
        if not schema.migrations_package:
            return None
        directory = importlib.resources.files(schema.migrations_package)
        return Runner(self.db, str(directory), table_name=f"migrations_{schema.owner}")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if not self.db.is_closed():
            self.db.close()


def _redacted(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
