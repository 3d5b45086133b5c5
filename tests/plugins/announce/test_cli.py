"""`botschaft announce …` as an admin runs it: send now with the count, schedule with `--at`
(the running bot sends it when its clock gets there), cancel, the history, the lists, and
bad input refused with the field or option named."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bots import audit
from bots.cli import main
from bots.outbox import OutboxMessage
from bots.scheduler import FakeClock
from plugins.announce import Announce


@pytest.fixture
def database(tmp_path, monkeypatch):
    """The URL of the database `botschaft` uses here (and a bot may share)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def run(*arguments, input: str | None = None):
    return CliRunner().invoke(main, ["announce", *arguments], input=input)


async def followers(make_bot, chat_client, database: str, count: int, clock=None):
    bot = await make_bot(plugins=[Announce()], DATABASE_URL=database, clock=clock)
    clients = [await chat_client() for _ in range(count)]
    for client in clients:
        assert (await client.ask(bot.boundjid.bare, "follow news")).startswith("You follow")
    return bot, clients


async def test_send_now_queues_one_message_per_follower_and_the_history_shows_it(
        make_bot, chat_client, database, tmp_path):
    bot, clients = await followers(make_bot, chat_client, database, 2)
    (tmp_path / "text.md").write_text("Wir schließen\nam Montag um 14 Uhr.\n", encoding="utf-8")

    declined = run("send", "Neuigkeiten", "--file", "text.md", input="n\n")
    assert declined.exit_code == 1 and "News (news): now, to 2 people" in declined.output
    sent = run("send", "Neuigkeiten", "--file", "text.md", input="y\n")
    assert sent.exit_code == 0, sent.output
    assert sent.output.endswith("Announcement 1: queued for 2 people; the running bot sends "
                                "it.\n")
    for client in clients:  # the running bot finds the rows by itself
        message = await client.next_message(bot.boundjid.bare, timeout=15)
        assert message["body"] == ("News:\nWir schließen\nam Montag um 14 Uhr.\n\n(No more of "
                                   "these: unfollow News)")

    history = run("history").output.splitlines()
    assert history[0].split() == ["#", "when", "list", "state", "people", "skipped", "by",
                                  "text"]
    assert history[1].split()[3:] == ["news", "sent", "2", "0", getpass.getuser(), "Wir",
                                      "schließen", "am", "Montag", "um", "14", "Uhr."]
    assert run("lists").output.split() == ["news", "Neuigkeiten", "/", "News", "Europe/Berlin",
                                           "wording", "1", "2", "following"]
    entries = await bot.storage.run(lambda: [(entry.actor, entry.channel, entry.action,
                                              entry.subject, entry.facts)
                                             for entry in audit.entries()])
    assert entries == [(getpass.getuser(), "cli", "announce.send", "news",
                        {"announcement": 1, "count": 2})]


async def test_a_scheduled_announcement_goes_out_when_the_bot_s_clock_gets_there(
        make_bot, chat_client, database):
    clock = FakeClock(datetime.now(UTC))
    bot, [reader] = await followers(make_bot, chat_client, database, 1, clock)
    local = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None)
    at = f"{local:%Y-%m-%d %H:%M}"
    scheduled = run("send", "news", "--text", "Morgen Sommerfest", "--at", at, "--yes")
    assert scheduled.exit_code == 0, scheduled.output
    assert scheduled.output == (f"News (news): at {at} (Europe/Berlin), to those who follow it "
                                "then; now 1 person\nAnnouncement 1 is scheduled (to call it "
                                "off: botschaft announce cancel 1).\n")
    run("send", "news", "--text", "Wird abgesagt", "--at", at, "--yes")
    assert run("cancel", "2").output == "Announcement 2 to news is cancelled.\n"
    assert run("history").output.splitlines()[1].split()[1:6] == [
        f"{local:%Y-%m-%d}", "09:00", "news", "cancelled", "0"]

    due = local.replace(tzinfo=ZoneInfo("Europe/Berlin"))
    clock.set(due + timedelta(seconds=1))
    message = await reader.next_message(bot.boundjid.bare, timeout=15)
    assert message["body"].startswith("News:\nMorgen Sommerfest")
    assert run("history").output.splitlines()[2].split()[3:7] == ["news", "sent", "1", "0"]
    assert await bot.storage.run(lambda: OutboxMessage.select().count()) == 1


@pytest.mark.parametrize("arguments, code, problem", [
    (["send", "weather", "--text", "Sunny", "--yes"], 1,
     "Error: list: There is no list weather. Lists: News"),
    (["send", "news", "--text", "Hi", "--file", "text.md"], 2,
     "give the announcement as --text or as --file, one of them"),
    (["send", "news", "--yes"], 2, "give the announcement as --text or as --file"),
    (["send", "news", "--text", " \t", "--yes"], 1, "Error: text: An announcement needs a text."),
    (["send", "news", "--file", "latin.md", "--yes"], 1, "latin.md: not UTF-8"),
    (["send", "news", "--text", "Hi", "--yes"], 1, "Error: nobody follows news yet; nothing "
                                                   "was sent"),
    (["send", "news", "--text", "Hi", "--at", "24.12.2026 9 Uhr"], 2,
     "Invalid value for '--at': '24.12.2026 9 Uhr': write the local date and time, e.g. "
     "\"2026-12-24 09:00\""),
    (["send", "news", "--text", "Hi", "--at", "2020-12-24 09:00", "--yes"], 1,
     "Error: at: 2020-12-24 09:00 is past; give a time to come."),
    (["cancel", "7"], 1, "Error: number: No announcement 7 is scheduled."),
])
def test_bad_input_is_refused_naming_what_is_wrong_and_nothing_changes(
        database, tmp_path, arguments, code, problem):
    (tmp_path / "text.md").write_text("Hi", encoding="utf-8")
    (tmp_path / "latin.md").write_bytes("Grüße".encode("latin-1"))
    result = run(*arguments)
    assert result.exit_code == code, result.output
    assert problem in " ".join(result.output.split()), result.output
    assert run("history").stdout.count("\n") == 1  # the header alone
