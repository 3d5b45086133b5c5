"""Messages the bot starts itself arrive exactly once: through the real ejabberd, across a lost
connection, a server restart and kill -9 of the bot at several points of a 2,000-message run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import slixmpp
from click.testing import CliRunner

from bots.cli import main
from bots.connection import OutboxSession
from bots.outbox import (DONE, EXCLUDED_IN_SQL, FAILED, PENDING, SCHEMA, SENT, Outbox,
                         OutboxMessage, RateLimiter, enqueue, enqueue_many, origin_id_for,
                         withdraw)
from bots.stanza_text import MAX_BODY_CHARACTERS, BodyError, shared_file
from bots.storage import Storage
from bots.testing import (BOTSCHAFT, component_environment, kill_during, run_environment,
                          run_until)
from tests.conftest import eventually


def origin_of(message) -> str:
    return message.xml.find("{urn:xmpp:sid:0}origin-id").get("id")


async def collect(client, sender: str, count: int, timeout: float = 60) -> list:
    return [await client.next_message(sender, timeout) for _ in range(count)]


async def states(bot) -> Counter:
    return Counter(await bot.storage.run(
        lambda: [row.state for row in OutboxMessage.select(OutboxMessage.state)]))


def numbered_messages(recipients: list, count: int, text: str) -> list[tuple[str, str, str]]:
    """`count` outbox messages "<text> <n>" (key "<text>:<n>"), to the recipients in turn."""
    return [(f"{text}:{number}", recipients[number % len(recipients)].boundjid.bare,
             f"{text} {number}") for number in range(count)]


def fill_outbox(database: str, recipients: list, count: int, text: str) -> Storage:
    """`count` outbox rows "<text> <n>", to the recipients in turn; the storage stays open."""
    storage = Storage(database)
    storage.migrate([SCHEMA])
    with storage.db.atomic():
        enqueue_many(numbered_messages(recipients, count, text))
    return storage


async def queue_in(bot, recipients: list, count: int, text: str) -> None:
    """The same, in a running bot's database, and wake its outbox."""
    await bot.storage.run(enqueue_many, numbered_messages(recipients, count, text))
    bot.outbox.wake()


def received_bodies(client) -> Counter:
    """How often each chat text reached the client so far."""
    bodies = Counter()
    while not client.inbox.empty():
        message = client.inbox.get_nowait()
        if message["type"] == "chat" and message["body"]:
            bodies[message["body"]] += 1
    return bodies


def test_a_key_is_sent_once_however_often_it_is_enqueued(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'outbox.db'}")
    storage.migrate([SCHEMA])
    assert enqueue("lesson:7:2026-11-23", "anna@example.com", "Lesson 1") is True
    assert enqueue("lesson:7:2026-11-23", "anna@example.com", "Lesson 1 again") is False
    assert [row.body for row in OutboxMessage.select()] == ["Lesson 1"]
    with pytest.raises(RuntimeError), storage.db.atomic():
        enqueue("status:4711:3", "ben@example.com", "Ready")
        raise RuntimeError("the status change failed, so its message must not exist")
    assert OutboxMessage.select().count() == 1
    first_origin = OutboxMessage.get().origin_id
    storage.close()

    # The same key in another database (or after old rows were purged) gets another stanza id,
    # so the archive's copy of the earlier message is never taken for the new one.
    other = Storage(f"sqlite:///{tmp_path / 'other.db'}")
    other.migrate([SCHEMA])
    enqueue("lesson:7:2026-11-23", "anna@example.com", "Lesson 1")
    assert OutboxMessage.get().origin_id != first_origin
    other.close()


