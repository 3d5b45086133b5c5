"""The status plugin's chat commands through the real ejabberd, where the book's tests do not
reach: what staff and customers read, in English and German."""

from __future__ import annotations

import re

from plugins.status import Status


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
        f"{customer.boundjid.bare} may claim again; failed attempts cleared: 2.")
    assert (await customer.ask(jid, f"claim 4711 {code}")).startswith("Linked: Vehicle 4711")
    assert await staff.ask(jid, "entsperren kein-jid", language="de") == (
        "Nicht entsperrt: kein-jid ist keine Jabber-Adresse (name@domain).")
