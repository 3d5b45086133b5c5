"""Plain questions find the command whose example phrases they resemble."""

import pytest

from bots.phrases import PhraseIndex, words


@pytest.fixture
def index():
    phrases = PhraseIndex()
    for command, phrase in [("status", "is my car ready"), ("status", "ist mein Auto fertig"),
                            ("status", "wo ist meine Bestellung"),
                            ("progress", "how far am I"), ("progress", "wie weit bin ich"),
                            ("ping", "are you there"), ("ping", "bist du da")]:
        phrases.add(command, phrase)
    return phrases


@pytest.mark.parametrize("question, command", [
    ("Is my car ready?", "status"),
    ("ist mein Auto schon fertig??", "status"),
    ("Wo ist meine Bestelung", "status"),  # a typo
    ("wo ist meine bestellung", "status"),
    ("How far am I?", "progress"),
    ("wie weit bin ich denn", "progress"),
    ("bist du da?", "ping"),
])
def test_questions_reach_the_right_command(index, question, command):
    best = index.match(question)[0]
    assert best.command == command and best.score >= 0.6


def test_unrelated_text_matches_weakly_or_not_at_all(index):
    assert all(match.score < 0.6 for match in index.match("what is the weather tomorrow"))
    assert index.match("🙂 ???") == []


def test_umlauts_and_sharp_s_spelled_out_are_the_same_words():
    assert words("Öl, Päckchen, Straße!") == words("OEL paeckchen strasse") == [
        "oel", "paeckchen", "strasse"]
