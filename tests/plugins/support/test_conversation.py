"""A customer's conversation with the desk through the real ejabberd, as they read it, in
German and English: a sure answer, an unsure one that offers the closest question and a
person, two questions in a row without an answer passing them on, and leaving the queue."""

from __future__ import annotations

import pytest

from bots.stanza_text import shared_file
from bots.testing import technical_tokens
from plugins.support import Support
from plugins.support.models import Case


@pytest.fixture
async def desk_bot(make_bot, make_account):
    """A desk with one staff member (offline: nobody is available)."""
    anna_jid, _password = make_account("anna")
    return await make_bot(plugins=[Support({**Support.default_config,
                                            "staff": {anna_jid: "Anna"}})])


async def test_without_staff_the_bot_answers_what_it_knows_and_offers_nobody(
        make_bot, chat_client):
    bot = (await make_bot(plugins=[Support()])).boundjid.bare
    customer = await chat_client()
    assert (await customer.ask(bot, "How can I pay my bill?")).startswith("You can pay in cash")
    for _ in range(2):
        assert (await customer.ask(bot, "Do you sell bikes?")).startswith(
            "I did not understand \"Do you sell bikes?\".")
    assert await customer.ask(bot, "agent") == ("Sorry, our team cannot be reached in this "
                                                "chat. Please contact us another way.")
    assert Case.select().count() == 0


async def test_an_unsure_match_offers_the_closest_question_and_a_person(desk_bot, chat_client):
    customer = await chat_client()
    answer = await customer.ask(desk_bot.boundjid.bare, "Wann habt ihr offen?", language="de")
    assert answer == ("Ich bin nicht sicher, ob ich Sie verstehe. Meinten Sie: „Wann haben Sie "
                      "geöffnet?“? Dann fragen Sie mich so. Oder schreiben Sie „mitarbeiter“, "
                      "um mit einem Menschen zu sprechen.")
    assert technical_tokens(answer, "de", english={"agent"},
                            own_texts=["Wann haben Sie geöffnet?"]) == []


async def test_two_questions_in_a_row_without_an_answer_pass_the_customer_on(
        desk_bot, chat_client):
    customer = await chat_client()
    bot = desk_bot.boundjid.bare
    first = await customer.ask(bot, "Do you sell bikes?")
    assert first.startswith("I am not sure I understand. Did you mean: “How can I pay?”?")
    second = await customer.ask(bot, "Wie lange dauert eine Reparatur?")
    assert second.startswith("I could not answer that, so I am passing you on to a person. "
                             "Nobody of our team is available right now.")
    [case] = Case.select()
    assert [(entry.author, entry.text) for entry in case.entries] == [
        ("customer", "Do you sell bikes?"), ("customer", "Wie lange dauert eine Reparatur?")]
    assert await customer.ask(bot, "cancel") == ("You have left the queue. Write \"agent\" "
                                                 "when you want to talk to a person again.")
    assert await customer.ask(bot, "cancel") == ("You are not waiting for anyone. Write "
                                                 "\"agent\" to talk to a person.")
    assert (await customer.ask(bot, "How can I pay my bill?")).startswith("You can pay in cash")


async def test_a_file_outside_a_conversation_goes_to_a_person_at_once(desk_bot, chat_client):
    """Only a person can look at a picture: the customer is queued at once, and staff find the
    link in the history; the link is never quoted back to the customer."""
    customer = await chat_client()
    link = "https://chat.example.com/upload/9c1d/Kratzer.jpg"
    answer = await customer.ask(desk_bot.boundjid.bare, "", language="de", file_url=link)
    assert answer.startswith("Danke für Ihre Datei. Jemand aus unserem Team sieht sie sich an. ")
    assert "upload" not in answer
    [case] = Case.select()
    assert [(entry.author, entry.text) for entry in case.entries] == [("customer", link)]


