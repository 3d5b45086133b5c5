"""Every command is an XEP-0050 ad-hoc command with an XEP-0004 form, so GUI clients show the
bot's commands in a menu; forms go through the same roles, parsing and handlers as chat."""

from __future__ import annotations

import pytest

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


@pytest.fixture
async def garage(make_bot, make_account):
    staff = make_account("staff")
    bot = await make_bot(plugins=[Garage()], PEOPLE_STAFF=staff[0])
    bot.staff_login = staff
    return bot


async def test_the_commands_are_listed_for_gui_clients(garage, chat_client):
    client = await chat_client()
    items = await client.plugin["xep_0030"].get_items(jid=garage.boundjid.full,
                                                      node=COMMANDS_NODE)
    listed = {item[1]: item[2] for item in items["disco_items"]["items"]}
    assert {"help", "language", "set"} <= set(listed)
    assert listed["set"] == "set: set a car's status"


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
        ("info", "Sorry, set is only for staff. If you need it, please ask your contact "
                 "person.")]
