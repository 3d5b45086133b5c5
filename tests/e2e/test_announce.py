"""An announcement reaches every follower exactly once and nobody else, through the real
ejabberd, also when the bot is killed (SIGKILL) while it goes out and started again."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bots import audit
from bots.app import schemas
from bots.outbox import DONE, OutboxMessage
from bots.storage import Storage
from bots.testing import kill_during, run_environment, run_until, services_over
from plugins.announce import Announce
from plugins.announce.models import Announcement

FOLLOWERS = 12


async def received(client, bot_jid: str) -> list[str]:
    """What `client` got from the bot so far. A round trip to the server first: a message the
    server had taken for the client before it is delivered before the answer."""
    await client.plugin["xep_0030"].get_info(jid=client.boundjid.domain)
    bodies = []
    while not client.inbox.empty():
        message = client.inbox.get_nowait()
        if message["from"].bare == bot_jid and message["body"]:
            bodies.append(message["body"])
    return bodies


async def test_kill_9_while_an_announcement_goes_out_loses_none_and_doubles_none(
        xmpp_server, chat_client, database_url):
    followers = [await chat_client() for _ in range(FOLLOWERS)]
    stranger, quitter = await chat_client(), await chat_client()
    plugin = Announce()
    storage = Storage(database_url)
    storage.migrate(schemas([plugin]))
    announcer = plugin.make_announcer(services_over(storage, [plugin],
                                                    BOT_TIMEZONE="Europe/Berlin"))
    for client in [*followers, quitter]:
        announcer.follow(client.boundjid.bare, "news", "en")
    announcer.unfollow(quitter.boundjid.bare, "news")
    soon = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(seconds=2)
    announcer.schedule("news", "Betriebsferien vom 24.12. bis 6.1.",
                       soon.replace(tzinfo=None), audit.admin())
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"),
                          database_url, OUTBOX_RATE="4")  # 3 s for all: killed in the middle

    def done() -> int:
        return OutboxMessage.select().where(OutboxMessage.state == DONE).count()

    await kill_during(env, done, [4])
    assert done() < FOLLOWERS
    await run_until(env, lambda: done() == FOLLOWERS)

    [announcement] = Announcement.select()
    assert (announcement.state, announcement.recipients) == ("sent", FOLLOWERS)
    bot_jid = env["BOTSCHAFT_XMPP_JID"]
    for client in followers:
        assert await received(client, bot_jid) == [
            "News:\nBetriebsferien vom 24.12. bis 6.1.\n\n(No more of these: unfollow News)"]
    assert await received(stranger, bot_jid) == await received(quitter, bot_jid) == []
    storage.close()
