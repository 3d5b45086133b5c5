"""From a message's text to the answer: command word, role check, arguments, handler.

The order for a direct message: a plugin that takes over the conversation (`on_conversation`,
e.g. a chat relayed to staff); a command word (or a language's alias for it) → the command;
otherwise a plugin hook that claims the text (e.g. a quiz answer); otherwise the example phrase
it resembles most; otherwise a helpful "I did not understand" with the closest suggestions.
Never silence, never a traceback: a failing handler gets the person an apology and the admin
log the traceback, and every other conversation goes on.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from bots.commands import CommandSpec, UsageError
from bots.i18n import render, translator
from bots.loop_guard import guarded
from bots.people import Person
from bots.phrases import PhraseIndex
from bots.plugin import NO_ANSWER, Plugin
from bots.small_talk import small_talk
from bots.stanza_text import safe_body
from bots.services import Services

log = logging.getLogger(__name__)
_ = translator(__name__)

FILE_NOT_READ = _("Thank you, your file has arrived. I can only read text myself: please write "
                  "your question in words, or \"help\" to see what I can do.")
RUN_THRESHOLD = 0.6  # a plain question this close to an example phrase runs the command
SUGGEST_THRESHOLD = 0.2
QUOTE_LENGTH = 60


@dataclass
class Message:
    person: Person
    text: str
    room: str | None = None  # the room's JID for group chat, None for a direct chat
    device: str = ""  # the full JID that wrote a direct chat (its app), where known
    command: str | None = None  # the command its first word means for this person, if any
    file_url: str | None = None  # a shared file (XEP-0066): its link, which is then the text


@dataclass
class Context:
    """What a handler gets: who asks (`person`), in which language, and the framework's
    services (`bot`, bots/services.py) to act with."""

    message: Message
    bot: Services
    plugin: Plugin | None = None
    values: dict = field(default_factory=dict)

    @property
    def person(self) -> Person:
        return self.message.person

    @property
    def language(self) -> str:
        return self.person.language

    @property
    def config(self) -> dict:
        return self.plugin.config if self.plugin else {}

    def _(self, text, **values) -> str:
        """Render a text (from `translator`) in the person's language."""
        return render(text, self.language, **values)

    def send(self, jid: str, text: str) -> None:
        """Send a message now (safe from sync handlers, which run on worker threads)."""
        self.bot.send(jid, text)

    def notify(self, key: str, jid: str, text: str) -> bool:
        """Queue a message to send exactly once (see Services.notify)."""
        return self.bot.notify(key, jid, text)

    async def db(self, fn, *args, **kwargs):
        """Run database work on the worker pool (for async handlers)."""
        return await self.bot.run(fn, *args, **kwargs)


