"""Every command as an XEP-0050 ad-hoc command with an XEP-0004 form built from its signature,
so GUI clients (Gajim, Conversations, Dino…) offer the bot's commands in a menu."""

from __future__ import annotations

import logging

from slixmpp.plugins.xep_0030.stanza import DiscoItems

from bots.commands import CommandSpec, Parameter, UsageError
from bots.stanza_text import safe_body
from bots.dispatch import Dispatcher, Message
from bots.i18n import render, translator
from bots.people import role_allows

log = logging.getLogger(__name__)
_ = translator(__name__)

SESSION_TIMEOUT = 300  # seconds before an abandoned form is forgotten
COMMANDS_NODE = "http://jabber.org/protocol/commands"


def register_adhoc_commands(bot, dispatcher: Dispatcher, language: str) -> None:
    for spec in dispatcher.specs.values():
        if spec.in_rooms:
            continue  # a form in a direct chat cannot say something in a group chat
        bot.plugin["xep_0050"].add_command(node=spec.name, name=_label(spec, language),
                                    handler=_starter(bot, dispatcher, spec),
                                    timeout=SESSION_TIMEOUT)
    bot.plugin["xep_0030"].set_node_handler("get_items",
                                            handler=_commands_visible_to_asker(bot, dispatcher))
    bot.add_filter("in", _sessions_bound_to_their_starter(bot))


def _commands_visible_to_asker(bot, dispatcher: Dispatcher):
    """The command menu lists only what the asker may run, as `help` does."""
    static = bot.plugin["xep_0030"].static

    def items(jid, node, ifrom, data) -> DiscoItems:
        listed = static.get_items(jid, node, ifrom, data)
        if node != COMMANDS_NODE:
            return listed
        role = bot.people.role_of(ifrom.bare) if ifrom else "customer"
        visible = DiscoItems()
        for item_jid, item_node, name in listed["items"]:
            spec = dispatcher.specs.get(item_node)
            if spec is None or role_allows(role, spec.role):
                visible.add_item(item_jid, item_node, name)
        return visible

    return items


def _sessions_bound_to_their_starter(bot):
    """A form belongs to whoever opened it: slixmpp continues a session for anyone who names
    its id, so a step from another address is answered as if the session did not exist."""
    sessions = bot.plugin["xep_0050"].sessions

    def check(stanza):
        if stanza.name != "iq" or stanza["type"] != "set":
            return stanza
        element = stanza.xml.find(f"{{{COMMANDS_NODE}}}command")
        session = sessions.get(element.get("sessionid")) if element is not None else None
        if session is None or session["from"] == stanza["from"]:
            return stanza
        log.warning("refused a step of an ad-hoc command session from another address")
        refusal = stanza.reply(clear=True)
        refusal["type"] = "error"
        refusal["error"]["type"] = "cancel"
        refusal["error"]["condition"] = "item-not-found"
        refusal.send()
        return None

    return check


def _label(spec: CommandSpec, language: str) -> str:
    return f"{spec.name}: {render(spec.help, language)}" if spec.help else spec.name


def _starter(bot, dispatcher: Dispatcher, spec: CommandSpec):
    async def start(iq, session):
        person = await bot.people.person(iq["from"].bare, iq["lang"] or None)
        message = Message(person, spec.name)
        if not spec.parameters or not person.may(spec.role):
            return await _finish(session, await dispatcher.run(spec, "", message, bot))
        session["payload"] = _form(bot, spec, person.language)
        session["next"] = _submitter(bot, dispatcher, spec, message)
        session["has_next"] = False
        return session

    return start


def _submitter(bot, dispatcher: Dispatcher, spec: CommandSpec, message: Message):
    async def submit(form, session):
        values = form.get_values() if form else {}
        try:
            arguments = {parameter.name: _value(parameter, values.get(parameter.name))
                         for parameter in spec.parameters}
        except UsageError as error:
            reply = render(error.reason, message.person.language, **error.values)
        else:
            reply = await dispatcher.run(spec, "", message, bot, arguments=arguments)
        return await _finish(session, reply)

    return submit


async def _finish(session, reply: str):
    session["payload"] = None
    session["next"] = None
    session["notes"] = [("info", safe_body(reply))]  # a handler's text, as in a chat answer
    return session


def _form(bot, spec: CommandSpec, language: str):
    form = bot.plugin["xep_0004"].make_form("form", spec.name)
    form["instructions"] = render(spec.help, language)
    for parameter in spec.parameters:
        if parameter.choices:
            field = form.add_field(var=parameter.name, ftype="list-single",
                                   label=render(parameter.shown, language),
                                   required=parameter.required)
            for choice in parameter.choices:
                field.add_option(label=choice, value=choice)
        elif parameter.kind is bool:
            form.add_field(var=parameter.name, ftype="boolean",
                           label=render(parameter.shown, language),
                           required=parameter.required, value=bool(parameter.default))
        else:
            form.add_field(var=parameter.name, ftype="text-single",
                           label=render(parameter.shown, language),
                           required=parameter.required,
                           value="" if parameter.default is None else str(parameter.default))
    return form


def _value(parameter: Parameter, raw):
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw in (None, ""):
        if parameter.required:
            raise UsageError(_("{name} is missing"), name=parameter.shown)
        return parameter.default
    if parameter.kind is bool and isinstance(raw, bool):
        return raw
    return parameter.convert(str(raw))
