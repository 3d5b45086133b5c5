"""Rows remember the stream (XEP-0198) they were sent on and their number in it, so that the
next run can resume that stream and learn exactly which of them arrived."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bots_outbox", "stream", peewee.CharField(max_length=255, null=True)),
        migrator.add_column("bots_outbox", "seq", peewee.BigIntegerField(null=True)))
