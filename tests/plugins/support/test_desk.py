"""The queue, taking a case, the relay both ways, transfer, notes, done and the rating, with
what each side gets (queued in the outbox): the customer never an address of the staff, staff
never the customer's. Bad requests change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bots.app import schemas
from bots.audit import AuditEntry
from bots.outbox import OutboxMessage
from bots.retention import purge
from bots.storage import Storage
from bots.testing import services_over
from plugins.support import Support
from plugins.support.desk import SupportError
from plugins.support.hours import Hours
from plugins.support.models import CLOSED, HELD, LEFT, WAITING, Case, Entry
from plugins.support.stats import chart, count_bot_answer, daily, table

ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ANNA, BEN = "anna@example.com", "ben@example.com"
STAFF = {ANNA: "Anna", BEN: "Ben"}


@pytest.fixture
def plugin(database_url):
    """The support plugin with the staff Anna and Ben, open around the clock, over a fresh
    database; `desk` is its desk, Anna online."""
    plugin = Support({**Support.default_config, "staff": STAFF, "hours": ALWAYS})
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    bot = services_over(storage, [plugin], BOT_TIMEZONE="Europe/Berlin", BOT_LANGUAGE="en")
    plugin.desk = plugin.make_desk(bot)
    plugin.desk.rebuild()
    plugin.desk.presence(ANNA, "phone", "available")
    plugin.storage = storage
    yield plugin
    storage.close()


def sent_to(jid: str) -> list[str]:
    """What is queued in the outbox for `jid`, in order."""
    return [body for (body,) in OutboxMessage.select(OutboxMessage.body)
            .where(OutboxMessage.recipient == jid).order_by(OutboxMessage.id).tuples()]

CUSTOMER, OTHER = "kim@example.net", "lou@example.net"


def test_many_messages_at_once_are_relayed_each_to_its_own_side(plugin):
    """A burst is written in one go (Storage.run_batched): each message still goes to its own
    case, and one that cannot be relayed is answered alone."""
    desk = plugin.desk
    for customer in (CUSTOMER, OTHER):
        desk.ask_for_person(customer, "en")
    desk.take(ANNA)
    kim, lou = (Case.get(Case.customer == customer).id for customer in (CUSTOMER, OTHER))
    answers = desk.from_customers([(CUSTOMER, "first", "en", False),
                                   (OTHER, "second", "en", False),
                                   ("nobody@example.net", "third", "en", False)])
    assert answers[0] is None
    assert answers[1].startswith("Noted. You are number 1 in the queue")  # nobody holds it yet
    assert isinstance(answers[2], SupportError)
    desk.take(BEN)
    results = desk.from_staff_many([(ANNA, "to kim", kim, False), (BEN, "to lou", None, False),
                                    (BEN, "not his", kim, False)])
    assert results[:2] == [None, None]
    assert f"You do not hold case {kim}" in results[2].text("en")
    assert sent_to(ANNA)[-1] == f"[{kim}] first"
    assert sent_to(CUSTOMER)[-1] == "Anna: to kim"
    assert sent_to(OTHER)[-1] == "Ben: to lou"
    assert [entry.text for entry in Entry.select().where(Entry.case == lou)] == [
        "second", "to lou"]


def test_staff_hear_of_a_customer_who_only_asked_for_a_person_in_plain_words(plugin):
    """No quoted "…" where the customer's words would be: they have written none yet."""
    plugin.desk.ask_for_person(CUSTOMER, "de")
    [case] = Case.select()
    assert sent_to(ANNA) == [f"Case {case.id} waits (German); they asked for a person and "
                             f"have written nothing else yet.\nTo answer it: take {case.id}"]


def test_a_customer_is_queued_staff_hear_of_it_and_the_one_who_takes_it_gets_the_history(
        plugin):
    desk = plugin.desk
    desk.remember(CUSTOMER, "customer", "Is my bike repaired?")
    answer = desk.ask_for_person(CUSTOMER, "en")
    assert answer.startswith("You are number 1 in the queue; expected wait about 5 minutes.")
    [case] = Case.select()
    assert sent_to(ANNA) == [f"Case {case.id} waits (English): “Is my bike repaired?”\n"
                             f"To answer it: take {case.id}"]
    assert sent_to(BEN) == []  # not online
    briefing = desk.take(ANNA)
    assert briefing.splitlines() == [
        f"You hold case {case.id} (English) now. What you write goes to the customer; "
        "\"note TEXT\" is internal, \"done\" closes it.", "Customer: Is my bike repaired?"]
    assert CUSTOMER not in briefing
    assert sent_to(CUSTOMER) == ["Anna from our team is with you now."]
    assert Case.get_by_id(case.id).state == HELD


