"""`botschaft rooms …`: create, list, add, remove, archive, destroy, import members (CSV).

What the commands notify (the invitation notes) the running bot sends; it goes into new rooms
and posts their welcome within a minute (its `keep_rooms` job)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import click

from bots import audit
from bots.cli import plugin_database
from bots.ejabberd_api import EjabberdAPIError
from plugins.rooms.members_csv import read_members
from plugins.rooms.models import JOINED, Member
from plugins.rooms.service import RoomsError, bare_jid

SHOWN_ERRORS = 50


@contextlib.contextmanager
def _book():
    with plugin_database("rooms") as (plugin, bot):
        try:
            yield plugin.make_book(bot)
        except RoomsError as error:
            raise click.ClickException(str(error)) from None
        except EjabberdAPIError as error:
            raise click.ClickException(f"the XMPP server refused: {error}") from None


def _days(_context, _parameter, value: str | None) -> timedelta | None:
    """A retention written as "90d" (or "90")."""
    if value is None:
        return None
    number = value.strip().lower().removesuffix("d")
    if not number.isdigit() or int(number) == 0:
        raise click.BadParameter(f"{value!r}: write a number of days, e.g. 90d")
    return timedelta(days=int(number))


def rooms_cli() -> click.Group:
    @click.group("rooms")
    def group() -> None:
        """Group rooms on the company's server (the rooms plugin)."""

    @group.command("create")
    @click.argument("room")
    @click.argument("name")
    @click.option("--description", default="", help="What the room is for (shown in it).")
    @click.option("--course", help="The course (lessons) whose subscribers are asked in.")
    @click.option("--trainer", help="The trainer's address: owner, and who announces.")
    @click.option("--language", type=click.Choice(["de", "en"]),
                  help="Of the welcome and the rules (default: [bot] language).")
    def create(room: str, name: str, description: str, course: str | None,
               trainer: str | None, language: str | None) -> None:
        """Create ROOM (its address's name, e.g. deutsch-a1) titled NAME; again: no change."""
        with _book() as book:
            made, new = book.create(room, name, description, course, trainer, language,
                                    audit.admin())
            address = book.address(made)
        click.echo(f"{address}: {'created' if new else 'exists already, unchanged'}")

    @group.command("list")
    def list_rooms() -> None:
        """Every room: address, state, members in it / asked in, course, trainer."""
        with _book() as book:
            for room in book.rooms():
                joined = room.members.where(Member.state == JOINED).count()
                click.echo(f"{book.address(room):<40} {room.state:<9} "
                           f"{joined}/{room.members.count():<5} {room.course or '-':<16} "
                           f"{room.trainer or '-'}")

    @group.command("add")
    @click.argument("room")
    @click.argument("jids", nargs=-1, required=True)
    def add(room: str, jids: tuple[str, ...]) -> None:
        """Invite JIDS to ROOM (each is told, and joins by writing: join ROOM)."""
        with _book() as book:
            new = set(book.invite_many(book.room(room), jids, audit.admin()))
            for jid in jids:
                click.echo(f"{jid.strip()}: "
                           f"{'invited' if bare_jid(jid) in new else 'invited already'}")

    @group.command("remove")
    @click.argument("room")
    @click.argument("jids", nargs=-1, required=True)
    def remove(room: str, jids: tuple[str, ...]) -> None:
        """Take JIDS out of ROOM at once (no membership, no announcements)."""
        with _book() as book:
            chosen = book.room(room)
            for jid in jids:
                removed = book.remove(chosen, jid, audit.admin())
                click.echo(f"{jid.strip()}: {'removed' if removed else 'was not in the room'}")

    @group.command("archive")
    @click.argument("room")
    @click.option("--destroy-after", callback=_days, metavar="DAYS",
                  help="Destroy it (and its archive) this long from now, e.g. 90d.")
    def archive(room: str, destroy_after: timedelta | None) -> None:
        """Archive ROOM: nobody new is asked in or joins; members stay (ejabberd 23.01 cannot
        make the room read-only for them)."""
        with _book() as book:
            chosen = book.room(room)
            book.archive(chosen, destroy_after, audit.admin())
        click.echo(f"{room}: archived"
                   + (f", destroyed after {chosen.destroy_after:%Y-%m-%d} (UTC)"
                      if destroy_after else ""))

    @group.command("destroy")
    @click.argument("room")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def destroy(room: str, yes: bool) -> None:
        """Destroy ROOM now: on the server, with its archive and members."""
        if not yes:
            click.confirm(f"Destroy the room {room} with its messages and files?", abort=True)
        with _book() as book:
            book.destroy(book.room(room), audit.admin())
        click.echo(f"{room}: destroyed")

    @group.command("import")
    @click.argument("room")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_members(room: str, file: Path) -> None:
        """Invite the people in FILE.csv to ROOM (columns jid, and role: member or owner).
        Every line is checked first; with any error nothing is imported."""
        with _book() as book:
            chosen = book.room(room)
            rows, errors = read_members(file.read_bytes(), book)
            if errors:
                for error in errors[:SHOWN_ERRORS]:
                    click.echo(f"{file}: {error}", err=True)
                if len(errors) > SHOWN_ERRORS:
                    click.echo(f"… and {len(errors) - SHOWN_ERRORS} more", err=True)
                raise click.ClickException(f"{file}: {len(errors)} error(s); nothing was "
                                           "imported")
            with book.db.atomic():
                for row in rows:
                    if row.role == "owner":
                        book.make_owner(chosen, row.jid, audit.admin())
                invited = len(book.invite_many(
                    chosen, [row.jid for row in rows if row.role != "owner"], audit.admin()))
        click.echo(f"{file}: {len(rows)} rows, {invited} newly invited")

    return group
