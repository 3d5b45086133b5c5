"""Empty PostgreSQL databases of their own, for tests that load a whole dump (`psql -f`,
`pg_restore`): dumps name the schema `public`, so the `database_url` fixture's fresh schema
would not do. Like that fixture: skipped where no PostgreSQL runs, failed instead under CI."""

from __future__ import annotations

import contextlib
import uuid
from urllib.parse import urlsplit

from tests.conftest import POSTGRES_URL, postgres_admin


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "test"):
    """Yields the URL of a new, empty database on the test server; dropped afterwards (also
    while something still holds a connection to it)."""
    admin = postgres_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()