def test_words_go_both_ways_signed_with_the_staff_members_name(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "de")
    desk.take(ANNA)
    assert desk.from_customer(CUSTOMER, "Hallo? https://files.example.com/photo.jpg",
                              "de") is None
    assert desk.from_staff(ANNA, "Guten Tag, ich sehe nach.") is None
    case = Case.get()
    assert sent_to(ANNA)[-1] == f"[{case.id}] Hallo? https://files.example.com/photo.jpg"
    assert sent_to(CUSTOMER)[-1] == "Anna: Guten Tag, ich sehe nach."
    assert all(ANNA not in body for body in sent_to(CUSTOMER))
    assert [entry.author for entry in Entry.select().order_by(Entry.id)] == ["customer", "staff"]


def test_files_go_both_ways_as_files_after_a_line_saying_whose_they_are(plugin):
    """A shared file (XEP-0066) is passed on as a file, so that the other side's app shows
    the photo itself; the line before it says which case, or who from the team, sent it."""
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "de")
    desk.take(ANNA)
    photo, offer = "https://files.example.com/wiper.jpg", "https://files.example.com/offer.pdf"
    desk.from_customer(CUSTOMER, photo, "de", shares_file=True)
    desk.from_staff(ANNA, offer, shares_file=True)
    case = Case.get()

    def last_two(jid):
        return list(OutboxMessage.select(OutboxMessage.body, OutboxMessage.shares_file)
                    .where(OutboxMessage.recipient == jid).order_by(OutboxMessage.id.desc())
                    .limit(2).tuples())[::-1]
    assert last_two(ANNA) == [(f"[{case.id}] 📎", False), (photo, True)]
    assert last_two(CUSTOMER) == [("Anna: 📎", False), (offer, True)]
    assert [entry.text for entry in Entry.select().order_by(Entry.id)] == [photo, offer]


def test_the_queue_moves_up_and_each_waiting_customer_hears_their_new_place(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "en")
    assert desk.ask_for_person(OTHER, "en").startswith("You are number 2 in the queue")
    assert desk.ask_for_person(OTHER, "en").startswith("Noted. You are number 2")  # once
    desk.take(ANNA)
    assert sent_to(OTHER) == ["You are number 1 in the queue now; expected wait about 5 "
                              "minutes."]


def test_transfer_hands_the_case_on_and_to_someone_not_on_the_staff_changes_nothing(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "en")
    desk.take(ANNA)
    case = Case.get()
    with pytest.raises(SupportError) as refused:
        desk.transfer(ANNA, "mallory@example.com")
    assert refused.value.text("en").startswith("mallory@example.com is not on the support "
                                               "staff, so the case stays with you.")
    assert Case.get().staff == ANNA
    assert desk.transfer(ANNA, BEN) == f"Case {case.id} is with Ben now."
    assert sent_to(BEN)[-1].startswith(f"Anna handed you case {case.id} (English).")
    assert sent_to(CUSTOMER)[-1] == "Ben from our team takes over your conversation."
    desk.from_customer(CUSTOMER, "still there?", "en")
    assert sent_to(BEN)[-1] == f"[{case.id}] still there?"
    assert [entry.action for entry in AuditEntry.select().order_by(AuditEntry.id)] == [
        "support.take", "support.transfer"]


def test_done_by_someone_who_does_not_hold_the_case_changes_nothing(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "en")
    desk.take(ANNA)
    case = Case.get()
    with pytest.raises(SupportError) as refused:
        desk.done(BEN, case.id)
    assert refused.value.text("en") == f"You do not hold case {case.id}; nothing was changed."
    assert Case.get().state == HELD and desk.concerns(CUSTOMER)


def test_done_asks_for_a_rating_which_is_kept_without_the_texts(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "en")
    desk.take(ANNA)
    desk.note(ANNA, "regular customer")
    case = Case.get()
    assert desk.done(ANNA) == f"Case {case.id} is closed."
    assert sent_to(CUSTOMER)[-1] == ("Anna has closed the conversation. How satisfied were "
                                     "you? Answer with a number from 1 (not at all) to 5 "
                                     "(very).")
    assert Entry.select().count() == 0  # "support.texts" 0 days (the default): gone at once
    assert desk.rate(CUSTOMER, "4") == "Thank you for your rating!"
    assert (Case.get().state, Case.get().rating) == (CLOSED, 4)
    assert desk.rate(CUSTOMER, "5") is None  # asked once
    assert not desk.concerns(CUSTOMER)


def test_open_cases_are_still_there_after_a_restart(plugin):
    plugin.desk.ask_for_person(CUSTOMER, "en")
    plugin.desk.ask_for_person(OTHER, "en")
    plugin.desk.take(ANNA)
    restarted = plugin.make_desk(plugin.bot)
    restarted.rebuild()
    assert restarted.concerns(CUSTOMER) and restarted.concerns(OTHER) and restarted.concerns(ANNA)
    restarted.from_staff(ANNA, "back again")
    assert sent_to(CUSTOMER)[-1] == "Anna: back again"
    assert [case.state for case in Case.select().order_by(Case.id)] == [HELD, WAITING]


