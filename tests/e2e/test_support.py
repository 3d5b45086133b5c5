"""The support desk through the real ejabberd: a question answered from the knowledge file,
"talk to a person" reaching a staff member who is online, the relay both ways from the
company's address (the staff member's address in none of the customer's raw stanzas),
transfer, done and the rating; and with nobody available, a conversation that waits across a
restart of the bot (also kill -9) until staff come online."""

from __future__ import annotations

import asyncio

from bots.app import create_bot, schemas
from bots.storage import Storage
from bots.testing import bot_config, kill_during, run_environment, run_until
from plugins.support import Support
from plugins.support.models import Case
from tests.conftest import eventually

ALWAYS = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def support(anna: str, ben: str) -> Support:
    return Support({**Support.default_config, "staff": {anna: "Anna", ben: "Ben"},
                    "hours": ALWAYS})


def raw_stanzas(client) -> list[str]:
    """Everything `client` receives from now on, as the XML that arrived."""
    seen: list[str] = []

    def keep(stanza):
        seen.append(str(stanza))
        return stanza
    client.add_filter("in", keep)
    return seen


async def staff_online(chat_client, bot, jid: str, password: str):
    """A staff member logs in and has the bot in their contacts (the bot sees their presence)."""
    client = await chat_client(jid, password)
    client.send_presence(pto=bot.boundjid.bare, ptype="subscribe")
    await eventually(lambda: bot.services.plugin("support").desk.memory.available.get(jid))
    return client


async def test_a_question_is_answered_then_a_person_takes_over_transfers_and_closes(
        make_bot, make_account, chat_client):
    (anna_jid, anna_password), (ben_jid, ben_password) = (make_account("anna"),
                                                          make_account("ben"))
    bot = await make_bot(plugins=[support(anna_jid, ben_jid)],
                         PEOPLE_STAFF=f"{anna_jid},{ben_jid}")
    company = bot.boundjid.bare
    anna = await staff_online(chat_client, bot, anna_jid, anna_password)
    ben = await staff_online(chat_client, bot, ben_jid, ben_password)
    customer = await chat_client()
    stanzas = raw_stanzas(customer)

    assert await customer.ask(company, "When are you open?") == (
        "We are open Monday to Friday from 8 am to 6 pm.\nhttps://example.com/opening-hours")
    answer = await customer.ask(company, "I want to talk to a person")
    assert answer.startswith("You are number 1 in the queue; expected wait about 3 minutes.")
    [case] = Case.select()
    told = (await anna.next_message(company))["body"]
    assert told == (f"Case {case.id} waits (English): “I want to talk to a person”\n"
                    f"To answer it: take {case.id}")
    assert (await ben.next_message(company))["body"] == told

    briefing = await anna.ask(company, "take")
    assert briefing.splitlines()[1:] == [
        "Customer: When are you open?",
        "Bot: We are open Monday to Friday from 8 am to 6 pm.",
        "https://example.com/opening-hours", "Customer: I want to talk to a person"]
    assert (await customer.next_message(company))["body"] == (
        "Anna from our team is with you now.")
    customer.say(company, "status of my repair 4711?")  # command words too go to the case
    assert (await anna.next_message(company))["body"] == (
        f"[{case.id}] status of my repair 4711?")
    anna.say(company, "It is ready, see https://example.com/invoice.pdf")
    assert (await customer.next_message(company))["body"] == (
        "Anna: It is ready, see https://example.com/invoice.pdf")

    refused = await anna.ask(company, "transfer nobody@example.com")
    assert refused.startswith("nobody@example.com is not on the support staff, so the case "
                              "stays with you.")
    assert await ben.ask(company, "done") == ("You hold no case. Write \"queue\" to see who "
                                              "waits, \"take\" to answer the first.")
    assert await anna.ask(company, f"transfer {ben_jid}") == f"Case {case.id} is with Ben now."
    assert (await ben.next_message(company))["body"].startswith(
        f"Anna handed you case {case.id} (English).")
    assert (await customer.next_message(company))["body"] == (
        "Ben from our team takes over your conversation.")
    ben.say(company, "Hello, Ben here.")
    assert (await customer.next_message(company))["body"] == "Ben: Hello, Ben here."
    assert await ben.ask(company, "done") == f"Case {case.id} is closed."
    assert (await customer.next_message(company))["body"].startswith(
        "Ben has closed the conversation. How satisfied were you?")
    assert await customer.ask(company, "5") == "Thank you for your rating!"

    received = "\n".join(stanzas)
    assert "Anna: It is ready" in received  # the filter saw the relayed words
    for private in (anna_jid, ben_jid, anna_jid.split("@")[0], ben_jid.split("@")[0]):
        assert private not in received
    assert Case.get().rating == 5


