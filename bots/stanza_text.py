"""Text that goes into a stanza: only characters XML 1.0 allows, and short enough for the server.

A body with a character XML forbids (a control character from an ERP note, a CSV, a course
file) makes ejabberd answer `not-well-formed` and close the stream, and everything sent after
it on that stream is lost. A stanza over ejabberd's `max_stanza_size` (262,144 bytes in our
ejabberd.yml) closes the connection too. Every body the bot sends passes `safe_body`; sources
that store text for later (outbox rows, notes, lessons) check it with `check_body` first, so
the error reaches whoever sent it instead of stalling delivery.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

# Escaped, one character takes at most 6 bytes (&quot;), so 40,000 stay well below 262,144.
MAX_BODY_CHARACTERS = 40_000
SHORTENED = " […]"

# XML 1.0 allows tab, newline, carriage return and everything from U+0020 on, except
# surrogates and U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class BodyError(ValueError):
    """A text no stanza can carry; the message says why, for whoever sent it."""


def without_forbidden_characters(text: str) -> str:
    return _FORBIDDEN.sub("", text)


def check_body(text: str, what: str = "the text") -> str:
    """The text cleaned of forbidden characters; BodyError if it is too long to send."""
    cleaned = without_forbidden_characters(text)
    if len(cleaned) > MAX_BODY_CHARACTERS:
        raise BodyError(f"{what} has {len(cleaned):,} characters; a message carries at most "
                        f"{MAX_BODY_CHARACTERS:,}")
    return cleaned


def safe_body(text: str) -> str:
    """What the bot may send: forbidden characters removed, overlong text shortened."""
    cleaned = without_forbidden_characters(text)
    if len(cleaned) > MAX_BODY_CHARACTERS:
        cleaned = cleaned[:MAX_BODY_CHARACTERS - len(SHORTENED)] + SHORTENED
    return cleaned


OOB = "jabber:x:oob"  # XEP-0066, read and written without loading its plugin
OOB_X, OOB_URL = f"{{{OOB}}}x", f"{{{OOB}}}url"


def shared_file(message, body: str | None = None) -> str | None:
    """The link of a file shared in a message stanza (XEP-0066, the body being the link, as
    clients send after an HTTP upload), or None: a link inside a text is no file. `body`:
    the message's, where the caller has it already. (Two plain lookups of a child: an XPath
    of two steps costs several times as much, on every message.)"""
    oob = message.xml.find(OOB_X)
    url = (oob.findtext(OOB_URL) or "").strip() if oob is not None else ""
    if not url:
        return None
    return url if (message["body"] if body is None else body).strip() == url else None


def attach_file(message: ElementTree.Element, url: str) -> None:
    """Make a message (its XML; its body being `url`) a shared file, as `shared_file` reads
    it: apps show the picture or document itself instead of a link."""
    oob = ElementTree.SubElement(message, f"{{{OOB}}}x")
    ElementTree.SubElement(oob, f"{{{OOB}}}url").text = url
