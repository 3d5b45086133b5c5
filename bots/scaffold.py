"""`botschaft plugin new NAME`: an installable plugin package to start from.

It has what most plugins need, each part small and tested: commands with arguments, a peewee
model and a migration, a daily job, messages the bot starts itself (consent, per-person plans,
the recipient's language), a `botschaft NAME …` subcommand, a web route, a German catalogue,
its personal data declared (so the framework exports, erases and purges it), and the entry
point that makes the bot load it; its tests run it through a real ejabberd with the fixtures
of `bots.testing`.
docs/plugins.md takes its examples from these files, so they are tested code.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
TAKEN = {"Plugin", "Note", "NoteCount", "PersonalData"}  # what the generated __init__ imports

FILES = {
    "setup.py": '''\
from setuptools import find_packages, setup

setup(
    name="botschaft-$name",
    version="0.1.0",
    description="$title: a Botschaft plugin",
    python_requires=">=3.11",
    # Every folder of Python files is a package (migrations/ too), and the catalogues are
    # package data: what is not listed here is missing from the built package.
    packages=find_packages(include=["botschaft_$name", "botschaft_$name.*"]),
    package_data={"botschaft_$name": ["locale/*.po"]},
    install_requires=["botschaft"],
    extras_require={"test": ["botschaft[test]"]},
    entry_points={"botschaft.plugins": ["$name = botschaft_$name:$cls"]},
)
''',
    "README.md": '''\
# botschaft-$name

A Botschaft plugin. Install it next to Botschaft and the bot loads it:

    pip install -e .  # registers the entry point: the bot and `botschaft $name …` find it
    pytest            # runs against a private ejabberd (needs Debian's ejabberd, as root)

How to go on: docs/plugins.md in Botschaft.
''',
    "botschaft_$name/__init__.py": '''\
"""$title: short notes for each person, sent to them every morning if they like, and
forgotten after 30 days (or as `[privacy] retention` says)."""

import logging
from datetime import time

from bots import consent
from bots.i18n import render, translator
from bots.personal_data import PersonalData
from bots.plugin import Plugin, command, job

from botschaft_$name.cli import ${name}_cli
from botschaft_$name.models import Note, note_count, texts_of
from botschaft_$name.web import NoteCount

_ = translator(__name__)  # texts in locale/de.po next to this file
log = logging.getLogger(__name__)

REMINDER = "$name.remind"  # the per-person daily job
CONSENT = "$name.reminder"  # what a person agrees to with `remind on`…
WORDING = "$name.reminder.1"  # …and the version of the words they were shown


class $cls(Plugin):
    name = "$name"
    description = "$title"
    models = [Note]  # the framework creates their tables, and runs migrations/
    default_config = {"max_notes": 20}  # [plugins.$name] in botschaft.toml
    # What it keeps about people: `botschaft privacy export|erase|purge|inventory` follow this.
    personal_data_kinds = [
        PersonalData("$name.notes", Note, Note.owner, "The notes a person wrote.",
                     retention_days=30, since=Note.written_at),
    ]

    async def start(self, bot) -> None:
        bot.on_due(REMINDER, self.send_reminders)  # the running bot runs the due reminders

    @command(help=_("remember a note: note <text>"),
             examples={"en": ["remember this"], "de": ["merk dir das"]})
    def note(self, ctx, text: str) -> str:
        # Plain (sync) handlers run on the database worker pool: peewee calls are fine here.
        if len(texts_of(ctx.person.jid)) >= ctx.config["max_notes"]:
            return ctx._(_("You have {count} notes already; that is the limit."),
                         count=ctx.config["max_notes"])
        Note.create(owner=ctx.person.jid, text=text)
        return ctx._(_("Noted."))

    @command(help=_("show my notes"), examples={"en": ["what are my notes"],
                                                 "de": ["was sind meine notizen"]})
    def notes(self, ctx) -> str:
        return "\\n".join(texts_of(ctx.person.jid)) or ctx._(_("You have no notes yet."))

    @command(help=_("your notes every morning (at 07:30 unless you say)"),
             aliases={"de": ["erinnern"]}, arguments={"switch": _("on|off"), "at": _("time")})
    def remind(self, ctx, switch: bool, at: time = time(7, 30)) -> str:
        jid = ctx.person.jid
        with ctx.bot.database.atomic():  # the consent and the plan: both or neither
            if not switch:
                consent.withdraw(jid, CONSENT)
                ctx.bot.cancel(REMINDER, f"person:{jid}")
                return ctx._(_("No more reminders."))
            consent.give(jid, CONSENT, WORDING)
            ctx.bot.daily(REMINDER, f"person:{jid}", f"{at:%H:%M}", ctx.bot.timezone,
                          {"language": ctx.language})
        return ctx._(_("Every day at {time} I will send you your notes. To stop: remind off"),
                     time=f"{at:%H:%M}")

    def send_reminders(self, runs) -> None:
        """The due reminders of many people at once, in the transaction that plans their next
        day: each is sent exactly once."""
        jids = [run.key.removeprefix("person:") for run in runs]
        agreed = consent.given_among(jids, CONSENT)
        chosen = self.bot.languages_of(jids)  # `language de`; else the one they wrote in
        notes: dict[str, list[str]] = {}
        for note in Note.select().where(Note.owner.in_(list(agreed))).order_by(Note.id):
            notes.setdefault(note.owner, []).append(note.text)
        self.bot.notify_many(
            (f"reminder:{jid}:{run.due_at:%Y-%m-%d}", jid,
             render(_("Your notes:\\n{notes}"), chosen.get(jid, run.payload["language"]),
                    notes="\\n".join(notes[jid])))
            for jid, run in zip(jids, runs) if jid in notes)

    @job(at="06:00")  # every day at 06:00 in [bot] timezone
    def count_notes(self, ctx) -> None:
        """A figure for the admins' log: a count, no personal data (no JIDs, no texts)."""
        log.info("notes kept: %d", note_count())

    def cli(self):
        return ${name}_cli  # botschaft $name …

    def routes(self):
        return {"count": NoteCount(self)}  # GET /$name/count
