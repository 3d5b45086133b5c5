"""The bridge's decisions on a real database: opt-in before anything is kept, STOP erases,
duplicates change nothing, each person's messages leave in order, the 24-hour window holds a
message instead of losing it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from bots.consent import Consent
from bots.storage import Storage
from server_bridge.whatsapp import relay, texts
from server_bridge.whatsapp.bridge import SCHEMAS
from server_bridge.whatsapp.models import (AGREED, ASKED, HELD, OWN, PENDING, Contact, ToWhatsApp,
                                           ToXmpp)
from server_bridge.whatsapp.updates import Incoming, Media, Status

NUMBER = "4917612345678"
BOT = "bot@example.com"
KEY = "k" * 32  # [bridge.whatsapp] number_key


@pytest.fixture
async def db(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'bridge.db'}", workers=1)
    await storage.run(storage.migrate, SCHEMAS)
    yield storage.run
    storage.close()


def says(text: str | None, wamid: str, kind: str = "text") -> list[Incoming]:
    return [Incoming(NUMBER, wamid, kind, text)]


def outgoing() -> list[str]:
    return [row.body for row in ToWhatsApp.select().order_by(ToWhatsApp.id)]


def state() -> tuple:
    return (list(Contact.select().dicts()), list(ToXmpp.select().dicts()),
            list(ToWhatsApp.select().dicts()), list(Consent.select().dicts()))


async def agreed(db) -> None:
    await db(relay.receive, says("Hallo", "wamid.1"), KEY)
    await db(relay.receive, says("ja", "wamid.2"), KEY)


async def test_a_new_number_gets_only_the_notice_and_nothing_of_its_words_is_kept(db):
    await db(relay.receive, says("Mein Auto, Kennzeichen B-XY 123?", "wamid.1"), KEY)
    assert await db(outgoing) == [texts.both(texts.NOTICE)]
    contact, relayed, _out, consents = await db(state)
    assert [row["state"] for row in contact] == [ASKED] and relayed == [] and consents == []
    assert "B-XY" not in str(await db(state))


def test_a_consent_record_s_number_cannot_be_worked_out_without_the_key():
    """Keyed (HMAC): trying every number of a country finds nothing without the key, as it
    would with a plain hash."""
    subject = relay.consent_subject(NUMBER, KEY)
    assert subject == relay.consent_subject(NUMBER, KEY)  # found again by the number
    assert hashlib.sha256(NUMBER.encode()).hexdigest() not in subject and NUMBER not in subject
    assert subject != relay.consent_subject(NUMBER, "another key, 32 characters long!")


async def test_yes_records_consent_by_hash_and_opens_the_relay(db):
    await agreed(db)
    await db(relay.receive, says("status", "wamid.3"), KEY)
    contact, relayed, _out, consents = await db(state)
    assert contact[0]["state"] == AGREED and [row["body"] for row in relayed] == ["status"]
    [record] = consents
    assert record["jid"] == relay.consent_subject(NUMBER, KEY) and NUMBER not in record["jid"]
    assert (record["purpose"], record["text_version"], record["channel"]) == (
        texts.PURPOSE, texts.NOTICE_VERSION, "whatsapp")
    assert (await db(outgoing))[-1] == texts.both(texts.WELCOME)


async def test_a_delivery_that_comes_again_changes_nothing(db):
    await agreed(db)
    await db(relay.receive, says("status", "wamid.3"), KEY)
    before = await db(state)
    await db(relay.receive, says("status", "wamid.3") + says("ja", "wamid.2"), KEY)
    assert await db(state) == before


async def test_stop_withdraws_erases_and_confirms(db):
    await agreed(db)
    await db(relay.receive, says("status", "wamid.3"), KEY)
    await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "Ihr Auto ist fertig.")
    await db(relay.receive, says("STOPP", "wamid.4"), KEY)
    contact, relayed, out, consents = await db(state)
    assert contact == [] and relayed == []
    assert [(row["kind"], row["body"]) for row in out] == [(OWN, texts.both(texts.STOPPED))]
    assert consents[0]["withdrawn_at"] is not None and consents[0]["withdrawn_via"] == "whatsapp"
    assert await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n2", "Noch da?") == texts.NOT_AGREED


async def test_a_burst_of_webhooks_is_stored_as_one_by_one_would(db):
    """Written together (receive_many), in order: what a number wrote before its STOP in the
    same burst is erased with the rest, a message after it is a new number's, a delivery twice
    in the burst counts once, and the others' messages are relayed in their order."""
    await agreed(db)
    other = "4915177777777"
    await db(lambda: Contact.create(number=other, state=AGREED))
    burst = [(says("eins", "wamid.3"), KEY, ""),
             ([Incoming(other, "wamid.o1", "text", "Hallo")], KEY, ""),
             (says("STOP", "wamid.4"), KEY, ""),
             ([Incoming(other, "wamid.o2", "text", "noch da?")], KEY, ""),
             ([Incoming(other, "wamid.o1", "text", "Hallo")], KEY, ""),
             (says("zwei", "wamid.5"), KEY, "")]
    received = await db(relay.in_one_go, relay.receive_many, relay.receive, burst)
    assert received == [([], True, True)] * 6  # texts relayed; STOP's confirmation, a notice
    contacts, relayed, out, _consents = await db(state)
    assert {(row["number"], row["state"]) for row in contacts} == {(NUMBER, ASKED),
                                                                     (other, AGREED)}
    assert [(row["number"], row["body"]) for row in relayed] == [(other, "Hallo"),
                                                                 (other, "noch da?")]
    assert [row["body"] for row in out][-2:] == [texts.both(texts.STOPPED),
                                                 texts.both(texts.NOTICE)]


