"""Status lookups at 10,000 and 1,000,000 items, on SQLite and PostgreSQL, in the same run.

    .venv/bin/python bench/status.py [--quick] [--asks 300] [--lookups 3000]

For each database and size: a CSV of N items is imported (rows/s, the same code as
`botschaft status import`); a customer who claimed 200 of them asks `status REF` through a
private ejabberd (end-to-end p50/p99, sequential; from the admin account, which the server's
per-person shaper leaves alone); the database lookup alone (`visible`: the
item by reference plus the claim check) is timed on the same references. The lookup must not
grow with the table: `lookup_growth_*` is p50 at the large size / p50 at 10,000. `--quick`
uses 100,000 instead of 1,000,000. The last line is one JSON object. Needs root (the private
ejabberd) and, for PostgreSQL, BOTSCHAFT_TEST_POSTGRES_URL or the machine's 127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bots.app import create_bot, schemas
from bots.devserver import DevServer
from bots.storage import Storage
from bots.testing import TestServer, bot_config, new_state_dir, services_over
from plugins.status import Status
from plugins.status.feed import apply_rows, check_csv

POSTGRES_URL = os.environ.get("BOTSCHAFT_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
CLAIMED = 200
SMALL = 10_000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def csv_of(count: int) -> str:
    lines = ["ref,kind,state,code"]
    states = ("received", "in_progress", "waiting_for_parts", "cleaning", "ready")
    for number in range(count):
        lines.append(f"R{number:07d},vehicle,{states[number % len(states)]},C{number:07d}")
    return "\n".join(lines) + "\n"


class Database:
    """A fresh database: a SQLite file, or a schema of its own on PostgreSQL."""

    def __init__(self, backend: str, workdir: Path):
        self.backend = backend
        self.schema = None
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir / f'status-{uuid.uuid4().hex[:8]}.db'}"
        else:
            import psycopg
            self.admin = psycopg.connect(POSTGRES_URL, autocommit=True)
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            self.admin.execute(f"CREATE SCHEMA {self.schema}")
            self.url = f"{POSTGRES_URL}?options=-csearch_path%3D{self.schema}"

    def drop(self) -> None:
        if self.schema:
            self.admin.execute(f"DROP SCHEMA {self.schema} CASCADE")
            self.admin.close()


def fill(url: str, count: int, customer: str) -> tuple[float, list[str]]:
    """Import `count` items; the customer claims CLAIMED of them. (rows/s, claimed refs)"""
    plugin = Status()
    storage = Storage(url)
    try:
        storage.migrate(schemas([plugin]))
        book = plugin.make_book(services_over(storage, [plugin], BOT_LANGUAGE="en"))
        text = csv_of(count)
        started = time.perf_counter()
        report = check_csv(text, book)
        assert not report.errors, report.errors[:3]
        apply_rows(report.rows, book)
        rate = count / (time.perf_counter() - started)
        if storage.backend == "postgresql":
            storage.db.execute_sql("ANALYZE")
        refs = [f"R{number:07d}" for number in random.Random(7).sample(range(count), CLAIMED)]
        book.limits = type(book.limits)(per_person=10**9, everybody=10**9)
        for ref in refs:
            book.claim(customer, ref, "C" + ref[1:], "en")
        return rate, refs
    finally:
        storage.close()


async def measure(server: TestServer, url: str, customer, refs: list[str], asks: int,
                  lookups: int) -> dict:
    plugin = Status()
    bot = await create_bot(bot_config(server, DATABASE_URL=url, WEB_LISTEN=""), [plugin])
    await bot.start()
    try:
        jid = bot.boundjid.bare
        for ref in refs[:20]:  # warm both sides up
            await customer.ask(jid, f"status {ref}")
        answers = []
        for number in range(asks):
            ref = refs[number % len(refs)]
            started = time.perf_counter()
            answer = await customer.ask(jid, f"status {ref}")
            answers.append(time.perf_counter() - started)
            assert ref in answer, answer

        def lookup_times() -> list[float]:
            times = []
            for number in range(lookups):
                ref = refs[number % len(refs)]
                started = time.perf_counter()
                item = plugin.book.visible(customer.boundjid.bare, ref, staff=False)
                times.append(time.perf_counter() - started)
                assert item is not None
            return times
        looked_up = await bot.storage.run(lookup_times)
    finally:
        await bot.stop()
        bot.storage.close()
    return {"answer_p50_ms": statistics.median(answers) * 1000,
            "answer_p99_ms": percentile(answers, 0.99) * 1000,
            "lookup_p50_ms": statistics.median(looked_up) * 1000,
            "lookup_p99_ms": percentile(looked_up, 0.99) * 1000}


async def benchmark(sizes: list[int], asks: int, lookups: int) -> dict:
    state_dir = new_state_dir()
    workdir = Path(tempfile.mkdtemp(prefix="botschaft-bench-status-"))
    devserver = DevServer(state_dir)
    results: dict[tuple[str, int], dict] = {}
    try:
        server = TestServer(devserver, devserver.start())
        # The server's admin account asks: ordinary accounts pass ejabberd's per-person shaper
        # (3 kB/s in ejabberd.yml), which alone adds ~50 ms per question and would hide the
        # bot's own time.
        instance = server.instance
        customer = await server.login(instance.admin_jid, instance.admin_password)
        print(f"{'database':<11} {'items':>9} {'import rows/s':>14} {'answer p50/p99 ms':>18} "
              f"{'lookup p50/p99 ms':>18}")
        for backend in ("sqlite", "postgresql"):
            for size in sizes:
                database = Database(backend, workdir)
                try:
                    rate, refs = fill(database.url, size, customer.boundjid.bare)
                    figures = await measure(server, database.url, customer, refs, asks, lookups)
                finally:
                    database.drop()
                figures["import_rows_per_s"] = rate
                results[(backend, size)] = figures
                print(f"{backend:<11} {size:>9,} {rate:>14,.0f} "
                      f"{figures['answer_p50_ms']:>8.2f} / {figures['answer_p99_ms']:<7.2f} "
                      f"{figures['lookup_p50_ms']:>8.3f} / {figures['lookup_p99_ms']:<7.3f}",
                      flush=True)
        await customer.stop(wait=1)
    finally:
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return summary(results, sizes)


def summary(results: dict, sizes: list[int]) -> dict:
    small, large = sizes[0], sizes[-1]
    report = {}
    for backend in ("sqlite", "postgresql"):
        report[f"lookup_growth_{backend}"] = round(
            results[(backend, large)]["lookup_p50_ms"] / results[(backend, small)]["lookup_p50_ms"],
            3)
        for size in sizes:
            for key, value in results[(backend, size)].items():
                report[f"{backend}_{size}_{key}"] = round(value, 3)
    every = list(results.values())
    report["answer_p50_ms"] = round(statistics.median(f["answer_p50_ms"] for f in every), 3)
    report["import_rows_per_s"] = round(statistics.median(f["import_rows_per_s"]
                                                          for f in every))
    report["sizes"] = sizes
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 instead of 1,000,000")
    parser.add_argument("--asks", type=int, default=300, help="status questions per run")
    parser.add_argument("--lookups", type=int, default=3000, help="database lookups per run")
    arguments = parser.parse_args()
    sizes = [SMALL, 100_000 if arguments.quick else 1_000_000]
    report = asyncio.run(benchmark(sizes, arguments.asks, arguments.lookups))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
