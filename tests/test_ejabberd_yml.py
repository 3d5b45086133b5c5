"""The reference ejabberd.yml, loaded by Debian's real ejabberd, and its data-protection defaults."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bots.devserver import DevServer, free_port
from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError
from bots.testing import TestServer, new_state_dir

REFERENCE = Path(__file__).resolve().parent.parent / "ejabberd.yml"
EXAMPLE = REFERENCE.parent / "deploy" / "botschaft-site.yml.example"


def test_the_server_runs_on_the_reference_configuration_without_complaints(xmpp_server):
    devserver = xmpp_server.devserver
    assert (devserver.etc / "ejabberd.yml").read_bytes() == REFERENCE.read_bytes()
    assert devserver.status()["running"]
    log = (devserver.logs / "ejabberd.log").read_text()
    assert "Loading configuration from" in log or "ejabberd_config" in log
    config_complaints = [line for line in log.splitlines()
                         if "ejabberd_config" in line or "adjust your configuration" in line]
    assert [line for line in config_complaints if "[warning]" in line or "[error]" in line] == []


def macros_used(node) -> set[str]:
    """The macro names in a loaded configuration: values that are a bare UPPER_CASE name."""
    if isinstance(node, dict):
        return set().union(*map(macros_used, node.values()))
    if isinstance(node, list):
        return set().union(*map(macros_used, node))
    return {node} if isinstance(node, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", node) else set()


def test_every_macro_is_set_by_the_dev_server_and_documented_for_production(xmpp_server):
    used = macros_used(yaml.safe_load(REFERENCE.read_text()))
    assert {"XMPP_DOMAIN", "UPLOAD_DIR", "UPLOAD_URL"} <= used
    written = yaml.safe_load((xmpp_server.devserver.spool / "botschaft-site.yml").read_text())
    example = yaml.safe_load(EXAMPLE.read_text())
    assert used - set(written["define_macro"]) == set()
    assert used - set(example["define_macro"]) == set()


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


# --- the web chat (Converse.js over WebSocket, served by this server) ------------------------

def https_get(instance, url: str):
    """GET over HTTPS, verified against the dev server's own certificate."""
    context = ssl.create_default_context(cafile=str(instance.ca_file))
    return urllib.request.urlopen(url, context=context, timeout=10)


def test_the_web_chat_page_loads_converse_from_this_server(xmpp_server):
    instance = xmpp_server.instance
    with https_get(instance, instance.chat_url) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.read().decode()
    assert "cdn.conversejs.org" not in page
    script = re.search(r"<script src='([^']+)'", page).group(1)
    assert script.startswith("/") and script.endswith("/converse.min.js"), page
    assert f'"websocket_url":"{instance.websocket_url}"' in page
    assert '"allow_registration":false}' in page  # the last one counts: registration is closed
    with https_get(instance, instance.web_url + script) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/javascript"
        assert response.read() == (xmpp_server.devserver.conversejs_dir
                                   / "converse.min.js").read_bytes()


@pytest.mark.parametrize("path", ["/conversejs/converse.min.js", "/conversejs/converse.min.css",
                                  "/conversejs-dist/locales/de-LC_MESSAGES-converse-po.js",
                                  "/conversejs-dist/emojis.js"])
def test_converse_and_its_translations_are_served_locally(xmpp_server, path):
    """mod_conversejs serves the script by name; Converse 10 loads its translations, emoji
    list from next to the script, which mod_http_fileserver serves."""
    instance = xmpp_server.instance
    with https_get(instance, instance.web_url + path) as response:
        assert response.status == 200
        assert response.read(1)


def test_xmpp_over_websocket_is_offered_with_tls(xmpp_server):
    instance = xmpp_server.instance
    context = ssl.create_default_context(cafile=str(instance.ca_file))
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", instance.ports["web"]), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=instance.domain) as sock:
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {instance.domain}:{instance.ports['web']}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: xmpp\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    status, *lines = answer.decode().split("\r\n\r\n")[0].split("\r\n")
    assert status.startswith("HTTP/1.1 101"), answer
    headers = {name.strip().lower(): value.strip()
               for name, value in (line.split(":", 1) for line in lines)}
    assert headers["sec-websocket-protocol"] == "xmpp"
    assert headers["sec-websocket-accept"] == base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def test_the_web_chat_listener_refuses_plain_http(xmpp_server):
    instance = xmpp_server.instance
    plain = instance.chat_url.replace("https://", "http://")
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urllib.request.urlopen(plain, timeout=10).read()


# --- the federation allow-list (documented in ejabberd.yml, off by default) -----------------

LISTED = "partner.invalid"  # .invalid: never resolves, so a connection attempt fails for DNS


def with_federation_allow_list(text: str, s2s_port: int) -> str:
    """The reference configuration switched to the allow-list exactly as its comment says
    (uncomment the `#~` lines), with the site's macros filled in."""
    assert "sed -i -e 's/^#~//' ejabberd.yml" in text
    text = re.sub(r"^#~", "", text, flags=re.MULTILINE)
    return (text.replace("FEDERATED_DOMAINS", json.dumps([LISTED]))
            .replace("S2S_IP", '"127.0.0.1"').replace("S2S_PORT", str(s2s_port)))


@pytest.fixture
def federating_server(tmp_path):
    config = tmp_path / "ejabberd.yml"
    config.write_text(with_federation_allow_list(REFERENCE.read_text(), free_port()))
    devserver = DevServer(new_state_dir(), config_file=config)
    try:
        yield TestServer(devserver, devserver.start())
    finally:
        devserver.stop()
        shutil.rmtree(devserver.state_dir, ignore_errors=True)


async def test_the_allow_list_federates_only_with_listed_servers(federating_server):
    """A listed server is tried (and, in this test, fails for want of DNS); any other is
    refused by policy at once, as when federation is off."""
    client = await federating_server.login(*federating_server.make_account())
    try:
        conditions = {}
        for remote in (f"someone@{LISTED}", "someone@example.org"):
            client.send_message(mto=remote, mbody="hello", mtype="chat")
            bounce = await client.next_message(remote, timeout=30)
            assert bounce["type"] == "error"
            conditions[remote] = bounce["error"]["condition"]
        assert conditions["someone@example.org"] == "forbidden"
        assert conditions[f"someone@{LISTED}"] == "remote-server-not-found", conditions
    finally:
        await client.stop(wait=1)

