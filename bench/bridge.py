"""The WhatsApp bridge both ways, against a bare component that only forwards, in the same run.

    .venv/bin/python bench/bridge.py [--messages 3000] [--numbers 200] [--rounds 3]
                                     [--in-flight 16]

A private ejabberd and three processes besides it:
  - Meta's side ("meta", this file in a process of its own): the fake Cloud API
    (server_bridge/whatsapp/fake_cloud.py) takes the sends and counts them, and plays the
    `--numbers` WhatsApp users, posting their webhooks signed with the app secret
    (X-Hub-Signature-256), one message per delivery, `--in-flight` deliveries at once over
    the fake's own HTTP client. Its status webhooks (sent, delivered) are off: each
    direction measures messages alone.
  - the forwarder under test, in turn (the order alternates from round to round): the bridge,
    `botschaft bridge run` with its SQLite database, `rate` 1000 (the most the setting and
    Meta allow, in and out together: the out figure cannot pass it, and is printed as a
    share of it too) and `per_recipient` 0 (no person is held back); or the baseline, a
    bare slixmpp ComponentXMPP at the same address (whatsapp.<domain>, ejabberd's component
    port) with the bridge's webhook resource (the same signature check and parsing) and its
    Cloud API client, at most 32 sends waiting for an answer as in the bridge, but no
    database: a webhook's text goes out at once as an XMPP message, an XMPP message at once
    as a send.
  - this process: a plain slixmpp client logged in as the bot's account, `deliver_to`.
Before the bridge's first round every number writes "Hallo", gets the privacy notice, and
answers "JA" (not timed): the bridge relays only for numbers that agreed. Each round, per
forwarder, after a short warm-up both ways (not timed):
  - in: `--messages` webhooks posted; messages/s from the first post to the last message
    arriving at the client, and the webhook's answer time (p50, p99) as the poster saw it
    (which grows with `--in-flight`: each delivery waits for those ahead of it);
  - out: `--messages` messages from the client to +<number>@whatsapp.<domain>, spread over
    the numbers; messages/s from the first sent to the last send the fake Cloud API took
    (each one checked there: none missing, none twice);
and the CPU milliseconds per message of the forwarder, ejabberd, the meta process and this one.
The bridge keeps one SQLite file for the whole run. Prints each round (and the lines with
WARNING or ERROR in a forwarder's log), the medians over rounds, and last one JSON line:
in_per_s, out_per_s, webhook_p99_ms (the bridge's), ratio_to_bare_component (the lower of
ratio_in and ratio_out, each the bridge's messages/s over the bare component's), both ratios,
the baseline's figures and more. Targets (the issue's, printed, not asserted): at least 1,000
messages/s each way, webhook p99 under 100 ms. The default run takes about a minute and a
half. Needs root (the private ejabberd).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import slixmpp
from twisted.web.resource import Resource

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from join import cpu_seconds, percentile  # noqa: E402  (bench/join.py)
from outbox import BOTSCHAFT, peak_rss_mb  # noqa: E402  (bench/outbox.py)
from scale import Child, read_command, say, scan  # noqa: E402  (bench/scale.py)

from bots.config import load as load_config  # noqa: E402
from bots.config import web_address  # noqa: E402
from bots.devserver import BOT_USER, DevServer, free_port  # noqa: E402
from bots.testing import new_state_dir  # noqa: E402
from bots.web import install_reactor, listen_site  # noqa: E402
from server_bridge.whatsapp.bridge import SECTION  # noqa: E402
from server_bridge.whatsapp.cloud import Cloud  # noqa: E402
from server_bridge.whatsapp.fake_cloud import FakeCloud  # noqa: E402
from server_bridge.whatsapp.http import FAILURES  # noqa: E402
from server_bridge.whatsapp.updates import Incoming  # noqa: E402
from server_bridge.whatsapp.webhook import Webhook  # noqa: E402

KINDS = ("bare", "bridge")
TIMEOUT = 120  # seconds a step may take before it counts as stalled
WARM_UP = 50  # messages each way before each forwarder's timed floods
SENDS_IN_FLIGHT = 32  # the bridge's own limit of sends waiting for the Cloud API
TARGET_PER_S = 1000
PACE = 1000  # the bridge's `rate`: the most Meta allows one number (inbound and outbound)
TARGET_P99_MS = 100.0
BRIDGE_READY = "The WhatsApp bridge runs"  # its line on stderr once webhook and component are up
ACCOUNT = "BENCH_BRIDGE_ACCOUNT"  # the meta process's settings, as JSON in its environment


# --- Meta's side: the fake Cloud API and the WhatsApp users (`--role meta`) ------------------

async def play_meta(account: dict) -> None:
    """Answer the benchmark's commands, one JSON line each, until `quit`."""
    install_reactor()
    cloud = FakeCloud(account["access_token"], account["app_secret"])
    cloud.auto_statuses = False
    say(url=cloud.start())
    numbers = account["numbers"]
    while (command := (await read_command()).split()) and command[0] != "quit":
        action, arguments = command[0], command[1:]
        if action == "webhook":
            cloud.webhook_url = arguments[0]
            say(ok=True)
        elif action == "probe":
            await webhook_answers(cloud)
            say(ok=True)
        elif action == "opt-in":
            await opt_in(cloud, numbers, int(arguments[0]))
            say(ok=True)
        elif action == "post":
            say(**await post(cloud, numbers, int(arguments[0]), arguments[1], int(arguments[2])))
        elif action == "expect":
            say(counting=True)
            say(**await count_sends(cloud, int(arguments[0]), arguments[1]))
    await cloud.stop()


