"""The outbox against a bare slixmpp send loop, through a real ejabberd, in the same run.

    .venv/bin/python bench/outbox.py [--rounds 5] [--messages 10000] [--recipients 1000]

Baseline: a bare slixmpp client (stream management on) sends the messages as fast as it can
and waits until the server has acknowledged every one. Botschaft: the same messages as outbox
rows, on SQLite and on PostgreSQL, drained by `botschaft run` (rate limit off), from the first
row taken to the last acknowledgement recorded. Each runs as its own process; rounds are
interleaved. Prints messages/s, time to the last ack and peak RSS per run, the medians, and last
one JSON line with ratio_sqlite and ratio_postgresql (outbox messages/s / baseline messages/s).
Needs root (the private ejabberd) and, for PostgreSQL, BOTSCHAFT_TEST_POSTGRES_URL or the
machine's 127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import slixmpp

# The baseline process runs this file too and imports only slixmpp; Botschaft comes late.
HERE = Path(__file__).resolve()
BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")
POSTGRES_URL = os.environ.get("BOTSCHAFT_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


def peak_rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bare_sender(jid: str, password: str, port: int, ca_file: str, recipients: list[str],
                count: int) -> None:
    """The baseline: send `count` messages, wait for every ack, print the figures."""
    async def main():
        client = slixmpp.ClientXMPP(jid, password)
        client.ca_certs = Path(ca_file)
        client.register_plugin("xep_0198")
        online, all_acked = asyncio.Event(), asyncio.Event()
        acked = 0

        def on_ack(stanza):
            nonlocal acked
            if stanza.name == "message":
                acked += 1
                if acked == count:
                    all_acked.set()
        client.add_event_handler("session_start", lambda _e: online.set())
        client.add_event_handler("stanza_acked", on_ack)
        client.connect("127.0.0.1", port)
        await online.wait()
        started = time.perf_counter()
        for number in range(count):
            client.send_message(mto=recipients[number % len(recipients)],
                                mbody=f"Message {number}", mtype="chat")
        while not all_acked.is_set():
            client.send("<r xmlns='urn:xmpp:sm:3'/>")  # behind what is queued
            try:
                await asyncio.wait_for(all_acked.wait(), 0.5)
            except TimeoutError:
                pass
        elapsed = time.perf_counter() - started
        print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_rss_mb()}), flush=True)
        await client.disconnect()
    asyncio.run(main())


def bare_sender_command(instance, password: str, recipients_file: Path, count: int) -> list:
    """The command line that runs `bare_sender` as its own process (a password may start
    with '-', so the account travels as one JSON argument)."""
    account = {"jid": f"bot@{instance.domain}", "password": password,
               "port": instance.c2s_port, "ca_file": str(instance.ca_file),
               "recipients_file": str(recipients_file)}
    return [sys.executable, str(HERE), "--messages", str(count),
            f"--bare-sender={json.dumps(account)}"]


def clear_offline(api) -> None:
    """Empty the server's offline storage: every run's messages wait there for the (offline)
    recipients, and a fuller store makes each later run slower. Runs start equal."""
    api.call("delete_old_messages", days=0)


class PostgresSchema:
    """A fresh schema on the machine's PostgreSQL, dropped afterwards."""

    def __init__(self):
        import psycopg
        self.admin = psycopg.connect(POSTGRES_URL, autocommit=True)
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin.execute(f"CREATE SCHEMA {self.name}")
        self.url = f"{POSTGRES_URL}?options=-csearch_path%3D{self.name}"

    def drop(self):
        self.admin.execute(f"DROP SCHEMA {self.name} CASCADE")
        self.admin.close()


def run_outbox(url: str, instance, password: str, recipients: list[str], count: int) -> dict:
    from bots.outbox import PENDING, SCHEMA, OutboxMessage, enqueue
    from bots.storage import Storage

    storage = Storage(url)
    storage.migrate([SCHEMA])
    with storage.db.atomic():
        for number in range(count):
            enqueue(f"bench:{number}", recipients[number % len(recipients)], f"Message {number}")
    from bots.testing import run_environment

    env = run_environment(instance, password, url, OUTBOX_RATE="0")
    try:
        return timed_bot_run(env, lambda: OutboxMessage.select().where(
            OutboxMessage.state != PENDING).exists(), count)
    finally:
        storage.close()