class Dispatcher:
    """The commands of all plugins, and how a message finds one."""

    def __init__(self, plugins: list[Plugin], max_message_length: int = 4000):
        self.max_message_length = max_message_length
        self.failures = 0  # handlers that raised, since start (a metric)
        self.specs: dict[str, CommandSpec] = {}
        self.unavailable: set[str] = set()  # plugins whose start failed
        # (plugin, command, error) → whether someone was told; the bot tells its admins
        self.on_failure: Callable[[str, str, Exception], bool] = lambda *failure: False
        self.plugins_by_name = {plugin.name: plugin for plugin in plugins}
        self._words: dict[str, str] = {}  # command word or alias → command name
        self._phrases = PhraseIndex()
        self.plugins = plugins
        self._conversation_takers = [plugin for plugin in plugins if type(plugin).on_conversation
                                     is not Plugin.on_conversation]
        self.clashes: list[str] = []  # words a plugin asked for and did not get, and why
        specs = [spec for plugin in in_precedence(plugins) for spec in plugin.commands()]
        for spec in specs:  # command words first: no alias can take one
            self._register(spec)
        for spec in specs:
            if spec.name in self.specs and self.specs[spec.name] is spec:
                self._register_aliases(spec)

    def _register(self, spec: CommandSpec) -> None:
        if spec.name in self._words:
            self._clash(spec, spec.name, "command")
            return
        self.specs[spec.name] = spec
        self._words[spec.name] = spec.name
        for language, phrases in spec.examples.items():
            for phrase in phrases:
                self._phrases.add(spec.name, phrase)

    def _register_aliases(self, spec: CommandSpec) -> None:
        for alias in {alias.casefold() for aliases in spec.aliases.values() for alias in aliases}:
            if self._words.get(alias, spec.name) != spec.name:
                self._clash(spec, alias, "alias")
            else:
                self._words[alias] = spec.name

    def _clash(self, spec: CommandSpec, word: str, what: str) -> None:
        owner = self.specs[self._words[word]]
        self.clashes.append(f"plugin {spec.plugin}: {what} {word!r} of its command {spec.name!r} "
                            f"is taken by {owner.plugin}'s command {owner.name!r}; not added")
        log.error("%s", self.clashes[-1])

    def spec_for(self, word: str) -> CommandSpec | None:
        """The command a word (its name or an alias, any case) means, if any."""
        return self.specs.get(self._words.get(word.casefold(), ""))

    def visible_to(self, person: Person, in_room: bool = False) -> list[CommandSpec]:
        """The commands to show `person`: theirs, and in a direct chat none for rooms only."""
        return [spec for name, spec in sorted(self.specs.items())
                if person.may(spec.role) and (in_room or not spec.in_rooms)]

    async def answer(self, message: Message, bot) -> str:
        """The answer to one message, in the person's language, fit for a stanza (a stored
        text may hold a character XML forbids); never an exception. Empty: no answer is due
        (a plugin relayed the message on)."""
        try:
            answer = await self._answer(message, bot)
            return "" if answer is NO_ANSWER else safe_body(answer)
        except Exception as exc:
            log.exception("answering a message failed")
            return self._apology(message.person.language, "dispatch", "-", exc)

    async def _answer(self, message: Message, bot) -> str:
        person = message.person
        text = message.text.strip()
        if len(text) > self.max_message_length:
            return render(_("Your message is too long for me ({length} characters). I read "
                            "up to {limit}; please send a shorter one."), person.language,
                          length=len(text), limit=self.max_message_length)
        if not text:
            return render(_('Your message was empty. Write "help" to see what I can do.'),
                          person.language)
        word, *rest_of_text = text.split(maxsplit=1)
        rest = rest_of_text[0] if rest_of_text else ""
        spec = self.spec_for(word)
        if spec is not None and not person.may(spec.role):  # others' commands are unknown words
            spec = None
        message.command = spec.name if spec is not None else None
        if message.room is None:
            for plugin in self._conversation_takers:
                if plugin.name not in self.unavailable:
                    taken = await self._call_hook(plugin, plugin.on_conversation, message, bot)
                    if taken is not None:
                        return taken
        if spec is not None and message.file_url is None:
            return await self.run(spec, rest, message, bot)
        for plugin in self.plugins:
            if plugin.name in self.unavailable:
                continue
            claimed = await self._call_hook(plugin, plugin.on_message, message, bot)
            if claimed:
                return claimed
        if message.file_url is not None:  # never quoted back: a link means nothing to people
            return render(FILE_NOT_READ, person.language)
        matches = self._phrases.match(text)
        if matches and matches[0].score >= RUN_THRESHOLD:
            spec = self.specs[matches[0].command]
            if not any(parameter.required for parameter in spec.parameters):
                return await self.run(spec, "", message, bot)
            return render(_("Did you mean {command}? Write: {usage}"), person.language,
                          command=spec.word(person.language), usage=spec.usage(person.language))
        chatter = small_talk(text)
        if chatter is not None:
            return render(chatter, person.language)
        return self._not_understood(message, matches)

    async def run(self, spec: CommandSpec, argument_text: str, message: Message, bot,
                  arguments: dict | None = None) -> str:
        """Check the role, parse the arguments and call the handler; always returns text."""
        person = message.person
        if not person.may(spec.role):  # as `help` says: a command of others is no command
            return no_such_command(spec.name, person.language)
        try:
            values = arguments if arguments is not None else spec.parse(argument_text)
        except UsageError as error:
            return render(_("{problem}. Write: {usage}"), person.language,
                          problem=render(error.reason, person.language, **error.values),
                          usage=spec.usage(person.language))
        if spec.plugin in self.unavailable:
            return render(_("Sorry, {command} is not available at the moment. Please try again "
                            "later."), person.language, command=spec.name)
        ctx = Context(message, bot.services, self.plugins_by_name.get(spec.plugin))
        try:
            if spec.is_async:
                result = await guarded(spec.handler(ctx, **values), spec.title)
            else:
                result = await bot.storage.run_handler(spec.handler, ctx, **values)
        except Exception as exc:
            log.exception("%s failed", spec.title)
            return self._apology(person.language, spec.plugin, spec.name, exc)
        if result is not None and not isinstance(result, str):
            log.error("command %r of plugin %r returned %s, not text; the person got an "
                      "apology", spec.name, spec.plugin, type(result).__name__)
            return self._apology(person.language, spec.plugin, spec.name,
                                 TypeError(f"returned {type(result).__name__}, not text"))
        answer = render(result, person.language) if result else render(_("Done."),
                                                                       person.language)
        if message.room and spec.private:
            bot.send_text(person.jid, answer)
            return render(_("I have sent you my answer in a direct chat."), person.language)
        return answer

    def _apology(self, language: str, plugin: str, command: str, error: Exception) -> str:
        """What the person reads when the bot failed them; the admins are told (rate-limited)
        where there are any, and only then does the apology say so."""
        self.failures += 1
        told = self.on_failure(plugin, command, error)
        return render(APOLOGY_TEAM_TOLD if told else APOLOGY, language)

    async def _call_hook(self, plugin: Plugin, hook, message: Message, bot) -> str | None:
        """A hook's answer in the person's language (NO_ANSWER as it is); None when it
        claims nothing, or fails (logged: the message goes on as if it had not been asked)."""
        try:
            answer = await guarded(hook(Context(message, bot.services, plugin)), hook)
        except Exception:
            log.exception("%s of plugin %r failed", hook.__name__, plugin.name)
            return None
        if answer is NO_ANSWER or answer is None:
            return answer
        return render(answer, message.person.language) if answer else None

    def _not_understood(self, message: Message, matches) -> str:
        language = message.person.language
        quoted = quote(message.text)
        allowed = {spec.name: spec for spec in self.visible_to(message.person,
                                                                message.room is not None)}
        suggestions = [allowed[match.command].word(language) for match in matches
                       if match.score >= SUGGEST_THRESHOLD and match.command in allowed][:3]
        first_word = next(iter(message.text.split(maxsplit=1)), "").casefold()
        words = sorted(spec.word(language) for spec in allowed.values())
        for close in difflib.get_close_matches(first_word, words, n=3, cutoff=0.6):
            if close not in suggestions:
                suggestions.append(close)
        if suggestions:
            return render(_('I did not understand "{text}". Did you mean: {suggestions}? '
                            'Write "help" to see everything I can do.'), language, text=quoted,
                          suggestions=", ".join(suggestions[:3]))
        return render(_('I did not understand "{text}". Write "help" to see everything I can '
                        'do.'), language, text=quoted)


