"""Plain questions to commands by word matching: "ist mein Auto fertig?" → `status`.

Commands declare example phrases per language. A message is compared with each phrase by the
words they share (small spelling slips count as the same word), weighted so that rare, telling
words ("auto", "bestellung") matter more than the ones every phrase has ("ist", "my").
No model, no training: predictable, explainable, and instant.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

MAX_WORDS = 20  # different words of a message that are compared with the phrases
SIMILAR = 0.8  # SequenceMatcher ratio from which two words count as one misspelt
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
        """Commands ranked by their best phrase's score, best first; zero scores left out.
        Only the first MAX_WORDS different words count: a question is short, and a long
        message must not hold up the event loop (and every other conversation) for long."""
        message_words = set(list(dict.fromkeys(words(text)))[:MAX_WORDS])
        if not message_words:
            return []
        known = self._known_words(message_words)
        best: dict[str, float] = {}
        for command, phrase_words in self._phrases:
            score = self._score(known, phrase_words)
            if score > best.get(command, 0.0):
                best[command] = score
        ranked = [Match(command, score) for command, score in best.items() if score > 0]
        return sorted(ranked, key=lambda match: (-match.score, match.command))

    def _known_words(self, message_words: set[str]) -> set[str]:
        """The phrases' words the message has, as they are or misspelt: each word of the
        phrases is compared once, not once per phrase it is in."""
        return {word for word in self._document_frequency
                if word in message_words or (len(word) >= 4 and any(
                    _similar(word, candidate) for candidate in message_words))}

    def _score(self, known: set[str], phrase_words: tuple[str, ...]) -> float:
        total = sum(self._weight(word) for word in phrase_words)
        shared = sum(self._weight(word) for word in phrase_words if word in known)
        return shared / total if total else 0.0

    def _weight(self, word: str) -> float:
        phrases = len(self._phrases)
        return 1.0 + math.log((1 + phrases) / (1 + self._document_frequency.get(word, 0)))


def _similar(word: str, candidate: str) -> bool:
    """A spelling slip: ratio >= SIMILAR. Words whose lengths differ by more than half cannot
    reach it, nor words with too few letters in common; only the rest get the real ratio."""
    if len(candidate) < 4 or not 2 * len(word) <= 3 * len(candidate) <= 9 * len(word) // 2:
        return False
    common = sum((_letters(word) & _letters(candidate)).values())
    if 2 * common < SIMILAR * (len(word) + len(candidate)):
        return False
    return difflib.SequenceMatcher(None, word, candidate).ratio() >= SIMILAR


@functools.lru_cache(maxsize=4096)
def _letters(word: str) -> Counter:
    return Counter(word)
