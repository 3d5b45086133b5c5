"""Times and days as a learner reads them, in their language: "tomorrow at 07:30", "on 28 March
at 07:30", "am 28. März um 07:30" (day, month and a 24-hour clock, as `format_moment` writes
them). A bare time ("at 10:37") would leave them guessing which day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from babel.dates import format_skeleton, format_time

from bots.i18n import TIME_LOCALES, render, translator
from bots.scheduler import zone

_ = translator(__name__)


def clock_time(at: time | str, language: str) -> str:
    """A time of day ("07:30" as stored) in the language's short form."""
    at = time.fromisoformat(at) if isinstance(at, str) else at
    return format_time(at, "short", locale=TIME_LOCALES.get(language, language))


def day_and_time(moment: datetime, now: datetime, language: str, timezone: str) -> str:
    """When `moment` (aware) is, seen from `now` in `timezone`: today, tomorrow, or the date
    (with the year when it is another year's)."""
    local_zone, locale = zone(timezone), TIME_LOCALES.get(language, language)
    local, today = moment.astimezone(local_zone), now.astimezone(local_zone).date()
    at = format_time(local, "short", tzinfo=local_zone, locale=locale)
    if local.date() == today:
        return render(_("today at {time}"), language, time=at)
    if local.date() == today + timedelta(days=1):
        return render(_("tomorrow at {time}"), language, time=at)
    skeleton = "MMMMd" if local.year == today.year else "yMMMMd"
    return render(_("on {date} at {time}"), language, time=at,
                  date=format_skeleton(skeleton, local, tzinfo=local_zone, locale=locale))
