"""A command's arguments come from its method signature.

`def status(self, ctx, ref: str | None = None)` becomes the usage `status [ref]`: type hints
say how to parse (str, int, float, bool, datetime.date, datetime.time, Literal[...] or an Enum
for choices), defaults make an argument optional, and the last text argument takes the rest of
the line, so
`set 4711 cleaning the car is being washed` needs no quotes. Quotes group words where needed.
The same parameters describe the XEP-0004 form of the command's XEP-0050 ad-hoc version.
"""

from __future__ import annotations

import datetime
import enum
import functools
import inspect
import re
import shlex
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from bots.i18n import render, translator

_ = translator(__name__)

TRUE_WORDS = {"yes", "y", "true", "on", "1", "ja", "j", "an"}
FALSE_WORDS = {"no", "n", "false", "off", "0", "nein", "aus"}


class UsageError(Exception):
    """The arguments do not fit the command; `reason` is a Text for the person."""

    def __init__(self, reason, **values):
        super().__init__(str(reason))
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: type  # str, int, float, bool, or the Enum class
    required: bool
    default: Any = None
    choices: tuple[str, ...] = ()
    label: str = ""  # what people read for it (a Text: "Auftragsnummer"); else the name

    @property
    def shown(self) -> str:
        return self.label or self.name

    def usage(self, language: str = "en") -> str:
        shown = "|".join(self.choices) if self.choices else render(self.shown, language)
        return f"<{shown}>" if self.required else f"[{shown}]"

    def convert(self, raw: str) -> Any:
        if self.choices:
            matches = [choice for choice in self.choices if choice.lower() == raw.lower()]
            if not matches:
                raise UsageError(_("{name} must be one of: {choices}"), name=self.shown,
                                 choices=", ".join(self.choices))
            return self.kind(matches[0]) if issubclass(self.kind, enum.Enum) else matches[0]
        if self.kind is bool:
            if raw.lower() in TRUE_WORDS:
                return True
            if raw.lower() in FALSE_WORDS:
                return False
            raise UsageError(_("{name} must be yes or no"), name=self.shown)
        if self.kind is datetime.date:
            return _parse_date(raw, self.shown)
        if self.kind is datetime.time:
            return _parse_time(raw, self.shown)
        if self.kind in (int, float):
            try:
                return self.kind(raw.replace(",", ".") if self.kind is float else raw)
            except ValueError:
                message = (_("{name} must be a whole number") if self.kind is int
                           else _("{name} must be a number"))
                raise UsageError(message, name=self.shown) from None
        return raw


@dataclass
class CommandSpec:
    """Everything the framework knows about one command."""

    name: str
    help: str
    handler: Callable
    parameters: list[Parameter]
    role: str = "customer"
    examples: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    plugin: str = ""
    private: bool = True  # in a group room, answered in a direct chat (see @command)
    in_rooms: bool = False  # for group chats only: not shown in a direct chat (see @command)

    @functools.cached_property
    def title(self) -> str:
        """How the log names it."""
        return f"command {self.name!r} of plugin {self.plugin!r}"

    @functools.cached_property
    def is_async(self) -> bool:
        """An `async def` runs on the event loop; a plain def on a handler thread."""
        return inspect.iscoroutinefunction(self.handler)

    def word(self, language: str = "en") -> str:
        """The command word people of this language see: their first alias, if it has one."""
        own = self.aliases.get(language) if language != "en" else None
        return own[0] if own else self.name

    def usage(self, language: str = "en") -> str:
        return " ".join([self.word(language)]
                        + [parameter.usage(language) for parameter in self.parameters])

    def parse(self, argument_text: str) -> dict[str, Any]:
        """Turn the text after the command word into keyword arguments for the handler."""
        if not self.parameters and not argument_text:
            return {}
        words = split_words(argument_text)
        total = len(words)
        values: dict[str, Any] = {}
        for index, parameter in enumerate(self.parameters):
            is_last = index == len(self.parameters) - 1
            if not words:
                if parameter.required:
                    raise UsageError(_("{name} is missing"), name=parameter.shown)
                values[parameter.name] = parameter.default
                continue
            if is_last and parameter.kind is str and not parameter.choices:
                # the rest of the line as written (quotes, line breaks); one word: unquoted
                consumed = total - len(words)
                raw = words[0] if len(words) == 1 else rest_of_line(argument_text, consumed)
                words = []
            else:
                raw = words.pop(0)
                if parameter.kind is datetime.time and words \
                        and words[0].casefold() in TIME_SUFFIXES:
                    raw += " " + words.pop(0)
            values[parameter.name] = parameter.convert(raw)
        if words:
            raise UsageError(_("too many words: {extra}"), extra=" ".join(words))
        return values


_QUOTE_MARKS = "„“”«»"
_SPACE_CHARACTERS = " \t\r\n"  # shlex's whitespace
_SPACES = re.compile(r"[ \t\r\n]+")
_QUOTES = str.maketrans(dict.fromkeys(_QUOTE_MARKS, '"'))


