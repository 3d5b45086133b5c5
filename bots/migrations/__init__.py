"""Schema migrations of the core tables: numbered scripts `NNNN_name.py` with up(migrator, db)."""
