"""The room book over a real database and the session's real ejabberd (its admin API): rooms
as the server keeps them, invitations, consent before membership, bad names and CSV files."""

from __future__ import annotations

import uuid

import pytest

from bots import audit, consent
from bots.outbox import OutboxMessage
from plugins.rooms.members_csv import read_members
from plugins.rooms.models import INVITED, JOINED, Member, Room
from plugins.rooms.service import RoomsError, purpose
from tests.conftest import eventually


@pytest.fixture
def book(open_book, tmp_path):
    return open_book(f"sqlite:///{tmp_path / 'rooms.db'}")


def slug() -> str:
    return f"kurs-{uuid.uuid4().hex[:8]}"


def affiliations(book, room) -> dict[str, str]:
    return {entry.jid: entry.affiliation for entry in
            book.bot.ejabberd.get_room_affiliations(room.slug, book.settings.muc_service)}


def test_a_room_is_made_on_the_server_as_asked_and_again_changes_nothing(book, make_account):
    trainer, _password = make_account("trainer")
    room, new = book.create(slug(), "Deutsch A1", "Der Kurs am Montag", trainer=trainer)
    assert new
    options = book.bot.ejabberd.get_room_options(room.slug, book.settings.muc_service)
    assert {name: options[name] for name in ("members_only", "persistent", "public",
                                             "public_list", "anonymous", "mam",
                                             "allow_private_messages", "title")} == {
        "members_only": "true", "persistent": "true", "public": "false",
        "public_list": "false", "anonymous": "true", "mam": "true",
        "allow_private_messages": "false", "title": "Deutsch A1"}
    assert affiliations(book, room) == {book.settings.bot_jid: "owner", trainer: "owner"}

    again, new = book.create(room.slug, "Deutsch A1", "Der Kurs am Montag", trainer=trainer)
    assert (again.id, new) == (room.id, False)
    with pytest.raises(RoomsError, match="exists already"):
        book.create(room.slug, "Another name")
    assert Room.select().count() == 1


@pytest.mark.parametrize("name", ["", "zwei worte", "a@b", "a/b", "x" * 65, "quote'd"])
def test_a_room_name_xmpp_cannot_take_is_refused_before_anything_is_made(book, name):
    with pytest.raises(RoomsError, match="cannot name a room"):
        book.create(name, "Name")
    assert Room.select().count() == 0


def test_a_name_taken_on_the_server_is_refused_and_nothing_is_recorded(book):
    taken = slug()
    book.bot.ejabberd.create_room_with_opts(taken, book.settings.muc_service,
                                            book.settings.domain, {"persistent": False})
    with pytest.raises(RoomsError, match="server has a room"):
        book.create(taken, "Mine")
    assert Room.select().count() == 0


def test_a_trainer_who_is_no_account_makes_no_room(book, xmpp_server):
    with pytest.raises(RoomsError, match="is not an account"):
        book.create(slug(), "Name", trainer=f"nobody-{uuid.uuid4().hex[:6]}@"
                                            f"{xmpp_server.domain}")
    assert Room.select().count() == 0


def test_invited_people_are_told_once_and_become_members_only_by_joining(book, make_account):
    room, _new = book.create(slug(), "Team")
    anna, _password = make_account("anna")
    assert book.invite(room, anna) and not book.invite(room, anna)
    notes = list(OutboxMessage.select().where(OutboxMessage.recipient == anna))
    assert len(notes) == 1 and f"join {room.slug}" in notes[0].body
    assert "30 days" in notes[0].body
    assert anna not in affiliations(book, room)

    book.join(anna, room.slug)
    assert affiliations(book, room)[anna] == "member"
    assert consent.has(anna, purpose(room))
    assert book.join(anna, room.slug)[1] is False  # again: no change

    book.leave(anna, room.slug)
    assert anna not in affiliations(book, room) and not consent.has(anna, purpose(room))


def test_many_invited_at_once_are_each_told_who_else_is_asked_and_one_bad_address_stops_all(
        book, make_account, xmpp_server):
    room, _new = book.create(slug(), "Team")
    first, second, third = (make_account(name)[0] for name in ("dora", "emil", "fritz"))
    assert book.invite(room, first)
    with pytest.raises(RoomsError, match="is not an account"):
        book.invite_many(room, [second, f"ghost@{xmpp_server.domain}"])
    assert [member.jid for member in book.members(room)] == [first]

    assert book.invite_many(room, [second, first, third, second]) == [second, third]
    notes = {message.recipient: message.body for message in OutboxMessage.select()}
    assert len(notes) == 3
    assert "first one invited" in notes[first]
    assert "2 people are invited so far" in notes[second]
    assert "3 people are invited so far" in notes[third]


def test_a_join_the_server_refuses_leaves_no_consent_and_no_member(book, make_account):
    room, _new = book.create(slug(), "Team")
    gina, _password = make_account("gina")
    book.invite(room, gina)
    book.bot.ejabberd.destroy_room(room.slug, book.settings.muc_service)  # behind its back
    with pytest.raises(RoomsError, match="gone from the server"):
        book.join(gina, room.slug)
    assert not consent.has(gina, purpose(room))
    assert Member.get(Member.jid == gina).state == INVITED


