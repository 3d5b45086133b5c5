"""`botschaft plugin new NAME`: an installable plugin package to start from.

It has what most plugins need: a command with arguments, a peewee model, a German catalogue,
the entry point that makes the bot load it, and a test that talks to it through a real
ejabberd with the fixtures of `bots.testing`.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

FILES = {
    "setup.py": '''\
from setuptools import setup

setup(
    name="botschaft-$name",
    version="0.1.0",
    description="$title: a Botschaft plugin",
    python_requires=">=3.11",
    packages=["botschaft_$name"],
    package_data={"botschaft_$name": ["locale/*.po"]},
    install_requires=["botschaft"],
    extras_require={"test": ["botschaft[test]"]},
    entry_points={"botschaft.plugins": ["$name = botschaft_$name:$cls"]},
)
''',
    "README.md": '''\
# botschaft-$name

A Botschaft plugin. Install it next to Botschaft and the bot loads it:

    pip install -e .
    pytest            # runs against a private ejabberd (needs Debian's ejabberd, as root)
''',
    "botschaft_$name/__init__.py": '''\
"""$title: keeps short notes for each person."""

import peewee

from bots.i18n import translator
from bots.plugin import Plugin, command

_ = translator(__name__)


class Note(peewee.Model):
    """One note; the framework creates the table (and runs migrations/ when there are some)."""

    owner = peewee.CharField(index=True)
    text = peewee.TextField()

    class Meta:
        table_name = "${name}_note"


class $cls(Plugin):
    name = "$name"
    description = "$title"
    models = [Note]
    default_config = {"max_notes": 20}

    @command(help=_("remember a note: note <text>"),
             examples={"en": ["remember this"], "de": ["merk dir das"]})
    def note(self, ctx, text: str) -> str:
        # Plain (sync) handlers run on the database worker pool: peewee calls are fine here.
        if Note.select().where(Note.owner == ctx.person.jid).count() >= self.config["max_notes"]:
            return ctx._(_("You have {count} notes already; that is the limit."),
                         count=self.config["max_notes"])
        Note.create(owner=ctx.person.jid, text=text)
        return ctx._(_("Noted."))

    @command(help=_("show my notes"), examples={"en": ["what are my notes"],
                                                 "de": ["was sind meine notizen"]})
    def notes(self, ctx) -> str:
        texts = [note.text for note in Note.select().where(Note.owner == ctx.person.jid)]
        return "\\n".join(texts) if texts else ctx._(_("You have no notes yet."))
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
''',
    "conftest.py": '''\
pytest_plugins = ["bots.testing"]  # a private ejabberd, make_bot, chat_client
''',
    "pytest.ini": '''\
[pytest]
testpaths = tests
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
''',
    "tests/test_$name.py": '''\
"""The plugin, talked to through a real (private) ejabberd."""

from botschaft_$name import $cls


async def test_a_note_is_kept_and_listed(make_bot, chat_client):
    bot = await make_bot(plugins=[$cls()])
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "note buy milk 🥛") == "Noted."
    assert await client.ask(bot.boundjid.bare, "notes") == "buy milk 🥛"


async def test_notes_are_private(make_bot, chat_client):
    bot = await make_bot(plugins=[$cls()])
    alice, bob = await chat_client(), await chat_client()
    await alice.ask(bot.boundjid.bare, "note secret")
    assert await bob.ask(bot.boundjid.bare, "notes") == "You have no notes yet."
''',
}


class ScaffoldError(ValueError):
    pass


def create(name: str, directory: Path) -> Path:
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r}: use 2-31 lower-case letters, digits or _, "
                            "starting with a letter")
    target = Path(directory) / f"botschaft-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} exists already")
    values = {"name": name, "cls": name.title().replace("_", ""),
              "title": name.replace("_", " ").capitalize()}
    for relative, text in FILES.items():
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return target
