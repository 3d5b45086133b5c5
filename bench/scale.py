"""Several bot workers (component mode, one PostgreSQL database) against N bare component
processes, with 1, 2 and 3 of each, through the real ejabberd, in the same run.

    .venv/bin/python bench/scale.py [--quick] [--customers 200] [--pings 50] [--rounds 3]
                                    [--lessons 10000] [--workers 1 2 3]

For each N in 1, 2, 3:
  - answers/s: `--customers` slixmpp clients (in two load-generator processes, logged in
    once for the whole run) each send `--pings` `ping`s at once to bot.<domain>, until the last
    `pong` is back; `--rounds` floods, the median reported. Baseline: N bare slixmpp
    ComponentXMPP processes on bot.<domain> that answer each message with `pong`. Botschaft:
    N `botschaft run` workers. Before the timed floods every customer gets one answer, untimed
    (everyone reachable, first contact made).
  - lessons/s: `--lessons` lessons (customers × courses) all due at once, delivered by the N
    workers (rate limit off), from the first lesson recorded to the last outbox row done (the
    rows' own timestamps). Baseline: N bare component processes, each on an address of its
    own (s-….bot.<domain>, as a worker's outbox connection is), sending its share of as many
    messages from bot.<domain> to the same customers, confirmed by a ping to the server.
  - CPU seconds per process during each timed phase (from /proc): ejabberd (its beam.smp),
    PostgreSQL (the backends of the workers' connections, found by their application_name,
    and PostgreSQL's own background processes; not the benchmark's own polling), each worker
    or baseline process, the load generator, the benchmark itself, and the whole machine:
    busy, stolen by the hypervisor, and busy "by others" (no process named here: other work on
    the machine spoils the run). Shown as cores (CPU s / wall s) and as CPU ms per answer or
    lesson ([… ms]: what more cores must carry). "limit": when the machine's cores are nearly
    all busy or stolen (90 %), the group that uses most of them; otherwise the group nearest
    its ceiling (one core for a Python process, all cores for ejabberd and PostgreSQL).

Prints a table per N, and last one JSON line: answers_per_s_1/2/3, lessons_per_s_1/2/3, the
baselines (echo_answers_per_s_N, bare_lessons_per_s_N), the ratios, what saturates, the CPU
ms per answer and per lesson of each group, and the machine's busy cores. Worker logs go to
temporary files; lines with ERROR, a Traceback or a WARNING are counted and the first shown.
Needs root (the private ejabberd) and PostgreSQL as for the other benchmarks. `--quick`: 100
customers, 10 pings each, 2,000 lessons.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import slixmpp

# The baseline and load-generator processes run this same file and import only slixmpp;
# Botschaft (and bench/outbox.py, which brings psycopg) come late, in the benchmark itself.
HERE = Path(__file__).resolve()
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
CLIENT_PROCESSES = 2
NEARLY_FULL = 0.9  # of the machine's cores: then the machine itself is the limit
WORKER_READY = ("session started (component mode)", "session started (worker connection)")


# --- the processes of the run (each its own `python bench/scale.py --role …`) ---------------

async def read_command() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


def say(**figures) -> None:
    print(json.dumps(figures), flush=True)


class EchoComponent(slixmpp.ComponentXMPP):
    """The answers baseline: the least a component can do, answer each chat message."""

    def __init__(self, domain: str, secret: str, port: int):
        super().__init__(domain, secret, "127.0.0.1", port)
        self.ready = asyncio.Event()
        self.add_event_handler("session_start", lambda _event: self.ready.set())
        self.add_event_handler("message", self.echo)

    def echo(self, message) -> None:
        if message["type"] in ("chat", "normal") and message["body"]:
            message.reply("pong" if message["body"] == "ping" else message["body"]).send()


async def run_echo(account: dict) -> None:
    echo = EchoComponent(account["domain"], account["secret"], account["port"])
    echo.connect()
    await echo.ready.wait()
    say(ready=True)
    await read_command()  # until the benchmark says stop (or closes the pipe)


async def run_sender(account: dict) -> None:
    """The lessons baseline: send `count` messages from bot.<domain> on a connection of its
    own, then ping the server (the answer comes once it took everything sent before)."""
    own = f"s-{secrets.token_hex(4)}.{account['domain']}"
    sender = slixmpp.ComponentXMPP(own, account["secret"], "127.0.0.1", account["port"])
    sender.register_plugin("xep_0199")
    ready = asyncio.Event()
    sender.add_event_handler("session_start", lambda _event: ready.set())
    sender.connect()
    await ready.wait()
    say(ready=True)
    await read_command()
    recipients, text = account["recipients"], account["text"]
    started = time.monotonic()
    for number in range(account["count"]):
        sender.send_message(mto=recipients[number % len(recipients)], mfrom=account["domain"],
                            mbody=f"{text} ({number})", mtype="chat")
    iq = sender.make_iq_get(ito=account["server"], ifrom=own)
    iq.enable("ping")
    await iq.send(timeout=600)
    say(started=started, ended=time.monotonic())
    await sender.disconnect()


class Customer(slixmpp.ClientXMPP):
    """One customer's client: counts the `pong`s that come back from the bot's domain."""

    def __init__(self, jid: str, password: str, ca_file: str, bot: str):
        super().__init__(jid, password)
        self.ca_certs = Path(ca_file)
        self.bot = bot
        self.online, self.answered = asyncio.Event(), asyncio.Event()
        self.pongs, self.wanted, self.last = 0, 0, 0.0
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("message", self.on_message)

    def on_session_start(self, _event) -> None:
        self.send_presence()  # available: messages to the bare JID reach this session
        self.online.set()

    def on_message(self, message) -> None:
        if message["body"] == "pong" and message["from"].domain.endswith(self.bot):
            self.pongs += 1
            self.last = time.monotonic()
            if self.pongs >= self.wanted:
                self.answered.set()

    def expect(self, pongs: int) -> None:
        self.pongs, self.wanted = 0, pongs
        self.answered.clear()


async def run_clients(account: dict) -> None:
    """The load generator: log everyone in, then on each `flood M` send M pings per customer
    at once and report when the last answer came (or how many came within the time)."""
    customers = [Customer(jid, password, account["ca_file"], account["bot"])
                 for jid, password in account["customers"]]
    logins = asyncio.Semaphore(25)

    async def login(customer: Customer) -> None:
        async with logins:
            customer.connect("127.0.0.1", account["port"])
            await asyncio.wait_for(customer.online.wait(), 120)
    await asyncio.gather(*(login(customer) for customer in customers))
    say(ready=True)
    while (command := await read_command()).startswith("flood"):
        pings = int(command.split()[1])
        for customer in customers:
            customer.expect(pings)
        started = time.monotonic()
        for _ping in range(pings):
            for customer in customers:
                customer.send_message(mto=account["bot"], mbody="ping", mtype="chat")
        try:
            await asyncio.wait_for(asyncio.gather(
                *(customer.answered.wait() for customer in customers)), account["timeout"])
        except TimeoutError:
            pass
        say(started=started, ended=max(customer.last for customer in customers),
            answered=sum(min(customer.pongs, pings) for customer in customers))
    for customer in customers:
        customer.disconnect(wait=1)
    await asyncio.sleep(1)


ROLES = {"echo": run_echo, "sender": run_sender, "clients": run_clients}


# --- the benchmark ---------------------------------------------------------------------------

class Child:
    """A process of the run that reports one JSON line per step on its stdout."""

    def __init__(self, command: list[str], env: dict | None = None, log: Path | None = None):
        self.log = log or Path(tempfile.mkstemp(prefix="scale-", suffix=".log")[1])
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def role(cls, role: str, account: dict) -> Child:
        return cls([sys.executable, str(HERE), f"--role={role}"], log=None, env={
            **os.environ, "SCALE_ACCOUNT": json.dumps(account)})

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return json.loads(self.lines.get(timeout=1))
            except queue.Empty:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    break
        tail = self.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pid {self.pid} ended or said nothing in {timeout} s; its log:\n"
                           + tail)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.unlink(missing_ok=True)


def process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_times() -> tuple[float, float]:
    """CPU seconds since boot that all cores spent busy here (not idle, not waiting for I/O),
    and that the hypervisor gave to others while this machine wanted them (steal)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(values[:7]) - values[3] - values[4]) / TICK, values[7] / TICK


