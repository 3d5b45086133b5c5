"""The bot in group rooms, through the real ejabberd: it answers a prefix or a mention, ignores
the history replayed when it joins, never answers itself, and two bots never loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from slixmpp import JID

from bots.app import SCHEDULER_INTERVAL
from bots.dispatch import AnswerBudget
from tests.conftest import eventually, next_room_message
from bots.plugin import Plugin, command, job
from bots.scheduler import FakeClock
from bots.web import health


async def test_the_bot_answers_a_prefix_or_its_name_and_stays_quiet_otherwise(
        room, make_bot, xmpp_server):
    owner = room
    bot_jid = f"bot@{xmpp_server.domain}"
    await owner.plugin["xep_0045"].set_affiliation(owner.room, "admin", jid=bot_jid)
    owner.send_message(mto=owner.room, mbody="!ping (said before the bot came)",
                       mtype="groupchat")
    await next_room_message(owner, owner.room)  # the room echoes it to everyone in it
    bot = await make_bot(BOT_NICK="Botschaft", BOT_ROOMS=owner.room)
    await eventually(lambda: owner.room in bot.joined_rooms)  # the bot joins after its start

    for text in ("ping", "!ping", "Botschaft: ping"):
        owner.send_message(mto=owner.room, mbody=text, mtype="groupchat")
    seen = [(await next_room_message(owner, owner.room))["body"] for _ in range(5)]
    assert seen == ["ping", "!ping", "Botschaft: ping", "owner: pong", "owner: pong"]
    # A third answer (to "ping", or to the history the join replays) would be on its way
    # with the other two, so it would arrive before a message sent now comes back.
    owner.send_message(mto=owner.room, mbody="sentinel", mtype="groupchat")
    assert (await next_room_message(owner, owner.room))["body"] == "sentinel"


class Gathering(Plugin):
    name = "gathering"

    @command(help="in the group chat: call everyone together", in_rooms=True)
    async def gather(self, ctx) -> str:
        return "Everyone, please come to the front."


async def test_a_command_for_group_chats_is_in_the_rooms_help_not_in_a_direct_chats(
        room, make_bot, xmpp_server, chat_client):
    owner = room
    await owner.plugin["xep_0045"].set_affiliation(owner.room, "admin",
                                                   jid=f"bot@{xmpp_server.domain}")
    bot = await make_bot(plugins=[Gathering()], BOT_NICK="Botschaft", BOT_ROOMS=owner.room)
    await eventually(lambda: owner.room in bot.joined_rooms)
    owner.send_message(mto=owner.room, mbody="!help", mtype="groupchat")
    await next_room_message(owner, owner.room)  # the room echoes it
    in_room = (await next_room_message(owner, owner.room))["body"]
    assert "• gather — in the group chat: call everyone together" in in_room
    direct = await (await chat_client()).ask(bot.boundjid.bare, "help")
    assert direct.startswith("I understand these commands:") and "gather" not in direct
    assert "gather" not in await (await chat_client()).ask(bot.boundjid.bare, "gathr")


async def test_two_bots_in_one_room_never_answer_each_other(room, make_bot, make_account,
                                                              chat_client, xmpp_server):
    owner = room
    other_jid, other_password = make_account("otherbot")
    first_jid = f"bot@{xmpp_server.domain}"
    for jid in (first_jid, other_jid):
        await owner.plugin["xep_0045"].set_affiliation(owner.room, "admin", jid=jid)
    anna = await make_bot(BOT_NICK="Anna", BOT_ROOMS=owner.room, PEOPLE_BOTS=other_jid)
    bruno = await make_bot(BOT_NICK="Bruno", BOT_ROOMS=owner.room, PEOPLE_BOTS=first_jid,
                           XMPP_JID=other_jid, XMPP_PASSWORD=other_password)
    guest = await chat_client()
    await owner.plugin["xep_0045"].set_affiliation(owner.room, "member", jid=guest.boundjid.bare)
    await guest.plugin["xep_0045"].join_muc_wait(JID(owner.room), "!eve", maxstanzas=0,
                                                 timeout=10)

    def knows_the_guest(bot) -> bool:  # in the room, and told who "!eve" really is
        return owner.room in bot.joined_rooms and bool(
            bot.plugin["xep_0045"].get_jid_property(owner.room, "!eve", "jid"))
    await eventually(lambda: knows_the_guest(anna) and knows_the_guest(bruno))

    # Anna answers "!eve: pong", which starts with Bruno's prefix. Without the guard Bruno
    # would answer "Anna: …", Anna "Bruno: …", and so on forever.
    guest.send_message(mto=owner.room, mbody="Anna: ping", mtype="groupchat")
    assert (await next_room_message(owner, owner.room))["body"] == "Anna: ping"
    assert (await next_room_message(owner, owner.room))["body"] == "!eve: pong"
    # Nothing more may come: Bruno ignores Anna. Whether he does shows only by waiting for a
    # while: an answer of his would follow within milliseconds (a second leaves room for a
    # loaded machine), and would then arrive before the sentinel.
    await asyncio.sleep(1.0)
    owner.send_message(mto=owner.room, mbody="sentinel", mtype="groupchat")
    assert (await next_room_message(owner, owner.room))["body"] == "sentinel"


def test_the_answer_budget_stops_any_loop_after_its_limit():
    budget = AnswerBudget(limit=3, window=60)
    assert [budget.allow("room@conference") for _ in range(5)] == [True] * 3 + [False] * 2
    assert budget.allow("other@conference")


class Reminder(Plugin):
    """Reminds everyone who asked, every hour, by the bot's own initiative."""
    name = "reminder"

    def __init__(self):
        super().__init__()
        self.subscribers: list[str] = []

    @command(help="remind me every hour")
    async def remind(self, ctx) -> str:
        self.subscribers.append(ctx.person.jid)
        return "I will remind you."

    @job(every="1h")
    def hourly(self, ctx):
        for jid in self.subscribers:
            ctx.bot.send(jid, f"Reminder (missed {ctx.run.missed})")


