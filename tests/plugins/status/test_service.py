"""The status book on SQLite and PostgreSQL: changes, pushes through the outbox, claims."""

from __future__ import annotations

import threading
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor

import pytest

from bots import audit, consent
from bots.app import schemas
from bots.outbox import OutboxMessage
from bots.people import PersonSetting
from bots.storage import Storage
from bots.testing import services_over
from plugins.status import Status
from plugins.status.models import ClaimAttempt, FeedEvent, StatusChange, Watcher, utcnow
from plugins.status.service import (NOTIFY_PURPOSE, ClaimLimits, ClaimResult, EventConflict,
                                    StatusError, UnknownItem, erase_person, personal_data)

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@pytest.fixture
def book(database_url):
    plugin = Status()
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    book = plugin.make_book(services_over(storage, [plugin], BOT_LANGUAGE="en"))
    book.limits = ClaimLimits(per_person=3, everybody=10, under_attack=1)
    yield book
    storage.close()


def outbox() -> list[tuple[str, str, str]]:
    return list(OutboxMessage.select(OutboxMessage.key, OutboxMessage.recipient,
                                     OutboxMessage.body).order_by(OutboxMessage.id).tuples())


def test_a_change_tells_each_consenting_watcher_once_in_their_language(book):
    item = book.create("wob-4711", "vehicle", code="ABCD23")
    assert item.ref == "WOB-4711" and item.state == "received"
    for jid in (ALICE, BOB, CAROL):
        assert book.claim(jid, "wob-4711", "abcd-23")[0] is ClaimResult.LINKED
    PersonSetting.create(jid=BOB, language="de")
    book.set_notify(CAROL, False, "test.1")

    result = book.set_state("WOB-4711", "cleaning", "Felgen extra", source="cli")

    assert result.changed and result.told == 2
    change = StatusChange.select().order_by(StatusChange.id.desc()).get()
    assert outbox() == [
        (f"status:{change.id}:{ALICE}", ALICE, "Vehicle WOB-4711: Your vehicle is being cleaned "
         "and will be ready for pick-up shortly.\nFelgen extra"),
        (f"status:{change.id}:{BOB}", BOB, "Fahrzeug WOB-4711: Ihr Fahrzeug befindet sich in "
         "der Reinigung und ist in Kürze abholbereit.\nFelgen extra")]


def test_who_changed_an_item_is_in_the_audit_log_and_no_change_is_not(book):
    book.create("1", "order", code="ABCD23")  # no one named: the system, through `source`
    staff = audit.Actor(ALICE, "chat")
    book.set_state("1", "packed", "Karton 2", source="chat", by=staff)
    book.set_state("1", "packed", source="chat", by=staff)
    book.resend("1", by=staff)
    assert [(entry.actor, entry.channel, entry.action, entry.subject, entry.facts)
            for entry in audit.entries()] == [
        (ALICE, "chat", "status.resend", "1", {}),
        (ALICE, "chat", "status.set", "1", {"state": "packed"}),
        ("system", "api", "status.create", "1", {"kind": "order", "state": "received"})]


def test_the_same_state_again_or_a_repeated_event_changes_and_tells_nothing(book):
    book.create("1", "order", code="ABCD23")
    book.claim(ALICE, "1", "ABCD23")
    assert book.set_state("1", "packed", event_id="erp-1").changed
    assert not book.set_state("1", "packed").changed
    shipped = book.set_state("1", "shipped", event_id="erp-2")
    replay = book.set_state("1", "packed", event_id="erp-1")  # an old event, delivered again
    assert shipped.changed and replay.duplicate_event and not replay.changed
    assert book.find("1").state == "shipped"
    assert len(outbox()) == 2
    assert [change.state for change in book.history(book.find("1"), limit=10)] == [
        "shipped", "packed", "received"]


