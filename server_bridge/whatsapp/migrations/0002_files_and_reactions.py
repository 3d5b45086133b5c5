"""Files and reactions: a file from WhatsApp waits under Meta's media id until it is uploaded
to the XMPP server; a reaction names the XMPP message it is about; a message to WhatsApp that
is no text (a file by link, a reaction) is the Cloud API's message object."""

import peewee


def up(migrator, db):
    table = "bridge_whatsapp_to_xmpp"
    migrator.migrate(
        migrator.add_column(table, "stanza_id", peewee.CharField(max_length=36, null=True)),
        migrator.add_index(table, ("stanza_id",)),
        migrator.add_column(table, "media_id", peewee.CharField(max_length=255, null=True)),
        migrator.add_column(table, "mime_type", peewee.CharField(max_length=255, null=True)),
        migrator.add_column(table, "filename", peewee.CharField(max_length=255, null=True)),
        migrator.add_column(table, "file_url", peewee.TextField(null=True)),
        migrator.add_column(table, "reacts_to", peewee.CharField(max_length=255, null=True)),
        migrator.add_column(table, "recipient", peewee.CharField(max_length=3071, null=True)),
        migrator.add_column("bridge_whatsapp_to_whatsapp", "content",
                            peewee.TextField(null=True)))