''',
    "botschaft_$name/models.py": '''\
"""The plugin's tables, always as the newest version has them: a fresh database gets them so,
an older one is brought there by migrations/."""

from datetime import UTC, datetime

import peewee


def utcnow() -> datetime:
    """Times are stored as naive UTC: the same on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Note(peewee.Model):
    owner = peewee.CharField(max_length=3071, index=True)  # a bare JID
    text = peewee.TextField()
    written_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "${name}_note"  # all plugins share one database: prefix your tables


def texts_of(jid: str) -> list[str]:
    """One person's notes, oldest first."""
    return [note.text for note in Note.select().where(Note.owner == jid).order_by(Note.id)]


def note_count() -> int:
    """Every person's notes together: for admins, no personal data."""
    return Note.select().count()
''',
    "botschaft_$name/migrations/__init__.py": '''\
"""Schema changes of the $name tables, applied in order: NNNN_what.py with up(migrator, db)."""
''',
    "botschaft_$name/migrations/0001_note_written_at.py": '''\
"""Notes remember when they were written, so that retention can forget old ones; notes from
before count as written now. (An example: say the first release stored no date.)"""

from datetime import UTC, datetime

import peewee


def up(migrator, db):
    # A copy of the field as it is today, not the model's: the model may change later.
    written_at = peewee.DateTimeField(default=lambda: datetime.now(UTC).replace(tzinfo=None))
    migrator.migrate(migrator.add_column("${name}_note", "written_at", written_at))
''',
    "botschaft_$name/cli.py": '''\
"""`botschaft $name …`: the plugin's own subcommands, for admins on the bot's machine."""

import click

from bots.cli import plugin_database

from botschaft_$name.models import note_count


@click.group("$name")
def ${name}_cli() -> None:
    """$title (the $name plugin)."""


@${name}_cli.command("count")
def count() -> None:
    """How many notes are kept, of everyone together."""
    with plugin_database("$name") as (_plugin, _bot):  # the configured database, migrated
        click.echo(f"notes: {note_count()}")
''',
    "botschaft_$name/web.py": '''\
"""GET /$name/count → {"notes": 3}, for a dashboard: served on [web] listen, behind
[web] token when one is set."""

import json

from bots.web import AsyncResource

from botschaft_$name.models import note_count


class NoteCount(AsyncResource):
    methods = ("GET",)

    def __init__(self, plugin):
        super().__init__()
        self.plugin = plugin

    async def respond(self, request):
        # On the event loop: database work goes to the worker pool through bot.run.
        count = await self.plugin.bot.run(note_count)
        return 200, "application/json", json.dumps({"notes": count}).encode()
''',
    "botschaft_$name/locale/de.po": '''\
msgid ""
msgstr "Content-Type: text/plain; charset=utf-8\\n"

msgid "remember a note: note <text>"
msgstr "merkt sich eine Notiz: note <Text>"

#, python-brace-format
msgid "You have {count} notes already; that is the limit."
msgstr "Sie haben schon {count} Notizen; mehr geht nicht."

msgid "Noted."
msgstr "Notiert."

msgid "show my notes"
msgstr "zeigt meine Notizen"

msgid "You have no notes yet."
msgstr "Sie haben noch keine Notizen."

