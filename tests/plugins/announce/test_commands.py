"""The announce plugin's chat commands through the real ejabberd: following and stopping in
English and German, staff sending with a preview and `yes`, bad input, and someone who stops
while an announcement goes out."""

from __future__ import annotations

import pytest

from bots import testing
from bots.outbox import DONE, OutboxMessage
from plugins.announce import Announce
from plugins.announce.models import Announcement
from tests.conftest import eventually
from tests.plugins.announce.conftest import LISTS

# what a follower may read as the names of a command's parts, and English words a German
# answer must not contain
LABELS = {"en": {"list"}, "de": {"Liste"}}
ENGLISH = {"list", "follow", "unfollow", "news", "yes", "announcement", "sent"}


def plain(answer: str, language: str) -> list[str]:
    return testing.technical_tokens(answer, language, LABELS[language], ENGLISH)


async def bodies(client, sender: str, count: int) -> list[str]:
    return [(await client.next_message(sender))["body"] for _ in range(count)]


def rows_to(jid: str) -> list[str]:
    """The outbox's messages to `jid`, by key."""
    return [row.key for row in OutboxMessage.select().where(OutboxMessage.recipient == jid)]


@pytest.mark.parametrize("language", ["en", "de"])
async def test_following_and_stopping_in_plain_words(make_bot, chat_client, language):
    bot = await make_bot(plugins=[Announce({"lists": LISTS})])
    jid, person = bot.boundjid.bare, await chat_client()

    async def ask(text: str) -> str:
        answer = await person.ask(jid, text, language=language)
        assert plain(answer, language) == [], answer
        return answer

    if language == "en":
        assert await ask("follow") == (
            "Lists you can follow:\n• News: closures and events\n• Offers\n"
            "To follow one, write e.g.: follow News")
        assert await ask("follow news") == (
            "You follow News now: I will send you its announcements here (closures and "
            "events). To stop: unfollow News")
        assert await ask("follow NEWS") == "You follow News already. To stop: unfollow News"
        assert "\n1. announcements of the list News — since " in await ask("privacy")
        assert (await ask("follow")).startswith("Lists you can follow:\n• News: closures and "
                                                "events (you follow it)\n")
        assert await ask("unsubscribe") == ("You no longer follow News; I will send you "
                                            "nothing more from it.")
        assert await ask("unfollow news") == "You do not follow News."
        assert await ask("follow weather") == "There is no list weather. Lists: News, Offers"
    else:
        assert await ask("folgen neuigkeiten") == (
            "Sie folgen jetzt Neuigkeiten: Ich schicke Ihnen die Ankündigungen dieser Liste "
            "hier (Schließtage und Termine). Zum Beenden: abbestellen Neuigkeiten")
        assert await ask("bestellen angebote") == (
            "Sie folgen jetzt Angebote: Ich schicke Ihnen die Ankündigungen dieser Liste hier. "
            "Zum Beenden: abbestellen Angebote")
        assert await ask("abbestellen") == ("Welche? Schreiben Sie z. B.: abbestellen "
                                            "Neuigkeiten")
        assert "Listen, denen Sie folgen: Neuigkeiten, Angebote" in await ask("datenschutz")
        assert await ask("entfolgen Angebote") == ("Sie folgen Angebote nicht mehr; ich "
                                                   "schicke Ihnen nichts mehr davon.")
        assert await ask("abbestellen") == ("Sie folgen Neuigkeiten nicht mehr; ich schicke "
                                            "Ihnen nichts mehr davon.")
        assert await ask("abbestellen") == "Sie folgen keiner Liste."
        assert await ask("folgen wetter") == ("Es gibt keine Liste wetter. Listen: "
                                              "Neuigkeiten, Angebote")


