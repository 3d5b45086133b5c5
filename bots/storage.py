"""The database: peewee from a URL, schema migrations, and a small worker pool.

`sqlite:///path` is the embedded default (WAL mode, so readers never wait for the writer);
`postgresql://user@host/db` is the production path (psycopg 3). Database calls never run on the
event loop: `await storage.run(fn, ...)` hands them to a bounded pool of worker threads, each
with its own connection (peewee keeps connections per thread); a connection the server dropped
(a PostgreSQL restart) is replaced, and the call tried once more.

Models are declared without a database (plugins write plain `peewee.Model`s); a Storage binds
them per thread, so two Storages in one process (two bots in a test) never mix their rows.

Schemas: a fresh database gets every model's table at once and its migrations are recorded as
done; an existing one runs its pending migrations (playhouse.migrations, numbered scripts with
`up(migrator, db)` in the package's `migrations/` folder), then creates tables of new models.

Several processes: on PostgreSQL, bot workers share one database; what must not run twice at
the same moment (migrations, planning the jobs) runs under a named lock (`one_at_a_time`).
SQLite is for one bot process: `serve_alone` refuses a second `botschaft run` on the same file
(CLI commands beside it are fine).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib.resources
import importlib.util
import logging
import os
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner
from playhouse.shortcuts import ThreadSafeDatabaseMetadata

from bots.threads import Threads

log = logging.getLogger(__name__)


BATCH_MOST = 250  # items in one run_batched transaction: others' writes wait no longer
BUSY_TIMEOUT_MS = 10_000  # how long a transaction waits for the write lock before it fails


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
            raise StorageError(f"database url {redacted(url)!r}: write "
                               "sqlite:///relative/file.db or sqlite:////absolute/file.db")
        # lock_type: transactions take the write lock when they begin (BEGIN IMMEDIATE). A
        # deferred one that reads first and writes later fails at once with "database is
        # locked" when another connection wrote in between, whatever busy_timeout says.
        return OneWriterSqliteDatabase(path, lock_type="IMMEDIATE", pragmas={
            "journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
            "busy_timeout": BUSY_TIMEOUT_MS})
    if scheme in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg") is None:  # peewee uses psycopg 3 when present
            raise StorageError("PostgreSQL needs psycopg 3: pip install 'botschaft[postgres]'")
        return connect_url(url)
    raise StorageError(f"database url {redacted(url)!r}: the scheme must be sqlite or "
                       "postgresql")


class OneWriterSqliteDatabase(peewee.SqliteDatabase):
    """SQLite lets one transaction write at a time. A thread that finds the write lock taken
    waits in SQLite's busy handler, which sleeps in steps (1, 2, 5, 10 … ms) and looks again:
    with a few threads writing at once, most of a message's time went to those sleeps. So the
    threads of this process queue on a lock of their own, taken at BEGIN and given up at
    COMMIT or ROLLBACK, and each is woken the moment the one before it is done; the busy
    handler is left for other processes (a CLI command beside the bot)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer = threading.Lock()
        self._writing = threading.local()  # whether this thread holds the lock

    def begin(self, lock_type=None):
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise peewee.OperationalError("database is locked (another transaction of this "
                                          f"process held it for {BUSY_TIMEOUT_MS // 1000} s)")
        self._writing.held = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._let_go()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        # peewee rolls back after a failed COMMIT: the lock is given up only once
        if getattr(self._writing, "held", False):
            self._writing.held = False
            self._writer.release()

    def _connect(self):
        """A connection's first statements switch a new file to WAL, which takes the file for
        itself and does not wait for another connection (no busy handler): four workers
        starting on a fresh file together failed now and then with "database is locked". So
        connections are opened one at a time among all processes, under a lock file beside
        the database (its own: a thread in `Storage.one_at_a_time` may open one).
        Once the file is in WAL, that switch is a look at its header."""
        turn = os.open(f"{self.database}.connecting", os.O_RDONLY | os.O_CREAT, 0o644)
        try:  # read-only: a file another user made (root running a CLI command) still locks
            fcntl.flock(turn, fcntl.LOCK_EX)
            return super()._connect()
        finally:
            os.close(turn)  # and with it the lock


