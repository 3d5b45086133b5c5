"""The status plugin's chat commands through the real ejabberd, where the book's tests do not
reach: what staff and customers read, in English and German."""

from __future__ import annotations

import re
from datetime import datetime

from bots import audit
from bots.consent import Consent
from bots.i18n import format_moment
from plugins.status import Status
from plugins.status.service import CLAIM_TEXT_VERSION, NOTIFY_PURPOSE


async def test_staff_unlock_a_customer_who_used_up_their_attempts(make_bot, chat_client):
    staff = await chat_client()
    bot = await make_bot(plugins=[Status({**Status.default_config,
                                          "claim_attempts_per_person": 2})],
                         PEOPLE_STAFF=staff.boundjid.bare)
    jid = bot.boundjid.bare
    customer = await chat_client()
    answer = await staff.ask(jid, "create vehicle 4711")
    code = re.search(r"Claim code for the customer: (\w+)", answer).group(1)
    for attempt in range(2):
        assert "do not match" in await customer.ask(jid, f"claim 4711 WRONG{attempt}")
    assert "try again in an hour, or ask us in person" in await customer.ask(
        jid, f"claim 4711 {code}")

    assert "may claim again" not in await customer.ask(jid, f"unlock {customer.boundjid.bare}")
    assert await staff.ask(jid, f"unlock {customer.boundjid.bare.upper()}/phone") == (
        f"{customer.boundjid.bare} may claim again; 2 failed attempts were cleared.")
    assert (await customer.ask(jid, f"claim 4711 {code}")).startswith("Linked: Vehicle 4711")
    assert await bot.storage.run(lambda: [
        (entry.actor, entry.channel, entry.action, entry.subject)
        for entry in audit.entries()]) == [
        (staff.boundjid.bare, "chat", "status.unlock", customer.boundjid.bare),
        (staff.boundjid.bare, "chat", "status.create", "4711")]
    assert await staff.ask(jid, "entsperren kein-jid", language="de") == (
        "Nicht entsperrt: kein-jid ist keine Jabber-Adresse (name@domain).")


async def test_the_claim_answer_says_what_was_agreed_to_and_how_to_stop_it(make_bot,
                                                                           chat_client):
    """A claim records consent to pushes: its answer is the text agreed to, versioned."""
    staff = await chat_client()
    bot = await make_bot(plugins=[Status()], PEOPLE_STAFF=staff.boundjid.bare)
    jid = bot.boundjid.bare
    customer, kunde = await chat_client(), await chat_client()
    answer = await staff.ask(jid, "create vehicle 4711")
    code = re.search(r"Claim code for the customer: (\w+)", answer).group(1)

    assert (await customer.ask(jid, f"claim 4711 {code}")).endswith(
        "\nI will write to you here when its status changes (to stop: notify off).")
    assert (await kunde.ask(jid, f"verknüpfen 4711 {code}", language="de")).endswith(
        "\nIch schreibe Ihnen hier, wenn sich der Stand ändert (abbestellen: benachrichtigen "
        "aus).")

    def agreed() -> set[tuple[str, str]]:
        return set(Consent.select(Consent.jid, Consent.text_version)
                   .where(Consent.purpose == NOTIFY_PURPOSE).tuples())
    assert await bot.storage.run(agreed) == {(customer.boundjid.bare, CLAIM_TEXT_VERSION),
                                             (kunde.boundjid.bare, CLAIM_TEXT_VERSION)}
    assert (await kunde.ask(jid, "benachrichtigen aus", language="de")).startswith(
        "Erledigt: Ich schreibe Ihnen nicht mehr")


def test_times_read_day_month_year_and_a_24_hour_clock_in_english_too():
    """Babel's plain "en" wrote 3/4/26, 6:05 PM: the 3rd of April to a European customer."""
    moment = datetime(2026, 3, 4, 17, 5)  # stored as naive UTC
    assert format_moment(moment, "en", "Europe/Berlin") == "04/03/2026, 18:05"
    assert format_moment(moment, "de", "Europe/Berlin") == "04.03.26, 18:05"
