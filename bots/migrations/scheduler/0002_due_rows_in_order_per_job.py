"""Due rows are taken job by job in the order (next_due_at, id): an index with the id too hands
them over in that order, so a batch no longer sorts every due row of the job first."""


def up(migrator, db):
    migrator.migrate(migrator.drop_index("bots_schedule", "schedule_job_next_due_at"))
    # the name peewee gives the model's index, so fresh and migrated databases agree
    db.execute_sql('CREATE INDEX "schedule_job_next_due_at_id" ON "bots_schedule" '
                   '("job", "next_due_at", "id")')