def test_an_event_id_belongs_to_the_item_it_came_with(book):
    book.create("1", "order", code="ABCD23")
    book.create("2", "order", code="ABCD23")
    assert book.set_state("1", "packed", event_id="erp-1").changed
    assert book.set_state(" 1", "packed", event_id="erp-1").duplicate_event
    with pytest.raises(StatusError, match="event_id: erp-1 was sent for item 1 already") as error:
        book.set_state("2", "packed", event_id="erp-1")
    assert isinstance(error.value, EventConflict)
    assert book.find("2").state == "received"


def test_event_ids_are_forgotten_after_their_time_and_may_come_again(book):
    book.create("1", "order", code="ABCD23")
    book.set_state("1", "packed", event_id="erp-old")
    book.set_state("1", "shipped", event_id="erp-new")
    FeedEvent.update(received_at=utcnow() - timedelta(days=31)).where(
        FeedEvent.event_id == "erp-old").execute()
    assert book.forget_feed_events(timedelta(days=30)) == 1
    assert [event.event_id for event in FeedEvent.select()] == ["erp-new"]
    assert book.set_state("1", "packed", event_id="erp-old").changed  # no repeat any more


@pytest.mark.parametrize("event_id, problem", [
    ("x" * 201, "event_id: longer than 200 characters"),
    ("erp\x001", "event_id: contains control characters")])
def test_an_event_id_the_table_cannot_hold_is_refused_by_name(book, event_id, problem):
    book.create("1", "order", code="ABCD23")
    with pytest.raises(StatusError, match=problem):
        book.set_state("1", "packed", event_id=event_id)
    assert book.set_state("1", "packed", event_id="x" * 200).changed


def test_a_kind_is_known_by_what_people_call_it_too(book):
    assert book.create("1", "Fahrzeug", code="ABCD23").kind == "vehicle"
    assert book.create("2", "Order", code="ABCD23").kind == "order"
    with pytest.raises(StatusError, match="unknown kind Rakete"):
        book.create("3", "Rakete", code="ABCD23")


def test_final_states_close_items_and_open_lists_the_rest(book):
    book.create("1", "book", code="ABCD23")
    book.create("2", "book", code="ABCD23")
    book.set_state("1", "collected")
    items, total = book.open_items()
    assert [item.ref for item in items] == ["2"] and total == 1


def test_wrong_input_names_the_field(book):
    book.create("1", "vehicle", code="ABCD23")
    with pytest.raises(StatusError, match="state: cleanign is no state of kind vehicle"):
        book.set_state("1", "cleanign")
    with pytest.raises(UnknownItem, match="ref: no item 2"):
        book.set_state("2", "ready")
    with pytest.raises(StatusError, match="kind: unknown kind bus"):
        book.create("3", "bus")
    with pytest.raises(StatusError, match="ref: an item 1 exists already"):
        book.create("1", "vehicle")
    with pytest.raises(StatusError, match="ref: the reference is empty"):
        book.create("  ", "vehicle")
    with pytest.raises(StatusError, match="contains spaces"):
        book.create("4 7", "vehicle")
    assert StatusChange.select().count() == 1 and not outbox()


def test_a_wrong_code_and_an_unknown_reference_look_the_same_and_count_alike(book):
    book.create("1", "vehicle", code="ABCD23")
    assert book.claim(ALICE, "1", "WRONG1") == (ClaimResult.NO_MATCH, None)
    assert book.claim(ALICE, "999", "ABCD23") == (ClaimResult.NO_MATCH, None)
    assert book.claim(ALICE, "", "ABCD23") == (ClaimResult.NO_MATCH, None)
    assert ClaimAttempt.select().count() == 2  # the empty reference is no reference at all
    assert book.claim(ALICE, "1", "WRONG2")[0] is ClaimResult.NO_MATCH
    # three failures: even the right code is refused now, for this person only
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.LIMITED
    assert book.claim(BOB, "1", "ABCD23")[0] is ClaimResult.LINKED
    assert Watcher.select().where(Watcher.jid == ALICE).count() == 0