def split_words(text: str) -> list[str]:
    """Words; double quotes (also „…“ and «…») group them. Apostrophes (it's, geht's) are
    letters, and an unclosed quote is taken as a plain character, never as an error. Words
    are parted by spaces, tabs and line breaks only (as shlex does): "7\u00a0Uhr" is one."""
    if _has_quotes(text):
        try:
            return list(_lexer(text))
        except ValueError:  # an unclosed quote
            pass
    return _SPACES.split(text.strip(_SPACE_CHARACTERS)) if text.strip(_SPACE_CHARACTERS) else []


def rest_of_line(text: str, skip: int) -> str:
    """`text` after its first `skip` words (as split_words counts them), exactly as written."""
    if _has_quotes(text):
        lexer = _lexer(text)
        try:
            for _word in range(skip):
                lexer.get_token()
            unread = lexer.instream.read()  # with „“ made plain quotes, as the lexer reads
            list(_lexer(unread))  # split_words lexes only a text whose quotes all close
        except ValueError:
            pass
        else:
            return text[len(text) - len(unread):].strip()
    rest = text.strip(_SPACE_CHARACTERS)
    return _SPACES.split(rest, maxsplit=skip)[-1].strip() if skip else rest.strip()


def _has_quotes(text: str) -> bool:
    return '"' in text or not text.isascii() and any(quote in text for quote in _QUOTE_MARKS)


def _lexer(text: str) -> shlex.shlex:
    lexer = shlex.shlex(text.translate(_QUOTES), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    lexer.commenters = ""
    return lexer


def parameters_of(function: Callable, labels: dict[str, str] | None = None) -> list[Parameter]:
    """The command's parameters: everything after `self` and `ctx`; `labels` are what people
    read for them ({"ref": _("reference")})."""
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    parameters = []
    skipped = 1 if inspect.ismethod(function) else 2  # a bound method has no `self` left
    names = list(signature.parameters)
    if len(names) < skipped or names[skipped - 1] != "ctx":
        raise TypeError(f"{function.__qualname__}: a command's first parameter (after self) "
                        "must be ctx, the message's context; the arguments follow it")
    for parameter in list(signature.parameters.values())[skipped:]:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(f"{function.__qualname__}: parameter {parameter.name} must be a "
                            "plain named parameter")
        kind, optional = _unwrap_optional(hints.get(parameter.name, str))
        choices: tuple[str, ...] = ()
        if typing.get_origin(kind) is typing.Literal:
            choices = tuple(str(value) for value in typing.get_args(kind))
            kind = str
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            choices = tuple(str(member.value) for member in kind)
        elif kind not in (str, int, float, bool, datetime.date, datetime.time):
            raise TypeError(f"{function.__qualname__}: parameter {parameter.name} has type "
                            f"{kind!r}; use str, int, float, bool, datetime.date, "
                            "datetime.time, Literal[...] or an Enum")
        has_default = parameter.default is not parameter.empty
        parameters.append(Parameter(
            name=parameter.name, kind=kind, required=not (has_default or optional),
            default=parameter.default if has_default else None, choices=choices,
            label=(labels or {}).get(parameter.name, "")))
    unknown = set(labels or {}) - {parameter.name for parameter in parameters}
    if unknown:
        raise TypeError(f"{function.__qualname__}: labels for no parameter: "
                        f"{', '.join(sorted(unknown))}")
    return parameters


_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})?$")
_HOUR_MINUTE = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr|h|o'clock)?$", re.IGNORECASE)
TIME_SUFFIXES = {"uhr", "h", "o'clock"}  # "7 Uhr" is one time, written as two words


def _parse_date(raw: str, name: str) -> datetime.date:
    """2026-12-24 or the German 24.12.2026 / 24.12.26 / 24.12. (this year)."""
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        pass
    match = _DAY_MONTH_YEAR.match(raw)
    if match:
        day, month, year = match.groups()
        year = int(year) + (2000 if len(year) == 2 else 0) if year else datetime.date.today().year
        try:
            return datetime.date(year, int(month), int(day))
        except ValueError:
            pass
    raise UsageError(_("{name}: please write a date, like 24.12.2026"), name=name)


def _parse_time(raw: str, name: str) -> datetime.time:
    """As people write it: 07:30, 7:30, 7.30, 7 Uhr, 19h, 7."""
    match = _HOUR_MINUTE.match(raw.strip())
    hour, minute = (int(match.group(1)), int(match.group(2) or 0)) if match else (24, 0)
    if hour < 24 and minute < 60:
        return datetime.time(hour, minute)
    raise UsageError(_("{name}: please write a time, like 7:30"), name=name)


def _unwrap_optional(hint) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arguments = [argument for argument in typing.get_args(hint) if argument is not type(None)]
        if len(arguments) == 1:
            return arguments[0], True
    return hint, False