def no_such_command(word: str, language: str) -> str:
    return render(_('I have no command "{command}". Write "help" for the list.'), language,
                  command=quote(word))


def quote(text: str) -> str:
    """A person's words quoted back: the first QUOTE_LENGTH characters, "…" where cut."""
    text = text.strip()
    return text if len(text) <= QUOTE_LENGTH else text[:QUOTE_LENGTH].rstrip() + "…"


APOLOGY = _("Sorry, something went wrong on my side. Please try again later.")
APOLOGY_TEAM_TOLD = _("Sorry, something went wrong on my side. Please try again later; the "
                      "team has been told.")


def in_precedence(plugins: list[Plugin]) -> list[Plugin]:
    """Who keeps a word two plugins ask for: the core, then the plugins shipped with Botschaft,
    then the others by name, so installing a plugin never takes `ping` or `status` away."""
    def rank(plugin: Plugin) -> tuple[int, str]:
        module = type(plugin).__module__
        return (0 if module.startswith("bots.") else 1 if module.startswith("plugins.") else 2,
                plugin.name)
    return sorted(plugins, key=rank)


def addressed_text(text: str, nick: str, prefix: str) -> str | None:
    """In a group room: the text meant for the bot ("!status", "Botschaft: status"), or None."""
    stripped = text.lstrip()
    if prefix and stripped.startswith(prefix):
        return stripped[len(prefix):].lstrip()
    lowered = stripped.casefold()
    for mention in (nick.casefold(), "@" + nick.casefold()):
        if lowered.startswith(mention):
            rest = stripped[len(mention):]
            if not rest or rest[0] in ":, \t\n":
                return rest.lstrip(":, \t\n")
    return None


class AnswerBudget:
    """At most `limit` answers per room and `window` seconds: the last guard against two bots
    answering each other forever, whatever else goes wrong."""

    def __init__(self, limit: int = 20, window: float = 60.0):
        self.limit = limit
        self.window = window
        self._answers: dict[str, list[float]] = {}

    def allow(self, room: str) -> bool:
        now = time.monotonic()
        recent = [stamp for stamp in self._answers.get(room, []) if now - stamp < self.window]
        allowed = len(recent) < self.limit
        if allowed:
            recent.append(now)
        self._answers[room] = recent
        return allowed

