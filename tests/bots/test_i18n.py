"""Texts in the person's language: German and English catalogues, tag negotiation."""

import pytest

from bots.i18n import negotiate, render, translator

_ = translator("bots")


@pytest.mark.parametrize("tag, language", [("de", "de"), ("de-AT", "de"), ("en_GB", "en"),
                                           ("fr", None), (None, None), ("", None)])
def test_language_tags_are_negotiated(tag, language):
    assert negotiate(tag) == language


def test_a_marked_text_renders_in_german_and_english():
    text = _("{name} must be a whole number")
    assert render(text, "en", name="count") == "count must be a whole number"
    assert render(text, "de", name="count") == "count muss eine ganze Zahl sein"


def test_a_text_without_translation_stays_english():
    assert render(_("not in any catalogue"), "de") == "not in any catalogue"


def test_every_german_entry_keeps_the_placeholders_of_its_english_original():
    import re
    from importlib.resources import files

    from babel.messages.pofile import read_po

    for package in ("bots", "plugins.ping"):
        with (files(package) / "locale" / "de.po").open("rb") as po_file:
            catalogue = read_po(po_file)
        for message in catalogue:
            if message.id and message.string:
                assert set(re.findall(r"{\w+}", message.id)) == \
                    set(re.findall(r"{\w+}", message.string)), message.id
