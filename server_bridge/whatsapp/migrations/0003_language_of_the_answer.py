"""A person who agreed with YES reads English, with JA German: their messages carry that
language (xml:lang) to the bot."""

import peewee


def up(migrator, db):
    migrator.migrate(migrator.add_column("bridge_whatsapp_contact", "language",
                                         peewee.CharField(max_length=8, null=True)))
