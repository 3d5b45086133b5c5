"""Group rooms made by the rooms plugin against a bare loop of ejabberd's room commands, in the
same run.

    .venv/bin/python bench/rooms.py [--rooms 200] [--members 30] [--people 50] [--clients 8]
                                    [--rounds 3]

A private ejabberd, `--people` accounts made first (admin API `register`, not timed), and a bot
with the rooms plugin. Each room gets `--members` of those people (a rotating choice: everyone
is a member of many rooms). Each round measures both paths, in turn (the order alternates from
round to round, as the server's rooms pile up), with `--rooms` new rooms each:
  - api (the limit): ejabberd's own `create_room_with_opts` (the plugin's room options, title,
    description and language) and one `set_room_affiliation … member` per member, from
    `--clients` threads; then every member enters the room and talks (below);
  - bot: the plugin's `RoomBook.create` (the room on the server, the bot its owner, the row in
    the bot's database) and `RoomBook.invite_many` with its members (each account checked, the
    members recorded and the invitation notes queued in the outbox, one transaction), as
    `botschaft rooms create` and `rooms add` do, `--clients` rooms at a time through the bot's
    handler threads (`[database] handler_workers` set to `--clients` for this); then the notes
    reach the people, the bot enters the new rooms (the plugin's `enter_rooms`: it joins and
    posts the welcome; a minute later its job would), and every member accepts: writes `join
    <room>` to the bot (consent, affiliation member, a XEP-0249 invitation and an answer; all
    members at once), and on the invitation enters the room and talks.
"Talks": a member enters (XEP-0045, no history), says one line, and counts once the room has
reflected it to them; then it leaves (staying would make the clients' own parsing of M²
presences per room the limit). At most IN_FLIGHT members are entering at once, member by member
across the rooms.

Figures: rooms/s = rooms with all their members added / the time from the first call to the
last room done (api: affiliations set; bot: invitations noted); invitations/s (bot) = accepted
joins / the time from the first `join` written to the last invitation received; talk_s = the
time until every member has talked (api: from the end of the loop; bot: from the first `join`
written, so it includes accepting); notes_s, enter_s: until the people had the notes, then
until the bot was in the rooms; the CPU time per room of ejabberd and of the bot's process.
ratio_to_api_loop = the bot's rooms/s / the api loop's rooms/s (medians), creation with members
added on both sides: members noted and invited by the bot vs. members affiliated by the bare
loop (the bot sets the affiliation when they accept, counted in invitations/s). The issue's
target, printed, not asserted: ratio >= 0.7. Every API client authenticates with a token
(`EjabberdAPI.use_token`), as the bot does.

People's connections are shaped by ejabberd.yml (c2s_shaper `normal`: 3,000 bytes/s after a
20,000-byte burst, per connection); with many rooms per person, talk_s may measure it. The bot
account may be in at most 1,000 rooms at once (mod_muc's max_user_conferences in ejabberd.yml;
the default rounds stay below): beyond, it is refused ("You have joined too many
conferences"), a failure here.
The clients and the api loop run in a process of their own (this file, `--worker`, driven by
JSON lines on stdin); the bot runs in this process, on its own event loop. Checked on the way,
failures printed: every room made, every note received, every member accepted and talked, and
in sample rooms the options and affiliations read back from the server. Prints each round,
medians (range), and last one JSON line with rooms_per_s, invitations_per_s, ratio_to_api_loop
and more. Needs root (the private ejabberd).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# bench/ is no package: the script's own directory is on sys.path, so `join` is bench/join.py.
from join import cpu_seconds, percentile, timed_api
from slixmpp import JID
from slixmpp.exceptions import PresenceError

from bots.connection import Session

HERE = Path(__file__).resolve()
PATHS = ("api", "bot")
WARM_UP = 3  # rooms of each path before the first round, not counted
SAMPLE_ROOMS = 3  # rooms per batch whose options and affiliations are read back
IN_FLIGHT = 50  # members entering and talking at once, over all clients
TIMEOUT = 120  # seconds a member waits for one step (the server or the bot may be busy)
SLOWEST_ACCEPTS = 10  # per second: everyone writes `join` at once, so the last one waits
# for all the others' invitations too: TIMEOUT + members in all / this
TARGET_RATIO = 0.7
NOTE_START = "You are invited to the group chat"  # the plugin's note, in English


# --- the worker process: the people's clients and the api loop -----------------------------

class Person(Session):
    """A member's Jabber client: notes the bot's invitation notes, accepts, enters, talks."""

    def __init__(self, jid: str, password: str, ca_file: str, counted: asyncio.Event):
        super().__init__(jid, password, ca_file)
        self.register_plugin("xep_0045")
        self.register_plugin("xep_0249")
        self.nick = self.boundjid.user
        self.notes = 0
        self.counted = counted  # set on every note
        self.bot_jid = ""
        self.reflected: dict[tuple[str, str], asyncio.Future] = {}
        self.invited: dict[str, asyncio.Future] = {}
        self.add_event_handler("groupchat_message", self._room_message)
        self.add_event_handler("groupchat_direct_invite", self._invitation)
        self.add_event_handler("message", self._chat)

    def _room_message(self, message) -> None:
        future = self.reflected.pop((message["from"].bare, message["body"]), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def _invitation(self, message) -> None:
        future = self.invited.pop(JID(message["groupchat_invite"]["jid"]).bare, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def _chat(self, message) -> None:
        if message["type"] == "groupchat" or message["from"].bare != self.bot_jid:
            return
        body = message["body"]
        if body.startswith(NOTE_START):
            self.notes += 1
            self.counted.set()
        elif body.startswith("Not done"):  # the plugin's refusal names the room
            for room, future in list(self.invited.items()):
                if room.split("@")[0] in body and not future.done():
                    future.set_exception(RuntimeError(f"the bot refused: {body[:200]}"))

    async def talk(self, room: str) -> float:
        """Enter the room, say one line, leave once the room reflected it; when it did."""
        muc = self.plugin["xep_0045"]
        await muc.join_muc_wait(JID(room), self.nick, maxstanzas=0, timeout=TIMEOUT)
        body = f"hello from {self.nick}"
        reflected = asyncio.get_running_loop().create_future()
        self.reflected[(room, body)] = reflected
        self.send_message(mto=room, mbody=body, mtype="groupchat")
        try:
            done = await asyncio.wait_for(reflected, TIMEOUT)
        except TimeoutError:
            raise TimeoutError(f"the room did not reflect the message in {TIMEOUT} s") from None
        muc.leave_muc(JID(room), self.nick)
        return done

    async def accept(self, room: str, timeout: float) -> float:
        """Write `join <room>` to the bot; when its XEP-0249 invitation came."""
        invited = asyncio.get_running_loop().create_future()
        self.invited[room] = invited
        self.send_message(mto=self.bot_jid, mbody=f"join {room.split('@')[0]}", mtype="chat")
        try:
            return await asyncio.wait_for(invited, timeout)
        except TimeoutError:
            raise TimeoutError(f"no invitation from the bot in {timeout:.0f} s") from None


class Pool:
    """The logged-in people, by bare JID, and what they are asked to do."""

    def __init__(self):
        self.people: dict[str, Person] = {}
        self.counted = asyncio.Event()

    async def login(self, job: dict) -> dict:
        at_once = asyncio.Semaphore(10)

        async def one(jid: str, password: str) -> None:
            async with at_once:
                person = Person(jid, password, job["ca_file"], self.counted)
                person.bot_jid = job["bot_jid"]
                await person.start("127.0.0.1", job["port"], timeout=60)
                self.people[person.boundjid.bare] = person
        await asyncio.gather(*(one(jid, password) for jid, password in job["accounts"]))
        return {"people": len(self.people)}

    async def notes(self, job: dict) -> dict:
        """Wait until the people have `expected` notes in all (since they logged in)."""
        deadline = time.monotonic() + job["timeout"]
        while (received := sum(person.notes for person in self.people.values())) \
                < job["expected"] and time.monotonic() < deadline:
            self.counted.clear()
            try:
                await asyncio.wait_for(self.counted.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass
        return {"received": received}

    async def members(self, job: dict, accept: bool) -> dict:
        """Every member of every room talks (after accepting the bot's invitation)."""
        entering = asyncio.Semaphore(IN_FLIGHT)
        patience = TIMEOUT + sum(map(len, job["rooms"].values())) / SLOWEST_ACCEPTS
        started = time.perf_counter()

        async def one(room: str, jid: str) -> dict:
            person = self.people[jid]
            try:
                invited = await person.accept(room, patience) - started if accept else None
                async with entering:
                    entered = time.perf_counter()
                    talked = await person.talk(room)
            except (PresenceError, TimeoutError, RuntimeError) as exc:
                return {"failure": f"{jid} in {room}: {type(exc).__name__}: {exc}"[:300]}
            return {"invited_s": invited, "talked_s": talked - started,
                    "talk_seconds": talked - entered}
        # Member by member across the rooms: those entering at once are in different rooms,
        # as people accepting at different times would be (not 30 presences each at once).
        tasks = [one(room, jids[turn]) for turn in range(max(map(len, job["rooms"].values())))
                 for room, jids in job["rooms"].items() if turn < len(jids)]
        return {"results": await asyncio.gather(*tasks)}

    async def stop(self) -> None:
        await asyncio.gather(*(person.stop(wait=1) for person in self.people.values()))


def api_loop(job: dict) -> dict:
    """The limit: each room made and its members affiliated with bare admin API calls, from
    job["clients"] threads."""
    from bots.ejabberd_api import EjabberdAPIError

    timed: dict[str, list[float]] = {}
    api = timed_api(job, timed)
    api.use_token()  # as the bot does, before the clock starts

    def one(slug: str) -> dict:
        started = time.perf_counter()
        try:
            api.create_room_with_opts(slug, job["service"], job["domain"],
                                      {**job["options"], "title": f"Room {slug}"})
            for jid in job["rooms"][slug]:
                api.set_room_affiliation(slug, job["service"], jid, "member")
        except EjabberdAPIError as exc:
            return {"failure": f"{slug}: {exc}"}
        return {"seconds": time.perf_counter() - started}

    with ThreadPoolExecutor(job["clients"]) as threads:
        started = time.perf_counter()
        results = list(threads.map(one, job["rooms"]))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "results": results, "api_calls": timed}


