"""Schema changes of the scheduler's table (bots_schedule), in order."""
