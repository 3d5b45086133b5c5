"""The bridge's tables. A person's number is stored only once they are asked (Contact), their
words only once they agreed, and only until delivered (then the row keeps ids and states).
Message ids already handled are kept as hashes (Seen): a wamid spells the number."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from bots.storage import Schema

ASKED, AGREED = "asked", "agreed"  # Contact.state
PENDING, SENDING, SENT, DELIVERED, READ, HELD, FAILED, DONE = (
    "pending", "sending", "sent", "delivered", "read", "held", "failed", "done")
RELAY, OWN = "relay", "own"  # ToWhatsApp.kind: a message from XMPP; the bridge's own text


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Contact(peewee.Model):
    """A number the bridge talks to: asked (got the privacy notice) or agreed."""

    number = peewee.CharField(max_length=20, unique=True)  # wa_id: digits, country code first
    state = peewee.CharField(max_length=8, default=ASKED)
    asked_at = peewee.DateTimeField(default=utcnow)
    agreed_at = peewee.DateTimeField(null=True)
    last_message_at = peewee.DateTimeField(default=utcnow)  # opens the 24-hour window
    language = peewee.CharField(max_length=8, null=True)  # of the word they agreed with

    class Meta:
        table_name = "bridge_whatsapp_contact"


class Seen(peewee.Model):
    """A message id handled once: a webhook delivered again changes nothing."""

    digest = peewee.CharField(max_length=64, unique=True)
    at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "bridge_whatsapp_seen"


class ToXmpp(peewee.Model):
    """A message from a WhatsApp user who agreed, on its way to the bot: a text, a file (kept
    by Meta under media_id until the bridge uploaded it to the XMPP server: file_url), or a
    reaction to a message from XMPP (reacts_to, sent to that message's sender)."""

    wamid = peewee.CharField(max_length=255, unique=True)
    stanza_id = peewee.CharField(max_length=36, null=True, index=True)  # its id on XMPP
    number = peewee.CharField(max_length=20, index=True)
    body = peewee.TextField(null=True)  # the text, a caption, an emoji; None once delivered
    state = peewee.CharField(max_length=8, default=PENDING, index=True)
    received_at = peewee.DateTimeField(default=utcnow)
    media_id = peewee.CharField(max_length=255, null=True)
    mime_type = peewee.CharField(max_length=255, null=True)
    filename = peewee.CharField(max_length=255, null=True)
    file_url = peewee.TextField(null=True)  # uploaded (XEP-0363): delivered again, not again
    reacts_to = peewee.CharField(max_length=255, null=True)  # an XMPP stanza id
    recipient = peewee.CharField(max_length=3071, null=True)  # not deliver_to: a reaction's

    class Meta:
        table_name = "bridge_whatsapp_to_xmpp"


class ToWhatsApp(peewee.Model):
    """A message on its way out through the Cloud API: from XMPP (RELAY) or the bridge's own
    (OWN: the notice, confirmations; deleted once sent)."""

    key = peewee.CharField(max_length=255, unique=True)  # no message is queued twice
    number = peewee.CharField(max_length=20, index=True)
    kind = peewee.CharField(max_length=8, default=RELAY)
    sender = peewee.CharField(max_length=3071, null=True)  # who to tell of a failure
    body = peewee.TextField(null=True)  # None once delivered
    # not a text: the Cloud API's message object as JSON (a file by link, a reaction)
    content = peewee.TextField(null=True)
    template = peewee.CharField(max_length=255, null=True)  # an approved template, not a text
    state = peewee.CharField(max_length=9, default=PENDING, index=True)
    attempts = peewee.IntegerField(default=0)
    next_try_at = peewee.DateTimeField(default=utcnow)
    wamid = peewee.CharField(max_length=255, null=True, index=True)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    # the XMPP sender's stanza id: WhatsApp's reactions to the message name it, and when the
    # sender asked, a receipt (XEP-0184) and chat markers (XEP-0333) tell delivered and read
    stanza_id = peewee.CharField(max_length=255, null=True)
    receipt = peewee.BooleanField(default=False)
    markable = peewee.BooleanField(default=False)

    class Meta:
        table_name = "bridge_whatsapp_to_whatsapp"


class EarlyStatus(peewee.Model):
    """A status Meta sent before the bridge had stored the message's id (the webhook can be
    faster than the answer to the send); applied when it is stored."""

    wamid = peewee.CharField(max_length=255, index=True)
    status = peewee.CharField(max_length=16)
    error_code = peewee.IntegerField(null=True)
    at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "bridge_whatsapp_early_status"


SCHEMA = Schema("bridge_whatsapp", (Contact, Seen, ToXmpp, ToWhatsApp, EarlyStatus),
                "server_bridge.whatsapp.migrations")
