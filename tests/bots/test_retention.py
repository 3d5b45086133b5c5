"""Retention: each kind of personal data is deleted once its period is over, by a daily core
job; `[privacy] retention` sets the periods, and a key that is no kind is refused by name.
Finished outbox rows (message texts) are the core's example; queued ones and recent ones stay.
The server's message archive goes by asking the session's ejabberd (a group room's archive
is the example). A plugin's declared kinds: tests/bots/test_personal_data.py."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from slixmpp import JID

from bots import plugin as plugin_module
from bots.config import ConfigError, load
from bots.outbox import DONE, FAILED, PENDING, SENT, OutboxMessage
from bots.outbox import SCHEMA as OUTBOX_SCHEMA
from bots.personal_data import OUTBOX, PLANS
from bots.retention import NO_ADMIN_API, periods, purge, purge_server_archive
from bots.scheduler import FakeClock
from bots.services import Services
from bots.storage import Storage
from tests.conftest import eventually
from tests.ejabberd_person import admin_api, sqlite_tables_naming

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
RECIPIENT = "anna@example.com"


def outbox_row(key: str, state: str, days_ago: float) -> None:
    """A row finished (or, if pending or sent, written) `days_ago` days before NOW."""
    moment = (NOW - timedelta(days=days_ago)).replace(tzinfo=None)
    finished = state in (DONE, FAILED)
    OutboxMessage.create(key=key, origin_id=key, recipient=RECIPIENT, body="Lektion 3",
                         state=state, created_at=moment - timedelta(minutes=5),
                         done_at=moment if finished else None)


def outbox_keys() -> set[str]:
    return {row.key for row in OutboxMessage.select(OutboxMessage.key)}


def test_finished_rows_older_than_their_period_are_deleted_in_batches_the_rest_stay(
        database_url, caplog):
    storage = Storage(database_url)
    storage.migrate([OUTBOX_SCHEMA])
    for number in range(3):
        outbox_row(f"done-long-ago-{number}", DONE, 8)
    outbox_row("failed-long-ago", FAILED, 8)
    outbox_row("done-recently", DONE, 6.9)
    outbox_row("pending-for-a-month", PENDING, 30)  # not sent yet: never deleted
    outbox_row("sent-a-month-ago", SENT, 30)  # not acknowledged yet: still needed

    assert purge([OUTBOX], {"outbox": 7}, NOW, dry_run=True) == {"outbox": 4}
    assert len(outbox_keys()) == 7  # counted, not deleted
    with caplog.at_level(logging.INFO, logger="bots"):
        assert purge([OUTBOX], {"outbox": 7}, NOW, batch=2) == {"outbox": 4}
    assert outbox_keys() == {"done-recently", "pending-for-a-month", "sent-a-month-ago"}
    assert "rows deleted per kind: outbox 4" in caplog.text
    assert RECIPIENT not in caplog.text and "Lektion" not in caplog.text  # counts only
    assert purge([OUTBOX], {"outbox": 0}, NOW) == {"outbox": 1}  # 0: whatever is finished
    assert purge([OUTBOX, PLANS], {"outbox": 7, "schedule": None}, NOW) == {"outbox": 0}
    storage.close()


def test_privacy_retention_wins_over_the_defaults_and_the_older_outbox_days():
    assert periods([], load(None, environ={}))["outbox"] == 7
    older = load(None, environ={"BOTSCHAFT_RETENTION_OUTBOX_DAYS": "3"})
    assert periods([], older)["outbox"] == 3
    both = load(None, environ={"BOTSCHAFT_RETENTION_OUTBOX_DAYS": "3",
                               "BOTSCHAFT_PRIVACY_RETENTION": "outbox=1"})
    assert periods([], both) == {"outbox": 1, "consent": None, "settings": None,
                                 "schedule": None, "invitations": None,
                                 "invitations_made": None, "audit": 365,
                                 "server.archive": 30}
    server = load(None, environ={"BOTSCHAFT_PRIVACY_RETENTION": "server.archive=90"})
    assert periods([], server)["server.archive"] == 90


def test_a_key_that_is_no_kind_is_named_with_the_known_ones(tmp_path):
    path = tmp_path / "botschaft.toml"
    path.write_text('[privacy]\nretention = { "outbox" = 7, "stauts.history" = 90 }\n')
    with pytest.raises(ConfigError, match=r"botschaft.toml: \[privacy\] retention: unknown "
                                          r"kind 'stauts.history'; known: audit, consent, "
                                          r"invitations, invitations_made, outbox, schedule, "
                                          r"server.archive, settings$"):
        periods([], load(path, environ={}))


def test_a_kind_kept_while_needed_takes_no_period():
    config = load(None, environ={"BOTSCHAFT_PRIVACY_RETENTION": "consent=30"})
    with pytest.raises(ConfigError, match=r"'consent' is kept while needed .* remove the key"):
        periods([], config)


@pytest.mark.parametrize("text, message", [
    ('[privacy]\nretention = { "outbox" = -1 }', r"'outbox' must be a whole number of days, "
                                                 r"0 or more, not -1"),
    ('[privacy]\nretention = { "outbox" = "7" }', r"'outbox' must be a whole number"),
    ('[privacy]\nretention = 7', r"\[privacy\] retention must be a table, not 7"),
])
def test_a_wrong_period_is_named(tmp_path, text, message):
    path = tmp_path / "botschaft.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(path, environ={})


def test_periods_from_the_environment_are_name_value_pairs():
    with pytest.raises(ConfigError, match=r"BOTSCHAFT_PRIVACY_RETENTION must be name=value "
                                          r"pairs separated by commas, e.g. outbox=7, not "
                                          r"'outbox 7'"):
        load(None, environ={"BOTSCHAFT_PRIVACY_RETENTION": "outbox 7"})
    with pytest.raises(ConfigError, match=r"BOTSCHAFT_PRIVACY_RETENTION: 'outbox' must be a "
                                          r"whole number of days, 0 or more, not 'seven'"):
        load(None, environ={"BOTSCHAFT_PRIVACY_RETENTION": "outbox=seven"})


def test_a_disabled_plugins_kinds_wait_with_a_warning(monkeypatch, caplog):
    from importlib.metadata import EntryPoint
    point = EntryPoint("status", "plugins.status:Status", plugin_module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugin_module, "entry_points", lambda group: [point])
    config = load(None, environ={"BOTSCHAFT_PRIVACY_RETENTION": "status.history=90",
                                 "BOTSCHAFT_PLUGINS_DISABLED": "status"})
    with caplog.at_level(logging.WARNING, logger="bots"):
        assert "status.history" not in periods([], config)
    assert "'status.history' waits: its plugin is not loaded" in caplog.text


async def test_the_bot_does_not_start_with_a_key_that_is_no_kind(make_bot):
    with pytest.raises(ConfigError, match=r"\[privacy\] retention: unknown kind 'outbx'"):
        await make_bot(plugins=[], PRIVACY_RETENTION="outbx=3")


async def test_the_running_bot_purges_daily_as_configured(make_bot, xmpp_server, room):
    """The server's archive too: with a period of 0 days (ejabberd's clock is the real one),
    whatever it archived before the job goes."""
    clock = FakeClock(NOW)
    bot = await make_bot(plugins=[], clock=clock, RETENTION_OUTBOX_DAYS="30",
                         PRIVACY_RETENTION="outbox=3,server.archive=0", **admin_api(xmpp_server))
    await bot.storage.run(lambda: (outbox_row("done-4-days-ago", DONE, 4),
                                   outbox_row("done-2-days-ago", DONE, 2)))
    await write_in(room, xmpp_server, "Termin am Montag um 9 Uhr")
    clock.advance(timedelta(hours=12))  # 02:00 in Berlin: not yet
    await bot.storage.run(bot.scheduler.run_due)
    assert await bot.storage.run(outbox_keys) == {"done-4-days-ago", "done-2-days-ago"}
    assert archived(room, xmpp_server)
    clock.advance(timedelta(hours=3))  # 03:00: the job is due (the rows now 4.6 and 2.6 days)
    deadline = time.monotonic() + 30
    while (await bot.storage.run(outbox_keys) != {"done-2-days-ago"}
           or archived(room, xmpp_server)):
        assert time.monotonic() < deadline, "the old row or the archive was not deleted"
        await asyncio.sleep(0.1)


async def write_in(room, xmpp_server, text: str) -> None:
    """A message in the room (conftest's `room`), once the room's archive holds it."""
    room.send_message(mto=room.room, mbody=text, mtype="groupchat")
    await eventually(lambda: archived(room, xmpp_server), timeout=10)


def archived(room, xmpp_server) -> bool:
    """Whether ejabberd's archive (the session server's SQLite) holds any of the room's."""
    database = xmpp_server.devserver.spool / "ejabberd.sqlite"
    return "archive" in sqlite_tables_naming(database, JID(room.room).user)


