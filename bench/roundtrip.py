"""Round trips through a real ejabberd: the Botschaft bot answering `ping` against a bare
slixmpp echo bot written here as the baseline, measured in the same run, interleaved.

    .venv/bin/python bench/roundtrip.py [--rounds 5] [--flood 5000] [--sequential 500]

Each round starts the baseline and the Botschaft bot in turn as their own processes (so their
CPU time and memory are theirs alone) and measures, from one client:
  - throughput: `--flood` messages sent at once, until the last answer is back: `ping`
    (an async command), then `echo <text>` (a plain def, run on a handler thread);
  - latency: `--sequential` messages one at a time, p50 and p99 round trip;
  - the bot's CPU seconds per 1,000 messages, and its resident memory (peak);
  - start-up: from starting the process to its first answer;
  - long messages: a burst of 4,000-character nonsense messages (which match no command),
    then `ping`: how much later than a plain round trip the `pong` comes, per long message
    (long_message_loop_ms: how long each held the event loop, and everyone waiting on it).
Both bots run from a virtual environment made for the run, with Botschaft installed as a
company installs it for the SQLite default (`pip install .`: byte-compiled, no extras, none
of the development tools): the development environment has psycopg (for the PostgreSQL
tests; peewee imports it whenever it is installed: 11 MB and 60 ms at every start) and
pygments (slixmpp imports it when present), and runs from source. Making it takes half a
minute (pip's cache).
It prints each round, the medians with their range, and last one JSON line with the ratios
(Botschaft / baseline): throughput_ratio, sync_throughput_ratio, p50_ratio, p99_ratio,
cpu_ratio, rss_ratio, startup_ratio, and the long-message figures of both.
Needs root (the private ejabberd runs as the ejabberd user), like `./dev.sh test`.
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
from pathlib import Path

import slixmpp

# The baseline bot runs this same file: it imports nothing of Botschaft (nor pytest, which
# bots.testing brings), so its memory is a bare slixmpp bot's. The benchmark imports them late.

HERE = Path(__file__).resolve()


class EchoBot(slixmpp.ClientXMPP):
    """The baseline: the least a slixmpp bot can do, answer each chat message with its body."""

    def __init__(self, jid: str, password: str, ca_file: str):
        super().__init__(jid, password)
        self.ca_certs = Path(ca_file)
        self.add_event_handler("session_start", lambda _event: self.send_presence())
        self.add_event_handler("message", self.echo)

    def echo(self, message):
        if message["type"] in ("chat", "normal") and message["body"]:
            message.reply("pong" if message["body"] == "ping" else message["body"]).send()


def run_echo_bot(jid: str, password: str, port: int, ca_file: str) -> None:
    async def main():
        bot = EchoBot(jid, password, ca_file)
        bot.connect("127.0.0.1", port)
        await asyncio.Event().wait()
    asyncio.run(main())


class BotProcess:
    """One bot as its own process; its CPU time and memory read from /proc."""

    def __init__(self, kind: str, instance, password: str, workdir: Path, venv: Path):
        jid = f"bot@{instance.domain}"
        if kind == "baseline":
            command = [str(venv / "bin" / "python"), str(HERE), "--echo-bot", jid, password,
                       str(instance.c2s_port), str(instance.ca_file)]
            env = dict(os.environ)
        else:
            from bots.testing import run_environment

            command = [str(venv / "bin" / "botschaft"), "run"]
            env = run_environment(instance, password, f"sqlite:///{workdir / 'bench.db'}")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def wait_for_answer(client, bot: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.say(bot, "ping")
        try:
            await client.next_message(bot, timeout=1)
            while not client.inbox.empty():
                client.inbox.get_nowait()
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"{bot} did not answer within {timeout} s")


async def first_answer_seconds(client, bot: str, process: BotProcess) -> float:
    """Start-up: from starting the process to its first `pong`. A ping goes every 50 ms
    meanwhile (those that come before the bot is online wait in offline storage and are
    answered at login); then every ping's `pong` is collected, so none is left over."""
    sent = 0
    while True:
        client.say(bot, "ping")
        sent += 1
        try:
            await client.next_message(bot, timeout=0.05)
            break
        except TimeoutError:
            assert time.perf_counter() - process.started < 60, f"{bot} did not start"
    first = time.perf_counter() - process.started
    for _ in range(sent - 1):
        await client.next_message(bot, timeout=30)
    return first


LONG_BURST = 20  # long messages before each ping
LONG_REPEATS = 10


def nonsense(length: int = 4000) -> str:
    """Words that are no command and resemble no phrase, `length` characters in all."""
    import random
    generator = random.Random(4000)
    text = ""
    while len(text) < length:
        text += "".join(generator.choice("bcdfghjklmnpqrstvwxz") for _ in range(
            generator.randint(4, 9))) + " "
    return text[:length]


async def long_message_delay_ms(client, bot: str, p50_ms: float) -> float:
    """Extra wait for `pong` behind a burst of long messages, per long message."""
    text, delays = nonsense(), []
    for _ in range(LONG_REPEATS):
        sent = time.perf_counter()
        for _ in range(LONG_BURST):
            client.say(bot, text)
        client.say(bot, "ping")
        while (await client.next_message(bot, timeout=60))["body"] != "pong":
            pass
        delays.append(((time.perf_counter() - sent) * 1000 - p50_ms) / LONG_BURST)
    return statistics.median(delays)


async def flood_seconds_of(client, bot: str, text: str, count: int) -> float:
    """`count` messages sent at once, until the last answer is back."""
    started = time.perf_counter()
    for _ in range(count):
        client.say(bot, text)
    for _ in range(count):
        await client.next_message(bot, timeout=120)
    return time.perf_counter() - started


