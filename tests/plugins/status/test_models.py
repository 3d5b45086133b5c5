"""The status plugin's declared personal data, through the framework's daily purge with a
clock the test sets, on SQLite and PostgreSQL: an item's history, its watchers and the item go
90 days after it became final, failed claims after a day; younger ones and open items stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bots.app import schemas
from bots.retention import purge
from bots.storage import Storage
from plugins.status import Status
from plugins.status.models import ClaimAttempt, Item, StatusChange, Watcher

NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
KINDS = Status.personal_data_kinds
DEFAULTS = {kind.kind: kind.retention_days for kind in KINDS}


@pytest.fixture
def storage(database_url):
    storage = Storage(database_url)
    storage.migrate(schemas([Status()]))
    yield storage
    storage.close()


def ago(days: float) -> datetime:
    return (NOW - timedelta(days=days)).replace(tzinfo=None)


def item(ref: str, closed: bool, days: float) -> Item:
    """An item last changed `days` before NOW, with its history and a watcher."""
    made = Item.create(ref=ref, kind="vehicle", state="picked_up" if closed else "received",
                       code="ABCD23", closed=closed, created_at=ago(days + 3),
                       updated_at=ago(days))
    StatusChange.create(item=made, state="received", source="cli", changed_at=ago(days + 3))
    StatusChange.create(item=made, state=made.state, note="Herr Roth holt ab", source="cli",
                        changed_at=ago(days))
    Watcher.create(item=made, jid=f"{ref.lower()}@example.com", claimed_at=ago(days + 3))
    return made


def refs(model) -> set[str]:
    return {row.item.ref for row in model.select()}


def test_an_item_with_its_history_and_watchers_goes_90_days_after_it_became_final(storage):
    item("OLD", closed=True, days=91)
    item("YOUNG", closed=True, days=89)
    item("WAITING", closed=False, days=400)  # open: the customer still waits for it
    counts = purge(KINDS, DEFAULTS, NOW, dry_run=True)
    assert purge(KINDS, DEFAULTS, NOW) == counts
    assert counts == {"status.watchers": 1, "status.history": 2, "status.items": 1,
                      "status.claim_attempts": 0}
    assert {row.ref for row in Item.select()} == {"YOUNG", "WAITING"}
    assert refs(StatusChange) == refs(Watcher) == {"YOUNG", "WAITING"}


def test_an_item_goes_with_its_history_when_that_is_kept_shorter(storage):
    item("OLD", closed=True, days=40)
    item("YOUNG", closed=True, days=20)
    purge(KINDS, DEFAULTS | {"status.history": 30}, NOW)
    assert {row.ref for row in Item.select()} == {"YOUNG"}
    assert refs(StatusChange) == refs(Watcher) == {"YOUNG"}


def test_failed_claims_are_kept_a_day(storage):
    ClaimAttempt.create(jid="eve@example.com", ref="1", at=ago(1.1))
    ClaimAttempt.create(jid="eve@example.com", ref="2", at=ago(0.9))
    assert purge(KINDS, DEFAULTS, NOW)["status.claim_attempts"] == 1
    assert [attempt.ref for attempt in ClaimAttempt.select()] == ["2"]
