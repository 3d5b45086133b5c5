"""An installation upgrades: `botschaft migrate` (the CLI, as the admin runs it) on the database
of an earlier release, on SQLite and on PostgreSQL. The releases' databases are the dumps in
tests/schemas/ (made by make_dump.py at the release, with data a real bot wrote): every table
must then have the columns today's models expect, nothing be left to migrate, and every row of
the release still be there with its values."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from bots.app import schemas
from bots.config import load as load_config
from bots.plugin import load_plugins
from bots.storage import Storage, open_database
from bots.testing import BOTSCHAFT
from tests.fresh_databases import fresh_postgres_database

DUMPS = sorted(Path(__file__).parent.joinpath("schemas").glob("release-*.sql"))


@pytest.fixture
def release_database(request, tmp_path):
    """The URL of a new database holding the dump `request.param`."""
    dump: Path = request.param
    if dump.name.endswith(".sqlite.sql"):
        path = tmp_path / "bot.db"
        db = sqlite3.connect(path)
        db.executescript(dump.read_text(encoding="utf-8"))
        db.close()
        yield f"sqlite:///{path}"
        return
    with fresh_postgres_database("upgrade") as url:
        subprocess.run(["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f",
                        str(dump), url], check=True, capture_output=True)
        yield url


def rows_by_table(url: str) -> dict[str, dict[object, dict[str, object]]]:
    """Every row of every table, by its first column (the primary key in all of ours)."""
    db = open_database(url)
    try:
        tables = {}
        for table in db.get_tables():
            cursor = db.execute_sql(f'SELECT * FROM "{table}"')
            names = [column[0] for column in cursor.description]
            tables[table] = {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}
        return tables
    finally:
        db.close()


def test_there_is_a_release_on_each_database():
    assert {dump.name.split(".", 1)[1] for dump in DUMPS} == {"sqlite.sql", "postgresql.sql"}


@pytest.mark.parametrize("release_database", DUMPS, ids=[dump.stem for dump in DUMPS],
                         indirect=True)
def test_migrate_brings_a_release_up_to_date_and_keeps_its_data(release_database):
    before = rows_by_table(release_database)
    states = {row["state"] for row in before["bots_outbox"].values()}
    assert states == {"pending", "done"}, "the dump lacks the rows this test is about"
    assert all(before[table] for table in ("bots_consent", "bots_person_setting",
                                           "bots_schedule", "status_item",
                                           "lessons_subscription", "rooms_room",
                                           "rooms_member", "migrations_outbox"))

    result = subprocess.run([BOTSCHAFT, "migrate"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "BOTSCHAFT_CONFIG": "/dev/null",
                                 "BOTSCHAFT_DATABASE_URL": release_database})
    assert result.returncode == 0, result.stderr

    config = load_config(None, environ={"BOTSCHAFT_DATABASE_URL": release_database})
    current = schemas(load_plugins(config).plugins)
    storage = Storage(release_database)
    try:
        assert storage.pending(current) == []
        db = storage.db
        for schema in current:
            for model in schema.models:
                columns = {column.name for column in db.get_columns(model._meta.table_name)}
                wanted = {field.column_name for field in model._meta.sorted_fields}
                assert wanted <= columns, f"{model._meta.table_name} lacks {wanted - columns}"
                with db.bind_ctx([model], bind_refs=False, bind_backrefs=False):
                    selected = list(model.select().dicts())  # every field, as the code reads it
                assert len(selected) == len(before.get(model._meta.table_name, {}))
    finally:
        storage.close()

    after = rows_by_table(release_database)
    for table, rows in before.items():
        for key, row in rows.items():
            kept = after[table].get(key)
            assert kept is not None, f"{table}: the row {key!r} is gone"
            assert {name: kept[name] for name in row} == row, f"{table}: row {key!r} changed"
