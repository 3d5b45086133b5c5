"""A person with something of everything ejabberd keeps about one (offline messages, an archive,
a conversation with a bot in the bot's archive, each in the other's contact list, the privacy
list every person's account has), and a search of every table of ejabberd's database for them:
SQLite and PostgreSQL. Also the settings of the test server's admin API, for a bot that uses it."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from slixmpp.xmlstream import ET

from bots.testing import TestServer, join_settings
from tests.conftest import eventually

QUESTION = "Ist mein Wagen schon fertig?"
ANSWER = "Ja, Sie können ihn ab 16 Uhr abholen."
WAITING = "Wir haben bis 18 Uhr geöffnet."  # sent while they are offline
ARCHIVE_EVERYTHING = "<prefs xmlns='urn:xmpp:mam:2' default='always'/>"  # XEP-0313 opt-in


@dataclass(frozen=True)
class PersonOnServer:
    jid: str
    bot_jid: str  # an account of its own standing in for the bot: its archive setting is its own
    bot_password: str

    @property
    def user(self) -> str:
        return self.jid.partition("@")[0]


async def person_with_server_data(server: TestServer) -> PersonOnServer:
    bot_jid, bot_password = server.make_account("bot")
    jid, password = server.make_account("kunde")
    api = server.instance.api()
    user, domain = jid.split("@")
    api.add_contacts(bot_jid.split("@")[0], user, domain)  # as the join page does: both ways
    bot = await server.login(bot_jid, bot_password)
    try:
        person = await server.login(jid, password)
        try:
            for client in (bot, person):  # both archive (mod_mam default: never)
                iq = client.make_iq_set()
                iq.append(ET.fromstring(ARCHIVE_EVERYTHING))
                await iq.send()
            person.say(bot_jid, QUESTION)
            await bot.next_message(jid)
            bot.say(jid, ANSWER)
            await person.next_message(bot_jid)
            # Acknowledged (XEP-0198): else the server would keep a copy for their next login
            person.plugin["xep_0198"].send_ack()
        finally:
            await person.stop(wait=1)
        await eventually(lambda: api.call("user_resources", user=user, host=domain) == [],
                         timeout=10)
        bot.say(jid, WAITING)  # they are offline now: the server keeps it for them
        await eventually(lambda: waiting(api, user, domain) == 1, timeout=10)
        bot.plugin["xep_0198"].send_ack()  # for the question: as above
    finally:
        await bot.stop(wait=1)
    return PersonOnServer(jid, bot_jid, bot_password)


def admin_api(server: TestServer) -> dict[str, str]:
    """The settings of ejabberd's admin API (`[ejabberd]`) for the test server, as `make_bot`
    and `bot_config` take them."""
    return {name: value for name, value in join_settings(server).items()
            if name.startswith("EJABBERD_")}


def waiting(api, user: str, domain: str) -> int:
    return api.call("get_offline_count", user=user, host=domain)["value"]


def sqlite_tables_naming(database: Path, text: str) -> set[str]:
    """The tables of ejabberd's SQLite database with `text` in any column."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        columns = connection.execute(
            "SELECT m.name, c.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
            "WHERE m.type = 'table'").fetchall()
        return {table for table, column in columns
                if connection.execute(f'SELECT 1 FROM "{table}" WHERE CAST("{column}" AS TEXT) '
                                      "LIKE ? LIMIT 1", (f"%{text}%",)).fetchone()}


def postgresql_tables_naming(url: str, text: str) -> set[str]:
    """The tables of ejabberd's PostgreSQL database (schema public) with `text` in any column."""
    import psycopg

    with psycopg.connect(url) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'").fetchall()
        return {table for table, column in columns
                if connection.execute(f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE %s '
                                      "LIMIT 1", (f"%{text}%",)).fetchone()}
