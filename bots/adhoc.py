"""Every command as an XEP-0050 ad-hoc command with an XEP-0004 form built from its signature,
so GUI clients (Gajim, Conversations, Dino…) offer the bot's commands in a menu."""

from __future__ import annotations

import logging

from bots.commands import CommandSpec, Parameter, UsageError
from bots.dispatch import Dispatcher, Message
from bots.i18n import render, translator

log = logging.getLogger(__name__)
_ = translator(__name__)

SESSION_TIMEOUT = 300  # seconds before an abandoned form is forgotten


def register_adhoc_commands(bot, dispatcher: Dispatcher, language: str) -> None:
    for spec in dispatcher.specs.values():
        bot.plugin["xep_0050"].add_command(node=spec.name, name=_label(spec, language),
                                    handler=_starter(bot, dispatcher, spec),
                                    timeout=SESSION_TIMEOUT)


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
    session["notes"] = [("info", reply)]
    return session


def _form(bot, spec: CommandSpec, language: str):
    form = bot.plugin["xep_0004"].make_form("form", spec.name)
    form["instructions"] = render(spec.help, language)
    for parameter in spec.parameters:
        if parameter.choices:
            field = form.add_field(var=parameter.name, ftype="list-single",
                                   label=parameter.name, required=parameter.required)
            for choice in parameter.choices:
                field.add_option(label=choice, value=choice)
        elif parameter.kind is bool:
            form.add_field(var=parameter.name, ftype="boolean", label=parameter.name,
                           required=parameter.required, value=bool(parameter.default))
        else:
            form.add_field(var=parameter.name, ftype="text-single", label=parameter.name,
                           required=parameter.required,
                           value="" if parameter.default is None else str(parameter.default))
    return form


def _value(parameter: Parameter, raw):
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw in (None, ""):
        if parameter.required:
            raise UsageError(_("{name} is missing"), name=parameter.name)
        return parameter.default
    if parameter.kind is bool and isinstance(raw, bool):
        return raw
    return parameter.convert(str(raw))
