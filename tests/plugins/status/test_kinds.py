"""Kinds and their texts: the built-in set, and a site's own kinds checked with clear errors."""

from __future__ import annotations

import pytest

from bots.i18n import LANGUAGES
from plugins.status.kinds import KindError, load_kinds

TEXTS = {"en": "Ready.", "de": "Fertig."}


def test_the_built_in_kinds_have_every_text_in_every_language():
    kinds = load_kinds({})
    assert {"vehicle", "order", "book"} <= set(kinds)
    assert kinds["vehicle"].text("cleaning", "de") == (
        "Ihr Fahrzeug befindet sich in der Reinigung und ist in Kürze abholbereit.")
    for kind in kinds.values():
        assert set(kind.label) == set(LANGUAGES) and kind.final
        for texts in kind.states.values():
            assert set(texts) == set(LANGUAGES)


def test_a_site_adds_a_kind_and_replaces_another():
    kinds = load_kinds({"repair": {"label": {"en": "Repair", "de": "Reparatur"},
                                   "states": {"open": TEXTS, "done": TEXTS}, "final": ["done"]},
                        "book": {"label": TEXTS, "states": {"here": TEXTS}}})
    assert list(kinds["repair"].states) == ["open", "done"] and kinds["repair"].is_final("done")
    assert list(kinds["book"].states) == ["here"]


@pytest.mark.parametrize("kind, problem", [
    ({"label": TEXTS, "states": {"open": {"en": "Open."}}},
     "[plugins.status.kinds.repair] states.open: the text in 'de' is missing"),
    ({"label": TEXTS, "states": {}}, "[plugins.status.kinds.repair] states: give at least one"),
    ({"label": TEXTS, "states": {"open": TEXTS}, "final": ["done"]},
     "[plugins.status.kinds.repair] final: 'done' is not one of its states (open)"),
    ({"label": TEXTS, "states": {"Open Now": TEXTS}},
     "[plugins.status.kinds.repair] states: 'Open Now' is no valid state name"),
    ({"label": "Repair", "states": {"open": TEXTS}},
     "[plugins.status.kinds.repair] label must be a table of texts"),
    ({"label": TEXTS, "states": {"open": TEXTS}, "colour": "red"},
     "[plugins.status.kinds.repair]: unknown key 'colour'"),
])
def test_a_wrong_kind_is_named_with_its_field(kind, problem):
    with pytest.raises(KindError) as error:
        load_kinds({"repair": kind})
    assert str(error.value).startswith(problem)
