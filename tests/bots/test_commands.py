"""Signatures become usage, parsing and forms."""

from __future__ import annotations

import datetime
import enum
from typing import Literal

import pytest

from bots.commands import CommandSpec, UsageError, parameters_of, rest_of_line, split_words


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


def handler(self, ctx, ref: str, count: int = 1, urgent: bool = False,
            mode: Literal["fast", "slow"] | None = None, note: str | None = None):
    """A command with every kind of parameter."""


def spec_of(function) -> CommandSpec:
    return CommandSpec(name="set", help="", handler=function, parameters=parameters_of(function))


def test_usage_comes_from_the_signature():
    assert spec_of(handler).usage() == "set <ref> [count] [urgent] [fast|slow] [note]"


def test_arguments_are_converted_by_type_hint():
    values = spec_of(handler).parse('4711 3 ja slow the car is "being" washed')
    assert values == {"ref": "4711", "count": 3, "urgent": True, "mode": "slow",
                      "note": 'the car is "being" washed'}


def test_the_last_text_is_the_rest_of_the_line_as_written():
    """Quotes, line breaks and runs of spaces in a note or an announcement stay; a text that
    is one quoted group loses its quotes, as any single word does."""
    parse = spec_of(handler).parse
    assert parse('4711 3 ja slow Öl „neu“\n  Reifen: <ok> & 🚗')["note"] == \
        "Öl „neu“\n  Reifen: <ok> & 🚗"
    assert parse('4711 3 ja slow "the car is washed"')["note"] == "the car is washed"
    assert parse('4711 3 ja slow it is "unclosed')["note"] == 'it is "unclosed'
    # an unclosed quote anywhere: words are plain words throughout, none lost
    text = '"Team Nord" Sommerfest, Rohre 2" mitbringen'
    assert split_words(text)[:2] == ['"Team', 'Nord"']
    assert rest_of_line(text, 1) == 'Nord" Sommerfest, Rohre 2" mitbringen'
    assert split_words("7\u00a0Uhr  x\n y") == ["7\u00a0Uhr", "x", "y"]  # as shlex parts them


def test_defaults_fill_what_is_not_given():
    assert spec_of(handler).parse("4711") == {"ref": "4711", "count": 1, "urgent": False,
                                              "mode": None, "note": None}


def test_quotes_group_words_and_a_lone_apostrophe_is_a_letter():
    def cmd(self, ctx, first: str, second: str):
        """Two words."""
    assert spec_of(cmd).parse('"Max Müller" it\'s') == {"first": "Max Müller",
                                                       "second": "it's"}


@pytest.mark.parametrize("text, problem", [
    ("", "ref is missing"),
    ("4711 many", "count must be a whole number"),
    ("4711 1 perhaps", "urgent must be yes or no"),
    ("4711 1 yes medium", "mode must be one of: fast, slow"),
])
def test_wrong_arguments_say_what_is_wrong(text, problem):
    with pytest.raises(UsageError) as error:
        spec_of(handler).parse(text)
    assert error.value.reason.render("en", **error.value.values) == problem


def test_too_many_words_are_reported():
    def cmd(self, ctx, number: int):
        """One number."""
    with pytest.raises(UsageError, match="too many words"):
        spec_of(cmd).parse("1 2")


def test_enum_parameters_offer_their_values():
    def cmd(self, ctx, colour: Colour):
        """An enum."""
    spec = spec_of(cmd)
    assert spec.usage() == "set <red|green>"
    assert spec.parse("GREEN") == {"colour": Colour.GREEN}


def test_unsupported_types_are_refused_when_the_plugin_loads():
    def cmd(self, ctx, when: list):
        """A list cannot be typed in a chat."""
    with pytest.raises(TypeError, match="when has type"):
        parameters_of(cmd)


def closing(self, ctx, day: datetime.date, opens: datetime.time, reason: str):
    """Dates and times are checked where they come in, not when they are used."""


@pytest.mark.parametrize("text, day, opens", [
    ("2026-12-24 14:00 Weihnachten", datetime.date(2026, 12, 24), datetime.time(14, 0)),
    ("24.12.2026 9:30 Inventur", datetime.date(2026, 12, 24), datetime.time(9, 30)),
    ("24.12.26 9.30 Inventur", datetime.date(2026, 12, 24), datetime.time(9, 30)),
])
def test_dates_and_times_are_parsed_from_the_signature(text, day, opens):
    values = spec_of(closing).parse(text)
    assert (values["day"], values["opens"]) == (day, opens)


@pytest.mark.parametrize("text, problem", [
    ("morgen 14:00 Inventur", "day: please write a date, like 24.12.2026"),
    ("31.02.2026 14:00 Inventur", "day: please write a date, like 24.12.2026"),
    ("2026-12-24 25:00 Inventur", "opens: please write a time, like 7:30"),
    ("2026-12-24 mittags Inventur", "opens: please write a time, like 7:30"),
])
def test_a_word_that_is_no_date_or_time_is_refused_with_the_field(text, problem):
    with pytest.raises(UsageError) as refused:
        spec_of(closing).parse(text)
    assert str(refused.value).format(**refused.value.values) == problem