def timed_bot_run(env: dict, started, count: int, timeout: float = 1800) -> dict:
    """Run `botschaft run` with `env` (its database already open here): seconds from the first
    moment `started()` holds until `count` outbox rows are done, and the bot's peak RSS."""
    from bots.outbox import DONE, OutboxMessage

    bot = subprocess.Popen([BOTSCHAFT, "run"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not started():
            assert time.monotonic() < deadline and bot.poll() is None, "the bot did not start"
            time.sleep(0.005)
        begun = time.perf_counter()
        while (done := OutboxMessage.select().where(OutboxMessage.state == DONE).count()) < count:
            assert time.monotonic() < deadline and bot.poll() is None, "the sending stalled"
            # counting is work for the database too: seldom while much is left, often at the end
            time.sleep(min(0.5, max(0.02, (count - done) / 20_000)))
        elapsed = time.perf_counter() - begun
        return {"seconds": elapsed, "peak_rss_mb": peak_rss_mb(bot.pid)}
    finally:
        bot.terminate()
        bot.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=1_000)
    parser.add_argument("--bare-sender", help=argparse.SUPPRESS)  # JSON: see bare_sender_command
    arguments = parser.parse_args()
    if arguments.bare_sender:
        account = json.loads(arguments.bare_sender)
        recipients = Path(account.pop("recipients_file")).read_text().split()
        bare_sender(**account, recipients=recipients, count=arguments.messages)
        return
    benchmark(arguments.rounds, arguments.messages, arguments.recipients)


def benchmark(rounds: int, count: int, recipient_count: int) -> None:
    from bots.devserver import DevServer
    from bots.testing import new_state_dir

    state_dir = new_state_dir()
    server = DevServer(state_dir)
    workdir = state_dir / "bench"
    workdir.mkdir()
    results: dict[str, list[dict]] = {"baseline": [], "sqlite": [], "postgresql": []}
    try:
        instance = server.start()
        password = server.ensure_user("bot")
        api = instance.api()
        recipients = []
        for number in range(recipient_count):
            user = f"r{number}"
            api.call("register", user=user, host=instance.domain, password=uuid.uuid4().hex)
            recipients.append(f"{user}@{instance.domain}")
        (workdir / "recipients").write_text("\n".join(recipients))
        print(f"{count} messages to {recipient_count} recipients, {rounds} rounds", flush=True)
        print(f"{'round':>5} {'run':<11} {'msg/s':>8} {'last ack s':>11} {'peak MB':>8}")
        for number in range(1, rounds + 1):
            for kind in results:
                clear_offline(api)
                if kind == "baseline":
                    output = subprocess.run(
                        bare_sender_command(instance, password, workdir / "recipients", count),
                        capture_output=True, text=True, timeout=900, check=True)
                    figures = json.loads(output.stdout.strip().splitlines()[-1])
                elif kind == "sqlite":
                    database = workdir / f"outbox-{number}.db"
                    figures = run_outbox(f"sqlite:///{database}", instance, password, recipients,
                                         count)
                else:
                    schema = PostgresSchema()
                    try:
                        figures = run_outbox(schema.url, instance, password, recipients, count)
                    finally:
                        schema.drop()
                figures["rate"] = count / figures["seconds"]
                results[kind].append(figures)
                print(f"{number:>5} {kind:<11} {figures['rate']:>8.0f} "
                      f"{figures['seconds']:>11.2f} {figures['peak_rss_mb']:>8.1f}", flush=True)
                time.sleep(1)  # the server settles (the bot's old session ends)
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(figures[key] for figures in results[kind])

    print("\nmedians (range)")
    for kind, runs in results.items():
        rates = [figures["rate"] for figures in runs]
        print(f"  {kind:<11} {median(kind, 'rate'):>8.0f} msg/s ({min(rates):.0f}–{max(rates):.0f})"
              f", last ack after {median(kind, 'seconds'):.2f} s, "
              f"peak RSS {median(kind, 'peak_rss_mb'):.1f} MB")
    summary = {f"ratio_{kind}": round(median(kind, "rate") / median("baseline", "rate"), 3)
               for kind in ("sqlite", "postgresql")}
    summary.update({f"{kind}_messages_per_s": round(median(kind, "rate")) for kind in results})
    summary.update({f"{kind}_peak_rss_mb": round(median(kind, "peak_rss_mb"), 1)
                    for kind in results})
    summary["rounds"] = len(results["baseline"])
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
