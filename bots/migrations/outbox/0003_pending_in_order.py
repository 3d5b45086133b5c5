"""The claim reads pending rows in id order: an index on (state, id) takes it straight to the
first pending row, where the index on state alone left it stepping over every row already
sent (on PostgreSQL, over their old versions too), slower with every batch of a large run."""


def up(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "outboxmessage_state"')  # peewee's name for it
    migrator.migrate(
        migrator.add_index("bots_outbox", ("state", "id"), False, name="bots_outbox_state_id"))
