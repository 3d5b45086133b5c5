"""Server-to-server connections with the reference ejabberd.yml: only the push services on the
allow-list (PUSH_SERVICES) get through, over TLS with certificates checked both ways.

The session's server is the company's. A second private ejabberd, also on the reference
configuration, stands in for a push service's server: domain botschaft.test, a certificate
from the session's test CA (which the company's server trusts, as a real one trusts the public
CAs), talking s2s only with the company's server. On it run two components: TEST_PUSH_DOMAIN,
on the company's allow-list, and `other.botschaft.test`, not on it. The company's server finds
the stand-in through the session's DNS server (an SRV record), as on the internet; the stand-in
finds the company's server (`localhost`: no dot, so ejabberd looks up no SRV record) at its s2s
port, the one line its configuration adds to the reference.
"""

from __future__ import annotations

import secrets
import shutil

import pytest
import yaml

from bots.devserver import PUSH_SERVICES, DevServer, reference_config
from bots.testing import TEST_PUSH_DOMAIN, PushServiceStandIn, enable_push, new_state_dir
from tests.conftest import eventually

STAND_IN_DOMAIN = TEST_PUSH_DOMAIN.split(".", 1)[1]  # botschaft.test
UNLISTED = f"other.{STAND_IN_DOMAIN}"
QUIET = 3  # seconds after the listed server's message in which the unlisted one's would come
EXAMPLE = reference_config().parent / "deploy" / "botschaft-site.yml.example"


def test_production_pushes_to_the_common_apps_push_services_and_tells_them_nothing():
    """The example site file lists what the dev server uses (the apps' push services as their
    source names them), and the notifications carry neither text nor sender."""
    assert yaml.safe_load(EXAMPLE.read_text())["define_macro"]["PUSH_SERVICES"] == PUSH_SERVICES
    modules = yaml.safe_load(reference_config().read_text())["modules"]
    assert modules["mod_push"] == {"include_body": False, "include_sender": False}


@pytest.fixture(scope="module")
def push_server(xmpp_server, test_ca, test_dns):
    """The push service's server, with the two components' domains in DNS."""
    state_dir = new_state_dir()
    (state_dir / "etc").mkdir()
    test_ca.issue(state_dir / "etc" / "server.pem", STAND_IN_DOMAIN)
    config = state_dir / "push-service.yml"
    config.write_text(reference_config().read_text()
                      + f"\noutgoing_s2s_port: {xmpp_server.instance.ports['s2s']}\n")
    server = DevServer(state_dir, domain=STAND_IN_DOMAIN, config_file=config,
                       push_services=[xmpp_server.domain],
                       s2s_cafile=xmpp_server.instance.ca_file, nameserver=test_dns.address)
    try:
        instance = server.start()
        for domain in (TEST_PUSH_DOMAIN, UNLISTED):
            test_dns.add_server(domain, instance.ports["s2s"])
        yield instance
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
async def components(push_server):
    """The listed push service and an unlisted one, both on the stand-in server."""
    started = []
    for domain in (TEST_PUSH_DOMAIN, UNLISTED):
        component = PushServiceStandIn(domain, push_server.component_secret,
                                       push_server.ports["component"])
        await component.start()
        started.append(component)
    yield started
    for component in started:
        await component.disconnect(wait=1)


async def test_a_push_service_on_the_allow_list_gets_the_notification(
        xmpp_server, chat_client, components):
    listed, _unlisted = components
    customer = await chat_client()
    await enable_push(customer, TEST_PUSH_DOMAIN, secrets.token_hex(8), secrets.token_hex(8))
    await customer.go_away()
    bot = f"bot@{xmpp_server.domain}"
    xmpp_server.instance.api().call("send_message", type="chat", to=customer.boundjid.bare,
                                    subject="", body="Your car is ready.", **{"from": bot})
    await eventually(lambda: listed.notifications, timeout=30)
    assert "<notification xmlns=\"urn:xmpp:push:0\" />" in listed.notifications[0]
    await customer.come_back()
    assert (await customer.next_message(bot))["body"] == "Your car is ready."


async def test_a_server_not_on_the_allow_list_is_refused_both_ways(chat_client, components):
    listed, unlisted = components
    customer = await chat_client()
    me = customer.boundjid.bare

    # outgoing: refused by policy, though DNS names a server for that domain
    stranger = f"someone@{UNLISTED}"
    customer.send_message(mto=stranger, mbody="hello", mtype="chat")
    bounce = await customer.next_message(stranger, timeout=30)
    assert bounce["type"] == "error" and bounce["error"]["condition"] == "forbidden"

    # incoming: the unlisted server logs in with a valid certificate, and what it sends is
    # refused all the same (the stream is closed on it, without a bounce); the listed one, on
    # the same server and terms, connecting just after it, gets through
    for component, text in ((unlisted, "from a stranger"), (listed, "from the push service")):
        component.send_message(mto=me, mbody=text, mtype="chat", mfrom=component.boundjid)
    arrived = await customer.next_message(timeout=30)
    assert (arrived["from"].bare, arrived["body"]) == (TEST_PUSH_DOMAIN, "from the push service")
    with pytest.raises(TimeoutError):
        stranger = await customer.next_message(timeout=QUIET)
        pytest.fail(f"a server not on the allow-list got through: {stranger}")
