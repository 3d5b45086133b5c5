"""Data protection for one real person, through the real ejabberd: she uses status, lessons and
a group room and writes to the bot; `botschaft privacy export` holds each piece of it; a
consent she withdraws in chat stops what it covered at once; `botschaft privacy erase` leaves
nothing of her in the bot's database, its audit log or ejabberd's, and the running bot answers
her as a stranger.

The erasure comes in the two steps an admin has: first without --account (she keeps her chat
account: the bot must then answer her as a stranger, which only an account can show), then
with it (nothing of her may be left on the server: only a deleted account shows that).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from peewee import fn
from slixmpp import JID
from slixmpp.xmlstream import ET

from bots import audit
from bots.cli import main
from bots.devserver import BOT_USER
from bots.outbox import OutboxMessage
from bots.privacy import Erasure
from bots.scheduler import FakeClock, Schedule
from bots.server_privacy import OWN_ARCHIVE
from bots.testing import join_settings, run_environment
from plugins.lessons import EXAMPLE_COURSES, Lessons
from plugins.lessons.classroom import CONSENT_VERSION as LESSONS_VERSION
from plugins.lessons.classroom import JOB as LESSON_JOB
from plugins.lessons.classroom import PURPOSE_PREFIX as LESSONS_PURPOSE
from plugins.lessons.classroom import schedule_key
from plugins.lessons.course import load_courses
from plugins.lessons.models import Delivery, Subscription
from plugins.rooms import Rooms
from plugins.rooms.models import JOINED
from plugins.rooms.service import CONSENT_VERSION as ROOMS_VERSION
from plugins.rooms.service import PURPOSE_PREFIX as ROOMS_PURPOSE
from plugins.status import Status
from plugins.status.service import CLAIM_TEXT_VERSION, NOTIFY_PURPOSE
from tests.conftest import eventually, next_room_message
from tests.e2e.test_lessons import everything_received
from tests.e2e.test_rooms import message_with
from tests.ejabberd_person import ARCHIVE_EVERYTHING, sqlite_tables_naming

COURSE = "deutsch-alltag"  # the lessons plugin's bundled example


def lesson_due(jid: str) -> datetime:
    """When the person's next lesson is planned (the plan the lessons plugin made)."""
    subscription = Subscription.get(Subscription.jid == jid)
    return Schedule.get((Schedule.job == LESSON_JOB)
                        & (Schedule.key == schedule_key(subscription.id))
                        ).next_due_at.replace(tzinfo=UTC)


def a_contact_of(bot, jid: str) -> bool:
    """Whether the running bot's copy of its contact list holds `jid` as a contact (slixmpp
    keeps an empty entry, subscription "none", for whoever sent it a presence)."""
    return bot.client_roster.has_jid(jid) and bot.client_roster[jid]["subscription"] != "none"


def outbox_rows_after(jid: str, last: int) -> list[str]:
    return [body for (body,) in OutboxMessage.select(OutboxMessage.body).where(
        (OutboxMessage.recipient == jid) & (OutboxMessage.id > last)).tuples()]


