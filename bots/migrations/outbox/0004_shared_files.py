"""A row may share a file (XEP-0066): its body is the file's link, and the stanza carries it
as out-of-band data too, so that apps show the picture or document itself (a relayed photo).
NULL allowed: a worker not yet upgraded (several behind one ejabberd) writes rows without it."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bots_outbox", "shares_file", peewee.BooleanField(null=True)))
