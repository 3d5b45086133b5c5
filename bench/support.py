"""Support conversations relayed by the bot against a direct client-to-client message, in
the same run.

    .venv/bin/python bench/support.py [--customers 200] [--staff 10] [--rounds 3]

A private ejabberd, `--customers` and `--staff` accounts (admin API `register`, not timed), and
`botschaft run` with the support plugin (SQLite; the staff on its desk, open around the clock).
Every customer writes `agent` and every staff member `take`s cases until none waits, so each
holds customers/staff conversations (not timed), and the outbox has sent what that queued.
Each round, in turn (the order rotates):
  - direct: every customer sends one message straight to a staff member's account, all at
    once; the latency is from sending to the staff client receiving it;
  - relay: every customer sends one message to the company's address, all at once, which the
    bot relays to the staff member holding the case; then every staff member answers each of
    their customers (`to N …`), all at once, relayed back. The latency of each is from
    sending to the other side receiving it (customer → staff and staff → customer together);
  - bare: the same through a bare slixmpp relay in a process of its own (BareRelay: no
    database, no record; logged in as the bot's account, resource bare-relay, so that the
    server throttles it as little as the bot), the floor for any relay through one Python
    process.
All clients run in this process, on one event loop, with one clock. Prints each round, the
medians over rounds of p50 and p99 (ms), and last one JSON line with p50_ratio_to_direct
(relay p50 / direct p50; the issue's target, printed, not asserted: <= 2), p99_ms (relay),
p50_ratio_to_bare_relay and more. Needs root (the private ejabberd).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from join import percentile  # noqa: E402  (bench/join.py)
from outbox import BOTSCHAFT, peak_rss_mb  # noqa: E402  (bench/outbox.py)

from bots.connection import Session  # noqa: E402
from bots.devserver import DevServer  # noqa: E402
from bots.testing import TestServer, new_state_dir, run_environment  # noqa: E402

KINDS = ("direct", "relay", "bare")  # the bare relay: see BareRelay
TIMEOUT = 120  # seconds a step may take before it counts as stalled
TARGET = 2.0  # relay p50 at most this many times the direct message's
TO_CASE = re.compile(r"^to (\d+) ")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Client(Session):
    """A customer's or staff member's app: notes when each numbered message arrives."""

    def __init__(self, jid: str, password: str, ca_file: str):
        super().__init__(jid, password, ca_file)
        self.arrived: dict[str, float] = {}  # token → when it arrived
        self.waiting: dict[str, asyncio.Future] = {}
        self.texts: list[str] = []
        self.add_event_handler("message", self._message)

    def _message(self, message) -> None:
        body = message["body"]
        if not body:
            return
        self.texts.append(body)
        token = body.rsplit(" ", 1)[-1]
        future = self.waiting.pop(token, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def expect(self, token: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[token] = future
        return future

    def say(self, to: str, text: str) -> None:
        self.send_message(mto=to, mbody=text, mtype="chat")


class BareRelay(Session):
    """The floor for a relay through one Python process: a slixmpp client (with stream
    management, as the bot) that forwards each message at once, with no database and no
    record: a customer's to the staff member of their case, `to N …` to case N's customer."""

    def __init__(self, jid: str, password: str, ca_file: str, routes: dict):
        super().__init__(jid, password, ca_file)
        self.staff_of = routes["staff_of"]  # customer → staff member
        self.customer_of = {int(case): jid for case, jid in routes["customer_of"].items()}
        self.add_event_handler("session_start", lambda _event: self.send_presence())
        self.add_event_handler("message", self.forward)

    def forward(self, message) -> None:
        body = message["body"]
        to_case = TO_CASE.match(body)
        target = (self.customer_of.get(int(to_case.group(1))) if to_case
                  else self.staff_of.get(message["from"].bare))
        if target:
            self.send_message(mto=target, mbody=body, mtype="chat")


def run_bare_relay(jid: str, password: str, port: str, ca_file: str, routes: str) -> None:
    async def main():
        relay = BareRelay(jid, password, ca_file, json.loads(Path(routes).read_text()))
        relay.connect("127.0.0.1", int(port))
        await asyncio.Event().wait()
    asyncio.run(main())


def make_accounts(api, domain: str, prefix: str, count: int) -> list[tuple[str, str]]:
    api.use_token()
    accounts = [(f"{prefix}{number}", uuid.uuid4().hex) for number in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda account: api.register(account[0], domain, account[1]), accounts))
    return [(f"{name}@{domain}", password) for name, password in accounts]


def settings(staff: list[str], path: Path) -> Path:
    names = ", ".join(f'"{jid}" = "Staff {number}"' for number, jid in enumerate(staff))
    hours = ", ".join(f'{day} = "00:00-24:00"' for day in DAYS)
    path.write_text(f"[plugins.support]\nstaff = {{ {names} }}\nhours = {{ {hours} }}\n")
    return path


async def login(accounts, instance) -> list[Client]:
    at_once = asyncio.Semaphore(20)

    async def one(jid: str, password: str) -> Client:
        async with at_once:
            client = Client(jid, password, str(instance.ca_file))
            await client.start("127.0.0.1", instance.c2s_port, timeout=60)
            return client
    return list(await asyncio.gather(*(one(*account) for account in accounts)))


async def until(future: asyncio.Future, what: str) -> float:
    try:
        return await asyncio.wait_for(future, TIMEOUT)
    except TimeoutError:
        raise SystemExit(f"stalled: {what} did not arrive in {TIMEOUT} s") from None


async def open_cases(bot: str, customers: list[Client], staff: list[Client]) -> dict:
    """Every customer in the queue, every case taken: {case: its staff member's client}."""
    for customer in customers:
        queued = customer.expect("cancel")  # the queue's answer ends with "…: cancel"
        customer.say(bot, "agent")
        await until(queued, "the answer to agent")
    held = {}
    for member in staff:
        for _ in range(len(customers) // len(staff)):
            before = len(member.texts)
            member.say(bot, "take")
            while len(member.texts) == before:
                await asyncio.sleep(0.01)
            briefing = member.texts[before]
            assert briefing.startswith("You hold case"), briefing[:200]
            held[int(briefing.split()[3])] = member
    return held


async def direct(customers: list[Client], pairs: dict[Client, Client]) -> list[float]:
    started, arrivals = {}, []
    for customer in customers:
        token = uuid.uuid4().hex[:12]
        arrivals.append((token, pairs[customer].expect(token)))
        started[token] = time.perf_counter()
        customer.say(pairs[customer].boundjid.bare, f"direct {token}")
    return [(await until(future, "a direct message")) - started[token]
            for token, future in arrivals]


async def relay(bot: str, customers: list[Client], cases: dict[Client, tuple[Client, int]]
                ) -> list[float]:
    """Customer → staff for everyone at once, then staff → customer for everyone at once."""
    started, arrivals = {}, []
    for customer in customers:
        token = uuid.uuid4().hex[:12]
        arrivals.append((token, cases[customer][0].expect(token)))
        started[token] = time.perf_counter()
        customer.say(bot, f"question {token}")
    latencies = [(await until(future, "a relayed question")) - started[token]
                 for token, future in arrivals]
    started, arrivals = {}, []
    for customer in customers:
        member, case = cases[customer]
        token = uuid.uuid4().hex[:12]
        arrivals.append((token, customer.expect(token)))
        started[token] = time.perf_counter()
        member.say(bot, f"to {case} answer {token}")
    return latencies + [(await until(future, "a relayed answer")) - started[token]
                        for token, future in arrivals]


async def benchmark(customers_count: int, staff_count: int, rounds: int) -> dict:
    state_dir = new_state_dir()
    workdir = state_dir / "bench"
    workdir.mkdir()
    devserver = DevServer(state_dir)
    results: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    bot = bare = None
    clients: list[Client] = []
    try:
        server = TestServer(devserver, devserver.start())
        instance = server.instance
        api = instance.api()
        staff_accounts = await asyncio.to_thread(make_accounts, api, instance.domain, "s",
                                                 staff_count)
        customer_accounts = await asyncio.to_thread(make_accounts, api, instance.domain, "c",
                                                    customers_count)
        staff_jids = [jid for jid, _password in staff_accounts]
        env = run_environment(instance, devserver.ensure_user("bot"),
                              f"sqlite:///{workdir / 'bot.db'}", OUTBOX_RATE="0",
                              BOT_LANGUAGE="en",
                              PEOPLE_STAFF=",".join(staff_jids),
                              CONFIG=str(settings(staff_jids, workdir / "botschaft.toml")))
        bot = subprocess.Popen([BOTSCHAFT, "run"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        bot_jid = env["BOTSCHAFT_XMPP_JID"]
        deadline = time.monotonic() + TIMEOUT
        while not any(resource.startswith("outbox") for resource in await asyncio.to_thread(
                api.call, "user_resources", user=bot_jid.split("@")[0], host=instance.domain)):
            assert time.monotonic() < deadline and bot.poll() is None, "the bot did not start"
            await asyncio.sleep(0.1)
        staff = await login(staff_accounts, instance)
        customers = await login(customer_accounts, instance)
        clients = staff + customers
        started = time.perf_counter()
        held = await open_cases(bot_jid, customers, staff)
        cases = await who_is_with_whom(bot_jid, customers, held)
        await drained(workdir / "bot.db")
        print(f"{customers_count} customers, {staff_count} staff: every case taken in "
              f"{time.perf_counter() - started:.1f} s; {rounds} rounds", flush=True)
        pairs = {customer: member for customer, (member, _case) in cases.items()}
        # the bot's own account (the server throttles no bot), as a resource of its own
        relay_jid = f"{bot_jid}/bare-relay"
        routes = workdir / "routes.json"
        routes.write_text(json.dumps({
            "staff_of": {customer.boundjid.bare: member.boundjid.bare
                         for customer, member in pairs.items()},
            "customer_of": {case: customer.boundjid.bare
                            for customer, (_member, case) in cases.items()}}))
        bare = subprocess.Popen([sys.executable, __file__, "--bare-relay", relay_jid,
                                 env["BOTSCHAFT_XMPP_PASSWORD"], str(instance.c2s_port),
                                 str(instance.ca_file), str(routes)])
        while "bare-relay" not in await asyncio.to_thread(
                api.call, "user_resources", user=bot_jid.split("@")[0], host=instance.domain):
            assert time.monotonic() < deadline + TIMEOUT and bare.poll() is None, \
                "the bare relay did not start"
            await asyncio.sleep(0.1)
        print(f"{'round':>5} {'run':<7} {'p50 ms':>8} {'p99 ms':>8} {'messages':>9}")
        for number in range(1, rounds + 1):
            for kind in KINDS[number % 3:] + KINDS[:number % 3]:
                latencies = (await direct(customers, pairs) if kind == "direct"
                             else await relay(bot_jid if kind == "relay" else relay_jid,
                                              customers, cases))
                figures = {"p50_ms": percentile(latencies, 0.5) * 1000,
                           "p99_ms": percentile(latencies, 0.99) * 1000,
                           "messages": len(latencies)}
                results[kind].append(figures)
                print(f"{number:>5} {kind:<7} {figures['p50_ms']:>8.1f} "
                      f"{figures['p99_ms']:>8.1f} {figures['messages']:>9}", flush=True)
        results["peak_rss_mb"] = peak_rss_mb(bot.pid)
    finally:
        for client in clients:
            await client.stop(wait=1)
        for process in (bot, bare):
            if process is not None:
                process.terminate()
                process.wait(60)
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return results


async def who_is_with_whom(bot: str, customers: list[Client], held: dict[int, Client]
                           ) -> dict[Client, tuple[Client, int]]:
    """Each customer's case and staff member: each staff member greets each of their cases
    (`to N hello <case>`), and the customer who gets it is that case's."""
    for case, member in held.items():
        member.say(bot, f"to {case} hello case{case}")
    cases: dict[Client, tuple[Client, int]] = {}
    deadline = time.monotonic() + TIMEOUT
    while len(cases) < len(held):
        assert time.monotonic() < deadline, f"only {len(cases)} customers greeted"
        for customer in customers:
            if customer in cases:
                continue
            for text in customer.texts:
                if " hello case" in text:
                    case = int(text.rsplit("case", 1)[1])
                    cases[customer] = (held[case], case)
        await asyncio.sleep(0.05)
    return cases


async def drained(database: Path) -> None:
    """Until the outbox has sent everything the setup queued (each `take` tells everyone
    behind in the queue their new place: thousands of messages), so that the rounds measure
    the relay, not that backlog."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            (left,) = connection.execute("SELECT count(*) FROM bots_outbox WHERE state IN "
                                         "('pending', 'sent')").fetchone()
        if not left:
            return
        assert time.monotonic() < deadline, f"the outbox still holds {left} messages"
        await asyncio.sleep(0.2)


def report(results: dict, customers: int, staff: int) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(figures[key] for figures in results[kind])

    print("\nmedians over rounds")
    for kind in KINDS:
        print(f"  {kind:<7} p50 {median(kind, 'p50_ms'):.1f} ms, p99 {median(kind, 'p99_ms'):.1f} "
              "ms")
    ratio = median("relay", "p50_ms") / median("direct", "p50_ms")
    floor = median("bare", "p50_ms") / median("direct", "p50_ms")
    print(f"  a bare relay (no database, no record): p50 {floor:.2f}x the direct message; "
          f"the bot's relay {median('relay', 'p50_ms') / median('bare', 'p50_ms'):.2f}x "
          "the bare relay's")
    print(f"  p50_ratio_to_direct {ratio:.2f} (target <= {TARGET}: "
          f"{'met' if ratio <= TARGET else 'NOT met'})")
    print(json.dumps({"p50_ratio_to_direct": round(ratio, 2),
                      "p99_ms": round(median("relay", "p99_ms"), 1),
                      "p50_ms": round(median("relay", "p50_ms"), 1),
                      "direct_p50_ms": round(median("direct", "p50_ms"), 1),
                      "direct_p99_ms": round(median("direct", "p99_ms"), 1),
                      "bare_relay_p50_ms": round(median("bare", "p50_ms"), 1),
                      "p50_ratio_to_bare_relay": round(
                          median("relay", "p50_ms") / median("bare", "p50_ms"), 2),
                      "peak_rss_mb": round(results["peak_rss_mb"], 1),
                      "customers": customers, "staff": staff,
                      "rounds": len(results["relay"])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--staff", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare-relay", nargs=5, help=argparse.SUPPRESS,
                        metavar=("JID", "PASSWORD", "PORT", "CA_FILE", "ROUTES"))
    arguments = parser.parse_args()
    if arguments.bare_relay:
        run_bare_relay(*arguments.bare_relay)
        return
    if arguments.customers % arguments.staff:
        parser.error("--customers must be a multiple of --staff (each holds as many cases)")
    results = asyncio.run(benchmark(arguments.customers, arguments.staff, arguments.rounds))
    report(results, arguments.customers, arguments.staff)


if __name__ == "__main__":
    main()
