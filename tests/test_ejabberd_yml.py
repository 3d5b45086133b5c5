"""The reference ejabberd.yml, loaded by Debian's real ejabberd, and its data-protection defaults."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError

REFERENCE = Path(__file__).resolve().parent.parent / "ejabberd.yml"


def test_the_server_runs_on_the_reference_configuration_without_complaints(xmpp_server):
    devserver = xmpp_server.devserver
    assert (devserver.etc / "ejabberd.yml").read_bytes() == REFERENCE.read_bytes()
    assert devserver.status()["running"]
    log = (devserver.logs / "ejabberd.log").read_text()
    assert "Loading configuration from" in log or "ejabberd_config" in log
    config_complaints = [line for line in log.splitlines()
                         if "ejabberd_config" in line or "adjust your configuration" in line]
    assert [line for line in config_complaints if "[warning]" in line or "[error]" in line] == []


def test_login_without_tls_is_refused(raw_stream, make_account):
    jid, password = make_account()
    stream = raw_stream()
    features = stream.open()
    assert re.search(r"<starttls[^>]*>\s*<required\s*/>", features), features
    answer = stream.auth_plain(jid.split("@")[0], password)
    assert "<success" not in answer
    assert "encryption-required" in answer or "policy-violation" in answer, answer


def test_login_with_tls_and_the_right_password_succeeds(raw_stream, make_account):
    """The counterpart of the test above: the same login, inside TLS, is accepted."""
    jid, password = make_account()
    stream = raw_stream()
    stream.open()
    stream.starttls()
    features = stream.open()
    assert "SCRAM-SHA-256" in features
    assert "<success" in stream.auth_plain(jid.split("@")[0], password)


def test_in_band_registration_is_closed(raw_stream, xmpp_server):
    stream = raw_stream()
    stream.open()
    stream.starttls()
    features = stream.open()
    assert "http://jabber.org/features/iq-register" not in features
    stream.send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
                "<username>intruder</username><password>Secret123!</password></query></iq>")
    answer = stream.read_until("</iq>")
    assert "type='error'" in answer or 'type="error"' in answer, answer
    api = xmpp_server.instance.api()
    assert api.call("check_account", user="intruder", host=xmpp_server.domain) == 1


@pytest.mark.parametrize("remote", ["someone@example.org", "example.net"])
async def test_federation_is_closed(chat_client, remote):
    client = await chat_client()
    client.send_message(mto=remote, mbody="hello", mtype="chat")
    bounce = await client.next_message(remote, timeout=10)
    assert bounce["type"] == "error"
    # forbidden ("Access denied by service policy"), not a DNS failure: s2s is switched off.
    assert bounce["error"]["condition"] == "forbidden"


def test_admin_api_needs_an_admin_login(xmpp_server, make_account):
    instance = xmpp_server.instance
    url = f"http://127.0.0.1:{instance.ports['api']}/api"
    anonymous = urllib.request.Request(f"{url}/registered_users", data=b'{"host": "localhost"}',
                                       method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=5)
    assert refused.value.code in (401, 403)
    jid, password = make_account()
    with pytest.raises(EjabberdAPIError):
        EjabberdAPI(url, jid, password).call("registered_users", host=instance.domain)
    users = instance.api().call("registered_users", host=instance.domain)
    assert jid.split("@")[0] in users
