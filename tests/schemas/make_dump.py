"""Make release-N.sqlite.sql and release-N.postgresql.sql: the database of a release, as an
installation has it, for tests/test_upgrade.py to migrate forward. Made the way a site makes
its data: `botschaft migrate`, the admin CLI, a running bot and a person writing to it, on a
private ejabberd started for the purpose. Run it from the checkout on the release's code:

    checkout=$PWD && mkdir /tmp/release && git archive COMMIT | tar -x -C /tmp/release &&
    cd /tmp/release && PYTHONPATH=. "$checkout/.venv/bin/python" \
        "$checkout/tests/schemas/make_dump.py" N COMMIT "$checkout/tests/schemas"

PostgreSQL: BOTSCHAFT_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
a throwaway database next to it is made and dropped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from bots.devserver import BOT_USER, DevServer
from bots.testing import BOTSCHAFT, TestServer, join_settings, new_state_dir, run_environment

POSTGRES_URL = os.environ.get("BOTSCHAFT_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
CODE = "K7M2-Q9XR"


def botschaft(environ: dict[str, str], *arguments: str) -> str:
    return subprocess.run([BOTSCHAFT, *arguments], env=environ, check=True,
                          capture_output=True, text=True).stdout


async def fill(server: TestServer, url: str) -> None:
    """Every table gets rows: an item and its watcher, a course subscription (consent, a
    schedule), a person's language, a room with a member who joined and one only asked, outbox
    rows sent (done) and waiting (pending)."""
    instance = server.instance
    environ = run_environment(instance, server.devserver.ensure_user(BOT_USER), url,
                              BOT_LANGUAGE="en", **{name: value for name, value in
                                                    join_settings(server).items()
                                                    if name.startswith("EJABBERD_")})
    botschaft(environ, "migrate")
    botschaft(environ, "status", "create", "4711", "vehicle", "--code", CODE)
    botschaft(environ, "rooms", "create", "team-nord", "Team Nord", "--description",
              "Die Werkstatt-Crew")
    anna, bert = (f"{name}@{instance.domain}" for name in ("anna", "bert"))
    botschaft(environ, "rooms", "add", "team-nord", anna)
    bot = subprocess.Popen([BOTSCHAFT, "run"], env=environ)
    try:
        client = await server.login(anna, server.devserver.ensure_user("anna"))
        bot_jid = environ["BOTSCHAFT_XMPP_JID"]
        assert "team-nord" in (await client.next_message(bot_jid, 30))["body"]  # outbox: done
        for text in ("subscribe deutsch-alltag", f"claim 4711 {CODE}", "join team-nord",
                     "sprache de"):
            print(f"{text!r}: {(await client.ask(bot_jid, text, 30))[:60]!r}")
        await client.stop(wait=1)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(30)
    botschaft(environ, "status", "set", "4711", "in_progress")  # anna is told: pending
    botschaft(environ, "rooms", "add", "team-nord", bert)  # bert is asked: pending


def header(release: str, commit: str, backend: str, how: str) -> str:
    return (f"-- Botschaft release {release} (commit {commit}): the database of the core and "
            f"every built-in plugin on {backend},\n-- with a little data, for "
            f"tests/test_upgrade.py to migrate forward. Made by tests/schemas/make_dump.py "
            f"({how}).\n")


async def main(release: str, commit: str, out: Path) -> None:
    state_dir = new_state_dir()
    devserver = DevServer(state_dir)
    server = TestServer(devserver, devserver.start())
    work = Path(tempfile.mkdtemp(prefix="botschaft-dump-"))
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    database = f"botschaft_dump_{uuid.uuid4().hex[:8]}"
    try:
        for name in ("anna", "bert"):
            devserver.ensure_user(name)
        await fill(server, f"sqlite:///{work / 'bot.db'}")
        dump = subprocess.run(["sqlite3", str(work / "bot.db"), ".dump"], check=True,
                              capture_output=True, text=True).stdout
        (out / f"release-{release}.sqlite.sql").write_text(
            header(release, commit, "SQLite", "sqlite3 FILE .dump") + dump, encoding="utf-8")

        devserver.ctl("destroy_room", "team-nord", f"conference.{server.domain}")
        admin.execute(f"CREATE DATABASE {database}")
        url = urlsplit(POSTGRES_URL)._replace(path=f"/{database}").geturl()
        await fill(server, url)
        dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", url], check=True,
                              capture_output=True, text=True).stdout
        (out / f"release-{release}.postgresql.sql").write_text(
            header(release, commit, "PostgreSQL", "pg_dump --no-owner --no-privileges DATABASE")
            + dump, encoding="utf-8")
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
