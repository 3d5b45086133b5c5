"""The announcer on SQLite and PostgreSQL: following with consent, recipients fixed when an
announcement goes out, one outbox message per person, stopping while it goes out, scheduled
announcements through the scheduler, drafts, and the person's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bots import audit, consent
from bots.consent import Consent
from bots.outbox import PENDING, SENT, OutboxMessage
from bots.people import PersonSetting
from bots.scheduler import Schedule
from bots.stanza_text import MAX_BODY_CHARACTERS
from plugins.announce.models import (CANCELLED, DRAFT, SCHEDULED, Announcement,
                                     Subscription)
from plugins.announce.service import JOB, AnnounceError

ADMIN = audit.Actor("root", "cli")


def queued() -> dict[str, tuple[str, str]]:
    """The outbox: recipient → (key, body)."""
    return {row.recipient: (row.key, row.body) for row in OutboxMessage.select()}


def test_following_records_the_consent_with_the_list_s_wording(announcer):
    assert announcer.follow("anna@x.test", "NEUIGKEITEN", "de")[1] is True
    assert announcer.follow("anna@x.test", "news", "en")[1] is False
    assert announcer.follow("bert@x.test", "  Angebote ", "de")[0].name == "offers"
    assert {(row.jid, row.purpose, row.text_version, row.channel) for row in Consent.select()} \
        == {("anna@x.test", "announce.news", "announce.news.1", "xmpp"),
            ("bert@x.test", "announce.offers", "announce.offers.3", "xmpp")}
    assert Subscription.get(Subscription.jid == "anna@x.test").language == "en"  # the latest
    with pytest.raises(AnnounceError) as refused:
        announcer.follow("anna@x.test", "nachrichten", "de")
    assert refused.value.text("de") == ("Es gibt keine Liste nachrichten. Listen: Neuigkeiten, "
                                        "Angebote")
    assert str(refused.value) == "list: There is no list nachrichten. Lists: News, Offers"


def test_an_announcement_goes_once_to_each_follower_whose_consent_stands_then(announcer):
    for jid in ("anna@x.test", "bert@x.test", "cleo@x.test", "dora@x.test"):
        announcer.follow(jid, "news", "de" if jid == "anna@x.test" else "en")
    announcer.follow("erik@x.test", "offers", "en")  # another list
    announcer.unfollow("bert@x.test", "news")
    consent.withdraw("cleo@x.test", "announce.news")  # withdrawn, the subscription still there
    PersonSetting.create(jid="dora@x.test", language="de")  # chose German since

    announcement = announcer.send_now("news", "Montag ab 14 Uhr geschlossen.\nDienstag wie "
                                      "immer.", ADMIN)
    announcer.follow("fritz@x.test", "news", "en")  # too late for this one
    assert announcement.recipients == 1 + 1
    rows = queued()
    assert set(rows) == {"anna@x.test", "dora@x.test"}
    assert rows["anna@x.test"][1] == rows["dora@x.test"][1] == (
        "Neuigkeiten:\nMontag ab 14 Uhr geschlossen.\nDienstag wie immer.\n\n(Keine weiteren "
        "davon: abbestellen Neuigkeiten)")
    subscription = Subscription.get(Subscription.jid == "anna@x.test")
    assert rows["anna@x.test"][0] == f"announce:news:{announcement.id}:{subscription.id}"
    assert [(entry.action, entry.subject, entry.facts) for entry in audit.entries()] == [
        ("announce.send", "news", {"announcement": announcement.id, "count": 2})]


def test_yes_sends_the_draft_once_and_a_second_yes_finds_nothing(announcer):
    announcer.follow("anna@x.test", "news", "en")
    draft = announcer.draft("staff@x.test", "news", '  „Tag der offenen Tür“ am Samstag ')
    assert (draft.recipients, draft.announcement.state, draft.announcement.text) == (
        1, DRAFT, "„Tag der offenen Tür“ am Samstag")
    assert announcer.confirm("staff@x.test").recipients == 1
    with pytest.raises(AnnounceError, match="Nothing is waiting for your yes"):
        announcer.confirm("staff@x.test")
    assert len(queued()) == 1


def test_a_draft_waits_ten_minutes_and_a_new_one_replaces_it(announcer):
    announcer.follow("anna@x.test", "news", "en")
    announcer.draft("staff@x.test", "news", "first")
    announcer.draft("staff@x.test", "news", "second")
    assert [row.text for row in Announcement.select()] == ["second"]
    Announcement.update(created_at=datetime.now(UTC).replace(tzinfo=None)
                        - timedelta(minutes=11)).execute()
    with pytest.raises(AnnounceError) as refused:
        announcer.confirm("staff@x.test")
    assert refused.value.text("de").startswith("Nichts wartet auf Ihr Ja (eine Ankündigung "
                                               "wartet 10 Minuten).")
    assert queued() == {}
    announcer.draft("other@x.test", "news", "third")  # drafts that waited too long go
    assert [row.text for row in Announcement.select()] == ["third"]


@pytest.mark.parametrize("name, text, problem", [
    ("nachrichten", "Hallo", r"^list: There is no list nachrichten\. Lists: News, Offers$"),
    ("news", " \n\x01 ", r"^text: An announcement needs a text\.$"),
    ("news", "x" * MAX_BODY_CHARACTERS, r"^text: The text is too long: 40,?0\d\d characters; "
                                         r"a message carries at most 40,?000\.$"),
    ("offers", "Hallo", r"^list: Nobody follows Offers yet, so nobody would get it\. People "
                        r"follow it with: follow Offers$"),
])
def test_bad_input_is_refused_and_nothing_is_kept(announcer, name, text, problem):
    announcer.follow("anna@x.test", "news", "en")
    with pytest.raises(AnnounceError, match=problem):
        announcer.draft("staff@x.test", name, text)
    assert Announcement.select().count() == 0 and queued() == {}


def test_who_stops_while_it_goes_out_gets_nothing_further(announcer):
    for jid in ("anna@x.test", "bert@x.test"):
        announcer.follow(jid, "news", "en")
        announcer.follow(jid, "offers", "en")
    news = announcer.send_now("news", "News!", ADMIN)
    offers = announcer.send_now("offers", "Offers!", ADMIN)
    # the outbox has taken Bert's message of the news already, Anna's still waits
    OutboxMessage.update(state=SENT).where(OutboxMessage.recipient == "bert@x.test").execute()

    assert announcer.unfollow("anna@x.test", "news")[1] == 1
    assert announcer.unfollow("bert@x.test", "Neuigkeiten")[1] == 0  # on its way: it arrives
    assert {(row.recipient, row.key.split(":")[1]) for row in OutboxMessage.select()} == {
        ("anna@x.test", "offers"), ("bert@x.test", "news"), ("bert@x.test", "offers")}
    assert [(row.recipients, row.skipped) for row in (Announcement.get_by_id(news.id),
                                                      Announcement.get_by_id(offers.id))] == [
        (2, 1), (2, 0)]
    assert not consent.has("anna@x.test", "announce.news")
    with pytest.raises(AnnounceError, match="You do not follow News."):
        announcer.unfollow("anna@x.test", "news")


def test_unfollow_without_a_list_ends_the_only_one_and_asks_when_there_are_more(announcer):
    with pytest.raises(AnnounceError, match="You follow no list."):
        announcer.unfollow("anna@x.test", None)
    announcer.follow("anna@x.test", "news", "de")
    announcer.follow("anna@x.test", "offers", "de")
    with pytest.raises(AnnounceError) as asked:
        announcer.unfollow("anna@x.test", None)
    assert asked.value.text("de") == "Welche? Schreiben Sie z. B.: abbestellen Neuigkeiten"
    announcer.unfollow("anna@x.test", "offers")
    assert announcer.unfollow("anna@x.test", None)[0].name == "news"


def test_a_scheduled_announcement_goes_out_at_its_local_time_to_who_follows_then(announcer):
    year = datetime.now(UTC).year + 1
    announcer.follow("anna@x.test", "offers", "en")
    announcement = announcer.schedule("offers", "Summer sale", datetime(year, 7, 1, 9, 0),
                                      ADMIN)
    # New York keeps summer time in July: 09:00 there is 13:00 UTC
    assert announcement.due_at == datetime(year, 7, 1, 13, 0)
    assert announcement.state == SCHEDULED
    announcer.follow("bert@x.test", "offers", "en")

    due = datetime(year, 7, 1, 13, 0, tzinfo=UTC)
    announcer.clock.set(due - timedelta(seconds=5))
    assert announcer.scheduler.run_due() == 0 and queued() == {}
    announcer.unfollow("anna@x.test", "offers")
    announcer.clock.set(due + timedelta(seconds=1))
    assert announcer.scheduler.run_due() == 1
    assert set(queued()) == {"bert@x.test"}
    assert Announcement.get_by_id(announcement.id).recipients == 1
    assert not Schedule.select().where(Schedule.job == JOB).exists()  # once, not every …
    announcer.clock.advance(timedelta(days=400))
    assert announcer.scheduler.run_due() == 0


def test_a_cancelled_announcement_does_not_go_out_and_a_past_time_is_refused(announcer):
    announcer.follow("anna@x.test", "news", "en")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    announcement = announcer.schedule("news", "Tomorrow", tomorrow.replace(tzinfo=None), ADMIN)
    assert announcer.cancel(announcement.id, ADMIN).state == CANCELLED
    with pytest.raises(AnnounceError, match=f"No announcement {announcement.id} is scheduled"):
        announcer.cancel(announcement.id, ADMIN)
    announcer.clock.advance(timedelta(days=2))
    assert announcer.scheduler.run_due() == 0 and queued() == {}
    with pytest.raises(AnnounceError, match="is past; give a time to come"):
        announcer.schedule("news", "Too late", datetime(2020, 1, 1, 9, 0), ADMIN)
    assert [row.action for row in audit.entries()] == ["announce.cancel", "announce.schedule"]


def test_more_followers_than_one_statement_takes_each_get_one_message(announcer):
    jids = [f"reader{number}@x.test" for number in range(1201)]
    Subscription.insert_many([(jid, "news", "en") for jid in jids],
                             fields=[Subscription.jid, Subscription.list,
                                     Subscription.language]).execute()
    Consent.insert_many([(jid, "announce.news", "announce.news.1") for jid in jids[1:]],
                        fields=[Consent.jid, Consent.purpose, Consent.text_version]).execute()
    steps = []
    assert announcer.send_now("news", "Hello", ADMIN, steps.append).recipients == 1200
    assert sum(steps) == 1200 and len(steps) == 3
    assert set(queued()) == set(jids[1:])


def test_a_withdrawal_in_chat_ends_the_subscription_and_erasure_keeps_the_history(announcer):
    bot = announcer.bot
    announcer.follow("anna@x.test", "news", "en")
    announcer.follow("staff@x.test", "news", "en")
    announcer.draft("staff@x.test", "news", "Hello")
    announcer.confirm("staff@x.test")
    consent.withdraw("anna@x.test", "announce.news", "xmpp")
    bot.emit(consent.WITHDRAWN, jid="anna@x.test", purpose="announce.news")
    assert not Subscription.select().where(Subscription.jid == "anna@x.test").exists()
    assert OutboxMessage.select().where((OutboxMessage.recipient == "anna@x.test")
                                        & (OutboxMessage.state == PENDING)).count() == 0

    plugin = announcer.plugin
    data = plugin.personal_data("staff@x.test")
    assert [row["list"] for row in data["subscriptions"]] == ["news"]
    assert [(row["list"], row["state"], row["recipients"]) for row in data["announcements"]] \
        == [("news", "sent", 2)]
    assert plugin.describe_personal_data(data, "de") == [
        "Listen, denen Sie folgen: Neuigkeiten",
        "1 Ankündigung, die Sie gesendet oder geplant haben"]
    assert plugin.describe_purpose("announce.news", "de") == "Ankündigungen der Liste " \
                                                             "Neuigkeiten"
    assert plugin.describe_purpose("lessons.kurs", "de") is None
    assert plugin.erase_person("staff@x.test") == 2
    assert [row.created_by for row in Announcement.select()] == [audit.ERASED]
    assert plugin.personal_data("staff@x.test") == {"subscriptions": [], "announcements": []}
