"""A withdrawal records where the person made it (`withdraw N` in chat), as a consent records
where it was given."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bots_consent", "withdrawn_via",
                            peewee.CharField(max_length=32, null=True)))
