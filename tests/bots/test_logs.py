"""The bot's log as an operator's collector reads it: `[log] format = "json"` writes one JSON
object a line, and at info level a whole conversation leaves no personal data in it — no
message text, no customer's address, phone number, claim code or invitation token."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from bots import logs
from bots.devserver import BOT_USER
from bots.testing import BOTSCHAFT, join_settings, run_environment
from plugins.lessons import EXAMPLE_COURSES
from tests.bots.test_join_page import Visitor
from tests.conftest import eventually

FIELDS = {"time", "level", "logger", "message"}
COURSE = "deutsch-alltag"  # the lessons plugin's bundled example
PHONE = "+49 170 1234567"


class BotProcess:
    """`botschaft run` in its own process; all it writes (the log) goes to a file."""

    def __init__(self, environ: dict[str, str], log_file, verbose: bool = False):
        self.log_file = log_file
        with open(log_file, "wb") as sink:
            self.process = subprocess.Popen([BOTSCHAFT, *(["-v"] if verbose else []), "run"],
                                            env=environ, stdout=sink, stderr=sink)

    def lines(self) -> list[str]:
        """The lines written so far; one being written is not yet among them."""
        text = self.log_file.read_text(encoding="utf-8")
        return text[:text.rfind("\n") + 1].splitlines()

    def said(self, pattern: str) -> re.Match | None:
        """The first log line whose text matches `pattern` (lines that are no JSON fail)."""
        return next(filter(None, (re.search(pattern, record["message"])
                                  for record in map(json.loads, self.lines()))), None)

    async def wait_for(self, pattern: str) -> re.Match:
        await eventually(lambda: self.said(pattern) or self.process.poll() is not None, 30)
        assert self.process.poll() is None, "the bot ended:\n" + "\n".join(self.lines())
        return self.said(pattern)

    def stop(self) -> list[dict]:
        """SIGTERM, and every line it wrote, each parsed as one JSON object."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0, "\n".join(self.lines())
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def start_bot(tmp_path):
    """Factory: `start_bot(environ, verbose)` starts a BotProcess; one still running when the
    test ends (it failed midway) is killed."""
    started = []

    def start(environ: dict[str, str], verbose: bool = False) -> BotProcess:
        started.append(BotProcess(environ, tmp_path / f"bot{len(started)}.log", verbose))
        return started[-1]

    yield start
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()


def environment(xmpp_server, tmp_path, **settings: str) -> dict[str, str]:
    instance = xmpp_server.instance
    return run_environment(instance, xmpp_server.devserver.ensure_user(BOT_USER),
                           f"sqlite:///{tmp_path / 'bot.db'}", BOT_LANGUAGE="en",
                           LOG_FORMAT="json", **settings)


