"""One person's data, all of it: export (GDPR art. 15/20) and erase (art. 17), core and plugins.

The core holds a person's own settings, their consent records, the messages the outbox sent
or will send them, their invitation and the plans of their per-person jobs (declared in
bots/personal_data.py); every plugin reports and deletes its own (`Plugin.personal_data`,
`Plugin.erase_person`: by default its `personal_data_kinds`). Plain peewee code: run it on a
database thread.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee

from bots import audit, consent, invites, personal_data
from bots.outbox import OutboxMessage
from bots.people import PersonSetting
from bots.plugin import Plugin
from bots.storage import Schema


class Erasure(peewee.Model):
    """That an erasure happened, when, by whom and how much of each part: none of the data.
    A running bot notices a new row and forgets what it cached about people."""

    at = peewee.DateTimeField(default=lambda: datetime.now(UTC).replace(tzinfo=None))
    by = peewee.CharField(max_length=200)
    parts = peewee.TextField()  # JSON: part → rows deleted

    class Meta:
        table_name = "bots_erasure"


SCHEMA = Schema("privacy", (Erasure,))


def last_erasure() -> int:
    """The number of the newest erasure (0: none yet); plain peewee code."""
    return Erasure.select(peewee.fn.MAX(Erasure.id)).scalar() or 0


def export(jid: str, plugins: list[Plugin]) -> dict:
    setting = PersonSetting.get_or_none(PersonSetting.jid == jid)
    messages = OutboxMessage.select().where(OutboxMessage.recipient == jid).order_by(
        OutboxMessage.id)
    data = {"jid": jid,
            "settings": {"language": setting.language} if setting else {},
            "consents": consent.records_of(jid),
            "invitations": invites.personal_data(jid),
            "messages_from_the_bot": [{"text": message.body, "state": message.state,
                                       "created_at": message.created_at.isoformat()}
                                      for message in messages],
            "schedule": personal_data.rows(personal_data.PLANS, jid),
            "invitations_made": personal_data.rows(personal_data.INVITATIONS_MADE, jid),
            "audit": personal_data.rows(personal_data.AUDIT, jid)}
    for plugin in plugins:
        own = plugin.personal_data(jid)
        if own:
            data[plugin.name] = own
    return data


def erase(jid: str, plugins: list[Plugin], by: str,
          server: dict | None = None) -> dict[str, int]:
    """Delete everything about `jid`; returns rows deleted per part. Consent records go too:
    with no data left there is nothing the consent would still have to justify. `by` says who
    asked (an admin's login name, or "the person, in chat"); `server`, what was erased on the
    XMPP server (bots/server_privacy.py), goes into the record as its part "server"."""
    db = PersonSetting._meta.database
    with db.atomic():
        deleted = {
            "settings": PersonSetting.delete().where(PersonSetting.jid == jid).execute(),
            "consents": consent.Consent.delete().where(consent.Consent.jid == jid).execute(),
            "messages_from_the_bot": OutboxMessage.delete().where(
                OutboxMessage.recipient == jid).execute(),
            "invitations": invites.erase_person(jid),
            "schedule": personal_data.erase([personal_data.PLANS], jid)}
        for plugin in plugins:
            deleted[plugin.name] = plugin.erase_person(jid)
        deleted["audit"] = audit.forget(jid)  # what was done stays in the log, not who
        Erasure.create(by=by, parts=json.dumps(
            deleted if server is None else {**deleted, "server": server}))
    return deleted