async def test_a_delivery_has_news_only_for_the_queue_it_filled(db):
    """The bridge wakes its queue to WhatsApp, or to XMPP, only when a delivery gave it
    something to do (Received): most deliveries are statuses, which give neither."""
    first = await db(relay.receive, says("Hallo", "wamid.1"), KEY)
    assert (first.to_whatsapp, first.to_xmpp) == (True, False)  # the notice, nothing relayed
    await db(relay.receive, says("ja", "wamid.2"), KEY)
    relayed = await db(relay.receive, says("status", "wamid.3"), KEY)
    assert (relayed.to_whatsapp, relayed.to_xmpp) == (False, True)
    again = await db(relay.receive, says("status", "wamid.3"), KEY)
    assert (again.to_whatsapp, again.to_xmpp) == (False, False)


async def test_other_kinds_get_a_polite_not_supported(db):
    await agreed(db)
    await db(relay.receive, says(None, "wamid.3", kind="sticker"), KEY)
    assert (await db(outgoing))[-1] == texts.both(texts.UNSUPPORTED)
    assert (await db(state))[1] == []


async def test_xmpp_messages_go_only_to_those_who_agreed_and_each_key_once(db):
    assert await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "Hallo") == texts.NOT_AGREED
    await agreed(db)
    for _ in range(2):
        assert await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "Hallo") is None
    assert (await db(outgoing)).count("Hallo") == 1


async def test_a_burst_from_xmpp_is_queued_in_its_order_each_judged_on_its_own(db):
    """One statement for the burst (as the bridge stores one), the same answers as one by
    one."""
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    stranger = "4915199999999"
    burst = [(BOT, NUMBER, f"bot\n{n}", text, None, False, False, None)
             for n, text in enumerate(["eins", "zwei", "drei"])]
    burst.insert(1, (BOT, stranger, "bot\nx", "Hallo?", None, False, False, None))
    burst.append(burst[0])  # sent again: queued once
    assert await db(relay.queue_many_from_xmpp, burst) == [None, texts.NOT_AGREED, None, None,
                                                           None]
    assert await db(outgoing) == ["eins", "zwei", "drei"]


