"""Texts in the person's language: German and English catalogues, tag negotiation, and the
German catalogue of every package complete and true to its English texts."""

from functools import cache
from importlib.metadata import packages_distributions
from importlib.resources import files
from string import Formatter

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po

from bots.i18n import negotiate, render, translator

_ = translator("bots")

KNOWN_CATALOGUES = {"bots", "plugins.ping", "plugins.status", "plugins.lessons", "plugins.rooms",
                    "plugins.announce", "plugins.support"}
MARKERS = {"_": None, "_n": (1, 2)}  # translator(__name__), plural_translator(__name__)


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


@cache
def packages() -> dict:
    """Every installed package of Botschaft (bots, plugins.*, server_bridge.*): its dotted
    name → its folder, which is where `translator(__name__)` looks for locale/de.po."""
    found = {}
    pending = [(name, files(name)) for name, distributions in packages_distributions().items()
               if "botschaft" in distributions]
    while pending:
        name, folder = pending.pop()
        found[name] = folder
        pending += [(f"{name}.{child.name}", child) for child in folder.iterdir()
                    if child.is_dir() and (child / "__init__.py").is_file()]
    return found


@cache
def german_catalogues() -> dict:
    """Package name → its German catalogue, for each package that has one."""
    catalogues = {}
    for name, folder in packages().items():
        po_file = folder / "locale" / "de.po"
        if po_file.is_file():
            with po_file.open("rb") as source:
                catalogues[name] = read_po(source, locale="de")
    return catalogues


def marked_texts(folder) -> list[tuple[str, str | tuple]]:
    """(module file, msgid) of each text a package's modules mark with `_("…")`, or with
    `_n("…", "…")` (then the msgid is the pair)."""
    texts = []
    for module in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if module.name.endswith(".py"):
            with module.open("rb") as source:
                texts += [(module.name, msgid) for _line, msgid, _comments, _context
                          in extract("python", source, keywords=MARKERS) if msgid]
    return texts


def forms(text: str | tuple) -> tuple:
    """A text's forms: one, or a plural entry's each."""
    return text if isinstance(text, tuple) else (text,)


def filled(entry) -> bool:
    return all(forms(entry.string)) and not entry.fuzzy


def placeholders(text: str) -> set | str:
    """The `{name}` fields of a text, with their format spec and conversion; or why the text
    cannot be formatted at all."""
    try:
        return {(name, spec, conversion) for _literal, name, spec, conversion
                in Formatter().parse(text) if name is not None}
    except ValueError as error:
        return f"not a format string: {error}"


def placeholders_kept(entry) -> bool:
    """The German text has the placeholders of the English one; a plural entry's forms have
    them between them (a singular may leave out {count}, as "eine Person" does)."""
    english = [placeholders(text) for text in forms(entry.id)]
    german = [placeholders(text) for text in forms(entry.string)]
    if not isinstance(entry.id, tuple):
        return german == english
    if any(isinstance(fields, str) for fields in english + german):
        return False  # a form that cannot be formatted
    return set().union(*german) == set().union(*english)


def test_every_package_s_german_catalogue_is_found():
    assert KNOWN_CATALOGUES <= set(german_catalogues()), sorted(german_catalogues())


def test_every_text_marked_for_translation_has_a_german_entry():
    missing, marking = [], set()
    for name, folder in sorted(packages().items()):
        german = german_catalogues().get(name)
        for module, msgid in marked_texts(folder):
            marking.add(name)
            entry = german.get(msgid) if german is not None else None
            if entry is None or not filled(entry):
                missing.append(f"{name} ({module}): {msgid!r}")
    assert KNOWN_CATALOGUES <= marking, sorted(marking)  # the extraction found the texts
    assert not missing, "no German text in <package>/locale/de.po for:\n" + "\n".join(missing)


@pytest.mark.parametrize("package", sorted(german_catalogues()))
def test_every_german_entry_is_filled_and_keeps_the_placeholders_of_its_english_original(
        package):
    wrong = []
    for entry in german_catalogues()[package]:
        if not entry.id:
            continue  # the header
        if not filled(entry):
            wrong.append(f"{entry.id!r}: {'fuzzy' if entry.fuzzy else 'empty'}")
        elif not placeholders_kept(entry):
            wrong.append(f"{entry.id!r}: {entry.string!r}")
    assert not wrong, f"{package}/locale/de.po:\n" + "\n".join(wrong)


def test_a_plural_takes_the_form_for_its_count(tmp_path, monkeypatch):
    package = tmp_path / "counting"
    (package / "locale").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "locale" / "de.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "{count} person was told"\nmsgid_plural "{count} people were told"\n'
        'msgstr[0] "{count} Person wurde benachrichtigt"\n'
        'msgstr[1] "{count} Personen wurden benachrichtigt"\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from bots.i18n import plural_translator
    told = plural_translator("counting")("{count} person was told", "{count} people were told")
    assert [render(told, "en", count=n) for n in (0, 1, 2)] == [
        "0 people were told", "1 person was told", "2 people were told"]
    assert [render(told, "de", count=n) for n in (1, 3)] == [
        "1 Person wurde benachrichtigt", "3 Personen wurden benachrichtigt"]