def test_nobody_uninvited_joins_and_strangers_are_not_invited(book, make_account,
                                                              xmpp_server):
    room, _new = book.create(slug(), "Team")
    bert, _password = make_account("bert")
    with pytest.raises(RoomsError, match="not invited"):
        book.join(bert, room.slug)
    for stranger in ("bert@elsewhere.example", f"ghost@{xmpp_server.domain}", "no address"):
        with pytest.raises(RoomsError):
            book.invite(room, stranger)
    assert Member.select().count() == 0


def test_a_course_subscription_invites_and_stopping_removes_at_once(book, make_account):
    room, _new = book.create(slug(), "Kurs", course="deutsch-alltag")
    carl, _password = make_account("carl")
    book.on_course_event("lessons.subscribed", carl, "deutsch-alltag")
    book.join(carl, "deutsch-alltag")  # the course's name finds its room
    assert affiliations(book, room)[carl] == "member"
    book.on_course_event("lessons.stopped", carl, "deutsch-alltag")
    assert carl not in affiliations(book, room)
    assert not Member.select().where(Member.jid == carl).exists()
    assert [(entry.actor, entry.channel, entry.action, entry.subject)  # the person's own step
            for entry in audit.entries(subject=carl)] == [("system", "bot", "room.remove", carl),
                                                          ("system", "bot", "room.add", carl)]


def test_a_course_room_invites_who_takes_the_course_already_and_no_unknown_course(
        book, make_account):
    early, _password = make_account("early")
    classroom = book.bot.plugin("lessons").make_classroom(book.bot)
    classroom.subscribe(early, "deutsch-alltag", "de")
    room, _new = book.create(slug(), "Kurs", course="deutsch-alltag")
    assert [member.jid for member in book.members(room)] == [early]
    with pytest.raises(RoomsError, match="there is no course klingonisch"):
        book.create(slug(), "Kurs", course="klingonisch")
    assert Room.select().count() == 1


def test_announcements_reach_who_is_not_in_the_room_and_replies_only_the_trainer(
        book, make_account):
    trainer, _password = make_account("trainer")
    room, _new = book.create(slug(), "Kurs", trainer=trainer)
    inside, outside = make_account("in")[0], make_account("out")[0]
    for jid in (inside, outside):
        book.invite(room, jid)
    book.join(inside, room.slug)
    assert book.announce(room, "Morgen fällt aus") == 1
    told = OutboxMessage.select().where(OutboxMessage.body.contains("Morgen fällt aus"))
    assert [message.recipient for message in told] == [outside]
    book.reply(outside, room.slug, "Danke!")
    relayed = OutboxMessage.select().where(OutboxMessage.body.contains("Danke!")).get()
    assert relayed.recipient == trainer and outside in relayed.body


async def test_archive_and_destroy_the_server_s_room_too(book, make_account):
    room, _new = book.create(slug(), "Kurs")
    book.invite(room, make_account("dora")[0])
    book.archive(room)
    options = book.bot.ejabberd.get_room_options(room.slug, book.settings.muc_service)
    assert (options["members_by_default"], options["allow_subscription"]) == ("false", "false")
    with pytest.raises(RoomsError, match="archived"):
        book.invite(room, make_account("emil")[0])
    book.destroy(room)
    assert Room.select().count() == Member.select().count() == 0
    await eventually(lambda: book.address(room) not in book.bot.ejabberd.call(
        "muc_online_rooms", service=book.settings.muc_service), timeout=20)  # 23.01: async


def test_erasing_a_person_takes_them_out_on_the_server_too(book, make_account):
    room, _new = book.create(slug(), "Kurs")
    fritz = make_account("fritz")[0]
    book.invite(room, fritz)
    book.join(fritz, room.slug)
    assert book.personal_data(fritz)["rooms"][0]["state"] == JOINED
    assert book.erase_person(fritz) == 1
    assert fritz not in affiliations(book, room)
    assert book.personal_data(fritz)["rooms"] == []


def test_a_csv_file_is_checked_whole_and_each_problem_named(book, make_account):
    good = make_account("gina")[0]
    rows, errors = read_members(f"jid;role\n{good};member\n".encode(), book)
    assert [(row.jid, row.role) for row in rows] == [(good, "member")] and errors == []

    rows, errors = read_members(f"jid,role\n{good},boss\nnot an address,member\n".encode(),
                                book)
    assert rows[:0] == [] and errors[0].startswith("line 2, field role")
    assert errors[1].startswith("line 3, field jid")

    _rows, errors = read_members("jid\nbörse@example.com\n".encode("latin-1"), book)
    assert errors and errors[0].startswith("line 2: not UTF-8")
    _rows, errors = read_members(b"name\nx\n", book)
    assert "line 1, field name: unknown column" in errors[0]
    assert "line 1, field jid: column missing" in errors[1]
