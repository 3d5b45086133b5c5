"""Daily lessons all due in the same minute, against a bare slixmpp send loop, in the same run.

    .venv/bin/python bench/lessons.py [--quick] [--recipients 1000]

10,000 subscriptions (on SQLite and PostgreSQL) and 100,000 (PostgreSQL) are all due at once;
`botschaft run` delivers them: the scheduler takes the due rows, records each lesson and puts
it into the outbox, the outbox sends it and waits for the server's acknowledgement. Measured
from the first lesson recorded to the last acknowledgement recorded: messages/s, seconds, and
the bot's peak RSS. Baseline: the bare slixmpp loop of bench/outbox.py sending the same number
of stanzas and waiting for every ack, run just before each case (the server's speed swings a
lot on these machines: the 10,000 cases repeat `--rounds` times, medians are reported; each
ratio is the bot against its own baseline). `--quick` runs the 10,000 cases alone, `--large`
adds 300,000 (PostgreSQL). The last line is one JSON object (ratio_to_bare, messages_per_s,
peak_rss_mb for the 10,000 case on PostgreSQL, ratio_to_bare_100000 (and _300000), then the
rest). Needs root (the private ejabberd) and PostgreSQL as for the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from outbox import (PostgresSchema, bare_sender_command, clear_offline,  # noqa: E402
                    timed_bot_run)  # bench/outbox.py

from bots.app import schemas  # noqa: E402
from bots.devserver import DevServer  # noqa: E402
from bots.scheduler import Schedule  # noqa: E402
from bots.storage import Storage  # noqa: E402
from bots.testing import new_state_dir, run_environment, services_over  # noqa: E402
from plugins.lessons import Lessons  # noqa: E402
from plugins.lessons.classroom import JOB  # noqa: E402
from plugins.lessons.course import load_courses  # noqa: E402
from plugins.lessons.models import Course, Delivery, Subscription  # noqa: E402

COURSE = """id: {slug}
title: Kurs {number}
language: de
lessons:
  - id: eins
    title: Begrüßen
    text: „Guten Morgen“ sagt man bis etwa 11 Uhr, danach „Guten Tag“.
    quiz:
      question: Was sagen Sie um 8 Uhr?
      choices: ["Guten Morgen", "Gute Nacht", "Tschüss"]
      answer: Guten Morgen
