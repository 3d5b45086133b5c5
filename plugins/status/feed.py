"""Status from the company's own systems: JSON events (HTTP) and CSV files (CLI import).

Both are checked completely before anything is written, and every problem names where it is:
the JSON field, or the CSV line and column. A file with one bad line imports nothing.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Iterator

import peewee

from bots import audit
from bots.i18n import translator
from plugins.status.models import Item, StatusChange, utcnow
from plugins.status.service import (StatusBook, StatusError, new_code, normalise_ref,
                                    clean_note)

_ = translator(__name__)

MAX_JSON_BYTES = 64 * 1024
EVENT_FIELDS = {"event_id": True, "ref": True, "state": True, "note": False}
ITEM_FIELDS = {"ref": True, "kind": True, "code": False, "state": False, "note": False}
CSV_COLUMNS = ("ref", "state", "kind", "code", "note")
CHUNK = 500


class FeedError(ValueError):
    """Input that cannot be taken; `field` names the JSON field or CSV column."""

    def __init__(self, field: str, message: str, line: int | None = None):
        where = f"line {line}, field {field}" if line else field
        super().__init__(f"{where}: {message}")
        self.field = field
        self.line = line


def parse_json(body: bytes, fields: dict[str, bool]) -> dict[str, str]:
    """A JSON object with exactly these text fields (required ones present)."""
    if len(body) > MAX_JSON_BYTES:
        raise FeedError("body", f"larger than {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise FeedError("body", "not UTF-8") from None
    except json.JSONDecodeError as error:
        raise FeedError("body", f"not JSON ({error.msg} at line {error.lineno}, column "
                        f"{error.colno})") from None
    if not isinstance(data, dict):
        raise FeedError("body", "must be a JSON object")
    for name in data:
        if name not in fields:
            raise FeedError(name, f"unknown field; allowed: {', '.join(fields)}")
    for name, required in fields.items():
        value = data.get(name)
        if value is None:
            if required:
                raise FeedError(name, "missing")
            continue
        if not isinstance(value, str):
            raise FeedError(name, f"must be a string, not {type(value).__name__}")
        if required and not value.strip():
            raise FeedError(name, "empty")
    return {name: data[name] for name in fields if data.get(name) is not None}


# --- CSV -----------------------------------------------------------------------------------
@dataclass
class Row:
    line: int
    ref: str
    state: str
    kind: str
    code: str | None
    note: str | None
    new: bool  # the item does not exist yet: this row creates it


@dataclass
class ImportReport:
    rows: list[Row]
    errors: list[str]

    @property
    def created(self) -> int:
        return sum(1 for row in self.rows if row.new)


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, column → value) for each data row; `,` or `;` separated (as spreadsheets
    in German locales write them); the header names the columns. A row with the wrong number
    of columns, or broken quoting, comes as a FeedError in place of its values."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise FeedError("header", "the file is empty", line=1) from None
    for name in header:
        if name not in CSV_COLUMNS:
            raise FeedError(name or "(empty)", "unknown column; allowed: "
                            f"{', '.join(CSV_COLUMNS)}", line=1)
    for needed in ("ref", "state"):
        if needed not in header:
            raise FeedError(needed, "column missing in the header", line=1)
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # the rest of the file cannot be read reliably
            yield reader.line_num, FeedError("(row)", f"{error}; the file is not read further",
                                             line=reader.line_num)
            return
        if values and any(value.strip() for value in values):
            if len(values) != len(header):
                yield line + 1, FeedError("(row)", f"{len(values)} columns, the header has "
                                          f"{len(header)}", line=line + 1)
            else:
                yield line + 1, dict(zip(header, values))
        line = reader.line_num


def check_csv(text: str, book: StatusBook, progress=None) -> ImportReport:
    """Every row checked against the kinds and the items already there; nothing written."""
    rows: list[Row] = []
    errors: list[str] = []
    seen: dict[str, str] = {}  # ref → kind, for rows earlier in the file
    pending: list[tuple[int, dict[str, str]]] = []

    def check_chunk():
        refs: dict[int, str] = {}  # line → normalised reference, where it is one
        for line, values in pending:
            try:
                refs[line] = normalise_ref(values["ref"])
            except (StatusError, TypeError):
                pass  # reported by _check_row
        existing = _column_by_ref(book.db, "kind", list(refs.values()))
        for line, values in pending:
            try:
                rows.append(_check_row(line, values, refs.get(line), book, existing, seen))
            except (FeedError, StatusError) as error:
                errors.append(str(error) if isinstance(error, FeedError)
                              else f"line {line}, field {error}")
        if progress:
            progress(len(pending))
        pending.clear()

    for line, values in read_rows(text):
        pending.append((line, values))
        if len(pending) >= CHUNK:
            check_chunk()
    check_chunk()
    return ImportReport(rows, errors)


def _check_row(line: int, values: dict[str, str], ref: str | None, book: StatusBook,
               existing: dict[str, str], seen: dict[str, str]) -> Row:
    if isinstance(values, FeedError):
        raise values
    if ref is None:
        normalise_ref(values["ref"])  # raises, naming what is wrong
    known_kind = existing.get(ref) or seen.get(ref)
    given_kind = values.get("kind", "").strip().lower()
    if known_kind and given_kind and given_kind != known_kind:
        raise FeedError("kind", f"{ref} is of kind {known_kind}, not {given_kind}",
                        line=line)
    if not known_kind and not given_kind:
        raise FeedError("kind", f"{ref} is new: give its kind ({', '.join(book.kinds)})",
                        line=line)
    kind = book.kind(known_kind or given_kind)
    state = book.check_state(kind, values.get("state", ""))
    code = values.get("code", "").strip() or None
    if code:
        code = book.check_code(code)
    note = clean_note(values.get("note"))
    new = ref not in existing and ref not in seen
    seen[ref] = kind.name
    return Row(line, ref, state, kind.name, code, note, new)


def apply_rows(rows: list[Row], book: StatusBook, progress=None,
               by: audit.Actor | None = None) -> dict[str, str]:
    """Write checked rows in one transaction (a crash leaves everything as it was): new items
    in bulk, changes of existing ones with their pushes. Returns generated codes (ref → code).
    A new reference someone created since the check is named; then nothing is written. `by`:
    who imports, for the audit log (one entry for the import, one per change)."""
    generated: dict[str, str] = {}
    try:
        with book.db.atomic():
            audit.record(by or audit.system("import"), "status.import", None, rows=len(rows),
                         created=sum(1 for row in rows if row.new))
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start:start + CHUNK]
                _create_items([row for row in chunk if row.new], book, generated)
                for row in chunk:
                    if not row.new:
                        book.set_state(row.ref, row.state, row.note, source="import", by=by)
                if progress:
                    progress(len(chunk))
    except peewee.IntegrityError:
        taken = _column_by_ref(book.db, "ref", [row.ref for row in rows if row.new])
        if not taken:
            raise
        raise StatusError("ref", _("created by someone else during the import: {refs}; "
                                   "nothing was imported, so run the import again"),
                          refs=", ".join(sorted(taken)[:20])) from None
    return generated


def _create_items(rows: list[Row], book: StatusBook, generated: dict[str, str]) -> None:
    """Insert new items and their first history rows with executemany: peewee's insert_many
    spends most of a large import building SQL text in Python."""
    if not rows:
        return
    now = utcnow()
    items = []
    for row in rows:
        code = row.code
        if code is None:
            code = generated[row.ref] = new_code()
        items.append((row.ref, row.kind, row.state, code, book.kinds[row.kind].is_final(row.state),
                      now, now))
    _execute_many(book.db, Item, ("ref", "kind", "state", "code", "closed", "created_at",
                                  "updated_at"), items)
    ids = _column_by_ref(book.db, "id", [row.ref for row in rows])
    _execute_many(book.db, StatusChange, ("item_id", "state", "note", "source", "changed_at"),
                  [(ids[row.ref], row.state, row.note, "import", now) for row in rows])


def _column_by_ref(db, column: str, refs: list[str]) -> dict:
    """ref → one column of the items with these references (one query; plain SQL for speed)."""
    if not refs:
        return {}
    marks = ", ".join([db.param] * len(refs))
    cursor = db.execute_sql(f'SELECT "ref", "{column}" FROM "{Item._meta.table_name}" '
                            f'WHERE "ref" IN ({marks})', refs)
    return dict(cursor.fetchall())


def _execute_many(db, model, columns: tuple[str, ...], values: list[tuple]) -> None:
    table = f'"{model._meta.table_name}"'  # SQLite and PostgreSQL quote names alike
    names = ", ".join(f'"{column}"' for column in columns)
    marks = ", ".join([db.param] * len(columns))
    with peewee.__exception_wrapper__:  # the driver's errors as peewee's, as execute_sql has them
        db.cursor().executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)
