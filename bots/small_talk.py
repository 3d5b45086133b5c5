"""A friendly word for a friendly word: greetings, thanks, "ok", goodbyes and lone emoji get a
short answer instead of "I did not understand". Checked after every command, hook and phrase,
so it never takes a word a plugin wants."""

from __future__ import annotations

import re
import unicodedata

from bots.i18n import Text, translator

_ = translator(__name__)

GREETING = _('Hello! How can I help you? Write "help" to see what I can do.')
THANKS = _("You're welcome!")
AGREED = _("👍")
GOODBYE = _("Goodbye! Write to me any time.")

_SAYINGS = {
    GREETING: ("hallo", "hallo zusammen", "hi", "hey", "moin", "moin moin", "servus",
               "guten tag", "guten morgen", "guten abend", "gruess gott", "gruezi", "hello",
               "good morning", "good afternoon", "good evening"),
    THANKS: ("danke", "danke schoen", "dankeschoen", "vielen dank", "danke dir", "merci",
             "thx", "thanks", "thank you", "thank you very much", "cheers"),
    AGREED: ("ok", "okay", "okey", "alles klar", "gut", "super", "prima", "passt", "cool",
             "fine", "great", "got it", "alright"),
    GOODBYE: ("tschuess", "tschuss", "tschues", "ciao", "bye", "bye bye", "auf wiedersehen",
              "bis bald", "bis dann", "goodbye", "see you"),
}
_ANSWERS = {saying: answer for answer, sayings in _SAYINGS.items() for saying in sayings}
_NOT_A_WORD = re.compile(r"[^\w\s]+")
_SPELLED_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def small_talk(text: str) -> Text | None:
    """The answer to a bit of small talk, or None for anything else."""
    if _only_symbols(text):
        return AGREED  # 👍, 🙂, 🙏 …
    words = _NOT_A_WORD.sub(" ", text.casefold().translate(_SPELLED_OUT)).split()
    return _ANSWERS.get(" ".join(words))


def _only_symbols(text: str) -> bool:
    """Emoji and other pictographs, with their joiners and variation selectors."""
    stripped = "".join(text.split())
    return bool(stripped) and all(
        unicodedata.category(character) in ("So", "Sk", "Mn", "Cf") for character in stripped)