async def test_with_nobody_available_the_conversation_waits_across_a_restart(
        xmpp_server, make_account, chat_client, tmp_path):
    (anna_jid, anna_password), (ben_jid, _password) = (make_account("anna"),
                                                       make_account("ben"))
    config = bot_config(xmpp_server, PEOPLE_STAFF=f"{anna_jid},{ben_jid}",
                        DATABASE_URL=f"sqlite:///{tmp_path / 'desk.db'}")
    bot = await create_bot(config, [support(anna_jid, ben_jid)])
    await bot.start()
    company = bot.boundjid.bare
    customer = await chat_client()
    try:
        answer = await customer.ask(company, "agent", language="de")
        assert answer.startswith("Gerade ist niemand aus unserem Team erreichbar. Ihre "
                                 "Nachricht wartet hier")
        noted = await customer.ask(company, "Mein Fahrrad quietscht.", language="de")
        assert noted.startswith("Notiert. Sie sind Nummer 1 in der Warteschlange")
    finally:
        await bot.stop()
        bot.storage.close()

    bot = await create_bot(config, [support(anna_jid, ben_jid)])
    await bot.start()
    try:
        anna = await staff_online(chat_client, bot, anna_jid, anna_password)
        [case] = Case.select()
        told = (await anna.next_message(company))["body"]
        assert told.startswith(f"Case {case.id} waits (German)")
        briefing = await anna.ask(company, f"take {case.id}")
        assert briefing.splitlines()[1:] == ["Customer: Mein Fahrrad quietscht."]
        assert (await customer.next_message(company))["body"] == (
            "Anna aus unserem Team ist jetzt für Sie da.")
        anna.say(company, "Bringen Sie es gern vorbei.")
        assert (await customer.next_message(company))["body"] == (
            "Anna: Bringen Sie es gern vorbei.")
    finally:
        await bot.stop()
        bot.storage.close()


async def test_kill_9_loses_no_waiting_conversation(xmpp_server, make_account, chat_client,
                                                    tmp_path):
    anna_jid, anna_password = make_account("anna")
    hours = ", ".join(f'{day} = "00:00-24:00"' for day in ALWAYS)
    settings = tmp_path / "botschaft.toml"
    settings.write_text(f'[plugins.support]\nstaff = {{ "{anna_jid}" = "Anna" }}\n'
                        f"hours = {{ {hours} }}\n")
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user("bot"), url,
                          PEOPLE_STAFF=anna_jid, CONFIG=str(settings), BOT_LANGUAGE="en")
    company = env["BOTSCHAFT_XMPP_JID"]
    storage = Storage(url)
    storage.migrate(schemas([Support()]))
    # No session of the bot's account may take the message meant to wait offline: an earlier
    # test's bot may have left a stream the server keeps for resumption.
    api, user = xmpp_server.instance.api(), company.partition("@")[0]
    api.call("kick_user", user=user, host=xmpp_server.domain)
    await eventually(lambda: api.call("user_resources", user=user,
                                      host=xmpp_server.domain) == [], timeout=30)
    customer = await chat_client()
    customer.say(company, "agent")  # the server keeps it until the bot logs in
    await kill_during(env, lambda: Case.select().count(), [1])  # killed once it is stored
    await customer.plugin["xep_0030"].get_info(jid=customer.boundjid.domain)  # a round trip:
    while not customer.inbox.empty():  # what the killed bot answered has arrived; set aside
        customer.inbox.get_nowait()

    anna = await chat_client(anna_jid, anna_password)
    anna.send_presence(pto=company, ptype="subscribe")

    async def take() -> str:
        told = (await anna.next_message(company, timeout=60))["body"]  # the bot is back
        assert told.startswith("Case "), told
        noted = await customer.ask(company, "My bike squeaks.", timeout=60)
        assert noted.startswith("Noted. You are number 1 in the queue"), noted
        return await anna.ask(company, "take", timeout=60)
    taking = asyncio.ensure_future(take())
    await run_until(env, taking.done)
    assert taking.result().splitlines()[1:] == ["Customer: My bike squeaks."]
    assert [case.state for case in Case.select()] == ["held"]
    storage.close()
