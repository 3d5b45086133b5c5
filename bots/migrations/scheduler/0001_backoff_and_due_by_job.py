"""A failing row backs off (it remembers its failures in a row), and due rows are found by job:
the rows of a job no plugin registers are skipped without reading them at every pass."""

import peewee


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("bots_schedule", "failures", peewee.IntegerField(default=0)),
        migrator.drop_index("bots_schedule", "schedule_next_due_at"))
    # the name peewee gives the model's index, so fresh and migrated databases agree
    db.execute_sql('CREATE INDEX "schedule_job_next_due_at" ON "bots_schedule" '
                   '("job", "next_due_at")')