async def test_a_bad_item_of_a_burst_fails_alone(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    burst = [(BOT, NUMBER, "bot\n1", "eins", None, False, False, None),
             (BOT, NUMBER, "bot\n2", None, None, False, False, {"no JSON": {1, 2}}),
             (BOT, NUMBER, "bot\n3", "drei", None, False, False, None)]
    first, broken, third = await db(relay.in_one_go, relay.queue_many_from_xmpp,
                                    relay.queue_from_xmpp, burst)
    assert first is None and isinstance(broken, TypeError) and third is None
    assert await db(outgoing) == ["eins", "drei"]


async def test_answers_to_a_burst_of_sends_apply_the_statuses_that_came_first(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    stopped = "4915166666666"
    for number in (NUMBER, "4915188888888", stopped):
        await db(lambda number=number: Contact.create(number=number, state=AGREED)
                 if number != NUMBER else None)
        await db(relay.queue_from_xmpp, BOT, number, f"bot\n{number}", "Ihr Auto", "s1", True)
    claims = await db(relay.claim, 10)
    for wamid, number in (("wamid.a", NUMBER), ("wamid.c", stopped)):  # too early
        await db(relay.receive, [Status(wamid, "delivered", number, None)], KEY)
    await db(relay.erase_number, stopped)  # STOP while its message was on its way
    told = await db(relay.accepted_many, [(claims[0].id, "wamid.a", ""),
                                          (claims[1].id, "wamid.b", ""),
                                          (claims[2].id, "wamid.c", "")])
    assert told == [[relay.News(BOT, NUMBER, "s1", True, None)], [], []]
    states = await db(lambda: [row.state for row in ToWhatsApp.select().order_by(ToWhatsApp.id)])
    assert states == ["delivered", "sent"]


async def test_a_person_s_messages_leave_one_at_a_time_in_order(db):
    await agreed(db)
    await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "eins")
    first = await db(relay.claim, 10)
    assert [claim.body for claim in first] == [texts.both(texts.NOTICE)]
    assert await db(relay.claim, 10) == []  # the next waits while this one is on its way
    await db(relay.accepted, first[0].id, "wamid.out.1")
    assert [claim.body for claim in await db(relay.claim, 10)] == [texts.both(texts.WELCOME)]


async def test_outside_the_24_hour_window_a_message_is_held_until_the_person_writes(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    silent_since = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=25)
    await db(lambda: Contact.update(last_message_at=silent_since).execute())  # a day's silence
    await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "Ihr Auto ist fertig.")
    [claim] = await db(relay.claim, 10)
    await db(relay.accepted, claim.id, "wamid.out.1")
    failed = await db(relay.receive, [Status("wamid.out.1", "failed", NUMBER, 131047)], KEY)
    assert [(tell.sender, tell.text) for tell in failed.tells] == [(BOT, texts.WINDOW_CLOSED)]
    assert await db(lambda: ToWhatsApp.get(ToWhatsApp.id == claim.id).state) == HELD
    assert await db(relay.claim, 10) == []
    assert (await db(relay.receive, says("Hallo?", "wamid.5"), KEY)).to_whatsapp  # held: goes
    [again] = await db(relay.claim, 10)
    assert (again.id, again.body, again.attempts) == (claim.id, "Ihr Auto ist fertig.", 2)


async def test_a_person_in_a_conversation_costs_no_write_of_their_last_messages_time(db):
    await agreed(db)
    first = await db(lambda: Contact.get(Contact.number == NUMBER).last_message_at)
    await db(relay.receive, says("Noch eine Frage", "wamid.6"), KEY)
    assert await db(lambda: Contact.get(Contact.number == NUMBER).last_message_at) == first
    earlier = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    await db(lambda: Contact.update(last_message_at=earlier).execute())
    await db(relay.receive, says("Und noch eine", "wamid.7"), KEY)
    assert await db(lambda: Contact.get(Contact.number == NUMBER).last_message_at) > earlier