"""


def write_courses(folder: Path, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for number in range(count):
        (folder / f"k{number}.yaml").write_text(COURSE.format(slug=f"k{number}", number=number),
                                                encoding="utf-8")


def fill(url: str, folder: Path, recipients: list[str], count: int) -> None:
    """Courses imported, `count` subscriptions (recipients × courses), all due a minute ago.
    Bulk inserts: this is the set-up, not what is measured."""
    storage = Storage(url)
    plugin = Lessons()
    storage.migrate(schemas([plugin]))
    classroom = plugin.make_classroom(services_over(storage, [plugin]))
    for course in load_courses(folder):
        classroom.import_course(course)
    courses = [course.id for course in Course.select(Course.id).order_by(Course.id)]
    pairs = [(recipient, course) for course in courses for recipient in recipients][:count]
    due = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    with storage.db.atomic():
        for start in range(0, len(pairs), 1000):
            chunk = pairs[start:start + 1000]
            Subscription.insert_many(
                [(jid, course, "active", "07:30", "Europe/Berlin", "de") for jid, course in chunk],
                fields=[Subscription.jid, Subscription.course, Subscription.state,
                        Subscription.time, Subscription.timezone, Subscription.language]).execute()
        ids = [s.id for s in Subscription.select(Subscription.id)]
        for start in range(0, len(ids), 1000):
            Schedule.insert_many(
                [(JOB, f"subscription:{number}", due, "07:30", "Europe/Berlin")
                 for number in ids[start:start + 1000]],
                fields=[Schedule.job, Schedule.key, Schedule.next_due_at, Schedule.daily_at,
                        Schedule.timezone]).execute()
    storage.close()


def run_lessons(url: str, folder: Path, instance, password: str, count: int) -> dict:
    env = run_environment(instance, password, url, OUTBOX_RATE="0",
                          PLUGINS_LESSONS_COURSES=str(folder))
    storage = Storage(url)
    try:
        figures = timed_bot_run(env, lambda: Delivery.select().exists(), count)
    finally:
        storage.close()
    figures["messages_per_s"] = count / figures["seconds"]
    return figures


def bare(instance, password: str, recipients_file: Path, count: int) -> dict:
    output = subprocess.run(bare_sender_command(instance, password, recipients_file, count),
                            capture_output=True, text=True, timeout=1800, check=True)
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    figures["messages_per_s"] = count / figures["seconds"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the 10,000 case alone")
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="repetitions of the 10,000 cases (medians are reported; 0: the "
                        "large cases alone)")
    parser.add_argument("--large", action="store_true", help="a 300,000 case too (PostgreSQL)")
    arguments = parser.parse_args()
    cases = [("sqlite", 10_000), ("postgresql", 10_000)] * arguments.rounds
    if not arguments.quick:
        cases.append(("postgresql", 100_000))
    if arguments.large:
        cases.append(("postgresql", 300_000))

    state_dir = new_state_dir()
    workdir = state_dir / "bench"
    server = DevServer(state_dir)
    results: dict[str, list[dict]] = {}
    try:
        instance = server.start()
        password = server.ensure_user("bot")
        api = instance.api()
        recipients = []
        for number in range(arguments.recipients):
            api.call("register", user=f"r{number}", host=instance.domain,
                     password=uuid.uuid4().hex)
            recipients.append(f"r{number}@{instance.domain}")
        workdir.mkdir()
        (workdir / "recipients").write_text("\n".join(recipients))
        folder = workdir / "courses"
        write_courses(folder, -(-max(count for _, count in cases) // len(recipients)))
        print(f"{'run':<24} {'messages/s':>11} {'last ack s':>11} {'peak MB':>8}")
        for backend, count in cases:
            clear_offline(api)
            baseline = bare(instance, password, workdir / "recipients", count)
            clear_offline(api)
            if backend == "sqlite":
                url = f"sqlite:///{workdir / f'lessons-{count}-{uuid.uuid4().hex[:8]}.db'}"
                schema = None
            else:
                schema = PostgresSchema()
                url = schema.url
            try:
                fill(url, folder, recipients, count)
                figures = run_lessons(url, folder, instance, password, count)
            finally:
                if schema:
                    schema.drop()
            figures["ratio_to_bare"] = figures["messages_per_s"] / baseline["messages_per_s"]
            figures["bare_messages_per_s"] = baseline["messages_per_s"]
            results.setdefault(f"{backend}_{count}", []).append(figures)
            for label, shown in ((f"bare loop {count:,}", baseline),
                                 (f"{backend} {count:,}", figures)):
                print(f"{label:<24} {shown['messages_per_s']:>11.0f} {shown['seconds']:>11.2f} "
                      f"{shown['peak_rss_mb']:>8.1f}", flush=True)
            time.sleep(1)
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    medians = {name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
               for name, runs in results.items()}
    headline = medians.get("postgresql_10000") or medians[f"postgresql_{cases[-1][1]}"]
    summary = {"ratio_to_bare": round(headline["ratio_to_bare"], 3),
               "messages_per_s": round(headline["messages_per_s"]),
               "peak_rss_mb": round(headline["peak_rss_mb"], 1)}
    for name, figures in medians.items():
        summary.update({f"{name}_{key}": round(value, 3) for key, value in figures.items()})
        summary[f"{name}_runs"] = len(results[name])
    for count in (100_000, 300_000):  # the curve: flat when these stay near the 10,000 ratio
        if f"postgresql_{count}" in medians:
            summary[f"ratio_to_bare_{count}"] = round(
                medians[f"postgresql_{count}"]["ratio_to_bare"], 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
