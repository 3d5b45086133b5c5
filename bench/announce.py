"""An announcement to 10,000 followers against a bare slixmpp send loop, in the same run.

    .venv/bin/python bench/announce.py [--subscribers 10000] [--rounds 3]
                                       [--backend sqlite|postgresql]

A private ejabberd and `--subscribers` accounts, made first through the admin API (`register`
from 8 threads, not timed). The recipients stay offline: the server keeps each message in its
offline store (ejabberd.yml allows a person 1,000; one arrives per run, and the store is
emptied before each run). So both sides are measured the same way, from the sender to the
server's acknowledgement: what the bot does, not what 10,000 connected apps would cost this
2-core machine to read. Each round, in turn:
  - bare: bench/outbox.py's bare slixmpp client (stream management on) sends one message to
    each recipient as fast as it can and waits until the server has acknowledged every one;
  - bot: `botschaft run` (outbox rate limit off) with the announce plugin, whose list `news`
    every recipient follows (subscriptions and consents written in bulk before, not timed).
    A staff client writes `announce news …` and, once the preview is there, `yes`; timed from
    the `yes` to the last acknowledgement the outbox records: fixing the recipients (their
    consents checked), one outbox row each, sending, acknowledgements. `queued_s`: until the
    answer to `yes` (all rows written).
Prints each run and the medians (range); ratio_to_bare = the bot's messages/s / the bare
loop's (medians; the issue's target, printed not asserted: >= 0.7). The last line is one JSON
object. Needs root (the private ejabberd) and, for PostgreSQL, BOTSCHAFT_TEST_POSTGRES_URL or
the machine's 127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from outbox import (BOTSCHAFT, PostgresSchema, bare_sender_command, clear_offline,  # noqa: E402
                    peak_rss_mb)  # bench/outbox.py

from bots.app import schemas  # noqa: E402
from bots.consent import Consent  # noqa: E402
from bots.devserver import DevServer  # noqa: E402
from bots.outbox import DONE, OutboxMessage  # noqa: E402
from bots.storage import Storage  # noqa: E402
from bots.testing import TestServer, new_state_dir, run_environment  # noqa: E402
from plugins.announce import Announce  # noqa: E402
from plugins.announce.models import Subscription  # noqa: E402

TEXT = "Am Montag schließen wir um 14 Uhr. Ab Dienstag sind wir wie gewohnt für Sie da."
TIMEOUT = 600  # seconds a run may take before it counts as stalled


def make_accounts(api, domain: str, count: int) -> list[str]:
    api.use_token()  # as the bot does: no password check per call
    names = [f"r{number}" for number in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: api.register(name, domain, uuid.uuid4().hex), names))
    return [f"{name}@{domain}" for name in names]


def fill(url: str, recipients: list[str]) -> Storage:
    """A fresh database in which every recipient follows `news` with consent; left open to
    watch the outbox."""
    storage = Storage(url)
    storage.migrate(schemas([Announce()]))
    with storage.db.atomic():
        for start in range(0, len(recipients), 1000):
            chunk = recipients[start:start + 1000]
            Subscription.insert_many([(jid, "news", "de") for jid in chunk],
                                     fields=[Subscription.jid, Subscription.list,
                                             Subscription.language]).execute()
            Consent.insert_many([(jid, "announce.news", "announce.news.1") for jid in chunk],
                                fields=[Consent.jid, Consent.purpose,
                                        Consent.text_version]).execute()
    return storage


def bare(instance, password: str, recipients_file: Path, count: int) -> dict:
    output = subprocess.run(bare_sender_command(instance, password, recipients_file, count),
                            capture_output=True, text=True, timeout=TIMEOUT, check=True)
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    figures["messages_per_s"] = count / figures["seconds"]
    return figures


async def bot_run(server: TestServer, staff, url: str, password: str, count: int) -> dict:
    """`botschaft run`; once its outbox is connected, staff announce and say yes."""
    instance = server.instance
    env = run_environment(instance, password, url, OUTBOX_RATE="0",
                          PEOPLE_STAFF=instance.admin_jid)
    bot = subprocess.Popen([BOTSCHAFT, "run"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    jid, api = env["BOTSCHAFT_XMPP_JID"], instance.api()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not any(resource.startswith("outbox") for resource in await asyncio.to_thread(
                api.call, "user_resources", user=jid.split("@")[0], host=instance.domain)):
            assert time.monotonic() < deadline and bot.poll() is None, "the bot did not start"
            await asyncio.sleep(0.1)
        preview = await staff.ask(jid, f"announce news {TEXT}", timeout=60)
        assert f"{count} people" in preview, preview
        started = time.perf_counter()
        staff.say(jid, "yes")
        answer = await staff.next_message(jid, timeout=TIMEOUT)
        queued = time.perf_counter() - started
        assert answer["body"] == f"Sent: {count} people get it now.", answer["body"]
        while OutboxMessage.select().where(OutboxMessage.state == DONE).count() < count:
            assert time.monotonic() < deadline and bot.poll() is None, "the sending stalled"
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "queued_s": queued, "messages_per_s": count / seconds,
                "peak_rss_mb": peak_rss_mb(bot.pid)}
    finally:
        bot.terminate()
        bot.wait(60)


async def benchmark(count: int, rounds: int, backend: str) -> dict:
    state_dir = new_state_dir()
    workdir = state_dir / "bench"
    devserver = DevServer(state_dir)
    results: dict[str, list[dict]] = {"bare": [], "bot": []}
    try:
        server = TestServer(devserver, devserver.start())
        instance = server.instance
        password = devserver.ensure_user("bot")
        api = instance.api()
        started = time.perf_counter()
        recipients = await asyncio.to_thread(make_accounts, api, instance.domain, count)
        print(f"{count:,} accounts made in {time.perf_counter() - started:.0f} s; {backend}, "
              f"{rounds} rounds", flush=True)
        workdir.mkdir()
        (workdir / "recipients").write_text("\n".join(recipients))
        staff = await server.login(instance.admin_jid, instance.admin_password)
        print(f"{'round':>5} {'run':<5} {'messages/s':>11} {'last ack s':>11} {'queued s':>9} "
              f"{'peak MB':>8}")
        for number in range(1, rounds + 1):
            for kind in ("bare", "bot") if number % 2 else ("bot", "bare"):
                clear_offline(api)
                if kind == "bare":
                    figures = await asyncio.to_thread(bare, instance, password,
                                                      workdir / "recipients", count)
                else:
                    schema = PostgresSchema() if backend == "postgresql" else None
                    url = schema.url if schema else f"sqlite:///{workdir / f'bot-{number}.db'}"
                    storage = fill(url, recipients)
                    try:
                        figures = await bot_run(server, staff, url, password, count)
                    finally:
                        storage.close()
                        if schema:
                            schema.drop()
                results[kind].append(figures)
                queued = f"{figures['queued_s']:>9.2f}" if "queued_s" in figures else f"{'':>9}"
                print(f"{number:>5} {kind:<5} {figures['messages_per_s']:>11.0f} "
                      f"{figures['seconds']:>11.2f} {queued} {figures['peak_rss_mb']:>8.1f}",
                      flush=True)
                await asyncio.sleep(1)  # the server settles (the bot's session ends)
        await staff.stop(wait=1)
    finally:
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return results


def report(results: dict[str, list[dict]], count: int, backend: str) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(figures[key] for figures in results[kind])

    print("\nmedians (range)")
    for kind, runs in results.items():
        rates = [figures["messages_per_s"] for figures in runs]
        print(f"  {kind:<5} {median(kind, 'messages_per_s'):>7.0f} messages/s "
              f"({min(rates):.0f}–{max(rates):.0f}), last ack after "
              f"{median(kind, 'seconds'):.2f} s, peak RSS {median(kind, 'peak_rss_mb'):.1f} MB")
    ratio = median("bot", "messages_per_s") / median("bare", "messages_per_s")
    print(f"  ratio_to_bare {ratio:.2f} (target >= 0.7: {'met' if ratio >= 0.7 else 'NOT met'})")
    print(json.dumps({"ratio_to_bare": round(ratio, 3),
                      "messages_per_s": round(median("bot", "messages_per_s")),
                      "bare_messages_per_s": round(median("bare", "messages_per_s")),
                      "queued_s": round(median("bot", "queued_s"), 2),
                      "peak_rss_mb": round(median("bot", "peak_rss_mb"), 1),
                      "subscribers": count, "backend": backend,
                      "rounds": len(results["bot"])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    arguments = parser.parse_args()
    results = asyncio.run(benchmark(arguments.subscribers, arguments.rounds, arguments.backend))
    report(results, arguments.subscribers, arguments.backend)


if __name__ == "__main__":
    main()