async def test_a_status_faster_than_the_answer_to_the_send_still_counts(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    await db(relay.queue_from_xmpp, BOT, NUMBER, "bot\n1", "Ihr Auto ist fertig.")
    [claim] = await db(relay.claim, 10)
    await db(relay.receive, [Status("wamid.out.1", "delivered", NUMBER, None)], KEY)
    await db(relay.accepted, claim.id, "wamid.out.1")
    row = await db(lambda: ToWhatsApp.get(ToWhatsApp.id == claim.id))
    assert (row.state, row.body) == ("delivered", None)


async def test_a_send_cut_off_by_a_crash_goes_again(db):
    await agreed(db)
    claims = await db(relay.claim, 10)
    assert await db(relay.resume) == len(claims) == 1
    assert [claim.id for claim in await db(relay.claim, 10)] == [claims[0].id]
    assert await db(lambda: ToWhatsApp.get(ToWhatsApp.id == claims[0].id).state) != PENDING


async def test_news_of_a_message_only_for_a_sender_who_asked_and_each_step_once(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())

    async def sent(key: str, *asked) -> str:
        await db(relay.queue_from_xmpp, BOT, NUMBER, key, "Ihr Auto ist fertig.", *asked)
        [claim] = await db(relay.claim, 10)
        await db(relay.accepted, claim.id, f"wamid.{key}")
        return f"wamid.{key}"

    plain = await sent("plain")  # asked for nothing (no stanza id kept either)
    assert await db(relay.receive, [Status(plain, "delivered", NUMBER, None)], KEY) == (
        [], False, False)  # nothing to tell, and no news for either queue
    asked = await sent("asked", "stanza-7", True, True)
    delivered = await db(relay.receive, [Status(asked, "delivered", NUMBER, None)], KEY)
    assert delivered.tells == [relay.News(BOT, NUMBER, "stanza-7", True, "received")]
    again = await db(relay.receive, [Status(asked, "delivered", NUMBER, None)], KEY)
    assert again.tells == []
    read = await db(relay.receive, [Status(asked, "read", NUMBER, None)], KEY)
    assert read.tells == [relay.News(BOT, NUMBER, "stanza-7", False, "displayed")]
    # read with no delivered before: the receipt too, then the marker
    straight = await sent("straight", "stanza-8", True, False)
    assert (await db(relay.receive, [Status(straight, "read", NUMBER, None)], KEY)).tells == [
        relay.News(BOT, NUMBER, "stanza-8", True, None)]


async def test_a_file_waits_under_its_media_id_until_uploaded_and_keeps_nothing_after(db):
    await agreed(db)
    picture = Incoming(NUMBER, "wamid.p", "image", "Der Kratzer", Media("81", "image/png", None))
    await db(relay.receive, [picture], KEY)
    [item] = await db(relay.waiting_for_xmpp, 10)
    assert (item.media_id, item.mime_type, item.body, item.file_url) == (
        "81", "image/png", "Der Kratzer", None)
    await db(relay.file_uploaded, item.id, "https://example.com/upload/a/p.png")
    assert (await db(relay.waiting_for_xmpp, 10))[0].file_url.endswith("/p.png")
    await db(relay.delivered_to_xmpp, [item.id])
    row = await db(lambda: ToXmpp.get(ToXmpp.id == item.id))
    assert (row.state, row.body, row.file_url) == ("done", None, None)
    assert row.stanza_id == relay.stanza_id_of("wamid.p")


async def test_a_file_that_cannot_go_is_done_and_its_sender_told_why(db):
    await agreed(db)
    await db(relay.receive, [Incoming(NUMBER, "wamid.big", "document", None,
                                      Media("9", "application/pdf", "a.pdf"))], KEY)
    [item] = await db(relay.waiting_for_xmpp, 10)
    await db(relay.file_not_passed_on, item.id, NUMBER, texts.FILE_TOO_LARGE, {"mb": 10})
    assert await db(relay.waiting_for_xmpp, 10) == []
    assert (await db(outgoing))[-1] == texts.both(texts.FILE_TOO_LARGE, mb=10)


async def test_reactions_name_the_message_on_the_other_side_or_are_not_passed_on(db):
    await agreed(db)
    await db(lambda: ToWhatsApp.delete().where(ToWhatsApp.kind == OWN).execute())
    await db(relay.queue_from_xmpp, BOT, NUMBER, "k1", "Ihr Auto ist fertig.", "stanza-9")
    [claim] = await db(relay.claim, 10)
    await db(relay.accepted, claim.id, "wamid.ours")
    # from WhatsApp: to the sender of the message, naming its stanza id
    await db(relay.receive, [Incoming(NUMBER, "wamid.r", "reaction", "\u2764",
                                      reacts_to="wamid.ours")], KEY)
    await db(relay.receive, [Incoming(NUMBER, "wamid.r2", "reaction", "",
                                      reacts_to="wamid.unknown")], KEY)  # nobody to tell: dropped
    [item] = await db(relay.waiting_for_xmpp, 10)
    assert (item.reacts_to, item.recipient, item.body) == ("stanza-9", BOT, "\u2764")
    # from XMPP: to the message from WhatsApp with that stanza id, by its wamid
    await db(relay.receive, says("Danke", "wamid.thanks"), KEY)
    assert await db(relay.queue_reaction, BOT, NUMBER, "k2", relay.stanza_id_of("wamid.thanks"),
                    "\U0001F44D") is None
    assert await db(relay.queue_reaction, BOT, NUMBER, "k3", "no-such-id", "x") == \
        texts.REACTION_UNKNOWN
    content = (await db(lambda: list(ToWhatsApp.select().order_by(ToWhatsApp.id))))[-1].content
    assert json.loads(content) == {"type": "reaction", "reaction": {
        "message_id": "wamid.thanks", "emoji": "\U0001F44D"}}


async def test_stop_and_yes_count_only_as_typed_words_never_as_a_caption(db):
    await db(relay.receive, [Incoming(NUMBER, "wamid.c1", "image", "Ja",  # new, a captioned photo
                                      Media("5", "image/jpeg", None))], KEY)
    assert [row["state"] for row in (await db(state))[0]] == ["asked"]
    await agreed(db)
    await db(relay.receive, [Incoming(NUMBER, "wamid.c2", "image", "Stop",
                                      Media("6", "image/jpeg", None))], KEY)
    contacts, relayed, _out, consents = await db(state)
    assert [row["state"] for row in contacts] == ["agreed"] and not consents[0]["withdrawn_at"]
    assert [row["media_id"] for row in relayed] == ["6"]


async def test_a_refused_file_s_caption_still_goes_on_and_held_numbers_wait(db):
    await agreed(db)
    await db(relay.receive, [Incoming(NUMBER, "wamid.f", "image", "Der Kratzer, links",
                                      Media("7", "image/jpeg", None))], KEY)
    [item] = await db(relay.waiting_for_xmpp, 10)
    assert await db(relay.waiting_for_xmpp, 10, frozenset({NUMBER})) == []
    await db(relay.file_not_passed_on, item.id, NUMBER, texts.FILE_FAILED, {})
    [caption] = await db(relay.waiting_for_xmpp, 10)
    assert (caption.body, caption.media_id) == ("Der Kratzer, links", None)
    assert await db(relay.file_uploaded, item.id, "https://x/late.jpg") is True  # still pending
    await db(relay.delivered_to_xmpp, [item.id])
    assert await db(relay.file_uploaded, item.id, "https://x/late.jpg") is False