def test_an_outbox_from_before_stream_numbers_is_migrated_and_keeps_its_rows(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'old.db'}")
    storage.db.execute_sql(  # the table as the previous release created it
        "CREATE TABLE bots_outbox (id INTEGER NOT NULL PRIMARY KEY, key VARCHAR(255) NOT NULL, "
        "origin_id VARCHAR(36) NOT NULL, recipient VARCHAR(3071) NOT NULL, body TEXT NOT NULL, "
        "state VARCHAR(8) NOT NULL, attempts INTEGER NOT NULL, created_at DATETIME NOT NULL, "
        "sent_at DATETIME, done_at DATETIME, error TEXT)")
    storage.db.execute_sql(
        "INSERT INTO bots_outbox (key, origin_id, recipient, body, state, attempts, created_at) "
        "VALUES ('push:1', 'o-1', 'anna@example.com', 'Ready', 'pending', 0, '2026-11-01')")
    assert storage.migrate([SCHEMA]) == ["outbox: 0001_stream_position",
                                         "outbox: 0002_claim_owner_and_lease",
                                         "outbox: 0003_pending_in_order",
                                         "outbox: 0004_shared_files"]
    row = OutboxMessage.get()
    assert (row.key, row.state, row.stream, row.seq, row.claimed_by, row.lease_until,
            row.shares_file) == ("push:1", PENDING, None, None, None, None, None)
    assert storage.migrate([SCHEMA]) == []
    storage.close()


async def test_queued_messages_arrive_once_each_with_their_origin_id(make_bot, chat_client):
    bot = await make_bot()
    clients = [await chat_client() for _ in range(3)]
    await queue_in(bot, clients, 30, "Update")
    for index, client in enumerate(clients):
        received = await collect(client, bot.boundjid.bare, 10)
        assert sorted(message["body"] for message in received) == sorted(
            f"Update {n}" for n in range(index, 30, 3))
        expected = await bot.storage.run(lambda: {
            row.origin_id for row in OutboxMessage.select().where(
                OutboxMessage.recipient == client.boundjid.bare)})
        assert {origin_of(message) for message in received} == expected
        assert {message["id"] for message in received} == expected
    await eventually(lambda: _all_done(bot, 30))


async def test_a_queued_file_arrives_as_a_file_that_apps_show(make_bot, chat_client):
    """XEP-0066: the body is the link and the stanza carries it as out-of-band data, as apps
    send a file after an HTTP upload (`shared_file` reads it so)."""
    bot = await make_bot()
    client = await chat_client()
    link = "https://upload.example.com/a1b2/Wischer%20vorne.jpg"
    await bot.storage.run(enqueue_many, [("file:1", client.boundjid.bare, link, True),
                                         ("text:1", client.boundjid.bare, link),
                                         ("text:2", client.boundjid.bare, link, False)])
    bot.outbox.wake()
    as_file, *as_texts = await collect(client, bot.boundjid.bare, 3)
    assert shared_file(as_file) == link == as_file["body"]
    assert [(shared_file(text), text["body"]) for text in as_texts] == [(None, link)] * 2


async def _all_done(bot, count: int) -> bool:
    return (await states(bot))[DONE] == count


async def test_an_unknown_recipient_ends_failed_with_the_reason(make_bot, xmpp_server):
    bot = await make_bot()
    await bot.storage.run(enqueue, "push:nobody", f"nobody@{xmpp_server.domain}", "Hello?")
    bot.outbox.wake()

    async def failed() -> bool:
        return (await states(bot))[FAILED] == 1
    await eventually(failed, timeout=20)
    error = await bot.storage.run(lambda: OutboxMessage.get().error)
    assert error.startswith("service-unavailable")