async def test_staff_send_with_a_preview_and_yes_and_each_follower_gets_it_once(
        make_bot, chat_client):
    staff = await chat_client()
    bot = await make_bot(plugins=[Announce({"lists": LISTS})], PEOPLE_STAFF=staff.boundjid.bare)
    jid = bot.boundjid.bare
    reader, leser, stranger = await chat_client(), await chat_client(), await chat_client()
    await reader.ask(jid, "follow news")
    await leser.ask(jid, "folgen neuigkeiten", language="de")
    await stranger.ask(jid, "follow offers")

    text = 'Am Montag schließen wir um 14 Uhr.\n„Inventur“ – danke für Ihr Verständnis!'
    preview = await staff.ask(jid, f"announce news {text}")
    assert preview == ("This goes to the 2 people who follow News:\n\nNews:\n" + text
                       + "\n\n(No more of these: unfollow News)\n\nWrite yes within 10 "
                       "minutes to send it.")
    assert await bot.storage.run(lambda: OutboxMessage.select().count()) == 0  # nothing yet
    assert await staff.ask(jid, "yes") == "Sent: 2 people get it now."
    assert await bodies(reader, jid, 1) == [f"News:\n{text}\n\n(No more of these: unfollow "
                                            "News)"]
    assert await bodies(leser, jid, 1) == [f"Neuigkeiten:\n{text}\n\n(Keine weiteren davon: "
                                           "abbestellen Neuigkeiten)"]
    assert await staff.ask(jid, "ja", language="de") == (
        "Nichts wartet auf Ihr Ja (eine Ankündigung wartet 10 Minuten). Zum Senden: ankündigen "
        "<Liste> <Text>")
    await eventually(lambda: bot.storage.run(lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count() == 2))
    assert await bot.storage.run(rows_to, stranger.boundjid.bare) == []
    assert stranger.inbox.empty() and reader.inbox.empty() and leser.inbox.empty()
    # the line under the announcement is a command that works
    assert await leser.ask(jid, "abbestellen Neuigkeiten", language="de") == (
        "Sie folgen Neuigkeiten nicht mehr; ich schicke Ihnen nichts mehr davon.")


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(make_bot, chat_client):
    staff, customer = await chat_client(), await chat_client()
    bot = await make_bot(plugins=[Announce({"lists": LISTS})], PEOPLE_STAFF=staff.boundjid.bare)
    jid = bot.boundjid.bare
    await customer.ask(jid, "follow news")

    assert (await customer.ask(jid, "announce news Free beer")).startswith(
        'I did not understand "announce news Free beer".')
    assert await customer.ask(jid, "yes") == ('I did not understand "yes". Write "help" to '
                                              'see everything I can do.')
    assert await staff.ask(jid, "announce weather Sunny") == (
        "There is no list weather. Lists: News, Offers")
    assert await staff.ask(jid, "announce news") == (
        "text is missing. Write: announce <list> <text>")
    assert await staff.ask(jid, 'announce news " "') == "An announcement needs a text."
    assert await staff.ask(jid, "announce offers Sale") == (
        "Nobody follows Offers yet, so nobody would get it. People follow it with: follow "
        "Offers")
    assert await staff.ask(jid, "yes") == (
        "Nothing is waiting for your yes (an announcement waits 10 minutes). To send one: "
        "announce <list> <text>")
    assert await bot.storage.run(lambda: (Announcement.select().count(),
                                          OutboxMessage.select().count())) == (0, 0)


async def test_who_stops_while_it_goes_out_gets_nothing_further(make_bot, chat_client):
    """The outbox sends 2 messages a second here: the last follower's is still waiting when
    they stop."""
    staff = await chat_client()
    bot = await make_bot(plugins=[Announce({"lists": LISTS})], PEOPLE_STAFF=staff.boundjid.bare,
                         OUTBOX_RATE="2")
    jid = bot.boundjid.bare
    followers = [await chat_client() for _ in range(5)]
    for follower in followers:
        await follower.ask(jid, "follow news")
    await staff.ask(jid, "announce news Heute Sommerfest!")
    assert await staff.ask(jid, "yes") == "Sent: 5 people get it now."
    first, last = followers[0], followers[-1]
    assert await bodies(first, jid, 1) == ["News:\nHeute Sommerfest!\n\n(No more of these: "
                                           "unfollow News)"]
    assert await last.ask(jid, "unfollow news") == (
        "You no longer follow News; I will send you nothing more from it. The announcement "
        "going out right now will not reach you either.")
    for follower in followers[1:-1]:
        assert len(await bodies(follower, jid, 1)) == 1
    await eventually(lambda: bot.storage.run(lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count() == 4))
    assert await bot.storage.run(rows_to, last.boundjid.bare) == []
    assert last.inbox.empty()
    assert await bot.storage.run(lambda: [(row.recipients, row.skipped)
                                          for row in Announcement.select()]) == [(5, 1)]