async def measure(client, bot: str, process: BotProcess, flood: int,
                  sequential: int) -> dict:
    stale = 0
    while not client.inbox.empty():  # late answers of the run before would count as this one's
        client.inbox.get_nowait()
        stale += 1
    if stale:
        print(f"  ({stale} late answer(s) of the run before dropped)", flush=True)
    startup = await first_answer_seconds(client, bot, process)
    await wait_for_answer(client, bot)
    cpu_before = process.cpu_seconds()

    flood_seconds = await flood_seconds_of(client, bot, "ping", flood)
    sync_seconds = await flood_seconds_of(client, bot, "echo Ölwechsel fertig", flood)

    round_trips = []
    for _ in range(sequential):
        sent = time.perf_counter()
        await client.ask(bot, "ping")
        round_trips.append((time.perf_counter() - sent) * 1000)
    cpu = process.cpu_seconds() - cpu_before
    round_trips.sort()
    p50 = statistics.median(round_trips)
    return {
        "throughput": flood / flood_seconds,
        "sync_throughput": flood / sync_seconds,
        "p50_ms": p50,
        "p99_ms": round_trips[int(len(round_trips) * 0.99) - 1],
        "cpu_s_per_1000": cpu / ((2 * flood + sequential) / 1000),
        "peak_rss_mb": process.peak_rss_mb(),
        "long_message_loop_ms": await long_message_delay_ms(client, bot, p50),
        "startup_s": startup,
    }


def installed(workdir: Path) -> Path:
    """A virtual environment with this checkout installed as a company installs it."""
    venv = workdir / "installed"
    log = workdir / "install.log"
    with open(log, "w") as output:
        for command in ([sys.executable, "-m", "venv", str(venv)],
                        [str(venv / "bin" / "pip"), "install", str(HERE.parent.parent)]):
            if subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"installing Botschaft for the benchmark failed:\n"
                                 f"{log.read_text()[-3000:]}")
    return venv


async def benchmark(rounds: int, flood: int, sequential: int) -> None:
    from bots.devserver import BOT_USER, DevServer
    from bots.testing import ChatClient, new_state_dir

    state_dir = new_state_dir()
    server = DevServer(state_dir)
    workdir = Path(state_dir) / "bench"
    workdir.mkdir()
    try:
        venv = installed(workdir)
        instance = server.start()
        password = server.ensure_user(BOT_USER)
        bot = f"{BOT_USER}@{instance.domain}"
        # The admin account is exempt from the per-person shaper, like the bot itself.
        client = ChatClient(instance.admin_jid, instance.admin_password, instance.ca_file)
        await client.start("127.0.0.1", instance.c2s_port)
        results: dict[str, list[dict]] = {"baseline": [], "botschaft": []}
        print(f"{'round':>5} {'bot':<10} {'msg/s':>8} {'sync/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'cpu s/1k':>9} {'peak MB':>8} {'long ms':>8} {'start s':>8}")
        for number in range(1, rounds + 1):
            for kind in ("baseline", "botschaft"):
                process = BotProcess(kind, instance, password, workdir, venv)
                try:
                    figures = await measure(client, bot, process, flood, sequential)
                finally:
                    process.stop()
                    await asyncio.sleep(0.5)  # the server notices the old session is gone
                results[kind].append(figures)
                print(f"{number:>5} {kind:<10} {figures['throughput']:>8.0f} "
                      f"{figures['sync_throughput']:>8.0f} "
                      f"{figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} "
                      f"{figures['cpu_s_per_1000']:>9.3f} {figures['peak_rss_mb']:>8.1f} "
                      f"{figures['long_message_loop_ms']:>8.2f} {figures['startup_s']:>8.2f}",
                      flush=True)
        await client.stop()
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(figures[key] for figures in results[kind])

    def spread(kind: str, key: str) -> str:
        values = [figures[key] for figures in results[kind]]
        return f"{min(values):.2f}–{max(values):.2f}"

    print("\nmedians (range) over", len(results["baseline"]), "rounds")
    keys = ("throughput", "sync_throughput", "p50_ms", "p99_ms", "cpu_s_per_1000", "peak_rss_mb",
            "long_message_loop_ms", "startup_s")
    for key in keys:
        print(f"  {key:<15} baseline {median('baseline', key):>9.2f} ({spread('baseline', key)})"
              f"   botschaft {median('botschaft', key):>9.2f} ({spread('botschaft', key)})")
    summary = {f"{name}_ratio": round(median("botschaft", key) / median("baseline", key), 3)
               for name, key in (("throughput", "throughput"),
                                 ("sync_throughput", "sync_throughput"), ("p50", "p50_ms"),
                                 ("p99", "p99_ms"), ("cpu", "cpu_s_per_1000"),
                                 ("rss", "peak_rss_mb"), ("startup", "startup_s"))}
    summary.update({f"{kind}_{key}": round(median(kind, key), 2)
                    for kind in results for key in keys})
    summary["long_message_loop_ms"] = summary.pop("botschaft_long_message_loop_ms")
    summary["rounds"] = len(results["baseline"])
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--echo-bot", nargs=4, metavar=("JID", "PASSWORD", "PORT", "CA_FILE"),
                        help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.echo_bot:
        jid, password, port, ca_file = arguments.echo_bot
        run_echo_bot(jid, password, int(port), ca_file)
        return
    asyncio.run(benchmark(arguments.rounds, arguments.flood, arguments.sequential))


if __name__ == "__main__":
    main()