async def test_a_forged_error_from_anyone_leaves_a_delivered_message_done(make_bot,
                                                                         chat_client):
    bot = await make_bot()
    customer, attacker = await chat_client(), await chat_client()
    await bot.storage.run(enqueue, "push:1", customer.boundjid.bare, "Your car is ready")
    bot.outbox.wake()
    push = await customer.next_message(bot.boundjid.bare)
    await eventually(lambda: _all_done(bot, 1))
    for forger in (attacker, customer):  # the id and the outbox address are in every push
        error = forger.make_message(mto=push["from"], mtype="error")
        error["id"] = push["id"]
        error["error"]["type"] = "cancel"
        error["error"]["condition"] = "service-unavailable"
        error["error"]["text"] = "pay first: https://evil.example/pay"
        error.send()
        # what reaches the outbox address after the error is handled after it
        forger.say(str(push["from"]), "ping")
        assert (await forger.next_message(bot.boundjid.bare))["body"] == "pong"
    await bot.storage.run(enqueue, "push:2", customer.boundjid.bare, "Anything else?")
    bot.outbox.wake()
    await eventually(lambda: _all_done(bot, 2))
    first = await bot.storage.run(lambda: OutboxMessage.get(OutboxMessage.key == "push:1"))
    assert (first.state, first.error) == (DONE, None)


async def test_messages_queued_while_the_server_restarts_arrive_once(make_bot, chat_client,
                                                                      xmpp_server):
    bot = await make_bot()
    client = await chat_client()
    xmpp_server.devserver.stop()
    await bot.storage.run(enqueue, "push:during-restart", client.boundjid.bare, "Still there")
    bot.outbox.wake()
    xmpp_server.devserver.start()
    message = await client.next_message(bot.boundjid.bare, timeout=60)
    assert message["body"] == "Still there"
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"  # and nothing else came


async def test_a_dropped_outbox_connection_is_resumed_and_nothing_arrives_twice(
        make_bot, chat_client):
    bot = await make_bot(OUTBOX_RATE="300")
    clients = [await chat_client() for _ in range(5)]
    await queue_in(bot, clients, 900, "News")
    stream = bot.outbox.stream
    for point in (200, 500):  # the connection breaks twice, in the middle of batches
        await eventually(lambda: _at_least_done(bot, point))
        stream.abort()
    await eventually(lambda: _all_done(bot, 900))
    assert stream.resumptions == 2 and stream.sessions == 1
    await asyncio.sleep(1)
    for index, client in enumerate(clients):
        assert received_bodies(client) == Counter({f"News {n}": 1 for n in range(index, 900, 5)})


async def _at_least_done(bot, count: int) -> bool:
    return (await states(bot))[DONE] >= count


async def test_whoever_writes_to_the_outbox_address_gets_the_answer_from_the_bot(
        make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    client.say(str(bot.outbox.stream.boundjid), "ping")  # a client that replies to the full JID
    answer = await client.next_message(bot.boundjid.bare)
    assert answer["body"] == "pong"
    assert answer["from"] == bot.boundjid  # sent on the main connection
    await bot.storage.run(enqueue, "push:after-answer", client.boundjid.bare, "Numbering intact")
    bot.outbox.wake()
    assert (await client.next_message(bot.boundjid.bare))["body"] == "Numbering intact"
    await eventually(lambda: _all_done(bot, 1))


async def test_unacknowledged_messages_are_sent_again_when_ejabberd_lost_the_stream(
        xmpp_server, make_account, chat_client, tmp_path):
    """kill -9 of the bot, then a restart of ejabberd: the server no longer knows what arrived,
    so what was unacknowledged is sent again. Nothing is lost; a copy may come twice."""
    recipients = [await chat_client(*make_account("reader")) for _ in range(5)]
    storage = fill_outbox(f"sqlite:///{tmp_path / 'bot.db'}", recipients, 600, "Notice")
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          storage.url, OUTBOX_RATE="300")
    await kill_during(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count(), [100])
    doubtful = OutboxMessage.select().where(OutboxMessage.state == SENT).count()
    assert doubtful > 0
    xmpp_server.devserver.stop()
    xmpp_server.devserver.start()
    await run_until(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count() == 600)

    async def all_back() -> bool:  # the readers log in again and get their offline messages
        return all(client.online for client in recipients)
    await eventually(all_back)
    await asyncio.sleep(2)
    twice = 0
    for index, client in enumerate(recipients):
        copies = received_bodies(client)
        assert set(copies) == {f"Notice {n}" for n in range(index, 600, 5)}
        twice += sum(count - 1 for count in copies.values())
    assert twice <= doubtful
    storage.close()


