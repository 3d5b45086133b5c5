"""A message from XMPP keeps its stanza id when its sender asked for news of it (a receipt,
XEP-0184, or chat markers, XEP-0333): WhatsApp's delivered and read become those."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bridge_whatsapp_to_whatsapp", "stanza_id",
                            peewee.CharField(max_length=255, null=True)),
        migrator.add_column("bridge_whatsapp_to_whatsapp", "receipt",
                            peewee.BooleanField(default=False)),
        migrator.add_column("bridge_whatsapp_to_whatsapp", "markable",
                            peewee.BooleanField(default=False)))