msgid "your notes every morning (at 07:30 unless you say)"
msgstr "Ihre Notizen jeden Morgen (um 07:30, wenn Sie nichts anderes sagen)"

msgid "on|off"
msgstr "an|aus"

msgid "time"
msgstr "Uhrzeit"

msgid "No more reminders."
msgstr "Keine Erinnerungen mehr."

#, python-brace-format
msgid "Every day at {time} I will send you your notes. To stop: remind off"
msgstr "Jeden Tag um {time} schicke ich Ihnen Ihre Notizen. Zum Beenden: erinnern aus"

#, python-brace-format
msgid "Your notes:\\n{notes}"
msgstr "Ihre Notizen:\\n{notes}"
''',
    "conftest.py": '''\
pytest_plugins = ["bots.testing"]  # a private ejabberd, make_bot, chat_client, make_account
''',
    "pytest.ini": '''\
[pytest]
testpaths = tests
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
''',
    "tests/test_chat.py": '''\
"""The commands, talked to through a real (private) ejabberd."""

from botschaft_$name import $cls


async def test_a_note_is_kept_and_listed(make_bot, chat_client):
    bot = await make_bot(plugins=[$cls()])
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "note buy milk 🥛") == "Noted."
    assert await client.ask(bot.boundjid.bare, "notes") == "buy milk 🥛"


async def test_notes_are_private_and_german_clients_read_german(make_bot, chat_client):
    bot = await make_bot(plugins=[$cls()])
    alice, bob = await chat_client(), await chat_client()
    await alice.ask(bot.boundjid.bare, "note secret")
    assert await bob.ask(bot.boundjid.bare, "notes", language="de") == \\
        "Sie haben noch keine Notizen."
''',
    "tests/test_reminders.py": '''\
"""Reminders: with consent, in the person's language, every day at their time, until off."""

from datetime import UTC, datetime, timedelta

from bots import consent
from bots.scheduler import FakeClock

from botschaft_$name import CONSENT, $cls


async def test_reminders_come_in_the_persons_language_until_they_stop(make_bot, chat_client):
    clock = FakeClock(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))  # 06:00 in Berlin
    plugin = $cls()
    bot = await make_bot(plugins=[plugin], clock=clock, BOT_TIMEZONE="Europe/Berlin")
    client = await chat_client()  # a German client that never wrote `language de`
    await client.ask(bot.boundjid.bare, "note Zahnarzt anrufen", language="de")
    assert await client.ask(bot.boundjid.bare, "erinnern an 7:30", language="de") == \\
        "Jeden Tag um 07:30 schicke ich Ihnen Ihre Notizen. Zum Beenden: erinnern aus"
    clock.advance(timedelta(hours=2))  # 08:00 in Berlin
    reminder = await client.next_message(bot.boundjid.bare)
    assert reminder["body"] == "Ihre Notizen:\\nZahnarzt anrufen"
    assert await client.ask(bot.boundjid.bare, "erinnern aus", language="de") == \\
        "Keine Erinnerungen mehr."
    assert not await plugin.bot.run(consent.has, client.boundjid.bare, CONSENT)
''',
    "tests/test_jobs.py": '''\