async def test_the_server_archive_goes_once_its_period_is_over_by_asking_ejabberd(
        xmpp_server, room, tmp_path, caplog):
    await write_in(room, xmpp_server, "Termin am Montag um 9 Uhr")
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        config = load(None, environ={f"BOTSCHAFT_{name}": value
                                     for name, value in admin_api(xmpp_server).items()})
        services = Services(config, storage, [])

        assert purge_server_archive(config, services, 1, dry_run=True) == (
            "ask ejabberd to delete archived messages older than 1 day")
        assert purge_server_archive(config, services, 1) == (
            "ejabberd deleted archived messages older than 1 day (it gives no count)")
        assert archived(room, xmpp_server)  # seconds old: younger than its period
        assert purge_server_archive(config, services, 0, dry_run=True).endswith("than 0 days")
        assert archived(room, xmpp_server)  # a dry run asks nothing
        assert purge_server_archive(config, services, 0).startswith("ejabberd deleted")
        assert not archived(room, xmpp_server)

        without_api = load(None, environ={})
        with caplog.at_level(logging.WARNING, logger="bots"):
            assert purge_server_archive(without_api, services, 30) == NO_ADMIN_API
        assert ("the period of the server's message archive ([privacy] retention "
                "'server.archive', 30 days) is not applied: ejabberd's admin API is not "
                "configured; set [ejabberd] api_url") in caplog.text
    finally:
        storage.close()
