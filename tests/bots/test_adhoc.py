"""Every command is an XEP-0050 ad-hoc command with an XEP-0004 form, so GUI clients show the
bot's commands in a menu; forms go through the same roles, parsing and handlers as chat."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from bots.plugin import Plugin, command

COMMANDS_NODE = "http://jabber.org/protocol/commands"


class Garage(Plugin):
    name = "garage"

    @command(help="set a car's status", role="staff")
    def set(self, ctx, ref: str, state: str, urgent: bool = False, note: str | None = None):
        return f"{ref} is now {state} (urgent: {urgent}, note: {note})"

    @command(help="when we are open")
    async def hours(self, ctx) -> str:
        return "Mon–Fri 8–18 🕗"

    @command(help="in the group chat: call everyone together", in_rooms=True)
    async def gather(self, ctx) -> str:
        return "Everyone, please come."


@pytest.fixture
async def garage(make_bot, make_account):
    staff = make_account("staff")
    bot = await make_bot(plugins=[Garage()], PEOPLE_STAFF=staff[0])
    bot.staff_login = staff
    return bot


async def listed_commands(client, bot) -> dict[str, str]:
    items = await client.plugin["xep_0030"].get_items(jid=bot.boundjid.full, node=COMMANDS_NODE)
    return {item[1]: item[2] for item in items["disco_items"]["items"]}


async def test_the_commands_are_listed_for_gui_clients_as_far_as_the_asker_may_run_them(
        garage, chat_client):
    staff = await chat_client(*garage.staff_login)
    listed = await listed_commands(staff, garage)
    assert {"help", "language", "hours", "set"} <= set(listed)
    assert listed["set"] == "set: set a car's status"
    customer = await chat_client()
    assert set(await listed_commands(customer, garage)) == {"help", "language", "hours",
                                                            "privacy", "withdraw", "forget"}
    assert "gather" not in listed  # a command for group chats only: no form in a direct chat


async def test_a_command_without_arguments_answers_at_once(garage, chat_client):
    client = await chat_client()
    result = await client.plugin["xep_0050"].send_command(garage.boundjid.full, "hours")
    assert result["command"]["status"] == "completed"
    assert result["command"]["notes"] == [("info", "Mon–Fri 8–18 🕗")]


async def test_a_form_is_built_from_the_signature_and_its_answer_runs_the_command(
        garage, chat_client):
    staff = await chat_client(*garage.staff_login)
    xep_0050 = staff.plugin["xep_0050"]
    started = await xep_0050.send_command(garage.boundjid.full, "set")
    assert started["command"]["status"] == "executing"
    form = started["command"]["form"]
    fields = form.get_fields()
    assert [(name, field["type"], field["required"]) for name, field in fields.items()] == [
        ("ref", "text-single", True), ("state", "text-single", True),
        ("urgent", "boolean", False), ("note", "text-single", False)]

    answer = staff.plugin["xep_0004"].make_form("submit")
    answer.add_field(var="ref", value="4711")
    answer.add_field(var="state", value="ready to pick up")
    answer.add_field(var="urgent", ftype="boolean", value=True)
    done = await xep_0050.send_command(garage.boundjid.full, "set", action="complete",
                                       sessionid=started["command"]["sessionid"],
                                       payload=answer)
    assert done["command"]["status"] == "completed"
    assert done["command"]["notes"] == [
        ("info", "4711 is now ready to pick up (urgent: True, note: None)")]


async def test_a_missing_required_field_is_named(garage, chat_client):
    staff = await chat_client(*garage.staff_login)
    xep_0050 = staff.plugin["xep_0050"]
    started = await xep_0050.send_command(garage.boundjid.full, "set")
    answer = staff.plugin["xep_0004"].make_form("submit")
    answer.add_field(var="ref", value="4711")
    done = await xep_0050.send_command(garage.boundjid.full, "set", action="complete",
                                       sessionid=started["command"]["sessionid"],
                                       payload=answer)
    assert done["command"]["notes"] == [("info", "state is missing")]


async def test_roles_hold_for_ad_hoc_commands_too(garage, chat_client):
    customer = await chat_client()
    result = await customer.plugin["xep_0050"].send_command(garage.boundjid.full, "set")
    assert result["command"]["status"] == "completed"
    assert result["command"]["notes"] == [
        ("info", 'I have no command "set". Write "help" for the list.')]


async def test_a_form_opened_by_staff_cannot_be_finished_by_a_customer(garage, chat_client):
    staff = await chat_client(*garage.staff_login)
    started = await staff.plugin["xep_0050"].send_command(garage.boundjid.full, "set")
    customer = await chat_client()
    answer = customer.plugin["xep_0004"].make_form("submit")
    answer.add_field(var="ref", value="4711")
    answer.add_field(var="state", value="ready, pay first: https://evil.example/pay")
    with pytest.raises(IqError) as refused:
        await customer.plugin["xep_0050"].send_command(
            garage.boundjid.full, "set", action="complete",
            sessionid=started["command"]["sessionid"], payload=answer)
    assert refused.value.condition == "item-not-found"
    # the staff member's session is untouched and still theirs
    answer = staff.plugin["xep_0004"].make_form("submit")
    answer.add_field(var="ref", value="4711")
    answer.add_field(var="state", value="ready")
    done = await staff.plugin["xep_0050"].send_command(
        garage.boundjid.full, "set", action="complete",
        sessionid=started["command"]["sessionid"], payload=answer)
    assert done["command"]["notes"] == [("info", "4711 is now ready (urgent: False, note: None)")]
