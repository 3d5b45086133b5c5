"""`botschaft privacy inventory`: every table and column holding personal data, the core's,
each loaded plugin's and those of ejabberd's database that have a retention period, from their
declarations (bots/personal_data.py), with how long it is kept. Its Markdown is the generated
part of docs/data-protection.md, so the page cannot fall behind the code.
"""

from __future__ import annotations

from bots.personal_data import SERVER_KINDS, PersonalData, ServerData, declared, table
from bots.plugin import Plugin

KEPT_WHILE_NEEDED = "while needed (until the person is erased)"
SERVER_PART = "ejabberd"  # the part of what ejabberd keeps in its own database
HEADINGS = ("Kind", "Part", "Table", "Columns", "Whose (column)", "Kept", "Default",
            "Counted from", "What and why")


def inventory(plugins: list[Plugin], days: dict[str, int | None]) -> list[dict]:
    """One entry per kind, the bot's then ejabberd's; `days` as bots.retention.periods gives
    them (the configured)."""
    return [{"kind": kind.kind, "part": owner, "table": table(kind.model),
             "columns": kind.personal_columns(), "person": _whose(kind),
             "retention_days": days[kind.kind], "default_retention_days": kind.retention_days,
             "counted_from": _counted_from(kind), "description": kind.description}
            for owner, kind in declared(plugins)] + [_on_the_server(kind, days)
                                                     for kind in SERVER_KINDS]


def _on_the_server(kind: ServerData, days: dict[str, int | None]) -> dict:
    return {"kind": kind.kind, "part": SERVER_PART, "table": kind.table,
            "columns": list(kind.columns), "person": kind.person,
            "retention_days": days[kind.kind], "default_retention_days": kind.retention_days,
            "counted_from": kind.counted_from, "description": kind.description}


def markdown(entries: list[dict]) -> str:
    """A Markdown table of `inventory`'s entries."""
    lines = ["| " + " | ".join(HEADINGS) + " |", "|" + "---|" * len(HEADINGS)]
    for entry in entries:
        cells = (f"`{entry['kind']}`", entry["part"], f"`{entry['table']}`",
                 ", ".join(entry["columns"]), entry["person"],
                 kept(entry["retention_days"]), kept(entry["default_retention_days"]),
                 entry["counted_from"] or "-", entry["description"])
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _whose(kind: PersonalData) -> str:
    """The person column, how it holds the JID, and the foreign keys that lead to it."""
    column = f"{table(kind.person.model)}.{kind.person.column_name}"
    if kind.person_prefix:
        column += f' ("{kind.person_prefix}" and the JID)'
    try:
        path = kind.path()
    except ValueError:
        return column + " (linked by the plugin's own code)"
    if not path:
        return column
    return column + " (through " + ", ".join(f"{table(key.model)}.{key.column_name}"
                                             for key in path) + ")"


def _counted_from(kind: PersonalData) -> str | None:
    if kind.since is not None:
        return kind.since.column_name
    return "a rule of its own (see what and why)" if kind.expired is not None else None


def kept(days: int | None) -> str:
    """A retention period in words."""
    if days is None:
        return KEPT_WHILE_NEEDED
    if days == 0:
        return "until the next daily purge"
    return "1 day" if days == 1 else f"{days} days"
