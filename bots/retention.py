"""Personal data is kept only as long as it serves its purpose.

Each kind of personal data (bots/personal_data.py: the core's and each plugin's) has a
retention period in days: its declared default, or `[privacy] retention` in botschaft.toml
(`[retention] outbox_days` is the older spelling of the outbox's). Kinds without one are kept
while needed, until the person is erased. A core job, daily at 03:00 in `[bot] timezone`,
deletes per kind the rows older than their period; `botschaft privacy purge` does the same
at once, or with --dry-run counts what would go. It deletes in batches, each in a transaction
of its own, so no statement grows with the backlog and no other writer waits long. Only
counts are logged.

The XMPP server's message archive ("server.archive", bots/personal_data.py `SERVER_KINDS`)
is ejabberd's: the same job asks ejabberd, through its admin API (`[ejabberd]`), to delete the
archived messages older than its period. Without that API it stays, and the job says so.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bots.config import Config, ConfigError
from bots.ejabberd_api import EjabberdAPIError
from bots.personal_data import SERVER_ARCHIVE, SERVER_KINDS, PersonalData, declared, referring_first
from bots.plugin import Plugin, installed_plugins

if TYPE_CHECKING:
    from bots.services import Services

log = logging.getLogger(__name__)

RETENTION_JOB = "bots.retention"
RETENTION_AT = "03:00"  # local time, when few people write
BATCH = 1000
NO_ADMIN_API = ("not applied: ejabberd's admin API is not configured; set [ejabberd] api_url, "
                "admin_jid and admin_password (or BOTSCHAFT_EJABBERD_API_URL, "
                "BOTSCHAFT_EJABBERD_ADMIN_JID, BOTSCHAFT_EJABBERD_ADMIN_PASSWORD), and the "
                "daily purge asks ejabberd to delete older archived messages")


def periods(plugins: list[Plugin], config: Config) -> dict[str, int | None]:
    """Days each kind of the core, these plugins and ejabberd (SERVER_KINDS) is kept (None:
    while needed). A ConfigError names a `[privacy] retention` key that is no kind, or one
    that is kept while needed; keys of installed plugins that are not loaded (disabled) wait,
    with a warning."""
    kinds = {kind.kind: kind for _owner, kind in declared(plugins)}
    days = {name: kind.retention_days for name, kind in kinds.items()} | {
        kind.kind: kind.retention_days for kind in SERVER_KINDS}
    absent = installed_plugins() - {plugin.name for plugin in plugins}
    configured = dict(config.get("privacy", "retention"))
    where = f"{config.source}: [privacy] retention"
    for name in list(configured):
        if name in kinds and kinds[name].since is None and kinds[name].expired is None:
            raise ConfigError(f"{where}: {name!r} is kept while needed (until the person is "
                              "erased), with no time a period could count from; remove the "
                              "key")
        if name in days:
            continue
        if name.partition(".")[0] in absent:
            log.warning("%s: %r waits: its plugin is not loaded", where, name)
            del configured[name]
        else:
            raise ConfigError(f"{where}: unknown kind {name!r}; known: "
                              f"{', '.join(sorted(days))}")
    days["outbox"] = config.get("retention", "outbox_days")
    return days | configured


def purge(kinds: list[PersonalData], days: dict[str, int | None], now: datetime,
          dry_run: bool = False, batch: int = BATCH) -> dict[str, int]:
    """Delete, per kind with a period, the rows older than it at `now`; returns how many per
    kind. `dry_run`: the same, undone at the end, so the counts are those a purge at `now`
    removes, also where a kind's rule looks at another's rows (an item goes once its history
    is gone)."""
    if dry_run:
        with kinds[0].model._meta.database.atomic() as transaction:
            counts = _purge(kinds, days, now, batch)
            transaction.rollback()
        return counts
    counts = _purge(kinds, days, now, batch)
    log.info("retention: rows deleted per kind: %s",
             ", ".join(f"{name} {count}" for name, count in counts.items()) or "none")
    return counts


def _purge(kinds: list[PersonalData], days: dict[str, int | None], now: datetime,
           batch: int) -> dict[str, int]:
    counts = {}
    for kind in referring_first(kinds):  # so that no deletion cascades into another's count
        if days[kind.kind] is not None:
            cutoff = (now - timedelta(days=days[kind.kind])).astimezone(UTC).replace(
                tzinfo=None)
            counts[kind.kind] = _delete(kind, kind.older_than(cutoff), batch)
    return {kind.kind: counts[kind.kind] for kind in kinds if kind.kind in counts}


def _delete(kind: PersonalData, condition, batch: int) -> int:
    model = kind.model
    key = model._meta.primary_key
    deleted = 0
    while True:
        with model._meta.database.atomic():
            count = model.delete().where(
                key.in_(model.select(key).where(condition).limit(batch))).execute()
        deleted += count
        if count < batch:
            return deleted


def purge_server_archive(config: Config, services: Services, days: int,
                         dry_run: bool = False) -> str:
    """Ask ejabberd to delete the archived messages older than `days` days (23.01's
    delete_old_mam_messages, type "all": chats and group rooms, on every virtual host, by the
    server's own clock); returns what was done, in words. ejabberd counts neither before nor
    after, so a dry run says what it would ask. Without the admin API nothing is done: a
    warning says so, and how to set it up. Raises EjabberdAPIError when ejabberd refuses or
    cannot be reached. Blocking HTTP: not on the event loop."""
    if not config.get("ejabberd", "api_url"):
        if not dry_run:
            log.warning("retention: the period of the server's message archive ([privacy] "
                        "retention %r, %d days) is %s", SERVER_ARCHIVE.kind, days, NO_ADMIN_API)
        return NO_ADMIN_API
    older = f"archived messages older than {days} day{'' if days == 1 else 's'}"
    if dry_run:
        return f"ask ejabberd to delete {older}"
    if services.ejabberd.call("delete_old_mam_messages", type="all", days=days) != 0:
        raise EjabberdAPIError("delete_old_mam_messages: ejabberd refused it")
    done = f"ejabberd deleted {older} (it gives no count)"
    log.info("retention: %s", done)
    return done
