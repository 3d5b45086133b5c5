"""The desk's figures per day (UTC): conversations handed to people, how long customers
waited (p50, p90), questions answered by the bot and by people, and the ratings. Counts and
times only: no texts, no addresses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from plugins.support.models import BotAnswer, Case, utcnow


@dataclass
class Day:
    day: date
    conversations: int = 0  # handed to people (the queue)
    by_bot: int = 0  # questions answered from the knowledge file
    by_people: int = 0  # conversations a staff member took
    waits: list[float] = field(default_factory=list)  # minutes until taken
    ratings: list[int] = field(default_factory=list)

    @property
    def wait_p50(self) -> float | None:
        return percentile(self.waits, 50)

    @property
    def wait_p90(self) -> float | None:
        return percentile(self.waits, 90)

    @property
    def satisfaction(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


def percentile(values: list[float], share: int) -> float | None:
    """Nearest rank: the value `share` % of the values are at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


def count_bot_answer() -> None:
    """One more question the bot answered today."""
    BotAnswer.insert(day=utcnow().date(), count=1).on_conflict(
        conflict_target=[BotAnswer.day], update={BotAnswer.count: BotAnswer.count + 1}).execute()


def daily(days: int) -> list[Day]:
    """The last `days` days, oldest first (today included)."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    figures = {first + timedelta(days=offset): Day(first + timedelta(days=offset))
               for offset in range(days)}
    for queued_at, taken_at, rating in Case.select(Case.queued_at, Case.taken_at, Case.rating) \
            .where(Case.queued_at >= first).tuples():
        day = figures[queued_at.date()]
        day.conversations += 1
        if taken_at is not None:
            day.by_people += 1
            day.waits.append((taken_at - queued_at).total_seconds() / 60)
        if rating is not None:
            day.ratings.append(rating)
    for day, count in BotAnswer.select(BotAnswer.day, BotAnswer.count).where(
            BotAnswer.day >= first).tuples():
        figures[day].by_bot = count
    return list(figures.values())


def table(days: list[Day]) -> str:
    lines = [f"{'day':<10}  {'conversations':>13}  {'wait p50':>8}  {'wait p90':>8}  "
             f"{'by bot':>6}  {'by people':>9}  {'rating':>6}"]
    for day in days:
        lines.append(f"{day.day:%Y-%m-%d}  {day.conversations:>13}  {_minutes(day.wait_p50):>8}"
                     f"  {_minutes(day.wait_p90):>8}  {day.by_bot:>6}  {day.by_people:>9}  "
                     f"{_rating(day):>6}")
    lines.append("(waits in minutes until a person took the conversation; rating: average of "
                 "1–5, with how many answered)")
    return "\n".join(lines)


def chart(days: list[Day], path) -> None:
    """A PNG: answered by the bot and by people per day (bars), waiting time p50/p90 (lines).
    matplotlib is imported only here, for the one command that draws."""
    import matplotlib
    matplotlib.use("Agg")  # no screen needed
    from matplotlib import pyplot

    labels = [f"{day.day:%m-%d}" for day in days]
    positions = range(len(days))
    figure, counts = pyplot.subplots(figsize=(max(6, len(days) * 0.5), 4))
    counts.bar([p - 0.2 for p in positions], [day.by_bot for day in days], width=0.4,
               color="#4a7ab0", label="answered by the bot")
    counts.bar([p + 0.2 for p in positions], [day.by_people for day in days], width=0.4,
               color="#e0a030", label="answered by people")
    counts.set_xticks(list(positions), labels, rotation=45)
    counts.set_ylabel("conversations")
    waits = counts.twinx()
    waits.plot(positions, [day.wait_p50 for day in days], "k-", marker="o", label="wait p50")
    waits.plot(positions, [day.wait_p90 for day in days], "k--", marker=".", label="wait p90")
    waits.set_ylabel("minutes waited")
    figure.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")
    pyplot.close(figure)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rating(day: Day) -> str:
    return "-" if day.satisfaction is None else f"{day.satisfaction:.1f} ({len(day.ratings)})"
