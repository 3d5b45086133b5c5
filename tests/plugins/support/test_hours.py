"""Business hours and holidays: open, closed, and when the desk opens next."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from plugins.support.hours import Hours, HoursError

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = Hours({"mon": "08:00-18:00", "tue": "08:00-18:00", "sat": "09:00-12:00"},
              ["2026-12-08"], "Europe/Berlin")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize("moment, is_open", [
    ("2026-11-30 08:00", True), ("2026-11-30 17:59", True), ("2026-11-30 18:00", False),
    ("2026-12-02 10:00", False),  # Wednesday: no hours
    ("2026-12-08 10:00", False),  # a Tuesday, but a holiday
])
def test_open_at(moment, is_open):
    assert HOURS.open_at(local(moment)) is is_open


def test_the_next_opening_skips_days_without_hours_and_holidays():
    assert HOURS.next_opening(local("2026-12-07 19:00")) == local("2026-12-12 09:00")
    assert HOURS.next_opening(local("2026-11-30 07:00")) == local("2026-11-30 08:00")


@pytest.mark.parametrize("hours, holidays, problem", [
    ({"monday": "08:00-18:00"}, [], "'monday' is no day"),
    ({"mon": "18:00-08:00"}, [], "mon = '18:00-08:00'"),
    ({"mon": "08:00-18:00"}, ["24.12.2026"], "'24.12.2026' is no date"),
])
def test_bad_hours_are_named(hours, holidays, problem):
    with pytest.raises(HoursError, match=problem):
        Hours(hours, holidays, "Europe/Berlin")


def test_the_plugin_refuses_bad_hours_or_staff_as_it_loads():
    from plugins.support import Support
    with pytest.raises(HoursError, match="'monday' is no day"):
        Support({**Support.default_config, "hours": {"monday": "08:00-18:00"}})
    with pytest.raises(ValueError, match="give each address the name customers see"):
        Support({**Support.default_config, "staff": {"anna@example.com": ""}})
