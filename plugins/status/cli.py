"""`botschaft status …`: set, resend, create, show and list items, import a CSV file, list the
kinds, unlock a person who made too many wrong claims, print an item's job card."""

from __future__ import annotations

import contextlib
import csv
import getpass
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import click

from bots import audit
from bots.cli import expires_option, load_config, plugin_database
from bots.i18n import LANGUAGES, format_moment, render
from bots.invites import InvitationError
from plugins.status import CLEARED, TOLD
from plugins.status.card import CardError, JobCard, card_format, write_card
from plugins.status.feed import FeedError, apply_rows, check_csv
from plugins.status.service import StatusError, bare_jid

SHOWN_ERRORS = 50
FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # in a reference, but not in card-REF.png
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def _book():
    with plugin_database("status") as (plugin, bot):
        try:
            yield plugin.make_book(bot), bot
        except StatusError as error:
            raise click.ClickException(str(error)) from None


def _progress(length: int, label: str):
    """A progress bar for a person at a terminal (on stderr: stdout stays for scripts); none
    where no one watches, instead of a stray label line."""
    return click.progressbar(length=length, label=label, file=sys.stderr,
                             hidden=not sys.stderr.isatty())


def status_cli() -> click.Group:
    @click.group("status")
    def group() -> None:
        """Items and their status (the status plugin)."""

    @group.command("set")
    @click.argument("ref")
    @click.argument("state")
    @click.option("--note", help="A note the customer reads with the new state.")
    def set_state(ref: str, state: str, note: str | None) -> None:
        """Set item REF to STATE; everyone who claimed it is told (through the outbox)."""
        with _book() as (book, _bot):
            result = book.set_state(ref, state, note, source="cli", by=audit.admin())
        item = result.item
        if result.changed:
            click.echo(f"{item.ref}: {item.state}; {render(TOLD, 'en', count=result.told)}")
        else:
            click.echo(f"{item.ref} is {item.state} already{' with this note' if note else ''}"
                       f"; nobody was told again (to send it once more: botschaft status "
                       f"resend {item.ref})")

    @group.command("resend")
    @click.argument("ref")
    def resend(ref: str) -> None:
        """Tell everyone who claimed item REF its last change once more."""
        with _book() as (book, _bot):
            result = book.resend(ref, source="cli", by=audit.admin())
        click.echo(f"{result.item.ref}: {result.item.state} sent once more; "
                   f"{render(TOLD, 'en', count=result.told)}")

    @group.command("create")
    @click.argument("ref")
    @click.argument("kind")
    @click.option("--code", help="The claim code printed on the receipt (default: generated).")
    @click.option("--state", help="The first state (default: the kind's first).")
    def create(ref: str, kind: str, code: str | None, state: str | None) -> None:
        """Create item REF of KIND and print its claim code."""
        with _book() as (book, _bot):
            item = book.create(ref, kind, code, state, source="cli", by=audit.admin())
        click.echo(f"{item.ref} ({item.kind}): {item.state}, claim code {item.code}")

    @group.command("show")
    @click.argument("ref")
    def show(ref: str) -> None:
        """Item REF: state, claim code, history, how many people watch it."""
        with _book() as (book, bot):
            item = book.find(ref)
            if item is None:
                raise click.ClickException(f"no item {ref.strip().upper()}")
            history = book.history(item, limit=20)
            watchers = item.watchers.count()
        language, timezone = bot.language, bot.timezone
        click.echo(f"{item.ref} ({item.kind}): {item.state}{' (closed)' if item.closed else ''}"
                   f", claim code {item.code}, claimed by {watchers}")
        for change in history:
            note = f" — {change.note}" if change.note else ""
            click.echo(f"  {format_moment(change.changed_at, language, timezone)}  "
                       f"{change.state} ({change.source}){note}")

    @group.command("list")
    @click.option("--limit", default=100, show_default=True)
    def list_open(limit: int) -> None:
        """Open items, the longest unchanged first."""
        with _book() as (book, bot):
            items, total = book.open_items(limit)
        language, timezone = bot.language, bot.timezone
        for item in items:
            click.echo(f"{item.ref:<20} {item.kind:<10} {item.state:<20} "
                       f"{format_moment(item.updated_at, language, timezone)}")
        click.echo(f"{total} open item(s)" + (f", {limit} shown" if total > limit else ""))

    @group.command("kinds")
    def kinds() -> None:
        """The kinds of items and their states (final states marked *)."""
        with _book() as (book, _bot):
            for kind in book.kinds.values():
                states = ", ".join(f"{state}{'*' if kind.is_final(state) else ''}"
                                   for state in kind.states)
                click.echo(f"{kind.name:<10} {kind.label['en']}: {states}")

    @group.command("unlock")
    @click.argument("jid")
    def unlock(jid: str) -> None:
        """Let JID claim again at once: forget their failed claims (too many wrong codes)."""
        with _book() as (book, _bot):
            jid = bare_jid(jid)
            cleared = book.unlock(jid, by=audit.admin())
        click.echo(f"{jid}: {render(CLEARED, 'en', count=cleared)}")

    @group.command("card")
    @click.argument("ref")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                  help="The file to write, .png or .pdf (default: card-REF.png here).")
    @click.option("--language", type=click.Choice(LANGUAGES),
                  help="The card's language (default: [bot] language).")
    @expires_option("How long its QR code stays valid")
    def card(ref: str, out: Path | None, language: str | None,
             expires: timedelta | None) -> None:
        """Write the job card of item REF: its claim code, and a QR code with a one-time
        invitation that makes an account with the item already claimed."""
        if out is not None:
            try:
                card_format(out)
            except CardError as error:
                raise click.BadParameter(str(error), param_hint="--out") from None
        config = load_config()
        bot_jid = config.get("xmpp", "jid")
        if not bot_jid:
            raise click.ClickException("[xmpp] jid is not set: the card tells customers the "
                                       "bot's address; set it in the bot's settings")
        with _book() as (book, bot):
            item = book.find(ref)
            if item is None:
                raise click.ClickException(f"no item {ref.strip().upper()}")
            out = out or Path(f"card-{FILE_NAME_UNSAFE.sub('-', item.ref)}.png")
            language = language or bot.language
            with bot.database.atomic():  # no card written: no invitation either
                try:
                    invitation = bot.invite(f"cli:{getpass.getuser()}", {"claim": item.ref},
                                            expires, note=f"job card {item.ref}")
                except InvitationError as refusal:
                    raise click.ClickException(str(refusal)) from None
                kind = book.kinds[item.kind]
                facts = JobCard(config.get("join", "company"),
                                f"{kind.label[language]} {item.ref}", item.ref, item.code,
                                invitation.url, invitation.expires_at, bot_jid, bot.timezone)
                try:
                    write_card(facts, language, out)
                except CardError as error:
                    raise click.ClickException(str(error)) from None
                except OSError as error:
                    raise click.ClickException(f"--out {out}: cannot write there "
                                               f"({error.strerror}); no invitation was made"
                                               ) from None
        click.echo(f"join link (valid once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC): "
                   f"{invitation.url}")
        click.echo(f"card: {out.resolve()}")

    @group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--codes-out", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write the claim codes generated for new items here (CSV ref,code).")
    def import_csv(file: Path, codes_out: Path | None) -> None:
        """Import FILE.csv (columns ref, state, and kind, code, note as needed; comma or
        semicolon): new references create items, known ones change state. Every row is
        checked first; with any error nothing is imported."""
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise click.ClickException(f"{file}: not UTF-8 (byte {error.start}); save it as "
                                       "CSV UTF-8") from None
        lines = max(text.count("\n"), 1)  # progress bars on stderr: stdout stays for scripts
        with _book() as (book, _bot):
            try:
                with _progress(lines, "checking ") as bar:
                    report = check_csv(text, book, bar.update)
            except FeedError as error:
                raise click.ClickException(f"{file}: {error}") from None
            _refuse_errors(file, report)
            uncoded = sum(1 for row in report.rows if row.new and row.code is None)
            if uncoded and codes_out is None:
                raise click.ClickException(
                    f"{file}: {uncoded} new item(s) have no code column value; give --codes-out "
                    "FILE to have codes generated and written there. Nothing was imported.")
            with book.db.atomic(), _progress(len(report.rows), "importing") as bar:
                generated = apply_rows(report.rows, book, bar.update, audit.admin())
                if codes_out is not None and generated:
                    _write_codes(codes_out, generated)  # before the import commits
        click.echo(f"{file}: {len(report.rows)} rows imported, {report.created} new items"
                   + (f"; codes in {codes_out}" if generated else ""))

    return group


def _write_codes(path: Path, generated: dict[str, str]) -> None:
    """The generated codes, on disk before the import commits: if they cannot be written,
    nothing is imported (once imported, the items exist and a rerun generates no codes)."""
    try:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["ref", "code"])
            writer.writerows([spreadsheet_cell(ref), spreadsheet_cell(code)]
                             for ref, code in generated.items())
            out.flush()
            os.fsync(out.fileno())
    except OSError as error:
        raise click.ClickException(f"--codes-out {path}: cannot write there "
                                   f"({error.strerror}); nothing was imported") from None


def spreadsheet_cell(text: str) -> str:
    """A cell that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
    leading quote, so it shows as text (OWASP CSV injection): references come from outside."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _refuse_errors(file: Path, report) -> None:
    if not report.errors:
        return
    for error in report.errors[:SHOWN_ERRORS]:
        click.echo(f"{file}: {error}", err=True)
    if len(report.errors) > SHOWN_ERRORS:
        click.echo(f"… and {len(report.errors) - SHOWN_ERRORS} more", err=True)
    raise click.ClickException(f"{file}: {len(report.errors)} error(s); nothing was imported")