async def test_a_person_is_exported_withdraws_consent_and_is_erased_everywhere(
        make_bot, chat_client, xmpp_server):
    instance = xmpp_server.instance
    api = instance.api()
    api_settings = {name: value for name, value in join_settings(xmpp_server).items()
                    if name.startswith("EJABBERD_")}
    staff, anna, ben = await chat_client(), await chat_client(), await chat_client()
    jid, user = anna.boundjid.bare, anna.boundjid.user
    # The scheduler's clock starts at the wall clock's time: what the bot stores is dated by
    # the wall clock, and the nightly retention purge (bots/retention.py) must not take it.
    clock = FakeClock(datetime.now(UTC))
    lessons, status, rooms = Lessons(), Status(), Rooms()
    bot = await make_bot(plugins=[lessons, status, rooms], clock=clock,
                         BOT_TIMEZONE="Europe/Berlin", PEOPLE_STAFF=staff.boundjid.bare,
                         **api_settings)
    bot.people.ERASURE_CHECK_INTERVAL = 0  # look at every message (the default: once a second)
    to = bot.boundjid.bare
    (course,) = load_courses(Path(str(EXAMPLE_COURSES)))
    first, second = course.lessons[:2]
    environ = run_environment(instance, xmpp_server.devserver.ensure_user(BOT_USER),
                              bot.storage.url, **api_settings)

    async def botschaft(*arguments: str) -> str:
        # in a thread: the command runs an event loop of its own (the archive's XMPP session)
        result = await asyncio.to_thread(CliRunner().invoke, main, arguments, env=environ)
        assert result.exit_code == 0, result.output
        return result.stdout

    # She joined as the join page makes customers (each in the other's contact list), and her
    # app keeps her message archive.
    api.add_contacts(BOT_USER, user, instance.domain)
    await eventually(lambda: a_contact_of(bot, jid), timeout=10)
    prefs = anna.make_iq_set()
    prefs.append(ET.fromstring(ARCHIVE_EVERYTHING))
    await prefs.send()

    # --- she uses status, lessons and a room ----------------------------------------------
    ref = f"WOB-{uuid.uuid4().hex[:6].upper()}"
    code = re.search(r"Claim code for the customer: (\w+)",
                     await staff.ask(to, f"create vehicle {ref}")).group(1)
    for person in (anna, ben):  # Ben: the other customer, who keeps his consents
        assert (await person.ask(to, f"claim {ref} {code}")).startswith(
            f"Linked: Vehicle {ref}.")
        assert "subscribed" in await person.ask(to, f"subscribe {COURSE}")
    clock.set(await bot.storage.run(lesson_due, jid))
    lesson = await message_with(anna, to, "Deutsch im Alltag — lesson 1 of")
    assert first.title in lesson["body"]
    await message_with(ben, to, "lesson 1 of")

    slug = f"team-{uuid.uuid4().hex[:6]}"
    room, _new = await bot.services.run(rooms.book.create, slug, "Team Nord")
    address = rooms.book.address(room)
    assert "is invited" in await staff.ask(to, f"room add {slug} {jid}")
    note = await message_with(anna, to, f"join {slug}")
    assert "You are a member" in await anna.ask(to, f"join {slug}")
    await anna.plugin["xep_0045"].join_muc_wait(JID(address), "Anna", maxstanzas=0,
                                                timeout=10)
    anna.send_message(mto=address, mbody="Hallo zusammen", mtype="groupchat")
    assert (await next_room_message(anna, address))["body"] == "Hallo zusammen"

    assert "2 people were told." in await staff.ask(to, f"set {ref} in_progress")
    push = await message_with(anna, to, f"Vehicle {ref}: We are working")
    await message_with(ben, to, f"Vehicle {ref}: We are working")

    shown = await anna.ask(to, "privacy")
    consents = dict((what, number) for number, what in re.findall(
        r"^(\d+)\. (.+?) — since ", shown, re.MULTILINE))
    assert set(consents) == {"messages when the status of your items changes",
                             "daily lessons of the course Deutsch im Alltag",
                             'membership in the group chat "Team Nord"'}
    assert await anna.ask(to, "sprache de") == "Ab jetzt antworte ich Ihnen auf Deutsch."

    # --- the export holds each piece ------------------------------------------------------
    exported = json.loads(await botschaft("privacy", "export", jid, "--with-archive"))
    assert exported["jid"] == jid and exported["settings"] == {"language": "de"}
    assert [claimed["ref"] for claimed in exported["status"]["claimed_items"]] == [ref]
    [subscription] = exported["lessons"]["subscriptions"]
    assert (subscription["course"], subscription["state"], subscription["lessons_received"]) \
        == (COURSE, "active", [first.id])
    [membership] = exported["rooms"]["rooms"]
    assert (membership["room"], membership["state"]) == (slug, JOINED)
    assert {(given["purpose"], given["text_version"], given["withdrawn_at"])
            for given in exported["consents"]} == {
        (NOTIFY_PURPOSE, CLAIM_TEXT_VERSION, None),
        (LESSONS_PURPOSE + COURSE, LESSONS_VERSION, None),
        (ROOMS_PURPOSE + slug, ROOMS_VERSION, None)}
    sent = [message["text"] for message in exported["messages_from_the_bot"]]
    assert {lesson["body"], note["body"], push["body"]} <= set(sent)
    server = exported["server"]
    assert server["contact_of_the_bot"]["subscription"] == "both"
    assert server["account_on_this_server"] is True and server["offline_messages"] == 0
    assert set(server["archive_of_the_bot"]) == {"messages", "texts"}
    assert OWN_ARCHIVE in server["not_included"]

    # --- consents withdrawn in chat stop what they covered at once ------------------------
    last = await bot.storage.run(OutboxMessage.select(fn.MAX(OutboxMessage.id)).scalar)
    for purpose in ("daily lessons of the course Deutsch im Alltag",
                    "messages when the status of your items changes"):
        withdrawn = await anna.ask(to, f"widerrufen {consents[purpose]}")
        assert withdrawn.startswith("Widerrufen: ") and withdrawn.endswith("Das endet jetzt.")
    assert "1 person was told." in await staff.ask(to, f"set {ref} ready")
    await message_with(ben, to, f"Vehicle {ref}: Your vehicle is ready")
    clock.set(await bot.storage.run(lesson_due, ben.boundjid.bare))
    assert second.title in (await message_with(ben, to, "lesson 2 of"))["body"]  # it ran
    assert await bot.storage.run(outbox_rows_after, jid, last) == []
    assert await bot.storage.run(lambda: Delivery.select().join(Subscription).where(
        Subscription.jid == jid).count()) == 1
    assert [body for body in await everything_received(anna)
            if ref in body or "Deutsch im Alltag" in body] == []

    # --- erased, keeping her chat account -------------------------------------------------
    erased = await botschaft("privacy", "erase", jid, "--yes")
    assert "the bot's contact list: removed them" in erased
    assert "their message archive: removed" in erased and "their account: kept" in erased
    bot_database = Path(bot.storage.url.removeprefix("sqlite:///"))
    assert sqlite_tables_naming(bot_database, user) == set()  # nor in the audit log
    [erasure] = await bot.storage.run(lambda: list(Erasure.select()))
    parts = json.loads(erasure.parts)
    assert erasure.by == getpass.getuser()
    assert {part: parts[part] for part in ("settings", "consents", "status", "lessons",
                                           "rooms")} == {
        "settings": 1, "consents": 3, "status": 1, "lessons": 1, "rooms": 1}
    assert parts["server"] == {"bot_contact": 1, "bot_archive": "removed",
                               "archive": "removed", "offline_messages": 0, "account": "kept"}
    logged = await bot.storage.run(audit.entries)
    assert {entry.action for entry in logged if entry.subject == audit.ERASED} >= {
        "room.add", "privacy.export"}  # what was done stays, not to whom
    assert [entry.facts for entry in logged if entry.action == "privacy.erase"] == [
        {"erasure": erasure.id}]
    # the running bot has forgotten her: a stranger, who is answered in her app's language
    await eventually(lambda: not a_contact_of(bot, jid), timeout=10)
    assert await anna.ask(to, "language") == (
        "I answer you in English. Change it with: language de|en")
    assert await anna.ask(to, "datenschutz", language="de") == "Ich speichere nichts über Sie."

    # --- erased with her account: nothing of her is left on the server --------------------
    await anna.stop(wait=1)
    await eventually(lambda: api.call("user_resources", user=user,
                                      host=instance.domain) == [], timeout=10)
    erased = await botschaft("privacy", "erase", jid, "--account", "--yes")
    assert "their account: removed" in erased
    assert sqlite_tables_naming(bot_database, user) == set()
    records = await bot.storage.run(lambda: [json.loads(row.parts)["server"]["account"]
                                             for row in Erasure.select().order_by(Erasure.id)])
    assert records == ["kept", 1]
    # What ejabberd 23.01 cannot delete for one person (docs/data-protection.md, "Limits"):
    # the room's stored state keeps the last role of everyone who was in it, and the room's
    # archive her messages there. Nothing else of her is left.
    ejabberd_database = xmpp_server.devserver.spool / "ejabberd.sqlite"
    assert sqlite_tables_naming(ejabberd_database, user) == {"archive", "muc_room"}
    with contextlib.closing(sqlite3.connect(ejabberd_database)) as database:
        assert database.execute("SELECT DISTINCT username, kind FROM archive WHERE xml LIKE ?",
                                (f"%{user}%",)).fetchall() == [(address, "groupchat")]
        assert database.execute("SELECT name || '@' || host FROM muc_room WHERE opts LIKE ?",
                                (f"%{user}%",)).fetchall() == [(address,)]
    # The archive's retention takes her room messages too (the daily purge, a period of 0).
    assert api.call("delete_old_mam_messages", type="all", days=0) == 0
    assert sqlite_tables_naming(ejabberd_database, user) == {"muc_room"}