@pytest.fixture
async def open_desk(make_bot, make_account, chat_client):
    """A desk open around the clock with the staff member Anna, online: (company address,
    Anna's address, Anna's client)."""
    anna_jid, anna_password = make_account("anna")
    always = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    bot = await make_bot(plugins=[Support({**Support.default_config, "hours": always,
                                           "staff": {anna_jid: "Anna"}})],
                         PEOPLE_STAFF=anna_jid)
    return bot.boundjid.bare, anna_jid, await chat_client(anna_jid, anna_password)


async def test_in_a_conversation_files_pass_both_ways_as_files(open_desk, chat_client):
    """A photo from the customer reaches the staff member's app as a photo (XEP-0066, from
    the company's address), after a line naming the case; a document from staff reaches the
    customer the same way, after a line with the staff member's name."""
    company, anna_jid, anna = open_desk
    customer = await chat_client()
    await customer.ask(company, "agent")
    await anna.ask(company, "take")
    assert (await customer.next_message(company))["body"] == "Anna from our team is with you now."
    [case] = Case.select()
    photo = "https://chat.example.com/upload/9c1d/Wischer.jpg"
    customer.say(company, "", file_url=photo)
    label, relayed = await anna.next_message(company), await anna.next_message(company)
    assert (label["body"], shared_file(label)) == (f"[{case.id}] 📎", None)
    assert (relayed["body"], shared_file(relayed)) == (photo, photo)
    offer = "https://chat.example.com/upload/77aa/Angebot.pdf"
    anna.say(company, "", file_url=offer)
    label, relayed = await customer.next_message(company), await customer.next_message(company)
    assert (label["body"], shared_file(label)) == ("Anna: 📎", None)
    assert (relayed["body"], shared_file(relayed)) == (offer, offer)
    assert anna_jid not in str(label) + str(relayed)


async def test_a_staff_member_with_two_cases_answers_the_last_or_a_numbered_one(
        open_desk, chat_client):
    company, _anna_jid, anna = open_desk
    first, second = await chat_client(), await chat_client()
    for customer in (first, second):
        await customer.ask(company, "agent")
    first_case, second_case = [case.id for case in Case.select().order_by(Case.id)]
    await anna.ask(company, "take")
    await anna.ask(company, "take")
    assert (await second.next_message(company))["body"].startswith("You are number 1")
    for customer in (first, second):
        assert (await customer.next_message(company))["body"] == (
            "Anna from our team is with you now.")
    anna.say(company, "Hello second")  # the case taken last
    assert (await second.next_message(company))["body"] == "Anna: Hello second"
    anna.say(company, f"to {first_case} Hello first")
    assert (await first.next_message(company))["body"] == "Anna: Hello first"
    anna.say(company, "/c moment")  # now the first is the last answered
    assert (await first.next_message(company))["body"] == (
        "Anna: One moment please, I am looking into it.")
    assert (await anna.ask(company, "note wants a call back")) == (
        f"Note added to case {first_case} (the customer does not see it).")
    assert (await anna.ask(company, "help")).startswith("I understand these commands:")
    assert await anna.ask(company, f"done {second_case}") == f"Case {second_case} is closed."
    assert (await second.next_message(company))["body"].startswith("Anna has closed")
    assert await second.ask(company, "When are you open?") == (  # no rating: on as usual
        "We are open Monday to Friday from 8 am to 6 pm.\nhttps://example.com/opening-hours")
    assert first.inbox.empty()  # the note stayed internal


async def test_a_customer_who_writes_in_german_that_they_want_a_person_is_queued_in_german(
        desk_bot, chat_client):
    customer = await chat_client()
    answer = await customer.ask(desk_bot.boundjid.bare, "Ich möchte mit jemandem sprechen",
                                language="de")
    assert answer.startswith("Gerade ist niemand aus unserem Team erreichbar. Ihre Nachricht "
                             "wartet hier"), answer
    [case] = Case.select()
    assert [entry.text for entry in case.entries] == ["Ich möchte mit jemandem sprechen"]