class Meter:
    """CPU seconds per process group during one phase. Sampled every 0.2 s, so a process that
    starts meanwhile (a PostgreSQL backend) counts from its birth, one that ends until its last
    sample."""

    def __init__(self, groups):
        self.groups = groups  # () → {group: [pid, …]}
        self.items = 0  # answers or lessons handled meanwhile
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()

    def _sample(self, initial: bool = False) -> None:
        for group, pids in self.groups().items():
            for pid in pids:
                seconds = process_cpu(pid)
                if seconds is not None:
                    self.first.setdefault((group, pid), seconds if initial else 0.0)
                    self.last[(group, pid)] = seconds

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> Meter:
        self._sample(initial=True)
        self.started, self.times = time.monotonic(), machine_times()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall = time.monotonic() - self.started
        busy, stolen = machine_times()
        self.machine = (busy - self.times[0]) / self.wall
        self.stolen = (stolen - self.times[1]) / self.wall

    def cores(self) -> dict[str, list[float]]:
        """Per group, the cores each of its processes kept busy (CPU s / wall s)."""
        usage: dict[str, list[float]] = {}
        for (group, pid), seconds in self.last.items():
            usage.setdefault(group, []).append((seconds - self.first[(group, pid)]) / self.wall)
        return usage


SINGLE_PROCESS_GROUPS = ("workers", "echo", "senders", "clients")  # Python: one core each


