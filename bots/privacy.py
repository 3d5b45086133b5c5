"""One person's data, all of it: export (GDPR art. 15/20) and erase (art. 17), core and plugins.

The core holds a person's own settings, their consent records and the messages the outbox sent
or will send them; every plugin reports and deletes its own (`Plugin.personal_data`,
`Plugin.erase_person`). Plain peewee code: run it on a database thread.
"""

from __future__ import annotations

from bots import consent
from bots.outbox import OutboxMessage
from bots.people import PersonSetting
from bots.plugin import Plugin


def export(jid: str, plugins: list[Plugin]) -> dict:
    setting = PersonSetting.get_or_none(PersonSetting.jid == jid)
    messages = OutboxMessage.select().where(OutboxMessage.recipient == jid).order_by(
        OutboxMessage.id)
    data = {"jid": jid,
            "settings": {"language": setting.language} if setting else {},
            "consents": consent.records_of(jid),
            "messages_from_the_bot": [{"text": message.body, "state": message.state,
                                       "created_at": message.created_at.isoformat()}
                                      for message in messages]}
    for plugin in plugins:
        own = plugin.personal_data(jid)
        if own:
            data[plugin.name] = own
    return data


def erase(jid: str, plugins: list[Plugin]) -> dict[str, int]:
    """Delete everything about `jid`; returns rows deleted per part. Consent records go too:
    with no data left there is nothing the consent would still have to justify."""
    db = PersonSetting._meta.database
    with db.atomic():
        deleted = {
            "settings": PersonSetting.delete().where(PersonSetting.jid == jid).execute(),
            "consents": consent.Consent.delete().where(consent.Consent.jid == jid).execute(),
            "messages_from_the_bot": OutboxMessage.delete().where(
                OutboxMessage.recipient == jid).execute()}
        for plugin in plugins:
            deleted[plugin.name] = plugin.erase_person(jid)
    return deleted
