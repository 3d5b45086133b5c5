"""The admin API client's typed helpers, against the session's real ejabberd."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree as ET

import pytest

from bots.devserver import bot_accounts
from bots.ejabberd_api import (
    PRIVACY_LIST,
    AccountExists,
    EjabberdAPI,
    EjabberdAPIError,
    customer_privacy_list,
)

PRIVACY = "jabber:iq:privacy"


def new_name() -> str:
    return f"joiner-{uuid.uuid4().hex[:8]}"


def test_register_creates_an_account_that_can_log_in(xmpp_server):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    user = new_name()
    api.register(user, domain, "Secret-123")
    assert api.call("check_password", user=user, host=domain, password="Secret-123") == 0


def test_a_taken_name_raises_account_exists_and_keeps_the_old_password(xmpp_server):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    user = new_name()
    api.register(user, domain, "first-password")
    with pytest.raises(AccountExists, match=f"{user}@{domain} already registered") as taken:
        api.register(user, domain, "second-password")
    assert taken.value.status == 409
    assert api.call("check_password", user=user, host=domain, password="first-password") == 0


def test_other_refusals_are_no_account_exists(xmpp_server):
    """A name XMPP forbids is refused too, but not as taken: the join page says something else."""
    api = xmpp_server.instance.api()
    with pytest.raises(EjabberdAPIError) as refused:
        api.register("no spaces allowed", xmpp_server.domain, "Secret-123")
    assert not isinstance(refused.value, AccountExists)


async def test_keep_apart_gives_the_account_its_default_privacy_list(xmpp_server,
                                                                      chat_client):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    user = new_name()
    api.register(user, domain, "Secret-123")
    api.keep_apart(user, domain, bot_accounts(domain))
    client = await chat_client(f"{user}@{domain}", "Secret-123")
    names = await client.make_iq_get(PRIVACY).send(timeout=10)
    assert names.xml.find(f"{{{PRIVACY}}}query/{{{PRIVACY}}}default").get("name") == PRIVACY_LIST
    query = client.make_iq_get()
    query.xml.append(ET.fromstring(
        f"<query xmlns='{PRIVACY}'><list name='{PRIVACY_LIST}'/></query>"))
    stored = await query.send(timeout=10)
    items = stored.xml.findall(f"{{{PRIVACY}}}query/{{{PRIVACY}}}list/{{{PRIVACY}}}item")
    expected = ET.fromstring(customer_privacy_list(user, domain, bot_accounts(domain))[0])
    assert [(item.get("value"), item.get("action")) for item in items] == [
        (item.get("value"), item.get("action")) for item in expected.iter(f"{{{PRIVACY}}}item")]
    assert items[-1].get("value") == domain and items[-1].get("action") == "deny"


async def test_add_contacts_makes_two_accounts_mutual_contacts(xmpp_server, chat_client):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    first, second = new_name(), new_name()
    for user in (first, second):
        api.register(user, domain, "Secret-123")
    api.add_contacts(first, second, domain)
    api.add_contacts(first, second, domain)  # again, as every `./dev.sh run` does: no error
    client = await chat_client(f"{first}@{domain}", "Secret-123")
    item = client.client_roster[f"{second}@{domain}"]  # fetched at login, as clients do
    assert item["subscription"] == "both" and item["groups"] == ["Botschaft"]


def test_a_token_replaces_the_password_and_is_renewed_when_the_server_forgets_it(xmpp_server):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    api.use_token(ttl=600)
    assert api._authorization.startswith("Bearer ")
    user = new_name()
    api.register(user, domain, "Secret-123")
    assert api.call("check_account", user=user, host=domain) == 0
    token = api._authorization
    api.call("oauth_revoke_token", token=token.removeprefix("Bearer "))
    assert api.call("check_account", user=user, host=domain) == 0  # renewed, then done
    assert api._authorization.startswith("Bearer ") and api._authorization != token


def test_a_token_does_not_open_the_api_to_anyone_but_admins(xmpp_server):
    jid, password = xmpp_server.make_account("notadmin")
    api = EjabberdAPI(xmpp_server.instance.api().url, jid, password)
    with pytest.raises(EjabberdAPIError) as refused:
        api.use_token(ttl=600)
    assert refused.value.status in (401, 403)