@pytest.mark.timeout(600)
async def test_kill_9_during_2000_messages_loses_none_and_doubles_none(
        xmpp_server, make_account, chat_client, database_url, tmp_path):
    """The bot runs as its own process and is killed (SIGKILL) at several points."""
    recipients = [await chat_client(*make_account("reader")) for _ in range(20)]
    database = database_url
    storage = fill_outbox(database, recipients, 2000, "Lesson")
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          database, OUTBOX_RATE="400")

    def started() -> int:
        return OutboxMessage.select().where(OutboxMessage.state != "pending").count()

    await kill_during(env, started, [150, 700, 1300])
    await run_until(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count() == 2000)

    # the kills left rows marked sent whose stanzas had not arrived: sent again when resumed
    assert OutboxMessage.select().where(OutboxMessage.attempts > 1).count() > 0
    await asyncio.sleep(1)  # the last stanzas reach the clients
    for index, client in enumerate(recipients):
        copies = received_bodies(client)
        expected = {f"Lesson {n}" for n in range(index, 2000, 20)}
        assert set(copies) == expected, f"recipient {index}: missing {expected - set(copies)}"
        assert set(copies.values()) == {1}, f"recipient {index}: doubles {copies.most_common(3)}"
    storage.close()


async def test_sigterm_finishes_what_is_in_flight_and_leaves_the_rest_queued(
        xmpp_server, make_account, chat_client, tmp_path):
    recipients = [await chat_client(*make_account("reader")) for _ in range(5)]
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    storage = fill_outbox(database, recipients, 500, "News")
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          database, OUTBOX_RATE="100")
    bot = subprocess.Popen([BOTSCHAFT, "run"], env=env)
    while OutboxMessage.select().where(OutboxMessage.state == DONE).count() < 100:
        assert bot.poll() is None
        await asyncio.sleep(0.05)
    bot.send_signal(signal.SIGTERM)  # in the middle of a batch (100 a second)
    assert bot.wait(15) == 0
    after_stop = Counter(row.state for row in OutboxMessage.select())
    assert after_stop["sent"] == 0, after_stop  # acknowledged ones done, the rest queued
    assert 100 <= after_stop[DONE] < 500 and after_stop[PENDING] > 0

    await run_until(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state == DONE).count() == 500)
    await asyncio.sleep(1)
    for index, client in enumerate(recipients):
        assert received_bodies(client) == Counter({f"News {n}": 1 for n in range(index, 500, 5)})
    storage.close()


def test_the_rate_limiter_paces_overall_and_holds_back_only_who_just_got_a_message():
    limiter = RateLimiter(rate=100, per_recipient=60.0)
    delays = [limiter.delay(f"person{n}") for n in range(5)]  # 1/100 s apart overall
    assert delays[0] == pytest.approx(0, abs=0.01)
    assert all(b - a == pytest.approx(0.01, abs=0.005) for a, b in zip(delays, delays[1:]))
    assert limiter.throttled() == {f"person{n}" for n in range(5)}
    assert 59 < limiter.until_free(longest=120) <= 60  # the first of them, in a minute
    unlimited = RateLimiter(rate=100, per_recipient=0.0)
    unlimited.delay("anna")
    assert unlimited.throttled() == set()