async def webhook_answers(cloud: FakeCloud) -> None:
    """Until the forwarder's webhook takes a signed delivery (one without messages)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if (await cloud.post_webhook(cloud.envelope({})))[0] == 200:
                return
        except FAILURES:  # not listening (yet)
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the webhook did not answer")
        await asyncio.sleep(0.1)


async def opt_in(cloud: FakeCloud, numbers: list[str], in_flight: int) -> None:
    """Each number writes, gets the notice, answers JA, gets the welcome."""
    at_once = asyncio.Semaphore(in_flight)
    before = {number: len(cloud.sent[number]) for number in numbers}  # the bare's rounds

    async def agree(number: str) -> None:
        async with at_once:
            for text in ("Hallo", "JA"):
                status = await cloud.user_says(number, text)
                if status != 200:
                    raise SystemExit(f"the bridge answered {status} during the opt-in")
    await asyncio.gather(*(agree(number) for number in numbers))
    deadline = time.monotonic() + TIMEOUT
    while any(len(cloud.sent[number]) < before[number] + 2 for number in numbers):
        if time.monotonic() > deadline:
            raise SystemExit("not every number got the notice and the welcome")
        await asyncio.sleep(0.1)


async def post(cloud: FakeCloud, numbers: list[str], count: int, prefix: str,
               in_flight: int) -> dict:
    """`count` webhooks, texts `prefix0`, `prefix1`, …, `in_flight` at once: when the first
    went, how long each took to be answered, and how many were refused."""
    indices = iter(range(count))
    answer_times: list[float] = []
    refused = 0

    async def poster() -> None:
        nonlocal refused
        for index in indices:  # shared: each poster takes the next
            sent = time.monotonic()
            status = await cloud.user_says(numbers[index % len(numbers)], f"{prefix}{index}")
            answer_times.append(time.monotonic() - sent)
            refused += status != 200
    started = time.monotonic()
    await asyncio.gather(*(poster() for _ in range(in_flight)))
    return {"started": started, "refused": refused,
            "p50_ms": percentile(answer_times, 0.5) * 1000,
            "p99_ms": percentile(answer_times, 0.99) * 1000}


async def count_sends(cloud: FakeCloud, count: int, prefix: str) -> dict:
    """Until `count` sends of texts starting with `prefix` came in: when the last did, how
    many distinct texts, and how many came twice. (Counted once that many sends of any text
    came: another, such as one a previous run of the bridge sends again, is left out.)"""
    first, last = cloud.attempts, time.monotonic()
    texts: list[str] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            while len(texts) < count:
                await cloud.arrived.wait()
                cloud.arrived.clear()
                last = time.monotonic()
                if cloud.attempts - first >= count:
                    texts = [text for number in list(cloud.sent)
                             for text in cloud.texts_to(number) if text.startswith(prefix)]
    except TimeoutError:
        pass
    return {"last": last, "arrived": len(set(texts)),
            "doubled": len(texts) - len(set(texts))}


# --- the baseline: a bare component that only forwards (`--role bare`) -----------------------

class BareComponent(slixmpp.ComponentXMPP):
    """Forwards and nothing else: a webhook's texts at once to `deliver_to`, from the number's
    address; a message to a number's address at once to the Cloud API. The bridge's settings,
    webhook resource and Cloud API client; no database, no opt-in, no pacing."""

    def __init__(self, settings: dict):
        super().__init__(settings["jid"], settings["component_secret"], settings["host"],
                         settings["port"])
        self.deliver_to = settings["deliver_to"]
        self.cloud = Cloud(settings["api_url"], settings["api_version"],
                           settings["phone_number_id"], settings["access_token"])
        self.slots = asyncio.Semaphore(SENDS_IN_FLIGHT)
        self.sends: set[asyncio.Task] = set()  # under way: finished before the client closes
        self.online = asyncio.Event()
        self.add_event_handler("session_start", lambda _event: self.online.set())
        self.add_event_handler("message", self.to_whatsapp)

    async def to_xmpp(self, updates: list) -> None:
        for update in updates:
            if isinstance(update, Incoming) and update.text:
                self.send_message(mto=self.deliver_to, mbody=update.text, mtype="chat",
                                  mfrom=f"+{update.number}@{self.boundjid.domain}")

    def to_whatsapp(self, message: slixmpp.Message) -> None:
        if message["type"] in ("chat", "normal") and message["body"]:
            send = asyncio.ensure_future(self._send(message["to"].user.lstrip("+"),
                                                    message["body"]))
            self.sends.add(send)
            send.add_done_callback(self.sends.discard)

    async def _send(self, number: str, text: str) -> None:
        async with self.slots:
            await self.cloud.send_text(number, text)


async def run_bare() -> None:
    install_reactor()
    config = load_config(None)  # the bridge's settings, from the same environment
    settings = config.values[SECTION]
    component = BareComponent(settings)
    root = Resource()
    root.putChild(b"webhook", Webhook(settings["app_secret"], settings["verify_token"],
                                      settings["phone_number_id"], component.to_xmpp))
    host, port = web_address(settings["listen"])
    listening = listen_site(root, host, port, config.values["web"], "bare component")
    listening.factory.max_body_bytes = settings["max_body_bytes"]
    component.connect()
    await asyncio.wait_for(component.online.wait(), 60)
    say(ready=True)
    await read_command()  # until the benchmark says stop
    await asyncio.gather(*component.sends, return_exceptions=True)
    await component.cloud.close()
    await component.disconnect()


ROLES = {"meta": lambda: play_meta(json.loads(os.environ[ACCOUNT])), "bare": run_bare}


# --- the benchmark -----------------------------------------------------------------------------

class DeliverTo(slixmpp.ClientXMPP):
    """The bot's account, where the bridge delivers: counts the messages with the expected
    prefix that come from the gateway's domain, and the errors that come back (refusals)."""

    def __init__(self, jid: str, password: str, ca_file: Path, gateway: str):
        super().__init__(jid, password)
        self.ca_certs = ca_file
        self.gateway = gateway
        self.online, self.all_arrived = asyncio.Event(), asyncio.Event()
        self.prefix, self.wanted, self.arrived, self.last = "", 0, 0, 0.0
        self.refusals = 0
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_refusal)

    def on_session_start(self, _event) -> None:
        self.send_presence()  # available: messages to the bare JID reach this session
        self.online.set()

    def on_message(self, message: slixmpp.Message) -> None:
        if message["from"].domain == self.gateway and message["body"].startswith(self.prefix):
            self.arrived += 1
            self.last = time.monotonic()
            if self.arrived == self.wanted:
                self.all_arrived.set()

    def on_refusal(self, _message: slixmpp.Message) -> None:
        self.refusals += 1

    def expect(self, prefix: str, count: int) -> None:
        self.prefix, self.wanted, self.arrived = prefix, count, 0
        self.all_arrived.clear()


