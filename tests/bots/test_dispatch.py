"""How the bot understands people, through the real ejabberd: commands, plain questions,
roles, languages, usage errors, and failures that stay contained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bots.builtins import Builtins
from bots.dispatch import Dispatcher
from bots.plugin import NO_ANSWER, Plugin, command


class Workshop(Plugin):
    name = "workshop"

    def __init__(self):
        super().__init__()
        self.slow_started, self.slow_may_finish = asyncio.Event(), asyncio.Event()

    @command(help="the status of your car", aliases={"de": ["auto"]},
             examples={"en": ["is my car ready"], "de": ["ist mein Auto fertig"]})
    async def status(self, ctx, ref: str | None = None) -> str:
        return f"status of {ref or 'all your cars'} for {ctx.person.role} in {ctx.language}"

    @command(help="set a car's status", role="staff")
    def set(self, ctx, ref: str, state: str, note: str | None = None) -> str:
        return f"{ref} is now {state} ({note})"

    @command(help="always fails")
    def broken(self, ctx) -> str:
        raise RuntimeError("a bug in a plugin")

    @command(help="takes its time (until the test lets it finish)")
    async def slow(self, ctx) -> str:
        self.slow_started.set()
        await self.slow_may_finish.wait()
        return "finally"


@pytest.fixture
async def workshop(make_bot, make_account):
    staff_jid, staff_password = make_account("staff")
    bot = await make_bot(plugins=[Workshop()], PEOPLE_STAFF=staff_jid)
    bot.staff_login = (staff_jid, staff_password)
    return bot


async def test_a_direct_chat_needs_no_prefix(workshop, chat_client):
    client = await chat_client()
    answer = await client.ask(workshop.boundjid.bare, "status 4711")
    assert answer == "status of 4711 for customer in en"


@pytest.mark.parametrize("question, language", [
    ("Is my car ready?", "en"), ("is my car ready yet", "en"),
    ("Ist mein Auto schon fertig?", "de"), ("ist mein auto fertig", "de"),
])
async def test_plain_questions_reach_the_command(workshop, chat_client, question, language):
    client = await chat_client()
    answer = await client.ask(workshop.boundjid.bare, question, language=language)
    assert answer == f"status of all your cars for customer in {language}"


async def test_an_alias_works_like_the_command_word(workshop, chat_client):
    client = await chat_client()
    assert (await client.ask(workshop.boundjid.bare, "Auto 12")).startswith("status of 12")


async def test_an_unknown_request_gets_the_closest_suggestions(workshop, chat_client):
    client = await chat_client()
    answer = await client.ask(workshop.boundjid.bare, "stauts 4711")
    assert answer == ('I did not understand "stauts 4711". Did you mean: status? '
                      'Write "help" to see everything I can do.')


async def test_a_command_for_staff_is_no_command_for_a_customer(workshop, chat_client):
    customer = await chat_client()
    answer = await customer.ask(workshop.boundjid.bare, "set 4711 ready")
    assert answer == ('I did not understand "set 4711 ready". Did you mean: status? '
                      'Write "help" to see everything I can do.')
    assert await customer.ask(workshop.boundjid.bare, "help set") == \
        'I have no command "set". Write "help" for the list.'
    assert "set" not in await customer.ask(workshop.boundjid.bare, "help")
    staff = await chat_client(*workshop.staff_login)
    assert await staff.ask(workshop.boundjid.bare, "set 4711 ready washed and polished") == \
        "4711 is now ready (washed and polished)"


async def test_wrong_arguments_show_the_right_usage(workshop, chat_client):
    staff = await chat_client(*workshop.staff_login)
    assert await staff.ask(workshop.boundjid.bare, "set 4711") == \
        "state is missing. Write: set <ref> <state> [note]"


async def test_help_lists_only_what_the_person_may_use_and_explains_one_command(
        workshop, chat_client):
    customer = await chat_client()
    listing = await customer.ask(workshop.boundjid.bare, "help")
    assert "• status [ref] — the status of your car" in listing
    assert "• set" not in listing
    assert 'You can also just ask, e.g. "is my car ready".' in listing
    assert await customer.ask(workshop.boundjid.bare, "help status") == \
        "status [ref]\nthe status of your car"


async def test_german_comes_from_the_client_and_then_from_the_persons_own_choice(
        workshop, chat_client):
    client = await chat_client()
    bot = workshop.boundjid.bare
    assert (await client.ask(bot, "hilfe", language="de")).startswith(
        "Ich verstehe diese Befehle:")
    assert await client.ask(bot, "sprache de") == "Ab jetzt antworte ich Ihnen auf Deutsch."
    # the person's own setting wins over the client's xml:lang from now on
    assert (await client.ask(bot, "help", language="en")).startswith(
        "Ich verstehe diese Befehle:")
    assert await client.ask(bot, "language en") == "From now on I answer you in English."


async def test_a_failing_handler_gets_an_apology_and_the_admin_a_traceback(
        workshop, chat_client, caplog):
    unlucky, other = await chat_client(), await chat_client()
    bot = workshop.boundjid.bare
    with caplog.at_level(logging.ERROR, logger="bots"):
        assert await unlucky.ask(bot, "broken") == (
            "Sorry, something went wrong on my side. Please try again later.")  # no admin
    failure = next(record for record in caplog.records if "broken" in record.getMessage())
    assert "RuntimeError: a bug in a plugin" in caplog.text and failure.exc_info
    assert unlucky.boundjid.bare not in caplog.text  # no personal data in the log
    assert (await other.ask(bot, "status")).startswith("status of")
    assert (await unlucky.ask(bot, "status 1")).startswith("status of 1")


async def test_the_admins_are_told_of_a_failing_command_once_and_the_apology_says_so(
        make_bot, make_account, chat_client):
    admin = await chat_client()
    bot = await make_bot(plugins=[Workshop()], PEOPLE_ADMINS=f"{admin.boundjid.bare},@staff.x")
    unlucky = await chat_client()
    for _ in range(2):
        assert await unlucky.ask(bot.boundjid.bare, "broken") == (
            "Sorry, something went wrong on my side. Please try again later; the team has "
            "been told.")
    report = await admin.next_message(bot.boundjid.bare)
    assert report["body"] == (
        "Botschaft: the command broken (plugin workshop) failed with RuntimeError; the person "
        "got an apology. Details are in the bot's log. Further failures of this command in the "
        "next 15 minutes are not reported.")
    assert unlucky.boundjid.bare not in report["body"]
    assert await admin.ask(bot.boundjid.bare, "status 1") == "status of 1 for admin in en"
    assert admin.inbox.empty()  # the second failure was not reported


class Careless(Plugin):
    name = "careless"

    @command(help="answers with a number")
    def count(self, ctx) -> str:
        return 42


async def test_a_handler_that_returns_no_text_is_named_and_the_person_gets_an_apology(
        make_bot, chat_client, caplog):
    bot = await make_bot(plugins=[Careless()])
    client = await chat_client()
    with caplog.at_level(logging.ERROR, logger="bots"):
        assert await client.ask(bot.boundjid.bare, "count") == (
            "Sorry, something went wrong on my side. Please try again later.")
    assert "command 'count' of plugin 'careless' returned int, not text" in caplog.text


def test_a_command_without_ctx_is_refused_when_the_plugin_loads():
    class Forgetful(Plugin):
        name = "forgetful"

        @command(help="echo")
        def echo(self, text: str) -> str:  # would be handed the Context, with the asker in it
            return text

    with pytest.raises(TypeError, match="first parameter .after self. must be ctx"):
        Forgetful().commands()


class Greedy(Plugin):
    """A third-party plugin that wants words the built-ins have."""
    name = "aaa-greedy"

    @command(help="mine", aliases={"en": ["status", "hilfe"]})
    async def ping(self, ctx) -> str:
        return "not pong"

    @command(help="also mine", aliases={"de": ["stand"]})
    async def where(self, ctx) -> str:
        return "nowhere"


def test_a_clash_keeps_the_built_in_command_and_is_reported():
    from plugins.ping import Ping
    from plugins.status import Status
    dispatcher = Dispatcher([Builtins(), Greedy(), Ping(), Status()])
    assert dispatcher.specs["ping"].plugin == "ping"
    assert dispatcher.specs["where"].plugin == "aaa-greedy"
    assert dispatcher._words["status"] == "status" and dispatcher._words["stand"] == "status"
    assert dispatcher._words["hilfe"] == "help"
    assert dispatcher.clashes == [
        "plugin aaa-greedy: command 'ping' of its command 'ping' is taken by ping's command "
        "'ping'; not added",
        "plugin aaa-greedy: alias 'stand' of its command 'where' is taken by status's command "
        "'status'; not added"]


async def test_a_slow_answer_does_not_hold_up_anyone_else(workshop, chat_client):
    patient, other = await chat_client(), await chat_client()
    bot = workshop.boundjid.bare
    plugin = workshop.services.plugin("workshop")
    patient.say(bot, "slow")
    await asyncio.wait_for(plugin.slow_started.wait(), 10)
    assert (await other.ask(bot, "status 7")).startswith("status of 7")  # "slow" still runs
    plugin.slow_may_finish.set()
    assert (await patient.next_message(bot))["body"] == "finally"


async def test_a_message_longer_than_the_limit_gets_a_clear_answer(workshop, chat_client):
    client = await chat_client()
    answer = await client.ask(workshop.boundjid.bare, "status " + "x" * 5000)
    assert answer.startswith("Your message is too long for me (5007 characters). I read up "
                             "to 4000")


class Switchboard(Plugin):
    """Takes over the conversations of people it connected to someone: their words go on."""

    name = "switchboard"

    def __init__(self):
        super().__init__()
        self.connected: dict[str, str] = {}  # who writes → to whom it goes

    async def on_conversation(self, ctx) -> str | None:
        to = self.connected.get(ctx.person.jid)
        if to is None:
            return None
        if ctx.message.text == "where am I":
            return "connected"
        ctx.send(to, f"{ctx.message.text} (command: {ctx.message.command})")
        return NO_ANSWER


async def test_a_conversation_taken_over_goes_on_before_any_command(
        make_bot, chat_client):
    switchboard = Switchboard()
    bot = await make_bot(plugins=[Workshop(), switchboard])
    caller, callee, other = await chat_client(), await chat_client(), await chat_client()
    bot_jid = bot.boundjid.bare
    switchboard.connected[caller.boundjid.bare] = callee.boundjid.bare
    caller.say(bot_jid, "status 4711")  # a command word, yet it goes on, unanswered
    assert (await callee.next_message(bot_jid))["body"] == "status 4711 (command: status)"
    assert await other.ask(bot_jid, "status 8") == "status of 8 for customer in en"
    assert await caller.ask(bot_jid, "where am I") == "connected"  # answers go back
    del switchboard.connected[caller.boundjid.bare]
    # the next message the caller gets answers this: "status 4711" was answered by nobody
    assert await caller.ask(bot_jid, "status 9") == "status of 9 for customer in en"


def test_the_built_in_plugins_want_no_word_twice():
    from plugins.announce import Announce
    from plugins.lessons import Lessons
    from plugins.ping import Ping
    from plugins.rooms import Rooms
    from plugins.status import Status
    from plugins.support import Support
    assert Dispatcher([Builtins(), Ping(), Status(), Lessons(), Rooms(), Announce(), Support()]
                      ).clashes == []