"""The daily job; the test moves the scheduler's clock."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from bots.scheduler import FakeClock

from botschaft_$name import $cls


async def test_the_daily_count_goes_to_the_log(make_bot, chat_client, caplog):
    caplog.set_level(logging.INFO, logger="botschaft_$name")
    clock = FakeClock(datetime.now(UTC))
    bot = await make_bot(plugins=[$cls()], clock=clock)
    client = await chat_client()
    await client.ask(bot.boundjid.bare, "note water the plants")
    clock.advance(timedelta(days=1))  # past 06:00: the job is due
    async with asyncio.timeout(10):
        while "notes kept: 1" not in caplog.text:
            await asyncio.sleep(0.1)
''',
    "tests/test_retention.py": '''\
"""Notes go 30 days after they were written: the framework's daily purge does it, from the
plugin's `personal_data_kinds`; the test moves the scheduler's clock."""

import asyncio
from datetime import UTC, datetime, timedelta

from bots.scheduler import FakeClock

from botschaft_$name import $cls
from botschaft_$name.models import Note, utcnow


async def test_notes_older_than_their_retention_are_forgotten(make_bot, chat_client):
    clock = FakeClock(datetime.now(UTC))
    plugin = $cls()
    bot = await make_bot(plugins=[plugin], clock=clock)
    client = await chat_client()
    await plugin.bot.run(Note.create, owner=client.boundjid.bare, text="old",
                         written_at=utcnow() - timedelta(days=31))
    await client.ask(bot.boundjid.bare, "note new")
    clock.advance(timedelta(days=1))  # past 03:00: the purge is due
    async with asyncio.timeout(10):
        while "old" in (listed := await client.ask(bot.boundjid.bare, "notes")):
            await asyncio.sleep(0.1)
    assert listed == "new"
''',
    "tests/test_cli.py": '''\
"""`botschaft $name count`, and what an admin does with people's data: `botschaft privacy
export`, `purge` and `erase` take the plugin's notes as its `personal_data_kinds` declare."""

import asyncio
import json
import re
from datetime import timedelta

from click.testing import CliRunner

from bots.cli import main

from botschaft_$name import REMINDER, $cls
from botschaft_$name.models import Note, utcnow


async def test_the_command_line_reads_the_bots_database(make_bot, chat_client, tmp_path):
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    plugin = $cls()
    bot = await make_bot(plugins=[plugin], DATABASE_URL=database)
    client = await chat_client()
    jid = client.boundjid.bare
    await client.ask(bot.boundjid.bare, "note call the dentist")
    await client.ask(bot.boundjid.bare, "remind on")
    await plugin.bot.run(Note.create, owner=jid, text="old",
                         written_at=utcnow() - timedelta(days=31))
    environment = {"BOTSCHAFT_CONFIG": "/dev/null", "BOTSCHAFT_DATABASE_URL": database}

    async def botschaft(*arguments: str) -> str:  # in a thread: the bot runs on this loop
        result = await asyncio.to_thread(CliRunner().invoke, main, arguments, env=environment)
        return result.stdout

    assert await botschaft("$name", "count") == "notes: 2\\n"
    exported = json.loads(await botschaft("privacy", "export", jid))
    assert [note["text"] for note in exported["$name"]["notes"]] == ["call the dentist", "old"]
    dry_run = await botschaft("privacy", "purge", "--dry-run")
    assert re.search(r"$name\\.notes +1 rows", dry_run)
    assert await botschaft("$name", "count") == "notes: 2\\n"  # a dry run deletes nothing
    await botschaft("privacy", "purge")
    assert await botschaft("$name", "count") == "notes: 1\\n"
    await botschaft("privacy", "erase", "--yes", jid)
    assert await botschaft("$name", "count") == "notes: 0\\n"
    assert await plugin.bot.run(plugin.bot.cancel, REMINDER, f"person:{jid}") == 0  # no plan
''',
    "tests/test_web.py": '''\
"""GET /$name/count over real HTTP from the bot's web server."""

import asyncio
import json
import urllib.request

from botschaft_$name import $cls


async def test_the_count_route_answers_json(make_bot, chat_client):
    bot = await make_bot(plugins=[$cls()])  # bots.testing sets [web] listen to a free port
    client = await chat_client()
    await client.ask(bot.boundjid.bare, "note water the plants")

    def get():  # from another thread: the web server runs on this test's event loop
        url = f"http://127.0.0.1:{bot.web.port}/$name/count"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["content-type"], json.load(response)
    assert await asyncio.to_thread(get) == (200, "application/json", {"notes": 1})
''',
    "tests/test_migrations.py": '''\
"""A database from before migrations/0001 is brought up to date and keeps its notes."""

import sqlite3

from botschaft_$name import $cls


async def test_notes_from_before_0001_are_kept(make_bot, make_account, chat_client, tmp_path):
    jid, password = make_account()
    old = sqlite3.connect(tmp_path / "old.db")  # the table as the first release made it
    old.execute("CREATE TABLE ${name}_note (id INTEGER PRIMARY KEY, owner VARCHAR(3071) "
                "NOT NULL, text TEXT NOT NULL)")
    old.execute("INSERT INTO ${name}_note (owner, text) VALUES (?, ?)", (jid, "from before"))
    old.commit()
    old.close()
    bot = await make_bot(plugins=[$cls()], DATABASE_URL=f"sqlite:///{tmp_path / 'old.db'}")
    client = await chat_client(jid, password)
    assert await client.ask(bot.boundjid.bare, "notes") == "from before"
''',
}


class ScaffoldError(ValueError):
    pass


def create(name: str, directory: Path) -> Path:
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r}: use 2-31 lower-case letters, digits or _, "
                            "starting with a letter")
    values = {"name": name, "cls": name.title().replace("_", ""),
              "title": name.replace("_", " ").capitalize()}
    if values["cls"] in TAKEN:
        raise ScaffoldError(f"plugin name {name!r}: its class {values['cls']} would hide the "
                            "example's own; choose another name")
    target = Path(directory) / f"botschaft-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} exists already")
    for relative, text in FILES.items():
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return target