def test_nobody_available_says_so_and_staff_coming_online_hear_of_the_waiting_case(plugin):
    desk = plugin.desk
    desk.presence(ANNA, "phone", "away")
    answer = desk.ask_for_person(CUSTOMER, "en")
    assert answer.startswith("Nobody of our team is available right now. Your message waits "
                             "here and we answer as soon as someone is back")
    assert sent_to(ANNA) == []
    assert desk.presence(BEN, "laptop", "available") is True
    desk.came_online(BEN)
    desk.came_online(BEN)  # told once
    assert len(sent_to(BEN)) == 1 and sent_to(BEN)[0].startswith("Case ")


def test_the_customer_leaves_and_the_staff_member_is_told(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "en")
    desk.take(ANNA)
    case = Case.get()
    assert desk.leave(CUSTOMER).startswith("You have left the queue.")
    assert sent_to(ANNA)[-1] == f"The customer of case {case.id} has left the conversation."
    with pytest.raises(SupportError):
        desk.from_staff(ANNA, "hello?")
    assert Case.get().state == LEFT
    restarted = plugin.make_desk(plugin.bot)
    restarted.rebuild()
    assert not restarted.concerns(CUSTOMER)  # no rating is asked of who left


def test_a_canned_reply_goes_in_the_customers_language(plugin):
    desk = plugin.desk
    desk.ask_for_person(CUSTOMER, "de")
    desk.take(ANNA)
    desk.canned_reply(ANNA, "hello")
    assert sent_to(CUSTOMER)[-1] == "Anna: Hallo! Wie kann ich Ihnen helfen?"
    with pytest.raises(SupportError) as refused:
        desk.canned_reply(ANNA, "nonsense")
    assert refused.value.text("en") == ("There is no canned reply nonsense. Canned replies: "
                                        "bye, hello, moment")


def test_outside_hours_the_customer_is_told_when_the_desk_opens(plugin):
    closed = plugin.make_desk(plugin.bot)
    closed.hours = Hours({"mon": "08:00-09:00"}, [], "Europe/Berlin")
    closed.presence(ANNA, "phone", "available")
    closed.hours.open_at = lambda moment: False  # whatever the time of the test run
    answer = closed.ask_for_person(CUSTOMER, "de")
    assert answer.startswith("Gerade ist niemand aus unserem Team erreichbar. Ihre Nachricht "
                             "wartet hier, und wir antworten ab ")
    assert sent_to(ANNA) == []  # online, but the desk is closed: nobody is told


def test_export_erase_and_retention_cover_the_texts_of_a_conversation(plugin):
    # texts kept a week after done: the nightly purge, not done, deletes them
    bot = services_over(plugin.storage, [plugin], BOT_LANGUAGE="en",
                        PRIVACY_RETENTION="support.texts=7")
    plugin.desk = desk = plugin.make_desk(bot)
    desk.rebuild()
    desk.presence(ANNA, "phone", "available")
    desk.remember(CUSTOMER, "customer", "my private question")
    desk.ask_for_person(CUSTOMER, "en")
    desk.take(ANNA)
    desk.from_staff(ANNA, "an answer")
    desk.done(ANNA)
    exported = plugin.personal_data(CUSTOMER)
    assert [row["text"] for row in exported["texts"]] == ["my private question", "an answer"]
    assert exported["cases"][0]["state"] == CLOSED and "staff" not in exported["cases"][0]
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    days = {kind.kind: kind.retention_days for kind in plugin.personal_data_kinds}
    assert days == {"support.texts": 0, "support.cases": 365}
    assert purge(plugin.personal_data_kinds, days, later) == {"support.texts": 2,
                                                              "support.cases": 0}
    assert Entry.select().count() == 0 and Case.select().count() == 1
    assert plugin.erase_person(ANNA) == 1  # as staff: their address goes from the case
    assert Case.get().staff == "(erased)"
    assert plugin.erase_person(CUSTOMER) == 1
    assert Case.select().count() == 0


def test_stats_count_per_day_and_draw_a_chart(plugin, tmp_path):
    desk = plugin.desk
    count_bot_answer()
    count_bot_answer()
    desk.ask_for_person(CUSTOMER, "en")
    desk.ask_for_person(OTHER, "en")
    desk.take(ANNA)
    desk.done(ANNA)
    desk.rate(CUSTOMER, "4")
    [today] = daily(1)
    assert (today.conversations, today.by_bot, today.by_people, today.ratings) == (2, 2, 1, [4])
    assert table([today]).splitlines()[1].split()[1:2] == ["2"]
    chart(daily(3), tmp_path / "desk.png")
    assert (tmp_path / "desk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
