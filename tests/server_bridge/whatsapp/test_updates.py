"""Reading Meta's webhook bodies: texts and taps on buttons, files with their media id, name
and caption, reactions, other kinds without text, and the field at fault named."""

from __future__ import annotations

import json

import pytest

from server_bridge.whatsapp.updates import Incoming, Malformed, Media, parse


def delivery(message: dict) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{
        "field": "messages", "value": {"metadata": {"phone_number_id": "1"},
                                       "messages": [message]}}]}]}).encode()


def test_interactive_replies_count_as_text_and_other_kinds_carry_none():
    button = {"from": "49176", "id": "wamid.1", "type": "interactive",
              "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "JA"}}}
    sticker = {"from": "49176", "id": "wamid.2", "type": "sticker", "sticker": {"id": "7"}}
    assert parse(delivery(button), "1") == [Incoming("49176", "wamid.1", "interactive", "JA")]
    assert parse(delivery(sticker), "1") == [Incoming("49176", "wamid.2", "sticker", None)]
    with pytest.raises(Malformed, match=r"messages\[0\]\.text must be an object"):
        parse(delivery({**button, "type": "text"}), "1")


def test_files_carry_their_media_id_type_name_and_caption():
    image = {"from": "49176", "id": "wamid.3", "type": "image", "image": {
        "caption": "Der Kratzer", "mime_type": "image/jpeg", "sha256": "aGFzaA==", "id": "81"}}
    document = {"from": "49176", "id": "wamid.4", "type": "document", "document": {
        "filename": "Rechnung.pdf", "mime_type": "application/pdf", "sha256": "aGFzaA==",
        "id": "82"}}
    voice = {"from": "49176", "id": "wamid.5", "type": "audio", "audio": {
        "mime_type": "audio/ogg; codecs=opus", "sha256": "aGFzaA==", "id": "83", "voice": True}}
    assert parse(delivery(image), "1") == [Incoming(
        "49176", "wamid.3", "image", "Der Kratzer", Media("81", "image/jpeg", None))]
    assert parse(delivery(document), "1") == [Incoming(
        "49176", "wamid.4", "document", None, Media("82", "application/pdf", "Rechnung.pdf"))]
    assert parse(delivery(voice), "1")[0].media == Media("83", "audio/ogg; codecs=opus", None)
    with pytest.raises(Malformed, match=r"messages\[0\]\.image\.id must be a non-empty"):
        parse(delivery({**image, "image": {"mime_type": "image/jpeg"}}), "1")


def test_a_reaction_names_the_message_and_an_emoji_or_none_when_taken_back():
    reaction = {"from": "49176", "id": "wamid.6", "type": "reaction",
                "reaction": {"message_id": "wamid.ours", "emoji": "\U0001F44D"}}
    assert parse(delivery(reaction), "1") == [Incoming(
        "49176", "wamid.6", "reaction", "\U0001F44D", reacts_to="wamid.ours")]
    taken_back = {**reaction, "reaction": {"message_id": "wamid.ours"}}
    assert parse(delivery(taken_back), "1")[0].text == ""
    with pytest.raises(Malformed, match=r"reaction\.message_id"):
        parse(delivery({**reaction, "reaction": {"emoji": "x"}}), "1")