class Storage:
    """One database for the core and all plugins, used from the event loop."""

    def __init__(self, url: str, workers: int = 4, handler_workers: int = 4):
        self.url = url
        self.db = open_database(url)
        self._models: tuple[type[peewee.Model], ...] = ()
        self._own_thread = threading.local()  # marks this Storage's worker threads
        self._serving = None  # the SQLite lock file held by `serve_alone`
        self._pool = Threads(workers, "db", self._mark_own_thread)
        # Plugins' handlers get threads of their own: however slow they are, the outbox and
        # the scheduler (on the pool above) go on.
        self._handler_pool = Threads(handler_workers, "handler", self._mark_own_thread)
        self._batched: dict = {}  # run_batched: fn → [(item, future)] waiting for a writer
        self._batch_writers: dict = {}  # fn → the task writing its batches

    @property
    def backend(self) -> str:
        return "postgresql" if isinstance(self.db, peewee.PostgresqlDatabase) else "sqlite"

    async def run(self, fn, *args, **kwargs):
        """Run database work (plain peewee code) on a worker thread and await its result.

        When the server dropped the connection (a PostgreSQL restart), `fn` runs once more on a
        new one: let it do its writes in one transaction, or so that running it again is
        harmless."""
        return await self._pool.run(self._call, fn, *args, **kwargs)

    async def run_handler(self, fn, *args, **kwargs):
        """`run` for a plugin's code (a sync command handler, or `ctx.db` work), on threads of
        its own."""
        return await self._handler_pool.run(self._call, fn, *args, **kwargs)

    async def run_batched(self, fn, item):
        """Database work for bursts on the message path (200 customers writing at once):
        `fn(items)` gets every item whose call arrived while the batch before was being
        written (BATCH_MOST at most, so that no burst holds the writer's lock for long), in
        order, in one transaction, and returns one result per item (an exception
        instead of a result is raised to that item's caller alone). So a burst costs a few
        transactions and a few statements, not 200 of each, every one waiting for the one
        before it. The result comes after the commit; if the commit fails, every caller of
        the batch gets its error."""
        future = asyncio.get_running_loop().create_future()
        self._batched.setdefault(fn, []).append((item, future))
        task = self._batch_writers.get(fn)
        if task is None or task.done():
            self._batch_writers[fn] = asyncio.create_task(self._write_batches(fn))
        return await future

    async def _write_batches(self, fn) -> None:
        while self._batched.get(fn):
            waiting = self._batched[fn]
            batch, self._batched[fn] = waiting[:BATCH_MOST], waiting[BATCH_MOST:]
            try:
                results = await self.run_handler(self._in_one_transaction, fn,
                                                 [item for item, _future in batch])
            except Exception as error:
                results = [error] * len(batch)
            for (_item, future), result in zip(batch, results, strict=True):
                if not future.done():
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    def _in_one_transaction(self, fn, items: list) -> list:
        with self.db.atomic():
            results = fn(items)
            if len(results) != len(items):  # rolled back: no caller can be told its own
                raise ValueError(f"{getattr(fn, '__qualname__', fn)!r} returned "
                                 f"{len(results)} results for {len(items)} items")
        return results

    def _mark_own_thread(self) -> None:
        self._own_thread.active = True

    def _call(self, fn, *args, **kwargs):
        self._bind_in_this_thread()
        self.db.connect(reuse_if_open=True)
        try:
            return fn(*args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError):
            if self.db.is_closed() or self.db.is_connection_usable():
                raise  # an error of the work itself, not of the connection
            in_transaction = self.db.in_transaction()
            self.db.connection().close()
            self.db.dispose()  # forget the broken connection; the next use opens a new one
            if in_transaction:
                raise  # what the transaction did is unknown: running fn again is not safe
            log.warning("the database connection was lost; trying once more on a new one")
            self.db.connect()
            return fn(*args, **kwargs)

    def check(self) -> None:
        """Connect once and say clearly when that is impossible."""
        try:
            self.db.connect(reuse_if_open=True)
            self.db.execute_sql("SELECT 1")
        except peewee.OperationalError as exc:
            raise StorageError(f"cannot open the database {redacted(self.url)}: "
                               f"{str(exc).strip()}") from None

    def serve_alone(self) -> None:
        """For `botschaft run` on SQLite: hold the database for this process until it ends, or
        StorageError if another process serves it. Two bots on one SQLite file would resume
        each other's outbox streams and fight over SQLite's single writer lock."""
        if self.backend != "sqlite" or self._serving is not None:
            return
        path = f"{self.db.database}.serving"
        holder = open(path, "a+", encoding="utf-8")  # held open while the process serves
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder.seek(0)
            other = holder.read().strip() or "unknown"
            holder.close()
            raise StorageError(
                f"another bot process (pid {other}) serves the SQLite database "
                f"{self.db.database}; SQLite is for one process. Stop it first, or use "
                "PostgreSQL for several workers ([database] url = postgresql://…)") from None
        holder.truncate(0)
        holder.write(f"{os.getpid()}\n")
        holder.flush()
        self._serving = holder

    @contextlib.contextmanager
    def one_at_a_time(self, name: str):
        """Run the block in one process at a time, among all that share the database:
        workers starting together migrate and plan their jobs one after another (PostgreSQL:
        a session advisory lock; SQLite: a lock file beside the database, as even its first
        connection, switching the file to WAL, cannot wait for another)."""
        if self.backend == "sqlite":
            with open(f"{self.db.database}.turns", "a", encoding="utf-8") as turn:
                fcntl.flock(turn, fcntl.LOCK_EX)  # released when the file closes
                yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.db.execute_sql("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            self.db.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))

    def migrate(self, schemas: list[Schema]) -> list[str]:
        """Bring every schema up to date; returns what was applied ("owner: migration")."""
        self.check()
        self.bind(schemas)
        with self.one_at_a_time("botschaft.migrate"):
            return self._migrate(schemas)

    def _migrate(self, schemas: list[Schema]) -> list[str]:
        applied = []
        for schema in schemas:
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
        self.bind(schemas)
        pending = []
        for schema in schemas:
            runner = self._runner(schema)
            if runner and any(model.table_exists() for model in schema.models):
                pending += [f"{schema.owner}: {m.name}" for m in runner.status() if not m.applied]
        return pending

    def bind(self, schemas: list[Schema]) -> None:
        """Give these models (and the models they refer to) this database: in this Storage's
        worker threads for good, in every other thread (the event loop, a CLI command) until
        another Storage binds them."""
        models = [related for schema in schemas for model in schema.models
                  for _, related, _ in model._meta.model_graph()]
        for model in models:
            _with_a_database_per_thread(model)
            model._meta.set_database(self.db)
        self._models = tuple(dict.fromkeys(self._models + tuple(models)))
        self._bind_in_this_thread()

    def _bind_in_this_thread(self) -> None:
        """In a worker thread: every model bound to this Storage's database, once per thread
        and whenever models were added (not at every call: a bot has dozens of models)."""
        own, models = self._own_thread, self._models
        if getattr(own, "active", False) and getattr(own, "bound", None) is not models:
            for model in models:
                model._meta.bind_thread(self.db)
            own.bound = models

    def _runner(self, schema: Schema) -> Runner | None:
        if not schema.migrations_package:
            return None
        directory = importlib.resources.files(schema.migrations_package)
        return Runner(self.db, str(directory), table_name=f"migrations_{schema.owner}")

    def close(self) -> None:
        if self._serving is not None:
            self._serving.close()  # the lock goes with it (and with the process, on kill -9)
            self._serving = None
        self._handler_pool.shutdown()
        self._pool.shutdown()
        if not self.db.is_closed():
            self.db.close()


class DatabasePerThread(ThreadSafeDatabaseMetadata):
    """A model's database as each thread sees it: a Storage's worker threads see their
    Storage's (`bind_thread`), every other thread the one bound last (`Model.bind`)."""

    def set_database(self, database: peewee.Database) -> None:
        with self._lock:
            self._database = database
            del self.table
            for hook in self._db_hooks:
                hook(database)

    def bind_thread(self, database: peewee.Database) -> None:
        if getattr(self._local, "database", None) is not database:
            self._local.database = database
            del self.table  # the cached table object names the database too


_converting = threading.Lock()


def _with_a_database_per_thread(model: type[peewee.Model]) -> None:
    """Switch a model declared the usual way (one database for all threads) to
    DatabasePerThread, keeping everything else it knows; plugin authors change nothing."""
    with _converting:
        meta = model._meta
        if isinstance(meta, DatabasePerThread):
            return
        database = meta.__dict__.pop("database", None)
        meta.__class__ = DatabasePerThread
        meta._lock = threading.Lock()
        meta._local = threading.local()
        meta._database = database
        model._schema.database = None  # creating tables follows the thread's database too


_PASSWORD_IN_USER_PART = re.compile(r"(://[^:/@?#]*:).*@")
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redacted(url: str) -> str:
    """The URL as it may be printed or logged: any password in it shown as ***."""
    url = _PASSWORD_IN_USER_PART.sub(r"\1***@", url)
    return _PASSWORD_PARAMETER.sub(r"\1***", url)
