"""Plain questions to commands by word matching: "ist mein Auto fertig?" → `status`.

Commands declare example phrases per language. A message is compared with each phrase by the
words they share (small spelling slips count as the same word), weighted so that rare, telling
words ("auto", "bestellung") matter more than the ones every phrase has ("ist", "my").
No model, no training: predictable, explainable, and instant.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def words(text: str) -> list[str]:
    """Lower-case words with umlauts spelled out (Bestellung, bestellung, Bestelung)."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    return _WORD.findall(text)


@dataclass(frozen=True)
class Match:
    command: str
    score: float  # 0 … 1


class PhraseIndex:
    """Example phrases of all commands; `match(text)` ranks the commands for a message."""

    def __init__(self):
        self._phrases: list[tuple[str, tuple[str, ...]]] = []
        self._document_frequency: dict[str, int] = {}

    def add(self, command: str, phrase: str) -> None:
        phrase_words = tuple(dict.fromkeys(words(phrase)))
        if not phrase_words:
            return
        self._phrases.append((command, phrase_words))
        for word in phrase_words:
            self._document_frequency[word] = self._document_frequency.get(word, 0) + 1

    def match(self, text: str) -> list[Match]:
        """Commands ranked by their best phrase's score, best first; zero scores left out."""
        message_words = set(words(text))
        if not message_words:
            return []
        best: dict[str, float] = {}
        for command, phrase_words in self._phrases:
            score = self._score(message_words, phrase_words)
            if score > best.get(command, 0.0):
                best[command] = score
        ranked = [Match(command, score) for command, score in best.items() if score > 0]
        return sorted(ranked, key=lambda match: (-match.score, match.command))

    def _score(self, message_words: set[str], phrase_words: tuple[str, ...]) -> float:
        total = sum(self._weight(word) for word in phrase_words)
        shared = sum(self._weight(word) for word in phrase_words
                     if _similar_word_in(word, message_words))
        return shared / total if total else 0.0

    def _weight(self, word: str) -> float:
        phrases = len(self._phrases)
        return 1.0 + math.log((1 + phrases) / (1 + self._document_frequency.get(word, 0)))


def _similar_word_in(word: str, candidates: set[str]) -> bool:
    if word in candidates:
        return True
    if len(word) < 4:
        return False
    return any(len(candidate) >= 4 and difflib.SequenceMatcher(None, word, candidate).ratio()
               >= 0.8 for candidate in candidates)
