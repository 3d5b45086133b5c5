"""`privacy`, `withdraw N` and `forget me` in chat, through the real ejabberd: a person sees in
words what is stored about them and what they agreed to; a consent withdrawn in chat stops
what it covered at once (the next lesson or status message is not sent, another person's is);
`forget me` erases them as `botschaft privacy erase` does, the XMPP server's part too (the
bot's contact entry and its archive of their conversation; their account stays), after they
repeat a code, and the bot then answers them as a stranger."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from slixmpp.xmlstream import ET

from bots import privacy
from bots.app import schemas
from bots.consent import Consent
from bots.devserver import BOT_USER
from bots.outbox import OutboxMessage
from bots.privacy import Erasure
from bots.privacy_chat import (BY_THE_PERSON, CODE_MINUTES, confirmation_code, confirmed,
                               overview, withdraw)
from bots.scheduler import FakeClock
from bots.server_privacy import ServerPrivacy, bot_archive
from bots.storage import Storage
from bots.testing import services_over, technical_tokens
from plugins.lessons import Lessons
from plugins.rooms import Rooms
from plugins.rooms.models import LEFT, Member
from plugins.status import Status
from tests.ejabberd_person import admin_api

QUIET = 2.5  # seconds: the scheduler looks every second, the outbox every half second
# Monday 1 March 2027, noon in Berlin; the example course's lessons come at 07:30 Berlin time.
# (The fake clock is the scheduler's: consents are dated by the wall clock.)
MONDAY_NOON = datetime(2027, 3, 1, 11, 0, tzinfo=UTC)
TUESDAY_0730 = datetime(2027, 3, 2, 6, 30, tzinfo=UTC)


async def customers_of_a_running_bot(make_bot, chat_client, api=None, **settings):
    """A bot with the lessons and status plugins on a fake clock, and two customers who both
    take the example course and follow item 4711 (with notifications). With ejabberd's admin
    `api`, each customer and the bot are in each other's contacts, as the join page makes
    them."""
    clock = FakeClock(MONDAY_NOON)
    lessons, status = Lessons(), Status()
    bot = await make_bot(plugins=[lessons, status], clock=clock, BOT_TIMEZONE="Europe/Berlin",
                         **settings)
    await bot.storage.run(status.book.create, "4711", "vehicle", code="ABCD23")
    anna, ben = await chat_client(), await chat_client()
    for client in (anna, ben):
        if api is not None:
            api.add_contacts(bot.boundjid.user, client.boundjid.user, client.boundjid.domain)
        assert "Linked" in await client.ask(bot.boundjid.bare, "claim 4711 ABCD23")
        assert "subscribed" in await client.ask(bot.boundjid.bare, "subscribe deutsch-alltag")
    return bot, clock, [lessons, status], anna, ben


async def quiet(client, sender: str) -> None:
    with pytest.raises(TimeoutError):
        message = await client.next_message(sender, timeout=QUIET)
        pytest.fail(f"unexpected message: {message['body']!r}")


async def test_privacy_shows_the_data_and_consents_in_words_and_withdrawing_stops_them_at_once(
        make_bot, chat_client):
    bot, clock, plugins, anna, ben = await customers_of_a_running_bot(make_bot, chat_client)
    to = bot.boundjid.bare

    shown = await anna.ask(to, "privacy")
    assert shown.startswith("What I store about you:\n")
    assert "• course Deutsch im Alltag (subscribed): 0 lessons received, 0 quiz answers" in shown
    assert "• 1 item linked to you: Vehicle 4711" in shown
    assert re.search(r"\n1\. messages when the status of your items changes — since "
                     r"\d\d/\d\d/\d{4} \(text version 1\)\. To withdraw: "
                     r"withdraw 1\n", shown)
    assert re.search(r"\n2\. daily lessons of the course Deutsch im Alltag — since "
                     r"\d\d/\d\d/\d{4} \(text version 2\)\. To withdraw: "
                     r"withdraw 2\n", shown)
    assert shown.endswith("To delete everything I store about you: forget me")
    assert anna.boundjid.bare not in shown and "deutsch-alltag" not in shown  # no ids
    assert technical_tokens(shown, "en") == []

    assert await anna.ask(to, "withdraw 1") == (
        "Withdrawn: messages when the status of your items changes. It stops now.")
    assert await anna.ask(to, "sprache de") == "Ab jetzt antworte ich Ihnen auf Deutsch."
    shown = await anna.ask(to, "datenschutz")
    assert shown.startswith("Was ich über Sie speichere:\n• Ihre Sprache: Deutsch")
    assert "\n1. " not in shown  # withdrawn: no longer listed, and its number stays its own
    assert re.search(r"\n2\. tägliche Lektionen des Kurses Deutsch im Alltag — seit "
                     r"\d\d\.\d\d\.\d\d \(Textfassung 2\)\. Widerrufen: "
                     r"widerrufen 2\n", shown)
    assert "(Als Nachweis aufbewahrt: 1 Einwilligung, die Sie widerrufen haben.)" in shown
    assert technical_tokens(shown, "de", english={"withdraw", "course", "consent", "item"}) == []
    assert await anna.ask(to, "widerrufen 2") == (
        "Widerrufen: tägliche Lektionen des Kurses Deutsch im Alltag. Das endet jetzt.")
    assert re.fullmatch(r"Das haben Sie schon am \d\d\.\d\d\.\d\d widerrufen: tägliche "
                        r"Lektionen des Kurses Deutsch im Alltag\.",
                        await anna.ask(to, "widerrufen 2"))
    assert await anna.ask(to, "widerrufen 7") == (
        "Eine Einwilligung Nummer 7 haben Sie nicht. Schreiben Sie „datenschutz“, um Ihre "
        "Einwilligungen zu sehen.")
    withdrawn = await bot.storage.run(lambda: list(Consent.select(
        Consent.purpose, Consent.withdrawn_via).where(Consent.jid == anna.boundjid.bare).tuples()))
    assert sorted(withdrawn) == [("lessons.daily:deutsch-alltag", "xmpp"),
                                 ("status.notify", "xmpp")]

    # the next day's lesson: Ben gets his, Anna none
    clock.set(TUESDAY_0730)
    assert "Deutsch im Alltag — lesson 1 of" in (await ben.next_message(to))["body"]
    await quiet(anna, to)
    # a change of the item: Ben is told, Anna not
    await bot.storage.run(plugins[1].book.set_state, "4711", "ready")
    assert (await ben.next_message(to))["body"] == (
        "Vehicle 4711: Your vehicle is ready for pick-up.")
    await quiet(anna, to)
    sent_to_anna = await bot.storage.run(lambda: [body for (body,) in OutboxMessage.select(
        OutboxMessage.body).where(OutboxMessage.recipient == anna.boundjid.bare).tuples()])
    assert sent_to_anna == []
    assert "abgemeldet" in await anna.ask(to, "kurse")  # the course ended for her, as `stop`


async def archive_setting(bot, setting: str) -> None:
    """The bot account's archiving (XEP-0313 prefs: "always", or "never" as ejabberd.yml's
    default), as the bot itself sets it."""
    iq = bot.make_iq_set()
    iq.append(ET.fromstring(f"<prefs xmlns='urn:xmpp:mam:2' default='{setting}'/>"))
    await iq.send()


async def test_forget_me_asks_for_a_code_then_erases_everything_and_the_bot_forgets_them(
        make_bot, chat_client, xmpp_server):
    api = xmpp_server.instance.api()
    bot, _clock, plugins, anna, ben = await customers_of_a_running_bot(
        make_bot, chat_client, api, **admin_api(xmpp_server))
    await archive_setting(bot, "always")
    try:
        await forget_me_on_the_bot_and_the_server(bot, plugins, anna, ben, api)
    finally:  # the session's bot account archives nothing, as in production by default
        await archive_setting(bot, "never")


async def forget_me_on_the_bot_and_the_server(bot, plugins, anna, ben, api) -> None:
    to, jid = bot.boundjid.bare, anna.boundjid.bare
    bot.people.ERASURE_CHECK_INTERVAL = 3600  # this process forgets at once, not by looking
    assert await anna.ask(to, "sprache de") == "Ab jetzt antworte ich Ihnen auf Deutsch."
    on_the_server = ServerPrivacy(api, to)
    assert on_the_server.export(jid)["contact_of_the_bot"]["subscription"] == "both"
    assert (await bot_archive(bot.config, jid, texts=False))["messages"] == 2

    asked = await anna.ask(to, "vergiss mich")
    assert asked.startswith("Damit lösche ich alles, was ich über Sie speichere, endgültig; das "
                            "lässt sich nicht rückgängig machen:\n• Ihre Sprache: Deutsch (")
    assert "• 1 Vorgang mit Ihnen verknüpft: Fahrzeug 4711\n" in asked
    assert "• 2 Einträge zu Ihren Einwilligungen\n" in asked
    assert ("\n• auf dem Chat-Server: unser Chatverlauf, Ihr Nachrichtenarchiv und mein "
            "Kontakteintrag für Sie\nIhr Chat-Konto selbst bleibt: Wir löschen es, wenn Sie uns "
            "darum bitten.\n") in asked
    code = re.fullmatch(r".*\nWenn Sie sicher sind, schreiben Sie innerhalb von 5 Minuten: "
                        r"vergiss mich (\d{4})", asked, re.DOTALL).group(1)
    wrong = f"{(int(code) + 1) % 10_000:04d}"
    assert await anna.ask(to, f"vergiss mich {wrong}") == (
        "Das ist nicht der Code, den ich Ihnen gegeben habe, oder er ist älter als 5 Minuten: "
        "Es wurde nichts gelöscht. Für einen neuen Code schreiben Sie: vergiss mich")
    assert (await anna.ask(to, "forget me please")).startswith("Das ist nicht der Code")
    assert (await bot.storage.run(privacy.export, jid, plugins))["status"]["claimed_items"]

    done = await anna.ask(to, f"vergiss mich {code}")
    assert done == (
        "Erledigt: Alles, was ich über Sie gespeichert hatte, ist gelöscht. Wenn Sie mir wieder "
        "schreiben, weiß ich nichts über Sie.\nAuf dem Chat-Server sind unser Chatverlauf, Ihr "
        "Nachrichtenarchiv und mein Kontakteintrag für Sie ebenfalls gelöscht.\nIhr Chat-Konto "
        "selbst bleibt: Wir löschen es, wenn Sie uns darum bitten.")
    assert on_the_server.export(jid) == {"contact_of_the_bot": None,
                                         "account_on_this_server": True, "offline_messages": 0}
    assert on_the_server.export(ben.boundjid.bare)["contact_of_the_bot"]  # another's stays
    # What the archive keeps of them: only this answer, archived after the erasure.
    archived = await bot_archive(bot.config, jid, texts=True)
    assert [message["text"] for message in archived["texts"]] == [done]
    assert await bot.storage.run(privacy.export, jid, plugins) == {
        "jid": jid, "settings": {}, "consents": [], "messages_from_the_bot": [],
        "invitations": [], "schedule": [], "invitations_made": [], "audit": [],
        "lessons": {"subscriptions": []},
        "status": {"claimed_items": [], "failed_claims": []}}
    assert await bot.storage.run(rows_naming, bot.storage.db, jid) == []
    [erasure] = await bot.storage.run(lambda: list(Erasure.select()))
    assert erasure.by == BY_THE_PERSON
    assert json.loads(erasure.parts)["server"] == {
        "bot_contact": 1, "bot_archive": "removed", "archive": "removed",
        "offline_messages": 0, "account": "kept"}
    assert (await bot.storage.run(privacy.export, ben.boundjid.bare, plugins))["consents"]

    # a stranger now: the bot's default language, nothing stored, and commands still work
    assert (await anna.ask(to, "help")).startswith("I understand these commands:")
    assert await anna.ask(to, "privacy") == "I store nothing about you."
    assert await anna.ask(to, "forget me") == (
        "I store nothing about you, so there is nothing to delete.")


async def test_staff_may_forget_themselves_and_keep_their_role(make_bot, chat_client):
    staff = await chat_client()
    bot = await make_bot(plugins=[Status()], PEOPLE_STAFF=staff.boundjid.bare)
    to = bot.boundjid.bare
    assert await staff.ask(to, "language de") == "Ab jetzt antworte ich Ihnen auf Deutsch."
    code = (await staff.ask(to, "forget me")).rsplit(" ", 1)[1]
    done = await staff.ask(to, f"forget me {code}")
    assert done.startswith("Erledigt:")  # and, with no admin API, the server's part stays:
    assert done.endswith("\nIhr Chat-Konto und was der Chat-Server selbst aufbewahrt, bleiben: "
                         "Wenn Sie das auch gelöscht haben möchten, sagen Sie es uns.")
    assert "invite" in await staff.ask(to, "help")  # the role is the configuration's


def test_withdrawing_the_consent_to_a_room_takes_the_person_out_of_it_on_the_server(
        xmpp_server, make_account, tmp_path):
    rooms = Rooms()
    storage = Storage(f"sqlite:///{tmp_path / 'rooms.db'}")
    try:
        storage.migrate(schemas([rooms]))
        xmpp_server.devserver.ensure_user(BOT_USER)
        bot = services_over(storage, [rooms], BOT_LANGUAGE="en",
                            XMPP_JID=f"{BOT_USER}@{xmpp_server.domain}",
                            **admin_api(xmpp_server))
        book = rooms.make_book(bot)
        room, _new = book.create(f"team-{tmp_path.name[-8:].lower()}", "Team Nord")
        carl, _password = make_account("carl")
        book.invite(room, carl)
        book.join(carl, room.slug)
        assert affiliations(book, room)[carl] == "member"
        shown = overview(carl, [rooms], "en", "Europe/Berlin")
        assert '• group chat "Team Nord" (joined)' in shown
        assert '1. membership in the group chat "Team Nord" — since ' in shown

        assert withdraw(bot, [rooms], carl, 1, "en") == (
            'Withdrawn: membership in the group chat "Team Nord". It stops now.')
        assert carl not in affiliations(book, room)
        assert Member.get(Member.jid == carl).state == LEFT
    finally:
        storage.close()


def affiliations(book, room) -> dict[str, str]:
    return {entry.jid: entry.affiliation for entry in
            book.bot.ejabberd.get_room_affiliations(room.slug, book.settings.muc_service)}


def test_a_confirmation_code_holds_for_five_to_ten_minutes_and_for_one_person():
    start = 1_800_000_000 - 1_800_000_000 % (CODE_MINUTES * 60)  # a window begins
    code = confirmation_code("anna@example.com", start)
    assert re.fullmatch(r"\d{4}", code)
    assert confirmed("anna@example.com", code, start + CODE_MINUTES * 60 * 2 - 1)
    assert not confirmed("anna@example.com", code, start + CODE_MINUTES * 60 * 2)
    assert not confirmed("anna@example.com", code, start - 1)
    others = {confirmation_code(f"person{number}@example.com", start) for number in range(50)}
    assert len(others) > 40  # codes differ from person to person


def rows_naming(db, jid: str) -> list[str]:
    """Every row of every table of the bot's database that holds `jid` anywhere."""
    found = []
    for table in db.get_tables():
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            if any(jid in str(value) for value in row):
                found.append(f"{table}: {row}")
    return found
