"""`botschaft announce …`: send an announcement now or at a time to come, cancel a scheduled
one, the history, the lists. What it queues, the running bot sends."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bots import audit
from bots.cli import plugin_database
from plugins.announce.service import AnnounceError

AT_FORMAT = "%Y-%m-%d %H:%M"


@contextlib.contextmanager
def _announcer():
    with plugin_database("announce") as (plugin, bot):
        try:
            yield plugin.make_announcer(bot)
        except AnnounceError as error:
            raise click.ClickException(str(error)) from None


def _local_time(_context, _parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value.strip(), AT_FORMAT)
    except ValueError:
        raise click.BadParameter(f"{value!r}: write the local date and time, e.g. "
                                 "\"2026-12-24 09:00\"") from None


def _text(text: str | None, path: Path | None) -> str:
    if (text is None) == (path is None):
        raise click.UsageError("give the announcement as --text or as --file, one of them")
    if path is None:
        return text
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8; save it as UTF-8") from None


def _people(count: int) -> str:
    return f"{count} person" if count == 1 else f"{count} people"


def _progress(length: int):
    """On stderr (stdout stays for scripts); hidden where no one watches."""
    return click.progressbar(length=length, label="Queuing", file=sys.stderr,
                             hidden=not sys.stderr.isatty())


def announce_cli() -> click.Group:
    @click.group("announce")
    def group() -> None:
        """Announcements to the followers of a list (the announce plugin)."""

    @group.command("send")
    @click.argument("list_name", metavar="LIST")
    @click.option("--text", help="The announcement.")
    @click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The announcement, from a UTF-8 text file.")
    @click.option("--at", callback=_local_time, metavar='"YYYY-MM-DD HH:MM"',
                  help="Send it then (the list's time zone) instead of now; those who follow "
                       "the list at that time get it.")
    @click.option("--yes", is_flag=True, help="Do not ask before sending.")
    def send(list_name: str, text: str | None, path: Path | None, at: datetime | None,
             yes: bool) -> None:
        """Send an announcement to everyone who follows LIST, exactly once each."""
        text = _text(text, path)
        with _announcer() as announcer:
            announce_list = announcer.find(list_name)
            announcer.checked(announce_list, text)
            followers = announcer.followers(announce_list)
            if at is None and not followers:
                raise click.ClickException(f"nobody follows {announce_list.name} yet; nothing "
                                           "was sent")
            when = (f"at {at:{AT_FORMAT}} ({announcer.timezone_of(announce_list)}), to those "
                    f"who follow it then; now {_people(followers)}" if at
                    else f"now, to {_people(followers)}")
            click.echo(f"{announce_list.title['en']} ({announce_list.name}): {when}")
            if not yes:
                click.confirm("Send it?", abort=True)
            if at:
                announcement = announcer.schedule(list_name, text, at, audit.admin())
                click.echo(f"Announcement {announcement.id} is scheduled (to call it off: "
                           f"botschaft announce cancel {announcement.id}).")
                return
            with _progress(followers) as bar:
                announcement = announcer.send_now(list_name, text, audit.admin(), bar.update)
            click.echo(f"Announcement {announcement.id}: queued for "
                       f"{_people(announcement.recipients)}; the running bot sends it.")

    @group.command("cancel")
    @click.argument("number", type=int)
    def cancel(number: int) -> None:
        """Call off the scheduled announcement NUMBER (see history)."""
        with _announcer() as announcer:
            announcement = announcer.cancel(number, audit.admin())
        click.echo(f"Announcement {announcement.id} to {announcement.list} is cancelled.")

    @group.command("history")
    @click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
    def history(limit: int) -> None:
        """Sent, scheduled and cancelled announcements, newest first: when (the list's time
        zone), list, state, people it was queued for, of them skipped (they stopped following
        before theirs left), by whom, and how it starts."""
        with _announcer() as announcer:
            rows = announcer.history(limit)
            click.echo(f"{'#':>4}  {'when':<16} {'list':<12} {'state':<10} {'people':>6} "
                       f"{'skipped':>7}  {'by':<24} text")
            for row in rows:
                announce_list = announcer.lists.get(row.list)
                zone = announcer.timezone_of(announce_list) if announce_list else "UTC"
                moment = row.sent_at or row.due_at or row.created_at
                when = _local(moment, zone)
                start = " ".join(row.text.split())
                click.echo(f"{row.id:>4}  {when:<16} {row.list:<12} {row.state:<10} "
                           f"{row.recipients:>6} {row.skipped:>7}  {row.created_by:<24} "
                           f"{start[:40] + ('…' if len(start) > 40 else '')}")

    @group.command("lists")
    def lists() -> None:
        """The lists people can follow, and how many follow each."""
        with _announcer() as announcer:
            for announce_list in announcer.lists.values():
                titles = " / ".join(dict.fromkeys(announce_list.title.values()))
                click.echo(f"{announce_list.name:<12} {titles:<30} "
                           f"{announcer.timezone_of(announce_list):<16} "
                           f"wording {announce_list.wording_version}  "
                           f"{announcer.followers(announce_list)} following")

    return group


def _local(moment: datetime, zone: str) -> str:
    """A stored time (naive UTC) as local time in `zone`, as --at takes it."""
    return f"{moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)):{AT_FORMAT}}"
