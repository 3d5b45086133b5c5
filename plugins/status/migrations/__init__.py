"""Schema changes of the status plugin's tables, in order."""
