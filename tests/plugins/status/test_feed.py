"""CSV and JSON from the company's systems: checked completely, errors name line and field."""

from __future__ import annotations

import pytest

from bots.app import schemas
from bots.storage import Storage
from plugins.status import Status
from bots.testing import services_over
from plugins.status.feed import (EVENT_FIELDS, FeedError, apply_rows, check_csv, parse_json)
from plugins.status.models import Item, StatusChange
from plugins.status.service import StatusError


@pytest.fixture
def book(database_url):
    plugin = Status()
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    yield plugin.make_book(services_over(storage, [plugin], BOT_LANGUAGE="en"))
    storage.close()


def test_a_good_file_creates_new_items_and_changes_known_ones(book):
    book.create("4711", "vehicle", code="ABCD23")
    text = ("ref;kind;state;code;note\n"
            "B1;book;reserved;;\n"
            "4711;;ready;;Reifen gewechselt\n"
            'O-2;order;packed;XY12ZZ;"zwei Pakete; eins kommt später"\n'
            "B1;;ready;;\n")
    report = check_csv(text, book)
    assert report.errors == [] and report.created == 2
    generated = apply_rows(report.rows, book)
    assert list(generated) == ["B1"]
    assert {item.ref: item.state for item in Item.select()} == {
        "4711": "ready", "B1": "ready", "O-2": "packed"}
    assert book.find("O-2").code == "XY12ZZ"
    assert book.history(book.find("4711"))[0].note == "Reifen gewechselt"
    assert StatusChange.select().count() == 5


def test_every_bad_row_is_reported_with_line_and_field_and_nothing_is_checked_in(book):
    book.create("4711", "vehicle", code="ABCD23")
    text = ("ref,kind,state,code\n"
            "A-1,order,shiped,\n"
            ",order,packed,\n"
            "A-3,bus,x,\n"
            "A-4,order\n"
            "4711,order,ready,\n"
            "A-6,,packed,\n"
            "A-7,order,packed,!!\n"
            'A-8,order,packed,"open\n')
    report = check_csv(text, book)
    assert report.errors == [
        "line 2, field state: shiped is no state of kind order; known: received, packed, "
        "shipped, ready_for_collection, delivered, collected, cancelled",
        "line 3, field ref: the reference is empty",
        "line 4, field kind: unknown kind bus; known: vehicle, order, book",
        "line 5, field (row): 2 columns, the header has 4",
        "line 6, field kind: 4711 is of kind vehicle, not order",
        "line 7, field kind: A-6 is new: give its kind (vehicle, order, book)",
        "line 8, field code: a claim code has 4 to 16 letters or digits",
        "line 9, field (row): unexpected end of data; the file is not read further"]
    assert Item.select().count() == 1


@pytest.mark.parametrize("header, problem", [
    ("", "line 1, field header: the file is empty"),
    ("ref,colour\n", "line 1, field colour: unknown column; allowed: ref, state, kind, code, "
                     "note"),
    ("ref,kind\n", "line 1, field state: column missing in the header"),
])
def test_a_bad_header_is_named(book, header, problem):
    with pytest.raises(FeedError) as error:
        check_csv(header, book)
    assert str(error.value) == problem


def test_line_numbers_count_lines_inside_quoted_notes(book):
    text = 'ref,kind,state,note\nA,order,packed,"two\nlines"\nB,order,nope,\n'
    assert check_csv(text, book).errors[0].startswith("line 4, field state:")


@pytest.mark.parametrize("body, problem", [
    (b"{", "body: not JSON (Expecting property name enclosed in double quotes at line 1, "
           "column 2)"),
    (b"[]", "body: must be a JSON object"),
    (b"\xff", "body: not UTF-8"),
    (b'{"event_id": "1", "ref": "1"}', "state: missing"),
    (b'{"event_id": "1", "ref": "1", "state": 3}', "state: must be a string, not int"),
    (b'{"event_id": "", "ref": "1", "state": "x"}', "event_id: empty"),
    (b'{"event_id": "1", "ref": "1", "state": "x", "colour": "red"}',
     "colour: unknown field; allowed: event_id, ref, state, note"),
    (b'{"note": "' + b"x" * 70_000 + b'"}', "body: larger than 65536 bytes"),
])
def test_json_problems_name_the_field(body, problem):
    with pytest.raises(FeedError) as error:
        parse_json(body, EVENT_FIELDS)
    assert str(error.value) == problem
    assert error.value.field == problem.split(":")[0]


def test_an_item_created_meanwhile_by_someone_else_is_named_and_nothing_is_imported(book):
    """Between the check and the import, staff created one of the file's new references: the
    unique index refused the import with an IntegrityError, a traceback for the admin."""
    report = check_csv("ref,kind,state\nA,order,packed\nB,order,packed\n", book)
    book.create("B", "order", code="ABCD23")
    with pytest.raises(StatusError) as error:
        apply_rows(report.rows, book)
    assert str(error.value) == ("ref: created by someone else during the import: B; nothing "
                                "was imported, so run the import again")
    assert [item.ref for item in Item.select()] == ["B"]
    assert apply_rows(check_csv("ref,kind,state\nA,order,packed\nB,order,packed\n",
                                book).rows, book).keys() == {"A"}
