"""Feed events remember the item they were for, so that an event id sent again for another
item is refused instead of silently taken for a repeat. Events from before stay without one."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("status_feed_event", "ref", peewee.CharField(max_length=64,
                                                                          null=True)))
