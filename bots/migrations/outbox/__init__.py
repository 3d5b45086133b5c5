"""Schema changes of the outbox table (bots_outbox), in order."""
