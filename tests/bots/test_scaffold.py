"""`botschaft plugin new` and the plugin guide, docs/plugins.md, whose examples are its code.

The generated plugin's own tests run in tests/bots/test_cli.py. Here: what its built package
holds, the names it refuses, and that every example of the guide is code that runs: found in
the generated plugin, or in this module (another plugin's service, through a real ejabberd).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bots import scaffold
from bots.app import schemas
from bots.i18n import translator
from bots.invites import InvitationAction, InvitationError
from bots.outbox import OutboxMessage
from bots.plugin import Plugin, command
from bots.storage import Storage
from bots.testing import services_over
from plugins.status import Status

_ = translator(__name__)
GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"
EXAMPLE = re.compile(r"^```(?:python|po)\n(.*?)^```", re.MULTILINE | re.DOTALL)


class Linked(Plugin):
    """The guide's example of another plugin's service."""

    name = "linked"

    @command(help=_("how many items you have linked"))
    def linked(self, ctx) -> str:
        book = ctx.bot.plugin("status").book  # bots.services.UnknownPlugin if it is not loaded
        return ctx._(_("Linked items: {count}"), count=len(book.items_of(ctx.person.jid)))


class Welcome(Plugin):
    """The guide's example of an invitation action."""

    name = "welcome"

    def invitation_actions(self, bot) -> dict[str, InvitationAction]:
        def check(text: str) -> str:
            if not text.strip():
                raise InvitationError(_("A welcome note needs a text."))
            return text.strip()[:200]

        def run(jid: str, text: str, language: str) -> None:
            bot.notify(f"welcome-note:{jid}", jid, text)

        return {"note": InvitationAction(check=check, run=run,
                                         describe=_("a welcome note: {value}"))}


def test_a_plugin_offers_what_an_invitation_does(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([]))
    bot = services_over(storage, [Welcome()], JOIN_PUBLIC_URL="https://join.example.com")
    with pytest.raises(InvitationError, match="needs a text"):
        bot.invite("staff@example.com", {"note": "  "})
    made = bot.invite("staff@example.com", {"note": " Hello! "})
    invitation = bot.invitations.take(made.token, "new@example.com")
    bot.invitations.carry_out(invitation, "new@example.com", "en")
    assert [(row.recipient, row.body) for row in OutboxMessage.select()] == [
        ("new@example.com", "Hello!")]
    storage.close()


async def test_a_plugin_uses_another_plugins_service(make_bot, chat_client):
    status = Status()
    bot = await make_bot(plugins=[status, Linked()])
    client = await chat_client()
    await status.bot.run(status.book.create, "4711", "vehicle", code="ABCD23")
    await client.ask(bot.boundjid.bare, "claim 4711 ABCD23")
    assert await client.ask(bot.boundjid.bare, "linked") == "Linked items: 1"


def test_every_example_in_the_guide_is_code_that_runs(tmp_path):
    package = scaffold.create("notes", tmp_path)
    sources = [path.read_text(encoding="utf-8") for path in package.rglob("*") if path.is_file()]
    sources.append(Path(__file__).read_text(encoding="utf-8"))
    examples = [textwrap.dedent(text) for text in EXAMPLE.findall(GUIDE.read_text("utf-8"))]
    assert len(examples) >= 10
    missing = [example for example in examples
               if not any(textwrap.indent(example, " " * indent) in source
                          for source in sources for indent in (0, 4))]
    assert not missing, "the guide shows code that neither the scaffold nor this test has:\n" \
        + "\n---\n".join(missing)


def test_the_built_package_has_its_migrations_and_catalogue(tmp_path):
    package = scaffold.create("notes", tmp_path)
    # `build` is the step of `pip wheel` that chooses the files a wheel holds
    subprocess.run([sys.executable, "setup.py", "-q", "build", "--build-base",
                    str(tmp_path / "build")], cwd=package, check=True, capture_output=True)
    built = tmp_path / "build" / "lib" / "botschaft_notes"
    files = {path.relative_to(built).as_posix() for path in built.rglob("*") if path.is_file()}
    assert {"migrations/__init__.py", "migrations/0001_note_written_at.py",
            "locale/de.po"} <= files


@pytest.mark.parametrize("name", ["note", "plugin", "personal_data"])
def test_a_name_whose_class_would_hide_the_examples_own_is_refused(tmp_path, name):
    with pytest.raises(scaffold.ScaffoldError, match="choose another name"):
        scaffold.create(name, tmp_path)
