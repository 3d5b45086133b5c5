"""Small talk gets a friendly word, in the person's language; anything else is left alone."""

from __future__ import annotations

import pytest

from bots.i18n import render
from bots.small_talk import AGREED, GOODBYE, GREETING, THANKS, small_talk


@pytest.mark.parametrize("text, answer", [
    ("Hallo", GREETING), ("hi!", GREETING), ("Moin moin", GREETING), ("Guten Tag :)", GREETING),
    ("Grüß Gott", GREETING), ("danke", THANKS), ("Danke schön!", THANKS), ("thx", THANKS),
    ("Vielen Dank!!", THANKS), ("ok", AGREED), ("OK.", AGREED), ("👍", AGREED), ("🙂🙏", AGREED),
    ("👍🏽", AGREED), ("Tschüss", GOODBYE), ("tschüs!", GOODBYE), ("bye", GOODBYE),
])
def test_small_talk_gets_a_friendly_word(text, answer):
    assert small_talk(text) == answer


@pytest.mark.parametrize("text", ["hallo, ist mein Auto fertig?", "ok 4711", "b", "?!", "",
                                  "danke für nichts, wo ist meine Bestellung"])
def test_anything_else_is_left_alone(text):
    assert small_talk(text) is None


def test_the_answers_speak_german_and_english():
    assert render(THANKS, "de") == "Gern geschehen!"
    assert render(GREETING, "en").startswith("Hello! How can I help you?")
    assert render(GREETING, "de").startswith("Hallo! Wie kann ich Ihnen helfen?")
