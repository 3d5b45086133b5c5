"""Many rows at once, on SQLite and the real PostgreSQL: the same rows as peewee's insert_many
would write (defaults, conversions), conflicts left out only when asked."""

from __future__ import annotations

from datetime import datetime

import peewee
import pytest

from bots import bulk
from bots.storage import Schema, Storage


class Parcel(peewee.Model):
    code = peewee.CharField(unique=True)
    note = peewee.TextField(null=True)
    weight = peewee.IntegerField(null=True)
    fragile = peewee.BooleanField(default=False)
    state = peewee.CharField(default="waiting")
    at = peewee.DateTimeField(default=lambda: datetime(2026, 12, 2, 8, 30, 15, 250000))

    class Meta:
        table_name = "test_bulk_parcel"


@pytest.fixture
def storage(database_url):
    store = Storage(database_url, workers=1)
    store.migrate([Schema("test_bulk", (Parcel,))])
    yield store
    store.close()


ROWS = [{"code": "a-1", "note": "Äpfel & <Birnen> 🍐", "weight": 3, "fragile": True},
        {"code": "a-2", "note": None, "weight": None, "fragile": False},
        {"code": "a-3", "note": "עברית", "weight": 0, "fragile": True}]


def stored(prefix: str) -> list[tuple]:
    return [row[1:] for row in Parcel.select(
        Parcel.code, Parcel.note, Parcel.weight, Parcel.fragile, Parcel.state, Parcel.at
    ).where(Parcel.code.startswith(prefix)).order_by(Parcel.id).tuples()]


async def test_the_rows_are_those_peewee_would_write_defaults_and_all(storage):
    def write():
        with storage.db.atomic():
            Parcel.insert_many([{**row, "code": f"p{row['code']}"} for row in ROWS]).execute()
            bulk.insert_many(Parcel, [{**row, "code": f"b{row['code']}"} for row in ROWS])
        return stored("p"), stored("b")

    by_peewee, by_bulk = await storage.run(write)
    assert by_bulk == by_peewee
    assert by_bulk[0] == ("Äpfel & <Birnen> 🍐", 3, True, "waiting",
                          datetime(2026, 12, 2, 8, 30, 15, 250000))


async def test_a_conflict_fails_the_insert_unless_conflicts_are_to_be_ignored(storage):
    def write():
        bulk.insert_many(Parcel, ROWS[:1])
        with pytest.raises(peewee.IntegrityError), storage.db.atomic():
            bulk.insert_many(Parcel, ROWS)
        with storage.db.atomic():
            bulk.insert_many(Parcel, ROWS, ignore_conflicts=True)
            bulk.insert_many(Parcel, [])
        return [code for (code,) in Parcel.select(Parcel.code).order_by(Parcel.id).tuples()]

    assert await storage.run(write) == ["a-1", "a-2", "a-3"]
