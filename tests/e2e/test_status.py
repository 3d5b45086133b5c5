"""Status queries through the real ejabberd: a customer claims an item, asks in English and
German, and is told exactly once of each change, whether staff change it in chat, with the CLI
or the company's system over HTTP; guessing reveals nothing; bad feed input changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from bots import testing

from plugins.status import Status
from plugins.status.models import StatusChange

BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")
TOKEN = "feed-secret-for-tests"
QUIET = 1.5  # seconds without a further message: nothing was sent twice


@pytest.fixture
async def workshop(make_bot, chat_client, xmpp_server):
    """A status bot, one staff member and two customers (one reads German)."""
    staff = await chat_client()
    bot = await make_bot(plugins=[Status({**Status.default_config, "token": TOKEN})],
                         PEOPLE_STAFF=staff.boundjid.bare)
    customer, kunde = await chat_client(), await chat_client()
    return bot, staff, customer, kunde


def new_ref() -> str:
    return f"WOB-{uuid.uuid4().hex[:6].upper()}"


async def create_item(bot, staff, kind: str = "vehicle") -> tuple[str, str]:
    ref = new_ref()
    answer = await staff.ask(bot.boundjid.bare, f"create {kind} {ref}")
    code = re.search(r"Claim code for the customer: (\w+)", answer).group(1)
    return ref, code


async def post(bot, path: str, payload, token: str | None = TOKEN) -> tuple[int, dict]:
    def call():
        request = urllib.request.Request(
            f"http://127.0.0.1:{bot.web.port}/status/{path}", method="POST",
            data=payload if isinstance(payload, bytes) else json.dumps(payload).encode(),
            headers={"content-type": "application/json",
                     **({"authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
    return await asyncio.to_thread(call)


def cli(bot, *arguments: str) -> subprocess.CompletedProcess:
    environment = {"BOTSCHAFT_CONFIG": "/dev/null", "BOTSCHAFT_DATABASE_URL": bot.storage.url,
                   "PATH": "/usr/bin:/bin"}
    return subprocess.run([BOTSCHAFT, "status", *arguments], env=environment,
                          capture_output=True, text=True, timeout=60)


async def no_more_messages(client, sender: str) -> None:
    with pytest.raises(TimeoutError):
        message = await client.next_message(sender, timeout=QUIET)
        pytest.fail(f"unexpected second message: {message['body']!r}")


async def test_a_customer_claims_asks_and_is_told_once_per_change_from_every_source(workshop):
    bot, staff, customer, kunde = workshop
    jid = bot.boundjid.bare
    ref, code = await create_item(bot, staff)

    assert (await customer.ask(jid, f"claim {ref} {code.lower()}")).startswith(
        f"Linked: Vehicle {ref}. We have received your vehicle")
    assert "Verknüpft: Fahrzeug" in await kunde.ask(jid, f"claim {ref} {code}", language="de")

    # asking: by command and by plain question, in English and in German
    assert f"Vehicle {ref}: We have received your vehicle" in await customer.ask(jid, "status")
    assert "Last changes:" in await customer.ask(jid, f"status {ref.lower()}")
    assert f"Vehicle {ref}: We have received" in await customer.ask(jid, "Is my car ready?")
    assert f"Fahrzeug {ref}: Wir haben Ihr Fahrzeug angenommen" in await kunde.ask(
        jid, "Ist mein Auto fertig?", language="de")
    assert f"Fahrzeug {ref}" in await kunde.ask(jid, "wo ist meine Bestellung", language="de")

    # staff in chat
    assert "2 people were told." in await staff.ask(jid, f"set {ref} cleaning Felgen extra")
    push = (await customer.next_message(jid))["body"]
    assert push == (f"Vehicle {ref}: Your vehicle is being cleaned and will be ready for "
                    "pick-up shortly.\nFelgen extra")
    assert (await kunde.next_message(jid))["body"].startswith(
        f"Fahrzeug {ref}: Ihr Fahrzeug befindet sich in der Reinigung")

    # the CLI, in its own process
    done = cli(bot, "set", ref, "ready", "--note", "Schlüssel am Empfang")
    assert done.returncode == 0, done.stderr
    assert (await customer.next_message(jid))["body"] == (
        f"Vehicle {ref}: Your vehicle is ready for pick-up.\nSchlüssel am Empfang")
    await kunde.next_message(jid)

    # the company's system over HTTP, sending its event twice
    event = {"event_id": f"dms-{ref}-1", "ref": ref, "state": "picked_up"}
    assert await post(bot, "events", event) == (200, {
        "ref": ref, "state": "picked_up", "changed": True, "duplicate": False, "told": 2})
    assert (await post(bot, "events", event))[1]["duplicate"] is True
    assert "picked up your vehicle" in (await customer.next_message(jid))["body"]
    assert "abgeholt" in (await kunde.next_message(jid))["body"]

    await no_more_messages(customer, jid)
    await no_more_messages(kunde, jid)
    assert await staff.ask(jid, "open") == "No open items."  # picked up: the item is closed


async def test_notify_off_stops_pushes_and_on_starts_them_again(workshop):
    bot, staff, customer, _kunde = workshop
    jid = bot.boundjid.bare
    ref, code = await create_item(bot, staff, kind="order")
    await customer.ask(jid, f"claim {ref} {code}")
    assert "will not write to you" in await customer.ask(jid, "notify off")
    assert "0 people were told." in await staff.ask(jid, f"set {ref} packed")
    await no_more_messages(customer, jid)
    assert "I will tell you here" in await customer.ask(jid, "notify on")
    assert "1 person was told." in await staff.ask(jid, f"set {ref} shipped")
    assert "has been shipped" in (await customer.next_message(jid))["body"]


async def test_guessing_reveals_nothing(workshop):
    bot, staff, customer, _kunde = workshop
    jid = bot.boundjid.bare
    ref, code = await create_item(bot, staff)
    unknown = new_ref()

    wrong_code = await customer.ask(jid, f"claim {ref} WRONG1")
    assert wrong_code == await customer.ask(jid, f"claim {unknown} WRONG1")
    assert "do not match" in wrong_code
    # an item someone else may have: the same answer as for one that does not exist
    assert (await customer.ask(jid, f"status {ref}")).replace(ref, "X") == (
        await customer.ask(jid, f"status {unknown}")).replace(unknown, "X")
    # customers cannot use staff commands
    assert (await customer.ask(jid, f"set {ref} ready")).startswith("I did not understand")
    # after the limit even the right code is refused, with the same words for any reference
    for attempt in range(3):
        await customer.ask(jid, f"claim {ref} WRONG{attempt}")
    limited = await customer.ask(jid, f"claim {ref} {code}")
    assert "Too many attempts" in limited
    assert limited == await customer.ask(jid, f"claim {unknown} {code}")
    assert "You have not linked anything yet" in await customer.ask(jid, "status")


async def test_bad_feed_input_gets_a_clear_error_and_changes_nothing(workshop):
    bot, staff, _customer, _kunde = workshop
    ref, _code = await create_item(bot, staff)

    def history() -> int:
        return StatusChange.select().count()
    before = await bot.storage.run(history)

    assert (await post(bot, "events", {"event_id": "1", "ref": ref, "state": "ready"},
                       token=None))[0] == 401
    assert (await post(bot, "events", {"event_id": "1", "ref": ref, "state": "ready"},
                       token="wrong"))[0] == 401
    status, answer = await post(bot, "events", {"event_id": "2", "ref": ref, "state": "redy"})
    assert status == 400 and answer["field"] == "state" and "redy is no state" in answer["error"]
    status, answer = await post(bot, "events", {"event_id": "3", "ref": new_ref(),
                                                "state": "ready"})
    assert status == 404 and answer["field"] == "ref"
    status, answer = await post(bot, "events", b'{"event_id": "4", "ref": ')
    assert status == 400 and answer["field"] == "body"
    status, answer = await post(bot, "events", {"event_id": "5", "ref": ref, "state": "ready",
                                                "colour": "red"})
    assert status == 400 and answer["field"] == "colour"
    status, answer = await post(bot, "items", {"ref": ref, "kind": "vehicle"})
    assert status == 409 and answer["field"] == "ref"

    assert await bot.storage.run(history) == before
    # the event whose state was wrong may come again, corrected: its id was not used up
    assert (await post(bot, "events", {"event_id": "2", "ref": ref, "state": "ready"}))[1][
        "changed"] is True


async def test_the_company_system_creates_items_over_http(workshop):
    bot, _staff, customer, _kunde = workshop
    ref = new_ref()
    status, created = await post(bot, "items", {"ref": ref, "kind": "book", "code": "LIB123"})
    assert status == 201 and created == {"ref": ref, "kind": "book", "state": "reserved",
                                         "code": "LIB123"}
    assert "Linked: Reservation" in await customer.ask(bot.boundjid.bare, f"claim {ref} lib123")


async def test_a_change_made_while_the_bot_is_down_is_told_once_after_it_starts(
        make_bot, chat_client, xmpp_server, tmp_path):
    database = f"sqlite:///{tmp_path / 'status.db'}"
    customer = await chat_client()
    bot = await make_bot(plugins=[Status()], DATABASE_URL=database)
    jid = bot.boundjid.bare
    ref = new_ref()
    assert cli(bot, "create", ref, "vehicle", "--code", "ABCD23").returncode == 0
    await customer.ask(jid, f"claim {ref} ABCD23")
    await bot.stop()

    assert cli(bot, "set", ref, "ready").returncode == 0
    restarted = await make_bot(plugins=[Status()], DATABASE_URL=database)
    assert "ready for pick-up" in (await customer.next_message(jid, timeout=20))["body"]
    await no_more_messages(customer, jid)
    await restarted.stop()


async def test_a_note_with_a_control_character_arrives_cleaned_and_so_does_the_next(workshop):
    """XML forbids U+0001: pushed or shown as is, ejabberd closes the stream that carries it,
    and what follows on that stream never arrives."""
    bot, staff, customer, _kunde = workshop
    jid = bot.boundjid.bare
    ref, code = await create_item(bot, staff)
    await customer.ask(jid, f"claim {ref} {code}")

    event = {"event_id": f"dms-{ref}-1", "ref": ref, "state": "cleaning",
             "note": "Felgen\x01 extra"}
    assert (await post(bot, "events", event))[0] == 200
    assert (await customer.next_message(jid))["body"].endswith("shortly.\nFelgen extra")
    assert (await post(bot, "events", {"event_id": f"dms-{ref}-2", "ref": ref,
                                       "state": "ready"}))[0] == 200
    assert "ready for pick-up" in (await customer.next_message(jid))["body"]
    assert "— Felgen extra" in await customer.ask(jid, f"status {ref}")
    await no_more_messages(customer, jid)


async def test_the_same_status_and_note_again_tells_nobody_until_staff_resend_it(workshop):
    """It sent the customer a second, identical message."""
    bot, staff, customer, _kunde = workshop
    jid = bot.boundjid.bare
    ref, code = await create_item(bot, staff)
    await customer.ask(jid, f"claim {ref} {code}")
    push = f"Vehicle {ref}: Your vehicle is ready for pick-up.\nSchlüssel am Empfang"

    assert "1 person was told." in await staff.ask(jid, f"set {ref} ready Schlüssel am Empfang")
    assert (await customer.next_message(jid))["body"] == push
    assert await staff.ask(jid, f"set {ref} ready Schlüssel am Empfang") == (
        f"{ref} is ready already with this note; nobody was told again. To send it once more: "
        f"resend {ref}")
    assert await staff.ask(jid, f"setze {ref} ready", language="de") == (
        f"{ref} hat schon den Status ready; niemand wurde erneut benachrichtigt. Die letzte "
        f"Nachricht noch einmal senden: erneut {ref}")
    done = cli(bot, "set", ref, "ready", "--note", "Schlüssel am Empfang")
    assert done.returncode == 0 and "nobody was told again" in done.stdout, done.stderr
    await no_more_messages(customer, jid)

    assert await staff.ask(jid, f"resend {ref}") == f"{ref} (ready) sent once more; 1 person " \
        "was told."
    assert (await customer.next_message(jid))["body"] == push
    assert cli(bot, "resend", ref).stdout == f"{ref}: ready sent once more; 1 person was told.\n"
    assert (await customer.next_message(jid))["body"] == push
    assert await staff.ask(jid, "resend NO-SUCH-REF") == "Not sent: no item NO-SUCH-REF"
    await no_more_messages(customer, jid)
    # sent three times, changed once: the customer's history shows one change
    history = (await customer.ask(jid, f"status {ref}")).split("Last changes:\n")[1]
    assert history.count("Schlüssel am Empfang") == 1, history


# --- no technical token a customer or staff member reads ------------------------------------
LABELS = {"en": {"reference", "code", "status", "note", "kind", "address", "command",
                 "language", "what", "number", "me"},
          "de": {"Auftragsnummer", "Code", "Status", "Hinweis", "Art", "Adresse", "Befehl",
                 "Sprache", "was", "Nummer", "mich"}}
ENGLISH = {"the", "is", "are", "your", "you", "write", "already", "told", "people",
           "linked", "notifications", "reference", "item", "items", "missing", "changed",
           "created", "claim", "notify", "set", "create", "unlock", "resend", "help", "open",
           "on", "off", "now", "again", "nobody", "not", "done"}
# the parameter names whose label differs, as an error would show them
PARAMETER_NAME = re.compile(r"\b(?:ref|switch|jid|state) (?:is missing|must|fehlt|muss)")


def technical_tokens(answer: str, language: str) -> list[str]:
    return (testing.technical_tokens(answer, language, LABELS[language], ENGLISH)
            + PARAMETER_NAME.findall(answer))


class Reader:
    """Asks in one language and keeps every answer (and push) that shows a technical token."""

    def __init__(self, bot, language: str):
        self.jid = bot.boundjid.bare
        self.language = language
        self.found: list[str] = []

    def read(self, said: str, answer: str) -> str:
        self.found += [f"{self.language} {said!r} → {token} in {answer!r}"
                       for token in technical_tokens(answer, self.language)]
        return answer

    async def ask(self, client, text: str) -> str:
        return self.read(text, await client.ask(self.jid, text, language=self.language))

    async def push(self, client) -> str:
        return self.read("(push)", (await client.next_message(self.jid))["body"])


WORDS = {  # what people of each language write
    "en": dict(create="create", set="set", open="open", unlock="unlock", resend="resend",
               claim="claim", status="status", notify="notify", on="on", off="off",
               help="help", question="Is my car ready?"),
    "de": dict(create="anlegen", set="setze", open="offen", unlock="entsperren",
               resend="erneut", claim="verknüpfen", status="stand", notify="benachrichtigen",
               on="an", off="aus", help="hilfe", question="Ist mein Auto fertig?"),
}


@pytest.mark.parametrize("language", ["en", "de"])
async def test_a_first_hour_shows_no_technical_token(workshop, language):
    """A customer's and a staff member's first conversation, answer by answer. It showed
    `ref is missing`, `notify [switch]`, `'redy'`, and English in German help and errors.
    State and kind names (`ready`, `vehicle`) are words staff type, so they may appear."""
    bot, staff, customer, _kunde = workshop
    words = WORDS[language]
    reader = Reader(bot, language)
    ref = new_ref()

    created = await reader.ask(staff, f"{words['create']} vehicle {ref}")
    code = re.search(r"\b([A-Z2-9]{6})$", created).group(1)
    await reader.ask(customer, f"{words['claim']} {ref} WRONG1")
    await reader.ask(customer, f"{words['claim']} {ref}")  # a usage error: the code is missing
    await reader.ask(customer, f"{words['claim']} {ref} {code}")
    await reader.ask(customer, words["status"])
    await reader.ask(customer, f"{words['status']} {ref}")
    await reader.ask(customer, words["question"])
    await reader.ask(customer, words["notify"])
    await reader.ask(customer, f"{words['notify']} {words['off']}")
    await reader.ask(customer, f"{words['notify']} {words['on']}")
    await reader.ask(customer, words["help"])
    await reader.ask(customer, f"{words['help']} {words['claim']}")

    await reader.ask(staff, f"{words['set']} {ref} ready Schlüssel am Empfang")
    await reader.push(customer)
    await reader.ask(staff, f"{words['set']} {ref} ready Schlüssel am Empfang")
    await reader.ask(staff, f"{words['resend']} {ref}")
    await reader.push(customer)
    await reader.ask(staff, f"{words['set']} {ref} redy")
    await reader.ask(staff, f"{words['set']} {ref}")
    await reader.ask(staff, f"{words['create']} vehicle {ref}")
    await reader.ask(staff, f"{words['open']}")
    await reader.ask(staff, f"{words['unlock']} {customer.boundjid.bare}")
    await reader.ask(staff, words["help"])
    assert not reader.found, "\n".join(reader.found)
    await no_more_messages(customer, bot.boundjid.bare)