async def run_worker() -> None:
    """Answer the JSON commands on stdin, one line each, until stdin closes."""
    pool = Pool()
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            job = json.loads(line)
            cpu = time.process_time()
            if job["do"] == "login":
                answer = await pool.login(job)
            elif job["do"] == "notes":
                answer = await pool.notes(job)
            elif job["do"] == "api":
                answer = await asyncio.to_thread(api_loop, job)
            else:
                answer = await pool.members(job, accept=job["do"] == "accept")
            answer["client_cpu_s"] = time.process_time() - cpu
            print(json.dumps(answer), flush=True)
    finally:
        await pool.stop()


# --- the benchmark: server, bot, rounds ----------------------------------------------------

class Worker:
    """The worker process, asked one thing at a time."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.lock = asyncio.Lock()

    @classmethod
    async def start(cls) -> Worker:
        return cls(await asyncio.create_subprocess_exec(
            sys.executable, str(HERE), "--worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2 ** 26))

    async def ask(self, do: str, **job) -> dict:
        async with self.lock:
            self.process.stdin.write(json.dumps({"do": do, **job}).encode() + b"\n")
            await self.process.stdin.drain()
            line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker failed at {do!r} (exit {await self.process.wait()}); "
                               "its error is above")
        return json.loads(line)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class Bench:
    """The private ejabberd, the bot with the rooms plugin, the worker with the people."""

    def __init__(self, server, bot, rooms, worker: Worker, people: list[str], members: int,
                 clients: int):
        self.server = server
        self.bot = bot
        self.rooms = rooms
        self.worker = worker
        self.people = people
        self.members = members
        self.clients = clients
        self.notes_expected = 0
        self.api = server.instance.api()
        self.api.use_token()

    def plan(self, path: str, count: int, label: str) -> dict[str, list[str]]:
        """`count` new rooms, each with `members` people in turn: room slug → member JIDs.
        Room n starts at person n: the n-th members of neighbouring rooms, who enter at about
        the same time, are different people (each connection has its own shaper)."""
        start = random.randrange(len(self.people))
        return {f"bench-{label}-{path}-{number:05d}": [
                    self.people[(start + number + offset) % len(self.people)]
                    for offset in range(self.members)]
                for number in range(count)}

    async def run(self, path: str, count: int, label: str) -> dict:
        rooms = self.plan(path, count, label)
        ejabberd = self.server.devserver.pid()
        bot_cpu, ejabberd_cpu = time.process_time(), cpu_seconds(ejabberd)
        figures = await (self.api_path(rooms) if path == "api" else self.bot_path(rooms))
        figures["bot_cpu_ms"] = (time.process_time() - bot_cpu) * 1000 / count
        figures["ejabberd_cpu_ms"] = (cpu_seconds(ejabberd) - ejabberd_cpu) * 1000 / count
        figures["failures"] += await asyncio.to_thread(self.check, path, rooms)
        return figures

    async def api_path(self, rooms: dict[str, list[str]]) -> dict:
        from plugins.rooms.service import ROOM_OPTIONS

        instance = self.server.instance
        settings = self.rooms.book.settings
        options = {**ROOM_OPTIONS, "description": "A bench room", "lang": "en"}
        made = await self.worker.ask(
            "api", rooms=rooms, clients=self.clients, options=options,
            service=settings.muc_service, domain=settings.domain, api_url=instance.api().url,
            api_user=instance.admin_jid, api_password=instance.admin_password)
        failures = [result["failure"] for result in made["results"] if "failure" in result]
        seconds = [result["seconds"] for result in made["results"] if "seconds" in result]
        talked = await self.worker.ask("talk", rooms=self.addresses(rooms))
        return {"rooms_per_s": len(seconds) / made["wall_s"],
                "room_p50_ms": statistics.median(seconds or [float("nan")]) * 1000,
                "room_p99_ms": percentile(seconds, 0.99) * 1000 if seconds else float("nan"),
                **self.talk_figures(talked, rooms, failures),
                "total_s": made["wall_s"] + self.last(talked, "talked_s"),
                **{f"{command}_ms": statistics.median(times) * 1000
                   for command, times in made["api_calls"].items()
                   if command != "oauth_issue_token"},
                "client_cpu_ms": (made["client_cpu_s"] + talked["client_cpu_s"]) * 1000
                / len(rooms), "failures": failures}

    async def bot_path(self, rooms: dict[str, list[str]]) -> dict:
        from bots.ejabberd_api import EjabberdAPIError
        from plugins.rooms.service import RoomsError

        book, at_once = self.rooms.book, asyncio.Semaphore(self.clients)

        def make(slug: str, members: list[str]) -> None:
            room, new = book.create(slug, f"Room {slug}", "A bench room")
            if not new:
                raise RuntimeError(f"{slug} was there already")
            book.invite_many(room, members)

        async def one(slug: str) -> dict:
            async with at_once:
                started = time.perf_counter()
                try:
                    await self.bot.services.run(make, slug, rooms[slug])
                except (RoomsError, EjabberdAPIError, RuntimeError) as exc:
                    return {"failure": f"{slug}: {type(exc).__name__}: {exc}"[:300]}
                return {"seconds": time.perf_counter() - started}

        started = time.perf_counter()
        results = await asyncio.gather(*(one(slug) for slug in rooms))
        wall = time.perf_counter() - started
        self.notes_expected += sum(len(members) for members in rooms.values())
        noted = await self.worker.ask("notes", expected=self.notes_expected, timeout=TIMEOUT)
        notes = time.perf_counter() - started
        failures = [result["failure"] for result in results if "failure" in result]
        failures += await self.enter(len(rooms)) + self.bot_outside(rooms)
        entered = time.perf_counter() - started
        if noted["received"] != self.notes_expected:
            failures.append(f"notes: {noted['received']} received of {self.notes_expected}")
        seconds = [result["seconds"] for result in results if "seconds" in result]
        accepted = await self.worker.ask("accept", rooms=self.addresses(rooms))
        failures += await self.bot.services.run(self.without_consent, rooms)
        invited = [result["invited_s"] for result in accepted["results"] if "invited_s" in result]
        return {"rooms_per_s": len(seconds) / wall,
                "room_p50_ms": statistics.median(seconds or [float("nan")]) * 1000,
                "room_p99_ms": percentile(seconds, 0.99) * 1000 if seconds else float("nan"),
                "notes_s": notes, "enter_s": entered - notes,
                "invitations_per_s": len(invited) / max(invited) if invited else 0.0,
                **self.talk_figures(accepted, rooms, failures),
                "total_s": entered + self.last(accepted, "talked_s"),
                "client_cpu_ms": (noted["client_cpu_s"] + accepted["client_cpu_s"]) * 1000
                / len(rooms), "failures": failures}

    async def enter(self, count: int) -> list[str]:
        """The bot enters its new rooms and welcomes (the plugin's `enter_rooms`), once the
        outbox is quiet. enter_rooms writes to SQLite while it reads its rooms, which SQLite
        refuses ("database is locked") when another connection wrote meanwhile; each failed
        call has entered one room more, so it is called again, up to once a room, and the
        failures are counted."""
        import peewee

        while (await self.bot.outbox.depth())[0]:
            await asyncio.sleep(0.05)  # the acknowledgements of the last notes, settling
        locked = []
        for _attempt in range(count):
            try:
                await self.bot.services.run(self.rooms.enter_rooms)
                break
            except peewee.OperationalError as exc:
                locked.append(str(exc))
        if not locked:
            return []
        return [f"bot: enter_rooms failed {len(locked)} times ({locked[0]}), called again"]

    def bot_outside(self, rooms: dict[str, list[str]]) -> list[str]:
        """The new rooms the bot did not get into (enter_rooms logs why, above)."""
        outside = [address for address in self.addresses(rooms)
                   if address not in self.bot.joined_rooms]
        if not outside:
            return []
        return [f"bot: not in {len(outside)} of its {len(rooms)} new rooms, e.g. {outside[0]}"]

    def without_consent(self, rooms: dict[str, list[str]]) -> list[str]:
        """Every member who accepted gave the consent rooms.<room> (bot's database)."""
        from bots import consent
        from plugins.rooms.service import purpose

        missing = [f"{jid} in {slug}" for slug, members in rooms.items()
                   for jid in set(members) - consent.given_among(
                       members, purpose(self.rooms.book.room(slug)))]
        if not missing:
            return []
        return [f"bot: {len(missing)} members without consent, e.g. {missing[0]}"]

    def addresses(self, rooms: dict[str, list[str]]) -> dict[str, list[str]]:
        return {self.rooms.book.address(slug): members for slug, members in rooms.items()}

    @staticmethod
    def last(answer: dict, key: str) -> float:
        return max((result[key] for result in answer["results"] if key in result), default=0.0)

    def talk_figures(self, answer: dict, rooms: dict, failures: list[str]) -> dict:
        """talk_s: until the last member talked; the time of one member's entering and
        talking; failures are added to `failures`."""
        expected = sum(len(members) for members in rooms.values())
        talked = [result["talk_seconds"] for result in answer["results"]
                  if "talk_seconds" in result]
        failures += [result["failure"] for result in answer["results"] if "failure" in result]
        if len(talked) != expected:
            failures.append(f"talk: {len(talked)} members talked of {expected}")
        return {"talk_s": self.last(answer, "talked_s"),
                "member_p50_ms": statistics.median(talked or [float("nan")]) * 1000,
                "member_p99_ms": percentile(talked, 0.99) * 1000 if talked else float("nan")}

    def check(self, path: str, rooms: dict[str, list[str]]) -> list[str]:
        """Sample rooms, read back from the server: members-only, and the right members."""
        service = self.rooms.book.settings.muc_service
        failures = []
        for slug in random.sample(sorted(rooms), min(SAMPLE_ROOMS, len(rooms))):
            options = self.api.get_room_options(slug, service)
            if (options["members_only"], options["persistent"]) != ("true", "true"):
                failures.append(f"{path}: {slug} is not members-only and persistent")
            found = {entry.jid: entry.affiliation for entry in
                     self.api.get_room_affiliations(slug, service)}
            wanted = dict.fromkeys(rooms[slug], "member")
            if path == "bot":
                wanted[self.rooms.book.settings.bot_jid] = "owner"
            if found != wanted:
                failures.append(f"{path}: {slug} has the affiliations {found}, not {wanted}")
        return failures


def make_people(instance, count: int, clients: int) -> list[tuple[str, str]]:
    """The accounts, through the admin API (`register`, many threads; not timed)."""
    api = instance.api()
    api.use_token()
    accounts = [(f"bench-{secrets.token_hex(3)}-{number}", secrets.token_urlsafe(12))
                for number in range(count)]
    with ThreadPoolExecutor(clients) as threads:
        list(threads.map(lambda account: api.register(account[0], instance.domain, account[1]),
                         accounts))
    return [(f"{user}@{instance.domain}", password) for user, password in accounts]


async def benchmark(rooms: int, members: int, people: int, clients: int, rounds: int) -> dict:
    from bots.app import create_bot
    from bots.devserver import BOT_USER, DevServer
    from bots.testing import TestServer, bot_config, join_settings, new_state_dir
    from plugins.rooms import Rooms

    state_dir = new_state_dir()
    workdir = Path(tempfile.mkdtemp(prefix="botschaft-bench-rooms-"))
    devserver = DevServer(state_dir)
    bot = worker = None
    results: dict[str, list[dict]] = {path: [] for path in PATHS}
    failures: list[str] = []
    try:
        server = TestServer(devserver, devserver.start())
        accounts = await asyncio.to_thread(make_people, server.instance, people, clients)
        plugin = Rooms({**Rooms.default_config, "bot_jid": f"{BOT_USER}@{server.domain}"})
        api_settings = {name: value for name, value in join_settings(server).items()
                        if name.startswith("EJABBERD_")}
        bot = await create_bot(bot_config(
            server, DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", WEB_LISTEN="",
            DATABASE_HANDLER_WORKERS=str(clients), **api_settings), [plugin])
        await bot.start()
        worker = await Worker.start()
        await worker.ask("login", accounts=accounts, port=server.instance.c2s_port,
                         ca_file=str(server.instance.ca_file), bot_jid=bot.boundjid.bare)
        bench = Bench(server, bot, plugin, worker, [jid for jid, _password in accounts],
                      members, clients)
        for path in PATHS:
            failures += (await bench.run(path, min(WARM_UP, rooms), "warm"))["failures"]
        print(f"{'round':>5} {'path':<4} {'rooms/s':>8} {'inv/s':>7} {'talk s':>7} "
              f"{'total s':>8} {'member p50/p99 ms':>18} {'cpu ms/room bot/ejabberd':>25}")
        for number in range(1, rounds + 1):
            for path in PATHS if number % 2 else tuple(reversed(PATHS)):
                figures = await bench.run(path, rooms, f"r{number}")
                results[path].append(figures)
                failures += figures["failures"]
                invitations = (f"{figures['invitations_per_s']:>7.1f}"
                               if "invitations_per_s" in figures else f"{'-':>7}")
                failed = f"  FAILURES: {len(figures['failures'])}" if figures["failures"] else ""
                print(f"{number:>5} {path:<4} {figures['rooms_per_s']:>8.2f} {invitations} "
                      f"{figures['talk_s']:>7.1f} {figures['total_s']:>8.1f} "
                      f"{figures['member_p50_ms']:>8.0f} / {figures['member_p99_ms']:<7.0f} "
                      f"{figures['bot_cpu_ms']:>12.1f} / {figures['ejabberd_cpu_ms']:>9.1f}"
                      f"{failed}", flush=True)
    finally:
        if worker is not None:
            await worker.stop()
        if bot is not None:
            await bot.stop()
            bot.storage.close()
        devserver.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return summary(results, failures, rooms, members, people, clients)


def summary(results: dict[str, list[dict]], failures: list[str], rooms: int, members: int,
            people: int, clients: int) -> dict:
    def median(path: str, key: str) -> float:
        values = [figures[key] for figures in results[path] if key in figures]
        return statistics.median(values) if values else float("nan")

    def spread(path: str, key: str) -> str:
        values = [figures[key] for figures in results[path] if key in figures]
        return f"{min(values):.1f}–{max(values):.1f}" if values else "-"

    print(f"\nmedians (range) over {len(results['api'])} rounds of {rooms} rooms × {members} "
          f"members, {people} people, {clients} clients")
    for path in PATHS:
        keys = [key for key in results[path][0] if key != "failures"]
        print(f"  {path}: " + ", ".join(f"{key} {median(path, key):.2f} ({spread(path, key)})"
                                       for key in keys))
    bot_rooms, api_rooms = median("bot", "rooms_per_s"), median("api", "rooms_per_s")
    report = {"rooms_per_s": round(bot_rooms, 2),
              "invitations_per_s": round(median("bot", "invitations_per_s"), 1),
              "ratio_to_api_loop": round(bot_rooms / api_rooms, 3),
              "api_rooms_per_s": round(api_rooms, 2),
              "talk_s": round(median("bot", "talk_s"), 1),
              "api_talk_s": round(median("api", "talk_s"), 1),
              "total_s": round(median("bot", "total_s"), 1),
              "api_total_s": round(median("api", "total_s"), 1),
              "notes_s": round(median("bot", "notes_s"), 1),
              "enter_s": round(median("bot", "enter_s"), 1),
              "bot_cpu_ms_per_room": round(median("bot", "bot_cpu_ms"), 1),
              "ejabberd_cpu_ms_per_room": round(median("bot", "ejabberd_cpu_ms"), 1),
              "api_ejabberd_cpu_ms_per_room": round(median("api", "ejabberd_cpu_ms"), 1),
              "rooms": rooms, "members": members, "people": people, "clients": clients,
              "rounds": len(results["api"]), "failures": len(failures)}
    met = report["ratio_to_api_loop"] >= TARGET_RATIO
    print(f"target ratio_to_api_loop >= {TARGET_RATIO}: {report['ratio_to_api_loop']} "
          f"({'met' if met else 'NOT met'})")
    if failures:
        print(f"{len(failures)} FAILURES:")
        for failure in failures[:50]:
            print(f"  {failure}")
    else:
        print("every room made with its members, every note received, every member accepted "
              "and talked; no failures")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=200, help="rooms per path and round")
    parser.add_argument("--members", type=int, default=30, help="members per room")
    parser.add_argument("--people", type=int, default=50, help="accounts, each one connection "
                        "in the worker (at least --members)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent api threads / rooms "
                        "the bot makes at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        asyncio.run(run_worker())
        return
    if min(arguments.rooms, arguments.members, arguments.rounds, arguments.clients) < 1:
        parser.error("--rooms, --members, --clients and --rounds must be at least 1")
    if not arguments.members <= arguments.people <= 200:
        parser.error("--people must be at least --members (a room's members are different "
                     "people) and at most 200 (one connection each)")
    report = asyncio.run(benchmark(arguments.rooms, arguments.members, arguments.people,
                                   arguments.clients, arguments.rounds))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
