"""The commands every bot has, whatever plugins it runs: `help`, `language`, `privacy`,
`withdraw` and `forget` (bots/privacy_chat.py), and `invite` for staff."""

from __future__ import annotations

from typing import Literal

from bots.dispatch import no_such_command
from bots.i18n import LANGUAGE_NAMES, LANGUAGES, format_moment, render, translator
from bots.invites import InvitationError
from bots.plugin import Plugin, command
from bots.privacy_chat import PrivacyCommands

_ = translator(__name__)


class Builtins(PrivacyCommands, Plugin):
    name = "core"
    description = "help, language, privacy and invitations"

    def __init__(self, people=None, dispatcher=None):
        super().__init__()
        self.people = people  # bots.people.People: the framework's own, not a plugin service
        self.dispatcher = dispatcher

    @command(help=_("list what I can do, or explain one command: help <command>"),
             aliases={"de": ["hilfe", "?"], "en": ["?", "commands"]},
             examples={"en": ["what can you do", "how does this work"],
                       "de": ["was kannst du", "wie funktioniert das"]}, private=False,
             arguments={"command": _("command")})
    async def help(self, ctx, command: str | None = None) -> str:
        language = ctx.language
        if command:
            spec = self.dispatcher.spec_for(command)
            if spec is None or not ctx.person.may(spec.role):
                return no_such_command(command, language)
            return render(_("{usage}\n{help}"), language, usage=spec.usage(language),
                          help=render(spec.help, language))
        lines = [render(_("I understand these commands:"), language)]
        for spec in sorted(self.dispatcher.visible_to(ctx.person, ctx.message.room is not None),
                           key=lambda spec: spec.word(language).casefold()):
            lines.append(f"• {spec.usage(language)} — {render(spec.help, language)}")
        lines.append(render(_('You can also just ask, e.g. "{example}".'), language,
                            example=self._an_example(language)))
        return "\n".join(lines)

    @command(help=_("choose the language I answer in: language de|en"),
             aliases={"de": ["sprache"], "en": ["lang"]}, arguments={"code": _("language")})
    async def language(self, ctx, code: Literal[LANGUAGES] | None = None) -> str:
        if code is None:
            return render(_("I answer you in {language}. Change it with: language de|en"),
                          ctx.language, language=LANGUAGE_NAMES[ctx.language])
        await self.people.set_language(ctx.person.jid, code)
        return render(_("From now on I answer you in English."), code)

    @command(help=_("a one-time link for a new customer: invite, or invite <what> to link "
                    "it at once (an item, a course)"), role="staff",
             aliases={"de": ["einladen", "einladung"]}, arguments={"what": _("what")})
    def invite(self, ctx, what: str | None = None) -> str:
        language = ctx.language
        invitations = ctx.bot.invitations
        actions, refusals = {}, []
        if what:
            for name, action in invitations.actions.items():
                try:
                    actions = {name: action.check(what)}
                    break
                except InvitationError as refusal:
                    refusals.append(refusal.text(language))
            else:
                return "\n".join([render(_("I cannot link {what} to an invitation:"),
                                          language, what=what[:64])] + refusals)
        try:
            made = ctx.bot.invite(ctx.person.jid, actions, note=what or "")
        except InvitationError as refusal:
            return refusal.text(language)
        does = [render(invitations.actions[name].describe, language, value=value)
                for name, value in made.actions.items()]
        lines = [render(_("A new invitation, valid once until {until}:"), language,
                        until=format_moment(made.expires_at, language, ctx.bot.timezone)),
                 made.url]
        lines += [f"• {text}" for text in does]
        lines.append(render(_("Give it only to the person it is for: whoever opens it first "
                              "gets the account."), language))
        return "\n".join(lines)

    def _an_example(self, language: str) -> str:
        for spec in self.dispatcher.specs.values():
            if spec.plugin != self.name and spec.examples.get(language):
                return spec.examples[language][0]
        return self.help.botschaft_command["examples"][language][0]