class Bench:
    def __init__(self, arguments):
        self.arguments = arguments
        self.numbers = [f"49151{index:08d}" for index in range(arguments.numbers)]
        self.opted_in = False

    async def run(self) -> dict[str, list[dict]]:
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
        state_dir = new_state_dir()
        workdir = state_dir / "bench"
        workdir.mkdir()
        self.server = DevServer(state_dir)
        self.meta = self.client = None
        results: dict[str, list[dict]] = {kind: [] for kind in KINDS}
        try:
            instance = self.server.start()
            self.start_meta()
            self.environ = self.environment(instance, workdir)
            password = self.server.ensure_user(BOT_USER)
            self.gateway = f"whatsapp.{instance.domain}"
            self.client = DeliverTo(f"{BOT_USER}@{instance.domain}", password,
                                    instance.ca_file, self.gateway)
            self.client.connect("127.0.0.1", instance.c2s_port)
            await asyncio.wait_for(self.client.online.wait(), 60)
            print(f"{self.arguments.messages} messages each way per round, "
                  f"{len(self.numbers)} numbers, {self.arguments.in_flight} webhooks at once; "
                  f"{self.arguments.rounds} rounds; {os.cpu_count()} cores", flush=True)
            print(f"{'round':>5} {'run':<7} {'in/s':>6} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'out/s':>6}   CPU ms per message in | out: forwarder, ejabberd, meta, "
                  "benchmark")
            for number in range(1, self.arguments.rounds + 1):
                order = KINDS if number % 2 else KINDS[::-1]
                for kind in order:
                    figures = await self.round(kind, number)
                    results[kind].append(figures)
                    print(f"{number:>5} {kind:<7} {figures['in_per_s']:>6.0f} "
                          f"{figures['p50_ms']:>7.1f} {figures['p99_ms']:>7.1f} "
                          f"{figures['out_per_s']:>6.0f}   {shown(figures['cpu_in'])} | "
                          f"{shown(figures['cpu_out'])}", flush=True)
        finally:
            if self.client is not None:
                self.client.disconnect()
            if self.meta is not None:
                self.meta.send("quit")
                self.meta.stop()
            self.server.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        return results

    def start_meta(self) -> None:
        self.secrets = {"access_token": secrets.token_urlsafe(16),
                        "app_secret": secrets.token_urlsafe(16)}
        self.meta = Child([sys.executable, str(HERE), "--role=meta"], env={
            **os.environ, ACCOUNT: json.dumps({**self.secrets, "numbers": self.numbers})})
        self.cloud_url = self.meta.answer(60)["url"]

    def environment(self, instance, workdir: Path) -> dict[str, str]:
        """The bridge's settings (and the bare component's), as the e2e test sets them."""
        port = free_port()
        self.meta.send(f"webhook http://127.0.0.1:{port}/webhook")
        self.meta.answer()
        cloud = FakeCloud(**self.secrets)  # only its settings for a bridge: not started here
        return {**os.environ, **cloud.bridge_environ(self.cloud_url, instance,
                                                     f"{BOT_USER}@{instance.domain}"),
                "BOTSCHAFT_CONFIG": os.devnull,
                "BOTSCHAFT_DATABASE_URL": f"sqlite:///{workdir / 'bridge.db'}",
                "BOTSCHAFT_BRIDGE_WHATSAPP_LISTEN": f"127.0.0.1:{port}",
                "BOTSCHAFT_BRIDGE_WHATSAPP_RATE": str(PACE),
                "BOTSCHAFT_BRIDGE_WHATSAPP_PER_RECIPIENT": "0"}

    async def round(self, kind: str, number: int) -> dict:
        forwarder = await self.start(kind)
        try:
            if kind == "bridge" and not self.opted_in:
                self.meta.send(f"opt-in {self.arguments.in_flight}")
                await asyncio.to_thread(self.meta.answer, TIMEOUT * 2)
                self.opted_in = True
            await self.flood_in(WARM_UP, f"w{number}-{kind}-in-")
            await self.flood_out(WARM_UP, f"w{number}-{kind}-out-")
            pids = {"forwarder": forwarder.pid, "ejabberd": self.server.pid(),
                    "meta": self.meta.pid, "benchmark": os.getpid()}
            count = self.arguments.messages
            before = cpu(pids)
            figures = await self.flood_in(count, f"r{number}-{kind}-in-")
            middle = cpu(pids)
            figures.update(await self.flood_out(count, f"r{number}-{kind}-out-"))
            after = cpu(pids)
            figures["cpu_in"] = {name: (middle[name] - before[name]) / count * 1000
                                 for name in pids}
            figures["cpu_out"] = {name: (after[name] - middle[name]) / count * 1000
                                  for name in pids}
            figures["peak_rss_mb"] = peak_rss_mb(forwarder.pid)
        finally:
            await self.stop(kind, forwarder)
        return figures

    async def start(self, kind: str) -> Child:
        if kind == "bare":
            forwarder = Child([sys.executable, str(HERE), "--role=bare"], env=self.environ)
            await asyncio.to_thread(forwarder.answer, 60)
        else:
            forwarder = Child([BOTSCHAFT, "bridge", "run"], env=self.environ)
            deadline = time.monotonic() + 60
            while BRIDGE_READY not in forwarder.log.read_text(errors="replace"):
                if forwarder.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the bridge did not start; its log:\n"
                                     + forwarder.log.read_text(errors="replace")[-3000:])
                await asyncio.sleep(0.1)
        self.meta.send("probe")
        await asyncio.to_thread(self.meta.answer, TIMEOUT)
        return forwarder

    async def stop(self, kind: str, forwarder: Child) -> None:
        if kind == "bare":
            forwarder.send("stop")
        else:
            forwarder.process.send_signal(signal.SIGTERM)
        try:
            forwarder.process.wait(30)
        except subprocess.TimeoutExpired:
            forwarder.process.kill()
        for problem in scan(forwarder.log):
            print(f"  {kind} log: {problem}", flush=True)
        forwarder.stop()
        await asyncio.sleep(1)  # ejabberd notices the component is gone before the next comes

    async def flood_in(self, count: int, prefix: str) -> dict:
        self.client.expect(prefix, count)
        self.meta.send(f"post {count} {prefix} {self.arguments.in_flight}")
        posted = await asyncio.to_thread(self.meta.answer, TIMEOUT)
        if posted["refused"]:
            raise SystemExit(f"{posted['refused']} webhooks were refused")
        try:
            await asyncio.wait_for(self.client.all_arrived.wait(), TIMEOUT)
        except TimeoutError:
            raise SystemExit(f"stalled: {self.client.arrived} of {count} messages from "
                             "WhatsApp arrived") from None
        return {"in_per_s": count / (self.client.last - posted["started"]),
                "p50_ms": posted["p50_ms"], "p99_ms": posted["p99_ms"]}

    async def flood_out(self, count: int, prefix: str) -> dict:
        self.meta.send(f"expect {count} {prefix}")
        await asyncio.to_thread(self.meta.answer, 30)
        refusals = self.client.refusals
        started = time.monotonic()
        for index in range(count):
            self.client.send_message(mto=f"+{self.numbers[index % len(self.numbers)]}@"
                                     f"{self.gateway}", mbody=f"{prefix}{index}", mtype="chat")
        arrived = await asyncio.to_thread(self.meta.answer, TIMEOUT + 30)
        if arrived["arrived"] < count or arrived["doubled"]:
            raise SystemExit(f"{arrived['arrived']} of {count} messages reached the Cloud API, "
                             f"{arrived['doubled']} twice; "
                             f"{self.client.refusals - refusals} refused")
        return {"out_per_s": count / (arrived["last"] - started)}


def cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def shown(cpu_ms: dict[str, float]) -> str:
    return " ".join(f"{value:.2f}" for value in cpu_ms.values())


def report(results: dict[str, list[dict]], arguments) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(figures[key] for figures in results[kind])

    def cpu_median(kind: str, direction: str) -> dict[str, float]:
        return {name: round(statistics.median(figures[f"cpu_{direction}"][name]
                                              for figures in results[kind]), 3)
                for name in results[kind][0][f"cpu_{direction}"]}

    print(f"\nmedians over {len(results['bridge'])} rounds")
    for kind in KINDS:
        print(f"  {kind:<7} in {median(kind, 'in_per_s'):.0f}/s (webhook p50 "
              f"{median(kind, 'p50_ms'):.1f} ms, p99 {median(kind, 'p99_ms'):.1f} ms), "
              f"out {median(kind, 'out_per_s'):.0f}/s; CPU ms per message in "
              f"{cpu_median(kind, 'in')}, out {cpu_median(kind, 'out')}")
    ratio_in = median("bridge", "in_per_s") / median("bare", "in_per_s")
    ratio_out = median("bridge", "out_per_s") / median("bare", "out_per_s")
    in_per_s, out_per_s = median("bridge", "in_per_s"), median("bridge", "out_per_s")
    p99 = median("bridge", "p99_ms")
    met = in_per_s >= TARGET_PER_S and out_per_s >= TARGET_PER_S and p99 < TARGET_P99_MS
    print(f"  bridge / bare component: in {ratio_in:.2f}, out {ratio_out:.2f}")
    print(f"  target: >= {TARGET_PER_S} messages/s each way, webhook p99 < {TARGET_P99_MS:.0f}"
          f" ms: {'met' if met else 'NOT met'}")
    print(f"  out is paced to {PACE}/s (rate): it cannot pass that; it reached "
          f"{out_per_s / PACE:.0%} of it")
    print(json.dumps({
        "in_per_s": round(in_per_s), "out_per_s": round(out_per_s),
        "webhook_p99_ms": round(p99, 1), "ratio_to_bare_component": round(min(ratio_in,
                                                                              ratio_out), 3),
        "ratio_in": round(ratio_in, 3), "ratio_out": round(ratio_out, 3),
        "out_pace_per_s": PACE, "out_share_of_pace": round(out_per_s / PACE, 3),
        "webhook_p50_ms": round(median("bridge", "p50_ms"), 1),
        "bare_in_per_s": round(median("bare", "in_per_s")),
        "bare_out_per_s": round(median("bare", "out_per_s")),
        "bare_webhook_p99_ms": round(median("bare", "p99_ms"), 1),
        "bridge_cpu_ms_in": cpu_median("bridge", "in"),
        "bridge_cpu_ms_out": cpu_median("bridge", "out"),
        "bare_cpu_ms_in": cpu_median("bare", "in"), "bare_cpu_ms_out": cpu_median("bare", "out"),
        "bridge_peak_rss_mb": round(max(figures["peak_rss_mb"]
                                        for figures in results["bridge"]), 1),
        "target_met": met, "messages": arguments.messages, "numbers": arguments.numbers,
        "in_flight": arguments.in_flight, "rounds": arguments.rounds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="each way, per round")
    parser.add_argument("--numbers", type=int, default=200, help="WhatsApp users (opted in)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=16, help="webhooks posted at once")
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.role:
        asyncio.run(ROLES[arguments.role]())
        return
    results = asyncio.run(Bench(arguments).run())
    report(results, arguments)


if __name__ == "__main__":
    main()
