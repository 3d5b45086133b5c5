"""When the next lesson comes, as the learner reads it: today, tomorrow or the date, at their
local time, in their language's way of writing it (day, month and a 24-hour clock in English
too, as bots.i18n.format_moment writes them)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from plugins.lessons.moments import clock_time, day_and_time

NOW = datetime(2027, 3, 27, 22, 30, tzinfo=UTC)  # Saturday 23:30 in Berlin, 18:30 in New York


@pytest.mark.parametrize("moment, timezone, language, expected", [
    (datetime(2027, 3, 27, 22, 45, tzinfo=UTC), "Europe/Berlin", "en", "today at 23:45"),
    (datetime(2027, 3, 28, 5, 30, tzinfo=UTC), "Europe/Berlin", "en", "tomorrow at 07:30"),
    (datetime(2027, 3, 28, 5, 30, tzinfo=UTC), "Europe/Berlin", "de", "morgen um 07:30"),
    (datetime(2027, 3, 27, 23, 0, tzinfo=UTC), "America/New_York", "de", "heute um 19:00"),
    (datetime(2027, 3, 29, 5, 30, tzinfo=UTC), "Europe/Berlin", "de", "am 29. März um 07:30"),
    (datetime(2027, 3, 29, 5, 30, tzinfo=UTC), "Europe/Berlin", "en", "on 29 March at 07:30"),
    (datetime(2028, 1, 3, 6, 30, tzinfo=UTC), "Europe/Berlin", "de",
     "am 3. Januar 2028 um 07:30"),
])
def test_a_moment_is_today_tomorrow_or_a_date_where_the_learner_lives(moment, timezone,
                                                                     language, expected):
    assert day_and_time(moment, NOW, language, timezone) == expected


def test_a_time_of_day_in_the_language_s_short_form():
    assert clock_time("18:00", "de") == "18:00"
    assert clock_time(time(18, 0), "en") == "18:00"