def test_guessing_from_many_accounts_leaves_each_person_one_failure(book, caplog):
    """Ten failures of all people together (the fixture's `everybody`): from then on each
    person may fail once in the window; a right code from someone without failures still
    links, and the log says so once, naming no one."""
    book.create("1", "vehicle", code="ABCD23")
    for number in range(10):
        assert book.claim(f"guess{number}@example.com", "1", f"WRONG{number}")[0] \
            is ClaimResult.NO_MATCH
    assert book.claim(ALICE, "2", "WRONG0")[0] is ClaimResult.NO_MATCH
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.LIMITED
    assert book.claim(BOB, "1", "ABCD23")[0] is ClaimResult.LINKED
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "10 failed claims" in warnings[0].getMessage()
    assert "@" not in " ".join(record.getMessage() for record in caplog.records)


def test_claiming_records_consent_unless_the_person_said_no_before(book):
    book.create("1", "vehicle", code="ABCD23")
    book.create("2", "vehicle", code="ABCD23")
    book.claim(ALICE, "1", "ABCD23")
    assert consent.has(ALICE, NOTIFY_PURPOSE)
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.ALREADY
    book.set_notify(ALICE, False, "test.1")
    book.claim(ALICE, "2", "ABCD23")
    assert not consent.has(ALICE, NOTIFY_PURPOSE)
    record = consent.records_of(ALICE)[0]
    assert record["text_version"] == "status.claim.1" and record["withdrawn_at"]


def test_a_person_s_data_is_exported_and_erased(book):
    book.create("1", "vehicle", code="ABCD23")
    book.claim(ALICE, "1", "ABCD23")
    book.claim(ALICE, "2", "ABCD23")
    book.claim(BOB, "1", "ABCD23")
    data = personal_data(ALICE)
    assert [claim["ref"] for claim in data["claimed_items"]] == ["1"]
    assert [attempt["ref"] for attempt in data["failed_claims"]] == ["2"]
    assert erase_person(ALICE) == 2
    assert personal_data(ALICE) == {"claimed_items": [], "failed_claims": []}
    assert book.find("1") is not None and Watcher.select().count() == 1  # Bob's stays


def test_lookups_use_indexes(book, caplog):
    """A person's question must not get slower as the tables grow: every query the book's
    lookups really run (as peewee logs them) reads each table through an index, on SQLite and
    on PostgreSQL, whose planner goes by the statistics of 10,000 rows."""
    import logging

    import peewee

    from plugins.status.models import Item

    with book.db.atomic():
        for rows in peewee.chunked(({"ref": f"R{n}", "kind": "vehicle", "state": "received",
                                     "code": "ABCD23"} for n in range(10_000)), 1000):
            Item.insert_many(rows).execute()
        for ids in peewee.chunked([id_ for (id_,) in Item.select(Item.id).tuples()], 1000):
            Watcher.insert_many([{"item": id_, "jid": f"p{id_}@example.com"}
                                 for id_ in ids]).execute()
            StatusChange.insert_many([{"item": id_, "state": "received", "source": "api"}
                                      for id_ in ids]).execute()
    book.db.execute_sql("ANALYZE")
    item = book.find("r4711")
    jid = f"p{item.id}@example.com"
    lookups = {"find": lambda: book.find("r4711"),
               "visible": lambda: book.visible(jid, "R4711", staff=False),
               "items_of": lambda: book.items_of(jid), "history": lambda: book.history(item)}

    def plan(sql: str, params) -> tuple[list[str], bool]:
        """The plan's steps, and whether each table is read through an index."""
        if isinstance(book.db, peewee.SqliteDatabase):  # SEARCH: by index or key; SCAN: all
            steps = [row[-1] for row in book.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            reads = [step for step in steps if step.startswith(("SCAN", "SEARCH"))]
            return steps, bool(reads) and all(
                step.startswith("SEARCH") and "AUTOMATIC" not in step for step in reads)
        steps = [row[0] for row in book.db.execute_sql(f"EXPLAIN {sql}", params)]
        return steps, any("Index Scan" in step or "Index Only Scan" in step for step in steps) \
            and not any("Seq Scan" in step for step in steps)

    slow = []
    for name, lookup in lookups.items():
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):  # peewee logs (sql, params)
            assert lookup(), name
        queries = [record.msg for record in caplog.records if record.name == "peewee"]
        assert queries, name
        for sql, params in queries:
            steps, indexed = plan(sql, params)
            if not indexed:
                slow.append(f"{name}: {sql}\n    " + "\n    ".join(steps))
    assert not slow, "\n".join(slow)


