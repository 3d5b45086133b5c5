"""The webhook over real HTTP, fed by the fake Cloud API: Meta's handshake, signed deliveries
parsed in order, and everything unsigned, forged, malformed or too large refused before it
reaches `receive`."""

from __future__ import annotations

import asyncio
import json

import pytest
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.resource import Resource

from bots.web import listen_site
from server_bridge.whatsapp.http import Http
from server_bridge.whatsapp.updates import Status
from server_bridge.whatsapp.webhook import Webhook

VERIFY_TOKEN = "verify-me"
LIMITS = {"request_timeout": 10.0, "max_connections": 20}


@pytest.fixture
async def webhook(cloud):
    """The webhook on a free port, recording what it stores; the fake posts to it."""
    received = []

    async def receive(updates):
        received.extend(updates)
    root = Resource()
    root.putChild(b"webhook", Webhook(cloud.app_secret, VERIFY_TOKEN, cloud.phone_number_id,
                                      receive))
    listening = listen_site(root, "127.0.0.1", 0, LIMITS, "test")
    listening.factory.max_body_bytes = 4096
    cloud.webhook_url = f"http://127.0.0.1:{listening.getHost().port}/webhook"
    yield received
    await Deferred.asFuture(maybeDeferred(listening.stopListening), asyncio.get_running_loop())


async def test_a_users_text_arrives_as_one_incoming_message(cloud, webhook):
    assert await cloud.user_says("4917612345678", "Ist mein Auto fertig?") == 200
    [message] = webhook
    assert message.number == "4917612345678" and message.kind == "text"
    assert message.text == "Ist mein Auto fertig?" and message.wamid.startswith("wamid.")


async def test_statuses_and_messages_of_one_delivery_keep_their_order(cloud, webhook):
    payload = cloud.status_update("wamid.A", "delivered", "4917600000001")
    payload["entry"][0]["changes"][0]["value"]["statuses"].append(
        {"id": "wamid.B", "status": "failed", "timestamp": "1", "recipient_id": "4917600000001",
         "errors": [{"code": 131047, "title": "Re-engagement message"}]})
    assert (await cloud.post_webhook(payload))[0] == 200
    assert webhook == [Status("wamid.A", "delivered", "4917600000001", None),
                       Status("wamid.B", "failed", "4917600000001", 131047)]


@pytest.mark.parametrize("secret", ["", "a-wrong-secret"])
async def test_an_unsigned_or_forged_delivery_is_refused_and_stores_nothing(cloud, webhook,
                                                                             secret):
    payload = cloud.envelope({"messages": [{"from": "4917612345678", "id": "wamid.X",
                                            "timestamp": "1", "type": "text",
                                            "text": {"body": "hi"}}]})
    status, _body = await cloud.post_webhook(payload, sign_with=secret)
    assert status == 401 and webhook == []


async def test_a_body_changed_after_signing_is_refused(cloud, webhook):
    from server_bridge.whatsapp.updates import signature
    body = json.dumps(cloud.envelope({"statuses": []})).encode()
    http = Http(timeout=5)
    answer = await http.request("POST", cloud.webhook_url, {
        "X-Hub-Signature-256": signature(cloud.app_secret, body)}, body + b" ")
    await http.close()
    assert answer.status == 401 and webhook == []


@pytest.mark.parametrize("raw, field", [
    (b"not json", "no JSON"),
    (b'{"object": "page", "entry": []}', "object"),
    (b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", '
     b'"value": {"metadata": {"phone_number_id": "106540352242922"}, "messages": '
     b'[{"from": "4917612345678", "type": "text", "text": {"body": "hi"}}]}}]}]}',
     "entry[0].changes[0].value.messages[0].id"),
])
async def test_a_signed_but_malformed_delivery_is_refused_naming_the_field(cloud, webhook, raw,
                                                                           field):
    status, body = await cloud.post_webhook({}, raw=raw)
    assert status == 400 and field in body.decode() and webhook == []


async def test_a_body_over_the_limit_is_refused_before_it_is_read(cloud, webhook):
    status, _body = await cloud.post_webhook({}, raw=b"{" + b" " * 5000 + b"}")
    assert status == 413 and webhook == []


async def test_another_phone_number_s_changes_are_left_out(cloud, webhook):
    payload = cloud.status_update("wamid.A", "read", "4917600000001")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert (await cloud.post_webhook(payload))[0] == 200 and webhook == []


@pytest.mark.parametrize("token, expected", [(VERIFY_TOKEN, (200, b"1158201444")),
                                             ("wrong", (403, None)), ("", (403, None))])
async def test_meta_s_verification_handshake(cloud, webhook, token, expected):
    http = Http(timeout=5)
    answer = await http.request("GET", f"{cloud.webhook_url}?hub.mode=subscribe&"
                                       f"hub.verify_token={token}&hub.challenge=1158201444")
    await http.close()
    assert answer.status == expected[0]
    if expected[1]:
        assert answer.body == expected[1]
