"""Business hours and holidays, as the company configures them in botschaft.toml:

    [plugins.support]
    hours = { mon = "08:00-18:00", tue = "08:00-18:00", sat = "09:00-12:00" }  # others: closed
    holidays = ["2026-12-24", "2026-12-25"]
    timezone = "Europe/Berlin"   # default: [bot] timezone

Outside them nobody answers, whoever is online: a customer who asks for a person is told
when the desk opens, and their conversation waits until then.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from bots.scheduler import zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
WEEKDAYS = "08:00-18:00"
EXAMPLE_HOURS = {day: WEEKDAYS for day in DAYS[:5]}


class HoursError(ValueError):
    """Hours or holidays are configured wrongly; the message names the key."""


class Hours:
    def __init__(self, hours: dict, holidays: list, timezone: str):
        self.zone = zone(timezone)
        self.spans = {day: _span(day, value) for day, value in _checked(hours).items()}
        self.holidays = {_day(value) for value in holidays}

    def open_at(self, moment: datetime) -> bool:
        """Whether the desk is open at `moment` (aware)."""
        local = moment.astimezone(self.zone)
        span = self.spans.get(DAYS[local.weekday()])
        if span is None or local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return span[0] <= minute < span[1]

    def next_opening(self, moment: datetime) -> datetime | None:
        """When the desk opens next after `moment` (aware, local time); None: never (no hours
        configured). `moment` itself when it is open."""
        if self.open_at(moment):
            return moment.astimezone(self.zone)
        local = moment.astimezone(self.zone)
        for offset in range(0, 370):
            day = local.date() + timedelta(days=offset)
            span = self.spans.get(DAYS[day.weekday()])
            if span is None or day in self.holidays:
                continue
            opening = datetime.combine(day, time(span[0] // 60, span[0] % 60), self.zone)
            if opening > local:
                return opening
        return None


def now() -> datetime:
    return datetime.now(UTC)


def _checked(hours) -> dict:
    if not isinstance(hours, dict):
        raise HoursError("[plugins.support] hours must be a table such as "
                         "{ mon = \"08:00-18:00\", fri = \"08:00-14:00\" }")
    unknown = sorted(set(hours) - set(DAYS))
    if unknown:
        raise HoursError(f"[plugins.support] hours: {unknown[0]!r} is no day; write "
                         f"{', '.join(DAYS)}")
    return hours


def _span(day: str, value) -> tuple[int, int]:
    match = SPAN.match(value.strip()) if isinstance(value, str) else None
    if match:
        start_hour, start_minute, end_hour, end_minute = map(int, match.groups())
        start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
        if start_minute < 60 and end_minute < 60 and 0 <= start < end <= 24 * 60:
            return start, end
    raise HoursError(f"[plugins.support] hours: {day} = {value!r}; write the time from and to "
                     "as \"08:00-18:00\" (to at most 24:00)")


def _day(value) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise HoursError(f"[plugins.support] holidays: {value!r} is no date; write it as "
                         "\"2026-12-24\"") from None
