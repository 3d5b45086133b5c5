"""ejabberd's own data in PostgreSQL: the reference ejabberd.yml with SQL_TYPE pgsql, on a fresh
database into which the dev server loads Debian's pg.sql (ejabberd 23.01 makes no tables there
itself)."""

from __future__ import annotations

import shutil

import pytest

from bots.devserver import DevServer, DevServerError
from bots.server_privacy import ServerPrivacy
from bots.testing import TestServer, new_state_dir
from tests.conftest import eventually
from tests.ejabberd_person import person_with_server_data, postgresql_tables_naming
from tests.fresh_databases import fresh_postgres_database

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def pg_server():
    """A private ejabberd on its own new PostgreSQL database: (TestServer, database URL)."""
    with fresh_postgres_database("ejabberd") as url:
        devserver = DevServer(new_state_dir(), sql=url)
        try:
            yield TestServer(devserver, devserver.start()), url
        finally:
            devserver.stop()
            shutil.rmtree(devserver.state_dir, ignore_errors=True)


def rows(url: str, query: str, *parameters) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(query, parameters).fetchall()


def test_the_configuration_loads_without_complaints(pg_server):
    server, url = pg_server
    site = (server.devserver.spool / "botschaft-site.yml").read_text()
    assert 'SQL_TYPE: "pgsql"' in site and "SQL_PORT: 5432" in site
    log = (server.devserver.logs / "ejabberd.log").read_text()
    assert [line for line in log.splitlines() if "[error]" in line
            or ("[warning]" in line and ("config" in line or "sql" in line.lower()))] == []


async def test_accounts_and_offline_messages_are_kept_in_postgresql(pg_server):
    server, url = pg_server
    bot_password = server.devserver.add_user("bot")
    customer, password = server.make_account("kunde")
    user = customer.split("@")[0]
    users = {name for (name,) in rows(url, "SELECT username FROM users")}
    assert {"admin", "bot", user} <= users
    # SCRAM-SHA-256, as with SQLite: no password in the clear.
    (stored,) = rows(url, "SELECT password, iterationcount FROM users WHERE username = %s", user)
    assert stored[0] != password and stored[1] > 0

    bot = await server.login(f"bot@{server.domain}", bot_password)
    try:
        bot.say(customer, "Ihr Auto ist fertig.")  # the customer is offline: kept in `spool`
        await eventually(lambda: rows(url, "SELECT xml FROM spool WHERE username = %s", user),
                         timeout=10)
        [(xml,)] = rows(url, "SELECT xml FROM spool WHERE username = %s", user)
        assert "Ihr Auto ist fertig." in xml

        client = await server.login(customer, password)  # the server serves logins from it
        try:
            message = await client.next_message(f"bot@{server.domain}")
            assert message["body"] == "Ihr Auto ist fertig."
            await eventually(lambda: not rows(
                url, "SELECT xml FROM spool WHERE username = %s", user), timeout=10)
        finally:
            await client.stop(wait=1)
    finally:
        await bot.stop(wait=1)


def test_an_account_deleted_leaves_postgresql(pg_server):
    server, url = pg_server
    customer, _ = server.make_account("weg")
    server.devserver.delete_user(customer.split("@")[0])
    assert rows(url, "SELECT 1 FROM users WHERE username = %s", customer.split("@")[0]) == []


@pytest.mark.parametrize("url", [
    "postgresql://127.0.0.1:5432/ejabberd",           # no user
    "postgresql://postgres@127.0.0.1:5432/",          # no database
    "postgresql://postgres@127.0.0.1/x?sslmode=require",  # options ejabberd cannot take
    "mysql://postgres@127.0.0.1/x",
])
def test_a_url_ejabberd_cannot_use_is_refused_with_its_form(url):
    server = DevServer(new_state_dir(), sql=url)
    try:
        with pytest.raises(DevServerError, match=r"postgresql://USER\[:PASSWORD\]@HOST"):
            server.start()
        assert server.pid() is None
    finally:
        shutil.rmtree(server.state_dir, ignore_errors=True)


def test_a_database_in_the_other_schema_is_refused():
    """pg.new.sql's tables (a server_host column everywhere) would fail at the first query
    with new_sql_schema: false; the dev server says so before ejabberd starts."""
    with fresh_postgres_database("ejabberd") as url:
        with psycopg.connect(url) as connection:
            connection.execute(open("/usr/share/ejabberd/sql/pg.new.sql").read())
        server = DevServer(new_state_dir(), sql=url)
        try:
            with pytest.raises(DevServerError, match=r"new schema \(pg\.new\.sql\)"):
                server.start()
            assert server.pid() is None
        finally:
            shutil.rmtree(server.state_dir, ignore_errors=True)


async def test_an_erased_person_leaves_nothing_in_postgresql(pg_server):
    """bots/server_privacy.py's erasure with the account, as tests/bots/test_server_privacy.py
    shows it on SQLite."""
    server, url = pg_server
    person = await person_with_server_data(server)
    assert {"users", "rosterusers", "archive", "archive_prefs", "spool",
            "privacy_list_data"} <= postgresql_tables_naming(url, person.user)
    erased = ServerPrivacy(server.instance.api(), person.bot_jid).erase(person.jid, account=True)
    assert erased.error is None and erased.record["account"] == 1
    assert postgresql_tables_naming(url, person.user) == set()