def saturates(meter: Meter) -> tuple[str, str]:
    """The group that limits, and why: the largest user when the machine's cores are nearly
    all busy; otherwise the group nearest its ceiling (one core for each Python process, the
    machine's cores for ejabberd and PostgreSQL). The load generator is left out."""
    usage = {group: values for group, values in meter.cores().items()
             if group not in ("clients", "benchmark")}
    if meter.machine + meter.stolen >= NEARLY_FULL * CORES:
        group = max(usage, key=lambda group: sum(usage[group]))
        return group, (f"the machine ({meter.machine + meter.stolen:.2f} of {CORES} cores busy "
                       f"or stolen; most: {group}, {sum(usage[group]):.2f})")

    def nearness(group: str) -> float:
        if group in SINGLE_PROCESS_GROUPS:
            return max(usage[group])
        return sum(usage[group]) / CORES
    group = max(usage, key=nearness)
    ceiling = "1 core, one process" if group in SINGLE_PROCESS_GROUPS else f"{CORES} cores"
    return group, f"{group} ({nearness(group):.2f} of its ceiling, {ceiling})"


def cpu_ms(meter: Meter) -> dict[str, float]:
    """CPU milliseconds per answer (or lesson) each group spent: what more cores must carry."""
    return {group: round(sum(values) * meter.wall / meter.items * 1000, 3)
            for group, values in sorted(meter.cores().items())}