def cli(environ: dict[str, str], *arguments: str) -> str:
    """A `botschaft` admin command on the bot's database; its output."""
    done = subprocess.run([BOTSCHAFT, *arguments], env=environ, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_json_line_carries_the_exception_with_its_traceback():
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        record = logging.LogRecord("bots.x", logging.ERROR, __file__, 1, "failed: %s",
                                   ("why",), sys.exc_info())
    line = json.loads(logs.json_formatter().format(record))
    assert line["message"] == "failed: why" and line["level"] == "ERROR"
    assert line["logger"] == "bots.x" and "RuntimeError: a bug" in line["exc_info"]


async def test_the_running_bot_logs_one_json_object_a_line(xmpp_server, tmp_path, start_bot):
    bot = start_bot(environment(xmpp_server, tmp_path))
    started = datetime.now(timezone.utc)
    await bot.wait_for(r"^bot is online")
    lines = bot.stop()
    assert [line["message"] for line in lines if line["message"] == "stopping the bot"]
    for line in lines:
        assert FIELDS <= set(line) and line["level"] in ("INFO", "WARNING"), line
        moment = datetime.fromisoformat(line["time"])
        assert moment.utcoffset() == timedelta(0)  # UTC, said so in the text
        assert started - timedelta(seconds=5) < moment < datetime.now(timezone.utc)
    assert {line["logger"] for line in lines} >= {"bots.app", "bots.connection"}


async def say_until(client, to: str, text: str, expected: str) -> str:
    """Send `text` and read `to`'s messages until one contains `expected`."""
    client.say(to, text)
    return await message_with(client, to, expected)


async def message_with(client, sender: str, expected: str) -> str:
    while True:
        body = (await client.next_message(sender, timeout=20))["body"]
        if expected in body:
            return body


@pytest.mark.timeout(120)
async def test_a_whole_conversation_at_info_level_leaves_no_personal_data_in_the_log(
        xmpp_server, make_account, chat_client, tmp_path, start_bot):
    domain = xmpp_server.domain
    staff_jid, staff_password = make_account("staff")
    trainer_jid, trainer_password = make_account("trainer")
    customer_jid, customer_password = make_account("kunde-zzqx")
    newcomer = f"kunde-yyvw{uuid.uuid4().hex[:4]}"
    settings = join_settings(xmpp_server)
    environ = environment(xmpp_server, tmp_path, PEOPLE_STAFF=staff_jid, **settings)

    # the shop's side, with the admin commands: two job cards, a course and its room, an
    # invitation
    created = cli(environ, "status", "create", "WOB-QZ815", "vehicle")
    code = re.search(r"claim code (\S+)", created).group(1)
    cli(environ, "status", "create", "WOB-QZ816", "vehicle")
    cli(environ, "lessons", "import", str(EXAMPLE_COURSES))
    slug = f"alltag-{uuid.uuid4().hex[:6]}"
    cli(environ, "rooms", "create", slug, "Deutsch im Alltag", "--course", COURSE,
        "--trainer", trainer_jid)
    token = re.search(r"/join/(\S+)", cli(environ, "invite", "create", "--claim",
                                          "WOB-QZ816")).group(1)

    bot = start_bot(environ, verbose=True)
    port = int((await bot.wait_for(r"^join page: listening on [\d.]+:(\d+)")).group(1))
    await bot.wait_for(r"^bot is online")
    bot_jid = f"{BOT_USER}@{domain}"

    # a customer asks, links a job card, writes what no command means, joins a course room
    customer = await chat_client(customer_jid, customer_password)
    unknown = "Flurbozzle quängelt: wann kommt der Wagen zurück?"
    phone = f"Rufen Sie mich an unter {PHONE} 🚗 شكرا جزيلا"
    reply = "Vielen Dank, Frau Xylander, bis Donnerstag"
    conversation = [("help", "ping"), ("ping", "pong"), (unknown, ""),
                    ("status WOB-QZ815", "claim WOB-QZ815"), (f"claim WOB-QZ815 {code}", "Linked"),
                    ("notify on", "notify off"), (phone, ""),
                    (f"subscribe {COURSE}", f"join {slug}"),  # the room's invitation note
                    (f"join {slug}", "member"), (f"reply {slug} {reply}", "Sent to the trainer")]
    for body, expected in conversation:
        await say_until(customer, bot_jid, body, expected)
    trainer = await chat_client(trainer_jid, trainer_password)
    assert reply in await message_with(trainer, bot_jid, reply)

    # staff set a status with a note; the customer is told
    staff = await chat_client(staff_jid, staff_password)
    note = f"Bitte Herrn Quibbelmann anrufen: {PHONE}"
    staff_body = f"set WOB-QZ815 ready {note}"
    assert "ready" in await say_until(staff, bot_jid, staff_body, "WOB-QZ815")
    assert note in await message_with(customer, bot_jid, note)

    # a newcomer opens the invitation, chooses a name, and the job card's status waits
    visitor = Visitor(port)
    page = await visitor.get(f"/join/{token}")
    welcome = await visitor.post(f"/join/{token}", csrf=page.field("csrf"), name=newcomer)
    assert welcome.status == 200, welcome.text
    newcomer_jid = welcome.shown("jid")
    assert newcomer_jid == f"{newcomer}@{domain}"
    newcomer_client = await chat_client(newcomer_jid, welcome.shown("password"))
    assert "WOB-QZ816" in await message_with(newcomer_client, bot_jid, "WOB-QZ816")
    newcomer_says = "Ich heiße Ömer Zwetschgenbaum, שלום"
    await say_until(newcomer_client, bot_jid, newcomer_says, "")
    await bot.wait_for(r"^join: invitation \d+ redeemed")

    lines = bot.stop()
    assert all(FIELDS <= set(line) for line in lines)
    assert any(line["logger"].startswith("slixmpp") for line in lines)  # -v: every info line
    written = [body for body, _answer in conversation] + [staff_body, newcomer_says]
    texts = [json.dumps({field: value for field, value in line.items() if field != "time"},
                        ensure_ascii=False) for line in lines]  # its digits match by chance
    personal = {
        **{f"the message {body!r}": body for body in written if len(body) > 5},
        "a distinctive word the customer wrote": "Flurbozzle",
        "the emoji and Arabic text": "شكرا",
        "what the trainer was answered": "Xylander",
        "what staff wrote for the customer": "Quibbelmann",
        "the newcomer's words": "Zwetschgenbaum",
        "the customer's local part": customer_jid.split("@")[0],
        "the newcomer's local part": newcomer,
        "the phone number": PHONE,
        "the phone number's digits": "1234567",
        "the claim code": code,
        "a job card's reference (it may be a number plate)": "QZ81",
        "the invitation token": token,
    }
    leaks = [f"{what} in {text}" for what, secret in personal.items() for text in texts
             if secret in text]
    leaks += [f"the message {body!r} in {text}" for body in written for text, line in
              zip(texts, lines) if line["message"].strip() == body]  # "help", "ping"
    assert leaks == []
