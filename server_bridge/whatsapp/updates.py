"""What Meta's webhooks say, read: the messages WhatsApp users sent and the fate of those the
bridge sent (statuses), in order, with the field at fault named when a body is not what Meta
sends; and the signature (`X-Hub-Signature-256`) that proves a body came from Meta. No web
server in here (webhook.py is that), so the bot's privacy plugin can use it without Twisted."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import NamedTuple

SIGNATURE_HEADER = "X-Hub-Signature-256"
TEXT_KINDS = ("text", "interactive", "button")  # what carries words the bots can read
MEDIA_KINDS = ("image", "document", "audio", "video")  # files passed on (not stickers)


class Media(NamedTuple):
    """A file a WhatsApp user sent: Meta keeps it under `id` (`GET /{media-id}`)."""

    id: str
    mime_type: str
    filename: str | None  # documents only


class Incoming(NamedTuple):
    """A message a WhatsApp user sent to the business number."""

    number: str  # wa_id: the number in international form, digits only
    wamid: str
    kind: str  # text, interactive, button, image, reaction, sticker, location, …
    text: str | None  # the words (TEXT_KINDS), a file's caption, a reaction's emoji ("": none)
    media: Media | None = None
    reacts_to: str | None = None  # a reaction: the wamid of the message it is about


class Status(NamedTuple):
    """What became of a message the bridge sent."""

    wamid: str
    status: str  # sent, delivered, read, failed
    number: str
    error_code: int | None


class Malformed(ValueError):
    """The body is not what Meta sends; the message names the field."""


def signature(app_secret: str, body: bytes) -> str:
    """The header value Meta sends with `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(app_secret: str, body: bytes, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(signature(app_secret, body).encode(),
                                                     given.encode())


def parse(body: bytes, phone_number_id: str) -> list[Incoming | Status]:
    """The updates of one delivery for our number, in order; Malformed when the body is not
    the shape of Meta's webhooks. Changes for another phone number id are left out."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"the body is no JSON ({exc})") from None
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise Malformed("object must be whatsapp_business_account")
    updates: list[Incoming | Status] = []
    for e, entry in enumerate(_list(payload, "entry", "")):
        for c, change in enumerate(_list(entry, "changes", f"entry[{e}].")):
            where = f"entry[{e}].changes[{c}]."
            value = _dict(change, "value", where)
            if change.get("field") != "messages" or _dict(value, "metadata", where + "value.").get(
                    "phone_number_id") != phone_number_id:
                continue
            for m, message in enumerate(value.get("messages", [])):
                updates.append(_incoming(message, f"{where}value.messages[{m}]."))
            for s, status in enumerate(value.get("statuses", [])):
                updates.append(_status(status, f"{where}value.statuses[{s}]."))
    return updates


def _incoming(message: dict, where: str) -> Incoming:
    kind = _text(message, "type", where)
    text = None
    if kind == "text":
        text = _text(_dict(message, "text", where), "body", where + "text.")
    elif kind == "interactive":  # a tapped button or list entry: its title is the answer
        reply = _dict(message, "interactive", where)
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        text = _text(chosen, "title", where + "interactive.")
    elif kind == "button":
        text = _text(_dict(message, "button", where), "text", where + "button.")
    elif kind in MEDIA_KINDS:
        media = _dict(message, kind, where)
        filename = media.get("filename") if kind == "document" else None
        caption = media.get("caption")
        return _from(message, where, kind, caption if isinstance(caption, str) else None,
                     media=Media(_text(media, "id", f"{where}{kind}."),
                                 _text(media, "mime_type", f"{where}{kind}."),
                                 filename if isinstance(filename, str) else None))
    elif kind == "reaction":  # an emoji; none (removed) comes without one
        reaction = _dict(message, "reaction", where)
        emoji = reaction.get("emoji")
        return _from(message, where, kind, emoji if isinstance(emoji, str) else "",
                     reacts_to=_text(reaction, "message_id", where + "reaction."))
    return _from(message, where, kind, text)


def _from(message: dict, where: str, kind: str, text: str | None, **more) -> Incoming:
    return Incoming(_text(message, "from", where), _text(message, "id", where), kind, text,
                    **more)


def _status(status: dict, where: str) -> Status:
    errors = status.get("errors") or [{}]
    code = errors[0].get("code") if isinstance(errors, list) and isinstance(errors[0], dict) \
        else None
    return Status(_text(status, "id", where), _text(status, "status", where),
                  _text(status, "recipient_id", where), code if isinstance(code, int) else None)


def _list(parent: dict, key: str, where: str) -> list:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        raise Malformed(f"{where}{key} must be a list")
    return value


def _dict(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise Malformed(f"{where}{key} must be an object")
    return value


def _text(parent: dict, key: str, where: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, str) or not value:
        raise Malformed(f"{where}{key} must be a non-empty string")
    return value


