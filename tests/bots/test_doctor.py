"""`botschaft doctor` names what it finds: here, a table that lacks a column its model has
(a plugin that added a field without a migration: every command using it would fail)."""

from __future__ import annotations

import peewee

from bots.doctor import missing_columns
from bots.storage import Schema, Storage


class NoteBefore(peewee.Model):
    text = peewee.TextField()

    class Meta:
        table_name = "opening_note"


class Note(peewee.Model):
    text = peewee.TextField()
    day = peewee.DateField(null=True)  # added to the model, with no migration

    class Meta:
        table_name = "opening_note"


def test_a_column_the_model_has_and_the_table_lacks_is_named(database_url):
    storage = Storage(database_url)
    try:
        storage.migrate([Schema("opening", (NoteBefore,))])
        assert missing_columns(storage.db, [Schema("opening", (NoteBefore,))]) == []
        assert missing_columns(storage.db, [Schema("opening", (Note,))]) == ["opening_note.day"]
    finally:
        storage.close()