async def test_a_plugins_job_runs_when_due_and_reaches_people(make_bot, chat_client):
    clock = FakeClock(datetime(2026, 5, 4, 8, tzinfo=UTC))
    bot = await make_bot(plugins=[Reminder()], clock=clock)
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "remind") == "I will remind you."
    clock.advance(timedelta(minutes=59))
    # Nothing is due yet, which shows only by waiting for a complete scheduler pass after
    # the advance; a reminder sent in it would arrive before the answer to the next question.
    await asyncio.sleep(SCHEDULER_INTERVAL + 0.5)
    assert await client.ask(bot.boundjid.bare, "language") == (
        "I answer you in English. Change it with: language de|en")
    clock.advance(timedelta(minutes=1))
    assert (await client.next_message(bot.boundjid.bare, timeout=5))["body"] == \
        "Reminder (missed 0)"


class NeedsALicence(Plugin):
    """Its start fails: its commands must not pretend to work."""
    name = "licensed"

    async def start(self, bot) -> None:
        raise RuntimeError("no licence key")

    @command(help="a feature behind the licence")
    async def feature(self, ctx) -> str:
        return "working"

    @job(every="1m")
    def housekeeping(self, ctx) -> None:
        raise AssertionError("a plugin that did not start must not run its jobs")


async def test_a_plugin_whose_start_fails_is_reported_and_its_commands_say_so(
        make_bot, chat_client):
    clock = FakeClock(datetime(2026, 5, 4, 8, tzinfo=UTC))
    bot = await make_bot(plugins=[NeedsALicence()], clock=clock)
    clock.advance(timedelta(minutes=5))
    assert await bot.storage.run(bot.scheduler.run_due) == 0  # its job is due, yet not run
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "feature") == (
        "Sorry, feature is not available at the moment. Please try again later.")
    assert (await client.ask(bot.boundjid.bare, "help")).startswith("I understand")  # the rest runs
    report = await health(bot)
    assert report["ok"] is False
    assert report["plugins"]["failed"] == {"licensed": "RuntimeError: no licence key"}


class PresenceWatcher(Plugin):
    name = "presence-watcher"

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    async def on_presence(self, presence) -> None:
        self.seen.append((presence["from"].full, presence["type"]))


async def test_presences_known_before_a_lost_connection_end_with_it(make_bot, chat_client):
    """The server tells a new session who is online then, and nothing of who went offline in
    between: so plugins hear that everyone they knew online is offline when the connection is
    lost, and hear again from those still online."""
    watcher = PresenceWatcher()
    bot = await make_bot(plugins=[watcher])
    staff = await chat_client()
    staff.send_presence(pto=bot.boundjid.bare, ptype="subscribe")
    await eventually(lambda: (staff.boundjid.full, "available") in watcher.seen)
    told = len(watcher.seen)
    bot.transport.abort()
    await eventually(lambda: (staff.boundjid.full, "unavailable") in watcher.seen[told:])
    await eventually(lambda: bot.sessions == 2)
    await eventually(lambda: watcher.seen[-1] == (staff.boundjid.full, "available"))