def test_the_customer_s_right_code_works_after_attackers_spent_their_attempts_on_it(book):
    book.create("1", "vehicle", code="ABCD23")
    for attacker in ("mallory@example.com", "trudy@example.com"):  # all their 3 attempts
        for ref in ("1", "1", "2"):
            assert book.claim(attacker, ref, "WRONG1")[0] is ClaimResult.NO_MATCH
        assert book.claim(attacker, "1", "WRONG1")[0] is ClaimResult.LIMITED
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.LINKED
    book.create("2", "vehicle", code="EFGH45")  # guessed at before it existed: no matter
    assert book.claim(BOB, "2", "EFGH45")[0] is ClaimResult.LINKED


def test_unlock_lets_a_person_over_their_limit_in_again(book):
    book.create("1", "vehicle", code="ABCD23")
    for number in range(3):
        book.claim(ALICE, "1", f"WRONG{number}")
    book.claim(BOB, "1", "WRONG9")
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.LIMITED
    assert book.unlock(ALICE) == 3
    assert book.claim(ALICE, "1", "ABCD23")[0] is ClaimResult.LINKED
    assert ClaimAttempt.select().where(ClaimAttempt.jid == BOB).count() == 1  # Bob's stays


def test_concurrent_wrong_claims_of_one_person_record_exactly_the_limit(book):
    """Each thread has its own connection: counting and writing must take turns per person."""
    threads = 20
    start = threading.Barrier(threads)

    def guess(number: int) -> None:
        start.wait()
        try:
            for attempt in range(10):
                book.claim(ALICE, "1", f"WRONG{number}X{attempt}")
        finally:
            book.db.close()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(guess, range(threads)))
    assert ClaimAttempt.select().where(ClaimAttempt.jid == ALICE).count() == 3


def test_the_same_state_and_note_again_tells_nobody_and_a_resend_tells_everyone_again(book):
    """Set twice with the same note, the customer got two identical messages."""
    book.create("1", "vehicle", code="ABCD23")
    book.claim(ALICE, "1", "ABCD23")
    assert book.set_state("1", "ready", "Schlüssel am Empfang").told == 1
    again = book.set_state("1", "ready", " Schlüssel am Empfang ")
    assert not again.changed and again.told == 0 and len(outbox()) == 1
    assert book.set_state("1", "ready", "Schlüssel beim Nachbarn").told == 1  # a new note

    resent = book.resend("1", source="chat")
    assert resent.told == 1 and book.find("1").state == "ready"
    first, second = [body for _key, _jid, body in outbox()[-2:]]
    assert first == second == ("Vehicle 1: Your vehicle is ready for pick-up.\n"
                               "Schlüssel beim Nachbarn")
    with pytest.raises(UnknownItem):
        book.resend("2")


def test_concurrent_creates_of_one_reference_give_one_item_and_conflicts(book):
    """Two staff members creating the same new reference at one moment: on PostgreSQL both
    passed the existence check and the unique index refused one with an IntegrityError, which
    the chat answered with an apology instead of "exists already"."""
    threads = 10
    together = threading.Barrier(threads)

    def create(_number) -> str:
        together.wait(timeout=30)
        try:
            book.create("4711", "vehicle")
            return "created"
        except StatusError as error:
            return str(error)
        finally:
            book.db.close()

    with ThreadPoolExecutor(threads) as pool:
        answers = sorted(pool.map(create, range(threads)))
    assert answers == ["created"] + ["ref: an item 4711 exists already"] * (threads - 1)
