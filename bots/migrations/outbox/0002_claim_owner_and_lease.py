"""Rows remember which worker process claimed them and until when: with several workers on one
database, each sends its own in-flight rows again after a reconnect, and the rows of a worker
that died are taken over once its lease has run out."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bots_outbox", "claimed_by",
                            peewee.CharField(max_length=255, null=True)),
        migrator.add_column("bots_outbox", "lease_until", peewee.DateTimeField(null=True)))
