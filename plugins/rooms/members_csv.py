"""Members of a room from a CSV file: columns `jid` and optionally `role` (member or owner),
`,` or `;` separated, UTF-8. Every line is checked first, the addresses against the server
too; one bad line and nothing is imported, with each problem named by line and field."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from plugins.rooms.service import RoomBook, RoomsError

COLUMNS = ("jid", "role")
ROLES = ("member", "owner")


@dataclass(frozen=True)
class MemberRow:
    line: int
    jid: str
    role: str  # member: invited (joins by consent); owner: a co-trainer, owner at once


def read_members(data: bytes, book: RoomBook) -> tuple[list[MemberRow], list[str]]:
    """The rows to import and the problems found (each "line N, field F: …")."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        return [], [(f"line {line}: not UTF-8 (byte {error.start}, perhaps Latin-1); save the "
                     "file as CSV UTF-8")]
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader, [])]
    errors = [f"line 1, field {name or '(empty)'}: unknown column; allowed: "
              f"{', '.join(COLUMNS)}" for name in header if name not in COLUMNS]
    if "jid" not in header:
        errors.append("line 1, field jid: column missing in the header")
    if errors:
        return [], errors
    rows, seen = [], set()
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            errors.append(f"line {line}: {len(values)} fields, the header has {len(header)}")
            continue
        fields = dict(zip(header, (value.strip() for value in values)))
        role = (fields.get("role") or "member").lower()
        if role not in ROLES:
            errors.append(f"line {line}, field role: {fields['role']!r} is none of "
                          f"{', '.join(ROLES)}")
            continue
        try:
            jid = book.account(fields["jid"])
        except RoomsError as error:
            errors.append(f"line {line}, field {error}")
            continue
        if jid in seen:
            errors.append(f"line {line}, field jid: {jid} is in the file twice")
            continue
        seen.add(jid)
        rows.append(MemberRow(line, jid, role))
    return rows, errors