def describe(meter: Meter) -> str:
    parts, per_item = [], cpu_ms(meter)
    for group, values in sorted(meter.cores().items()):
        shown = "+".join(f"{value:.2f}" for value in sorted(values, reverse=True))
        parts.append(f"{group} {sum(values):.2f}" + (f" ({shown})" if len(values) > 1
                                                      and group != "postgresql" else "")
                     + f" [{per_item[group]:.2f} ms]")
    others = meter.machine - sum(sum(values) for values in meter.cores().values())
    return (f"cores: machine {meter.machine:.2f} busy + {meter.stolen:.2f} stolen of {CORES}, "
            f"{others:.2f} by others; " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="100 customers, 10 pings each, 2,000 lessons")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--pings", type=int, default=50, help="per customer, at once")
    parser.add_argument("--rounds", type=int, default=3, help="timed floods (median)")
    parser.add_argument("--lessons", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.role:
        asyncio.run(ROLES[arguments.role](json.loads(os.environ["SCALE_ACCOUNT"])))
        return
    if arguments.quick:
        arguments.customers, arguments.pings, arguments.lessons = 100, 10, 2000
    Benchmark(arguments).run()


class Benchmark:
    def __init__(self, arguments):
        self.arguments = arguments
        self.results: dict[str, float | str] = {}

    def run(self) -> None:
        from bots.devserver import DevServer
        from bots.testing import new_state_dir

        signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
        state_dir = new_state_dir()
        self.workdir = state_dir / "bench"
        self.workdir.mkdir()
        server = DevServer(state_dir)
        self.clients: list[Child] = []
        try:
            self.instance = instance = server.start()
            self.ejabberd = server.pid()
            self.domain = f"bot.{instance.domain}"
            self.customers = self.make_customers()
            self.clients = self.log_in()
            print(f"{len(self.customers)} customers in {CLIENT_PROCESSES} load-generator "
                  f"processes, {self.arguments.pings} pings each at once; "
                  f"{self.arguments.lessons} lessons due at once; {CORES} cores", flush=True)
            for count in self.arguments.workers:
                self.measure(count)
        finally:
            for client in self.clients:
                client.send("quit")
            for client in self.clients:
                client.stop()
            server.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        print(json.dumps(self.results))

    def make_customers(self) -> list[tuple[str, str]]:
        api = self.instance.api()
        customers = []
        for number in range(self.arguments.customers):
            password = secrets.token_hex(9)
            api.register(f"c{number}", self.instance.domain, password)
            customers.append((f"c{number}@{self.instance.domain}", password))
        return customers

    def log_in(self) -> list[Child]:
        share = -(-len(self.customers) // CLIENT_PROCESSES)
        clients = [Child.role("clients", {
            "customers": self.customers[start:start + share], "bot": self.domain,
            "port": self.instance.c2s_port, "ca_file": str(self.instance.ca_file),
            "timeout": 300}) for start in range(0, len(self.customers), share)]
        self.clients = clients
        for client in clients:
            client.answer(timeout=300)
        return clients

    def groups(self, kind: str, processes: list, extra=None):
        def groups() -> dict[str, list[int]]:
            found = {"ejabberd": [self.ejabberd], kind: [process.pid for process in processes],
                     "clients": [client.pid for client in self.clients],
                     "benchmark": [os.getpid()]}  # its polling and this sampling
            if extra:
                found.update(extra())
            return found
        return groups

    def flood(self, kind: str, processes: list, extra=None) -> tuple[float, Meter]:
        """One answer per customer (untimed), then `--rounds` timed floods: the median
        answers/s, and the CPU over all of them."""
        self.ask_all(1)
        expected, rates = self.arguments.pings * len(self.customers), []
        with Meter(self.groups(kind, processes, extra)) as meter:
            for _round in range(self.arguments.rounds):
                answers = self.ask_all(self.arguments.pings)
                if answers["answered"] < expected:
                    print(f"  {kind}: only {answers['answered']} of {expected} answers came "
                          "back", flush=True)
                rates.append(answers["answered"] / (answers["ended"] - answers["started"]))
                meter.items += answers["answered"]
        return statistics.median(rates), meter

    def ask_all(self, pings: int) -> dict:
        for client in self.clients:
            client.send(f"flood {pings}")
        reports = [client.answer(timeout=400) for client in self.clients]
        return {"started": min(report["started"] for report in reports),
                "ended": max(report["ended"] for report in reports),
                "answered": sum(report["answered"] for report in reports)}

    def measure(self, count: int) -> None:
        account = {"domain": self.domain, "secret": self.instance.component_secret,
                   "port": self.instance.ports["component"], "server": self.instance.domain}
        echoes = [Child.role("echo", account) for _echo in range(count)]
        try:
            for echo in echoes:
                echo.answer(timeout=60)
            echo_rate, echo_meter = self.flood("echo", echoes)
        finally:
            for echo in echoes:
                echo.send("stop")
                echo.stop()
        time.sleep(1)  # ejabberd notices the components are gone

        bare_rate, bare_meter = self.bare_lessons(account, count)
        bot_rate, bot_meter, lesson_rate, lesson_meter, problems = self.bot(count)

        print(f"\nN = {count}")
        rows = (("answers/s", "echo", echo_rate, echo_meter, bot_rate, bot_meter),
                ("lessons/s", "bare", bare_rate, bare_meter, lesson_rate, lesson_meter))
        for what, baseline, base_rate, base_meter, rate, meter in rows:
            print(f"  {what:<10} bot {rate:>7.0f}   {baseline} {base_rate:>7.0f}   "
                  f"ratio {rate / base_rate:.2f}")
            print(f"    bot   {describe(meter)}\n          limit: {saturates(meter)[1]}")
            print(f"    {baseline:<5} {describe(base_meter)}\n"
                  f"          limit: {saturates(base_meter)[1]}")
        for problem in problems:
            print(f"  worker log: {problem}")
        sys.stdout.flush()
        self.results.update({
            f"answers_per_s_{count}": round(bot_rate), f"lessons_per_s_{count}": round(lesson_rate),
            f"echo_answers_per_s_{count}": round(echo_rate),
            f"bare_lessons_per_s_{count}": round(bare_rate),
            f"answers_ratio_{count}": round(bot_rate / echo_rate, 3),
            f"lessons_ratio_{count}": round(lesson_rate / bare_rate, 3),
            f"answers_saturates_{count}": saturates(bot_meter)[0],
            f"lessons_saturates_{count}": saturates(lesson_meter)[0],
            f"echo_saturates_{count}": saturates(echo_meter)[0],
            f"bare_lessons_saturates_{count}": saturates(bare_meter)[0],
            f"answers_cpu_ms_{count}": cpu_ms(bot_meter),
            f"lessons_cpu_ms_{count}": cpu_ms(lesson_meter),
            f"answers_machine_cores_{count}": round(bot_meter.machine, 2),
            f"lessons_machine_cores_{count}": round(lesson_meter.machine, 2),
            f"answers_stolen_cores_{count}": round(bot_meter.stolen, 2),
            f"lessons_stolen_cores_{count}": round(lesson_meter.stolen, 2),
            "machine_cores": CORES, "customers": len(self.customers),
            "pings_per_customer": self.arguments.pings, "lessons": self.arguments.lessons})

    def bare_lessons(self, account: dict, count: int) -> tuple[float, Meter]:
        recipients = [jid for jid, _password in self.customers]
        total = self.arguments.lessons
        senders = [Child.role("sender", {
            **account, "recipients": recipients, "text": LESSON_TEXT,
            "count": total // count + (number < total % count)}) for number in range(count)]
        try:
            for sender in senders:
                sender.answer(timeout=60)
            with Meter(self.groups("senders", senders)) as meter:
                for sender in senders:
                    sender.send("go")
                reports = [sender.answer(timeout=900) for sender in senders]
            meter.items = total
        finally:
            for sender in senders:
                sender.stop()
        seconds = max(report["ended"] for report in reports) - min(
            report["started"] for report in reports)
        return total / seconds, meter

    def bot(self, count: int):
        """N workers on a fresh schema: the answers flood, then every lesson falls due."""
        import psycopg

        from bots.testing import BOTSCHAFT, component_environment
        from outbox import POSTGRES_URL, PostgresSchema  # bench/outbox.py

        schema = PostgresSchema()
        tag = schema.name  # the workers' connections carry it as their application_name
        folder = self.workdir / f"courses-{count}"
        write_courses(folder, -(-self.arguments.lessons // len(self.customers)))
        fill(schema.url, folder, [jid for jid, _password in self.customers],
             self.arguments.lessons)
        environ = component_environment(
            self.instance, f"{schema.url}&application_name={tag}", WEB_LISTEN="",
            OUTBOX_RATE="0", PLUGINS_LESSONS_COURSES=str(folder), BOT_LANGUAGE="en")
        workers = [Child([BOTSCHAFT, "run"], env=environ) for _worker in range(count)]
        watcher = psycopg.connect(POSTGRES_URL, autocommit=True)

        def postgres() -> dict[str, list[int]]:
            rows = watcher.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s"
                                   " OR backend_type <> 'client backend'", (tag,)).fetchall()
            return {"postgresql": [pid for (pid,) in rows]}
        try:
            wait_until_connected(workers)
            rate, meter = self.flood("workers", workers, postgres)
            lesson_rate, lesson_meter = self.lessons(schema.url, workers, postgres)
        finally:
            for worker in workers:
                worker.process.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.process.wait(60)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
            problems = [problem for worker in workers for problem in scan(worker.log)]
            for worker in workers:
                worker.stop()
            watcher.close()
            schema.drop()
        return rate, meter, lesson_rate, lesson_meter, problems

    def lessons(self, url: str, workers: list[Child], postgres) -> tuple[float, Meter]:
        from bots.outbox import DONE, OutboxMessage
        from bots.storage import Storage
        from plugins.lessons.models import Delivery

        total = self.arguments.lessons
        storage = Storage(url)
        try:
            fall_due(storage)
            deadline = time.monotonic() + 900
            while not Delivery.select().exists():  # the next scheduler pass, within a second
                assert time.monotonic() < deadline, "no lesson was recorded"
                time.sleep(0.02)
            with Meter(self.groups("workers", workers, postgres)) as meter:
                while OutboxMessage.select().where(OutboxMessage.state == DONE).count() < total:
                    assert time.monotonic() < deadline, "the lessons were not all sent"
                    time.sleep(0.05)
            meter.items = total
            first = Delivery.select(Delivery.delivered_at).order_by(
                Delivery.delivered_at).first().delivered_at
            last = OutboxMessage.select(OutboxMessage.done_at).order_by(
                OutboxMessage.done_at.desc()).first().done_at
        finally:
            storage.close()
        return total / (last - first).total_seconds(), meter


LESSON_TEXT = ("Begrüßen: „Guten Morgen“ sagt man bis etwa 11 Uhr, danach „Guten Tag“. "
               "Was sagen Sie um 8 Uhr? 1. Guten Morgen 2. Gute Nacht 3. Tschüss")


def write_courses(folder: Path, count: int) -> None:
    from lessons import write_courses as write  # bench/lessons.py
    write(folder, count)


def fill(url: str, folder: Path, recipients: list[str], count: int) -> None:
    """bench/lessons.py's courses and subscriptions, planned for tomorrow: nothing is due
    before `fall_due`, once the workers run."""
    from datetime import timedelta

    from bots.app import schemas
    from bots.scheduler import Schedule
    from bots.storage import Storage
    from lessons import fill as fill_due_a_minute_ago  # bench/lessons.py
    from plugins.lessons import Lessons

    fill_due_a_minute_ago(url, folder, recipients, count)
    storage = Storage(url)
    try:
        storage.migrate(schemas([Lessons()]))
        Schedule.update(next_due_at=Schedule.next_due_at + timedelta(days=1)).execute()
    finally:
        storage.close()


def fall_due(storage) -> None:
    from datetime import UTC, datetime, timedelta

    from bots.app import schemas
    from bots.scheduler import Schedule
    from plugins.lessons import Lessons
    from plugins.lessons.classroom import JOB

    storage.migrate(schemas([Lessons()]))
    Schedule.update(next_due_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
                    ).where(Schedule.job == JOB).execute()


def wait_until_connected(workers: list[Child], timeout: float = 120) -> None:
    """Each worker logged both its connections as started."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        while not all(line in worker.log.read_text(errors="replace") for line in WORKER_READY):
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a worker did not connect; its log:\n"
                                   + worker.log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)


def scan(log: Path) -> list[str]:
    """A worker log's lines with ERROR, a Traceback or a WARNING: how many, and the first."""
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for word in ("ERROR", "Traceback", "WARNING"):
        hits = [line for line in lines if word in line]
        if hits:
            found.append(f"{len(hits)} lines with {word}, first: {hits[0][:300]}")
    return found


if __name__ == "__main__":
    main()
