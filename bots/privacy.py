"""One person's data, all of it: export (GDPR art. 15/20) and erase (art. 17), core and plugins.

The core holds a person's own settings, their consent records and the messages the outbox sent
or will send them; every plugin reports and deletes its own (`Plugin.personal_data`,
`Plugin.erase_person`). Plain peewee code: run it on a database thread.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee

from bots import consent, invites
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
                                      for message in messages]}
    for plugin in plugins:
        own = plugin.personal_data(jid)
        if own:
            data[plugin.name] = own
    return data


def erase(jid: str, plugins: list[Plugin], by: str) -> dict[str, int]:
    """Delete everything about `jid`; returns rows deleted per part. Consent records go too:
    with no data left there is nothing the consent would still have to justify. `by` says who
    asked (an admin's login name, or "the person, in chat")."""
    db = PersonSetting._meta.database
    with db.atomic():
        deleted = {
            "settings": PersonSetting.delete().where(PersonSetting.jid == jid).execute(),
            "consents": consent.Consent.delete().where(consent.Consent.jid == jid).execute(),
            "messages_from_the_bot": OutboxMessage.delete().where(
                OutboxMessage.recipient == jid).execute(),
            "invitations": invites.erase_person(jid)}
        for plugin in plugins:
            deleted[plugin.name] = plugin.erase_person(jid)
        Erasure.create(by=by, parts=json.dumps(deleted))
    return deleted
