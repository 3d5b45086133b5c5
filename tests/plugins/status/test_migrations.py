"""The status tables of an earlier release are brought up to date and keep their rows."""

from __future__ import annotations

import peewee
import pytest

from bots.app import schemas
from bots.storage import Storage
from bots.testing import services_over
from plugins.status import Status
from plugins.status.models import FeedEvent
from plugins.status.service import EventConflict


class FeedEventBefore0001(peewee.Model):
    """status_feed_event as it was before events kept their item."""

    event_id = peewee.CharField(max_length=200, unique=True)
    received_at = peewee.DateTimeField()

    class Meta:
        table_name = "status_feed_event"


def test_feed_events_from_before_keep_their_rows_and_count_as_repeats(database_url):
    storage = Storage(database_url)
    storage.db.bind([FeedEventBefore0001])
    storage.db.create_tables([FeedEventBefore0001])
    FeedEventBefore0001.create(event_id="erp-1", received_at="2026-11-01 08:00:00")
    plugin = Status()
    assert storage.migrate(schemas([plugin])) == ["status: 0001_feed_event_ref"]
    assert [(event.event_id, event.ref) for event in FeedEvent.select()] == [("erp-1", None)]

    book = plugin.make_book(services_over(storage, [plugin], BOT_LANGUAGE="en"))
    book.create("1", "order", code="ABCD23")
    assert book.set_state("1", "packed", event_id="erp-1").duplicate_event  # as before
    assert book.set_state("1", "packed", event_id="erp-2").changed
    with pytest.raises(EventConflict):
        book.create("2", "order", code="ABCD23")
        book.set_state("2", "packed", event_id="erp-2")
    assert storage.migrate(schemas([plugin])) == []
    storage.close()


def test_a_fresh_database_has_the_column_and_the_migration_recorded(database_url):
    storage = Storage(database_url)
    plugin = Status()
    storage.migrate(schemas([plugin]))
    assert "ref" in [column.name for column in storage.db.get_columns("status_feed_event")]
    assert storage.pending(schemas([plugin])) == []
    storage.close()
