"""Push notifications (XEP-0357) through the real ejabberd: a customer's app enables push and goes
to the background, the bot tells them of a status change, the app's push service is told that
something arrived — and nothing more — and the app, back in the foreground, gets the message
once.

The push service is a stand-in: an XMPP component on the test server. ejabberd reaches it as it
reaches Monal's or Conversations' (mod_push publishes to the address the app gave in `enable`);
only the last hop differs, local here and server-to-server there (tests/test_s2s_allow_list.py).
"""

from __future__ import annotations

import re
import secrets

import pytest

from bots.testing import PUBSUB, PUSH, PushServiceStandIn, enable_push
from plugins.status import Status
from tests.conftest import eventually

@pytest.fixture
async def push_service(xmpp_server):
    instance = xmpp_server.instance
    service = PushServiceStandIn(f"push-{secrets.token_hex(3)}.{xmpp_server.domain}",
                                 instance.component_secret, instance.ports["component"])
    await service.start()
    yield service
    await service.disconnect(wait=1)


@pytest.fixture
async def workshop(make_bot, chat_client, xmpp_server):
    """A status bot, staff, and a customer who has claimed an item (and whose password the
    test knows, to log in again as the same app would)."""
    staff = await chat_client()
    bot = await make_bot(plugins=[Status(Status.default_config)],
                         PEOPLE_STAFF=staff.boundjid.bare)
    ref = f"WOB-{secrets.token_hex(3).upper()}"
    answer = await staff.ask(bot.boundjid.bare, f"create vehicle {ref}")
    code = re.search(r"Claim code for the customer: (\w+)", answer).group(1)
    login = xmpp_server.make_account()
    customer = await chat_client(*login)
    assert (await customer.ask(bot.boundjid.bare, f"claim {ref} {code}")).startswith("Linked:")
    return staff, bot.boundjid.bare, customer, login, ref


async def received_once(customer, jid: str, body: str) -> None:
    """The message arrives, and the next one from the bot is the answer to a question asked
    after it, not a second copy."""
    assert (await customer.next_message(jid, timeout=15))["body"] == body
    assert await customer.ask(jid, "help") != body


async def test_an_app_in_the_background_is_woken_with_nothing_readable_and_gets_the_message_once(
        workshop, push_service, xmpp_server):
    staff, jid, customer, _login, ref = workshop
    node, secret = secrets.token_hex(8), secrets.token_hex(12)
    await enable_push(customer, push_service.boundjid.bare, node, secret)

    await customer.go_away()
    assert "1 person was told." in await staff.ask(jid, f"set {ref} ready")
    await eventually(lambda: push_service.notifications, timeout=30)

    # All XEP-0357 needs: from this server to the push service, the node naming the device and
    # the app's secret. Nothing else: no text, no sender, no address of the customer or the bot.
    for received in push_service.notifications:
        assert re.sub(r' id="[^"]+"', ' id="…"', received) == (
            f'<iq to="{push_service.boundjid.bare}" from="{xmpp_server.domain}" type="set" id="…">'
            f'<pubsub xmlns="{PUBSUB}"><publish node="{node}"><item>'
            f'<notification xmlns="{PUSH}" /></item></publish>'
            '<publish-options><x xmlns="jabber:x:data" type="submit">'
            '<field var="FORM_TYPE" type="hidden">'
            '<value>http://jabber.org/protocol/pubsub#publish-options</value></field>'
            f'<field var="secret"><value>{secret}</value></field></x></publish-options>'
            '</pubsub></iq>')

    await customer.come_back()  # resumes its stream: the message was kept there
    await received_once(customer, jid, f"Vehicle {ref}: Your vehicle is ready for pick-up.")
    # one message, one notification (and coming back, or the question after it, is none)
    assert len(push_service.notifications) == 1, push_service.notifications


async def test_an_app_that_logged_out_is_woken_and_finds_the_message_in_offline_storage_once(
        workshop, push_service, chat_client):
    staff, jid, customer, login, ref = workshop
    await enable_push(customer, push_service.boundjid.bare, secrets.token_hex(8),
                      secrets.token_hex(12))
    await customer.stop()  # logged out properly: no stream is kept, push stays enabled

    assert "1 person was told." in await staff.ask(jid, f"set {ref} ready")
    await eventually(lambda: push_service.notifications, timeout=30)
    again = await chat_client(*login)  # a new session: what waited in offline storage arrives
    await received_once(again, jid, f"Vehicle {ref}: Your vehicle is ready for pick-up.")
    assert len(push_service.notifications) == 1, push_service.notifications  # stored offline