def test_the_rate_limiter_makes_up_for_a_sender_a_little_late_but_not_for_a_pause(
        monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("bots.outbox.time.monotonic", lambda: now[0])
    limiter = RateLimiter(rate=100, per_recipient=0.0)
    assert limiter.delay("anna") == 0  # its slot: 1000.00
    now[0] = 1000.013  # the sleep until the next slot, 1000.01, ended 3 ms late
    assert limiter.delay("ben") == 0  # that slot, kept: the pace stays 100 a second
    assert limiter.delay("cem") == pytest.approx(0.007)  # 1000.02, on schedule again
    now[0] = 1001.0  # nothing sent for a second: no burst to make up for it
    assert limiter.delay("dana") == 0
    assert limiter.delay("emil") == pytest.approx(0.01)


def test_enqueue_cleans_bodies_and_refuses_a_text_too_long_before_writing_anything(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'outbox.db'}")
    storage.migrate([SCHEMA])
    enqueue("note:1", "anna@example.com", "Ready\x01 at 5\x0b")
    assert OutboxMessage.get().body == "Ready at 5"
    with pytest.raises(BodyError, match="note:3"), storage.db.atomic():
        enqueue("note:2", "anna@example.com", "fits")
        enqueue_many([("note:3", "ben@example.com", "x" * (MAX_BODY_CHARACTERS + 1)),
                      ("note:4", "ben@example.com", "fits too")])
    assert [row.key for row in OutboxMessage.select()] == ["note:1"]
    storage.close()


def insert_unchecked(key: str, recipient: str, body: str) -> None:
    """A row as one written before enqueue checked bodies (or by hand) would be."""
    created_at = datetime.now(UTC).replace(tzinfo=None)
    OutboxMessage.insert(key=key, origin_id=origin_id_for(key, created_at), recipient=recipient,
                         body=body, created_at=created_at).execute()


async def test_a_row_with_a_character_xml_forbids_arrives_cleaned_and_so_do_those_after_it(
        make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    await bot.storage.run(insert_unchecked, "old:1", client.boundjid.bare, "Beep\x01 ready")
    await bot.storage.run(enqueue, "new:2", client.boundjid.bare, "And the next one")
    bot.outbox.wake()
    received = await collect(client, bot.boundjid.bare, 2)
    assert [message["body"] for message in received] == ["Beep ready", "And the next one"]
    await eventually(lambda: _all_done(bot, 2), timeout=10)


def break_the_stream_with(stream, body: str) -> None:
    """Make the message with this body break the outbox stream each time it is sent, as a
    row the server cannot take does: a character XML forbids, added after the outbox's own
    guard, and the server answers not-well-formed and closes the stream."""
    def poison(stanza):
        if isinstance(stanza, slixmpp.Message) and stanza["body"] == body:
            stanza["body"] = body + "\x01"
        return stanza
    stream.add_filter("out", poison)


async def test_a_row_that_breaks_the_stream_each_time_ends_failed_and_the_queue_moves_on(
        make_bot, chat_client):
    bot = await make_bot(OUTBOX_MAX_ATTEMPTS="2")
    client = await chat_client()
    break_the_stream_with(bot.outbox.stream, "Poisoned lesson")
    await bot.storage.run(enqueue_many, [
        ("lesson:1", client.boundjid.bare, "Poisoned lesson"),
        ("push:2", "not an address@@example.com", "Lost"),
        ("push:3", client.boundjid.bare, "Status: ready")])
    bot.outbox.wake()
    assert (await client.next_message(bot.boundjid.bare, timeout=30))["body"] == "Status: ready"

    async def settled() -> bool:
        return await states(bot) == Counter({FAILED: 2, DONE: 1})
    await eventually(settled, timeout=30)
    rows = await bot.storage.run(lambda: {row.key: row for row in OutboxMessage.select()})
    assert rows["lesson:1"].attempts == 2
    assert rows["lesson:1"].error.startswith("given up after 2 attempts")
    assert "not-well-formed" in rows["lesson:1"].error
    assert rows["push:2"].error == "the recipient is no valid XMPP address"
    assert rows["push:3"].error is None
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"  # nothing else came
    assert received_bodies(client) == Counter()


def test_withdraw_takes_back_only_what_waits_for_that_person_under_that_prefix(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'outbox.db'}")
    storage.migrate([SCHEMA])
    enqueue_many([("announce:news:1:7", "anna@example.com", "Closed on Monday"),
                  ("announce:news:2:7", "anna@example.com", "Open again"),
                  ("announce:news_letter:1:9", "anna@example.com", "Another list"),
                  ("announce:news:1:8", "ben@example.com", "Closed on Monday")])
    OutboxMessage.update(state=SENT).where(OutboxMessage.key == "announce:news:1:7").execute()

    assert withdraw("anna@example.com", "announce:news:") == ["announce:news:2:7"]
    assert withdraw("anna@example.com", "announce:news:") == []
    assert sorted(row.key for row in OutboxMessage.select()) == [
        "announce:news:1:7", "announce:news:1:8", "announce:news_letter:1:9"]
    storage.close()


def test_failed_messages_are_listed_without_texts_and_can_be_queued_again(tmp_path):
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    storage = Storage(database)
    storage.migrate([SCHEMA])
    enqueue_many([("lesson:7:1", "anna@example.com", "Secret lesson text"),
                  ("push:8", "ben@example.org", "Ready")])
    OutboxMessage.update(state=FAILED, error="given up after 5 attempts", attempts=5,
                         done_at=datetime(2026, 11, 30, 9, 15)).where(
        OutboxMessage.key == "lesson:7:1").execute()
    runner, environ = CliRunner(), {"BOTSCHAFT_DATABASE_URL": database}

    listed = runner.invoke(main, ["-c", str(tmp_path / "none.toml"), "outbox", "failed"],
                           env=environ)
    assert listed.exit_code == 0, listed.output
    assert "lesson:7:1" in listed.output and "2026-11-30 09:15:00" in listed.output
    assert "example.com" in listed.output and "given up after 5 attempts" in listed.output
    assert "anna" not in listed.output and "Secret" not in listed.output
    assert "push:8" not in listed.output and listed.output.endswith("1 failed\n")

    failed_id = OutboxMessage.get(OutboxMessage.key == "lesson:7:1").id
    again = runner.invoke(main, ["-c", str(tmp_path / "none.toml"), "outbox", "retry",
                                 str(failed_id)], env=environ)
    assert again.exit_code == 0, again.output
    row = OutboxMessage.get_by_id(failed_id)
    assert (row.state, row.attempts, row.error) == (PENDING, 0, None)
    not_failed = runner.invoke(main, ["-c", str(tmp_path / "none.toml"), "outbox", "retry",
                                      str(failed_id)], env=environ)
    assert not_failed.exit_code == 1 and "0 of 1" in not_failed.output
    storage.close()


async def test_rows_resent_after_kill_9_are_done_at_once_not_at_the_next_keepalive(
        xmpp_server, make_account, chat_client, make_bot, tmp_path):
    recipients = [await chat_client(*make_account("reader")) for _ in range(4)]
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    storage = fill_outbox(database, recipients, 200, "Alert")
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          database, OUTBOX_RATE="200")  # one batch: nothing new after the kill
    await kill_during(env, lambda: OutboxMessage.select().where(
        OutboxMessage.state != PENDING).count(), [200])
    assert OutboxMessage.select().where(OutboxMessage.state == SENT).count() > 0
    storage.close()

    bot = await make_bot(DATABASE_URL=database)
    await eventually(lambda: _all_done(bot, 200), timeout=10)  # the keepalive comes after 60 s
    assert bot.outbox.stream.resumptions == 1
    for index, client in enumerate(recipients):
        copies = Counter()

        async def all_arrived() -> bool:
            copies.update(received_bodies(client))
            return set(copies) == {f"Alert {n}" for n in range(index, 200, 4)}
        await eventually(all_arrived, timeout=10)
        assert set(copies.values()) == {1}


async def test_a_batch_takes_one_message_per_person_and_none_for_people_who_must_wait(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'outbox.db'}")
    storage.migrate([SCHEMA])
    enqueue_many([("anna:1", "anna@example.com", "A1"), ("anna:2", "anna@example.com", "A2"),
                  ("ben:1", "ben@example.com", "B1"), ("cem:1", "cem@example.com", "C1")])
    outbox = Outbox(OutboxSession("bot@example.com", "unused"), storage, per_recipient=60)
    many = {f"person{n}@example.com" for n in range(EXCLUDED_IN_SQL)}  # beyond what SQL takes
    for throttled in ({"ben@example.com"}, {"ben@example.com"} | many):
        claimed = await storage.run(outbox._claim, None, None, throttled)
        assert [row.body for row in claimed] == ["A1", "C1"]
        OutboxMessage.update(state=PENDING, attempts=0).execute()  # as if never taken
    storage.close()


async def test_one_person_with_many_queued_messages_holds_up_nobody_else(make_bot, chat_client):
    bot = await make_bot(OUTBOX_PER_RECIPIENT="0.2")
    anna, ben = await chat_client(), await chat_client()
    arrivals = []
    for client in (anna, ben):
        client.add_event_handler("message", lambda message, client=client: arrivals.append(
            (client, message["body"])))
    await bot.storage.run(enqueue_many, [
        *((f"lesson:{n}", anna.boundjid.bare, f"Lesson {n}") for n in range(20)),
        ("push:ben", ben.boundjid.bare, "Your car is ready")])
    bot.outbox.wake()
    await eventually(lambda: _all_done(bot, 21), timeout=30)

    async def all_arrived() -> bool:
        return len(arrivals) == 21
    await eventually(all_arrived, timeout=10)
    assert [body for client, body in arrivals if client is anna] == [
        f"Lesson {n}" for n in range(20)]  # in order
    assert arrivals.index((ben, "Your car is ready")) < arrivals.index((anna, "Lesson 19"))



@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_worker_sends_again_only_its_own_rows_and_a_dead_worker_s_after_its_lease(
        database_url, xmpp_server, chat_client):
    """Component workers share the outbox on PostgreSQL. Rows another worker has in flight
    are left to it when a worker connects; a worker that stopped renewing nothing (died) has
    its rows taken over once its lease ran out, and each arrives once."""
    client = await chat_client()
    storage = fill_outbox(database_url, [client], 4, "Ihr Auftrag")
    leases = {"alive": datetime.now(UTC) + timedelta(hours=1),
              "dead": datetime.now(UTC) - timedelta(seconds=1)}

    def in_flight_with(worker: str, keys: list[str]) -> None:
        OutboxMessage.update(state=SENT, attempts=1, claimed_by=f"{worker}-host:1",
                             lease_until=leases[worker].replace(tzinfo=None)).where(
            OutboxMessage.key.in_(keys)).execute()
    in_flight_with("alive", ["Ihr Auftrag:0", "Ihr Auftrag:1"])
    in_flight_with("dead", ["Ihr Auftrag:2", "Ihr Auftrag:3"])
    instance = xmpp_server.instance
    worker = subprocess.Popen([BOTSCHAFT, "run"],
                              env=component_environment(instance, database_url))
    try:
        sender = f"bot.{instance.domain}"
        taken_over = await collect(client, sender, 2)
        assert sorted(message["body"] for message in taken_over) == ["Ihr Auftrag 2",
                                                                     "Ihr Auftrag 3"]
        assert [(row.state, row.claimed_by) for row in OutboxMessage.select().where(
            OutboxMessage.key.in_(["Ihr Auftrag:0", "Ihr Auftrag:1"]))] == [
            (SENT, "alive-host:1")] * 2

        OutboxMessage.update(lease_until=leases["dead"].replace(tzinfo=None)).where(
            OutboxMessage.claimed_by == "alive-host:1").execute()  # that one died too
        rest = await collect(client, sender, 2)
        assert sorted(message["body"] for message in rest) == ["Ihr Auftrag 0",
                                                               "Ihr Auftrag 1"]
        await eventually(lambda: {row.state for row in OutboxMessage.select()} == {DONE})
        origins = [origin_of(message) for message in taken_over + rest]
        assert len(set(origins)) == 4
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
        storage.close()
