"""The admin API client's typed helpers, against the session's real ejabberd."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from xml.etree import ElementTree as ET

import pytest
from slixmpp import JID

from bots.devserver import bot_accounts
from bots.ejabberd_api import (
    PRIVACY_LIST,
    AccountExists,
    EjabberdAPI,
    EjabberdAPIError,
    NoSuchRoom,
    RoomAffiliation,
    RoomExists,
    RoomOccupant,
    customer_privacy_list,
)
from tests.conftest import eventually

PRIVACY = "jabber:iq:privacy"


PASSWORD = secrets.token_urlsafe(12)  # of the throwaway accounts these tests make


def new_name() -> str:
    return f"joiner-{uuid.uuid4().hex[:8]}"


def test_register_creates_an_account_that_can_log_in(xmpp_server):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    user = new_name()
    api.register(user, domain, PASSWORD)
    assert api.call("check_password", user=user, host=domain, password=PASSWORD) == 0


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
        api.register("no spaces allowed", xmpp_server.domain, PASSWORD)
    assert not isinstance(refused.value, AccountExists)


async def test_keep_apart_gives_the_account_its_default_privacy_list(xmpp_server,
                                                                      chat_client):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    user = new_name()
    api.register(user, domain, PASSWORD)
    api.keep_apart(user, domain, bot_accounts(domain))
    client = await chat_client(f"{user}@{domain}", PASSWORD)
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
        api.register(user, domain, PASSWORD)
    api.add_contacts(first, second, domain)
    api.add_contacts(first, second, domain)  # again, as every `./dev.sh run` does: no error
    client = await chat_client(f"{first}@{domain}", PASSWORD)
    item = client.client_roster[f"{second}@{domain}"]  # fetched at login, as clients do
    assert item["subscription"] == "both" and item["groups"] == ["Botschaft"]


def test_a_token_replaces_the_password_and_is_renewed_when_the_server_forgets_it(xmpp_server):
    api, domain = xmpp_server.instance.api(), xmpp_server.domain
    api.use_token(ttl=600)
    assert api._authorization.startswith("Bearer ")
    user = new_name()
    api.register(user, domain, PASSWORD)
    assert api.call("check_account", user=user, host=domain) == 0
    token = api._authorization
    api.call("oauth_revoke_token", token=token.removeprefix("Bearer "))
    assert api.call("check_account", user=user, host=domain) == 0  # renewed, then done
    assert api._authorization.startswith("Bearer ") and api._authorization != token


def test_a_lost_token_with_a_password_no_longer_valid_fails_once_with_its_error(xmpp_server):
    """Renewing the token asks with the password; when that is refused too, the call fails
    with the refusal (it asked for a token again and again, without end)."""
    api = xmpp_server.instance.api()
    api.use_token(ttl=600)
    api.call("oauth_revoke_token", token=api._authorization.removeprefix("Bearer "))
    api._basic = "Basic " + base64.b64encode(b"admin@nowhere:wrong").decode()
    with pytest.raises(EjabberdAPIError) as refused:
        api.call("check_account", user="nobody", host=xmpp_server.domain)
    assert refused.value.status == 401


def test_a_token_does_not_open_the_api_to_anyone_but_admins(xmpp_server):
    jid, password = xmpp_server.make_account("notadmin")
    api = EjabberdAPI(xmpp_server.instance.api().url, jid, password)
    with pytest.raises(EjabberdAPIError) as refused:
        api.use_token(ttl=600)
    assert refused.value.status in (401, 403)


# --- group rooms (mod_muc_admin) ---------------------------------------------------------------

COURSE_ROOM = {"title": "Welding course", "description": "Course 4711, spring cohort",
               "persistent": True, "members_only": True, "public": False, "public_list": False,
               "anonymous": True, "mam": True}


def muc_service(xmpp_server) -> str:
    return f"conference.{xmpp_server.domain}"


@pytest.fixture
def course_room(xmpp_server):
    """A persistent room made through the API, destroyed afterwards; yields (api, name)."""
    api, name = xmpp_server.instance.api(), f"course-{uuid.uuid4().hex[:8]}"
    api.create_room_with_opts(name, muc_service(xmpp_server), xmpp_server.domain, COURSE_ROOM)
    yield api, name
    try:
        api.destroy_room(name, muc_service(xmpp_server))
    except NoSuchRoom:
        pass  # the test destroyed it itself


def test_a_room_is_created_with_the_options_given(xmpp_server, course_room):
    """Read back from the server: members-only, unlisted, archived, real JIDs only for
    moderators (anonymous = "whois: moderators"), persistent."""
    api, name = course_room
    options = api.get_room_options(name, muc_service(xmpp_server))
    assert {option: options[option] for option in COURSE_ROOM} == {
        "title": "Welding course", "description": "Course 4711, spring cohort",
        "persistent": "true", "members_only": "true", "public": "false",
        "public_list": "false", "anonymous": "true", "mam": "true"}


def test_creating_a_room_twice_raises_room_exists_and_changes_nothing(xmpp_server,
                                                                       course_room):
    api, name = course_room
    service = muc_service(xmpp_server)
    with pytest.raises(RoomExists, match="Room already exists"):
        api.create_room_with_opts(name, service, xmpp_server.domain,
                                  {"title": "Another title", "members_only": False})
    options = api.get_room_options(name, service)
    assert (options["title"], options["members_only"]) == ("Welding course", "true")


def test_a_typo_in_a_room_option_is_refused_before_anything_is_made(xmpp_server):
    """23.01 itself would drop the unknown option silently and make an open room."""
    api, name = xmpp_server.instance.api(), f"course-{uuid.uuid4().hex[:8]}"
    service = muc_service(xmpp_server)
    with pytest.raises(ValueError, match="unknown room option 'members_onyl'"):
        api.create_room_with_opts(name, service, xmpp_server.domain, {"members_onyl": True})
    with pytest.raises(ValueError, match="members_only is true or false, not 'yes'"):
        api.create_room_with_opts(name, service, xmpp_server.domain, {"members_only": "yes"})
    with pytest.raises(NoSuchRoom):
        api.get_room_options(name, service)


def test_affiliations_are_set_read_back_and_removed(xmpp_server, course_room):
    api, name = course_room
    service, domain = muc_service(xmpp_server), xmpp_server.domain
    api.set_room_affiliation(name, service, f"trainer@{domain}", "owner")
    api.set_room_affiliation(name, service, f"anna@{domain}", "member")
    api.set_room_affiliation(name, service, f"anna@{domain}", "member")  # again: no change
    api.set_room_affiliation(name, service, f"ben@{domain}", "outcast")
    assert sorted(api.get_room_affiliations(name, service), key=lambda entry: entry.jid) == [
        RoomAffiliation(f"anna@{domain}", "member", ""),
        RoomAffiliation(f"ben@{domain}", "outcast", ""),
        RoomAffiliation(f"trainer@{domain}", "owner", "")]
    api.set_room_affiliation(name, service, f"anna@{domain}", "none")
    assert f"anna@{domain}" not in {entry.jid for entry in
                                    api.get_room_affiliations(name, service)}


def test_an_unknown_affiliation_is_refused_with_the_valid_ones(xmpp_server, course_room):
    api, name = course_room
    with pytest.raises(ValueError, match="owner, admin, member, outcast, none"):
        api.set_room_affiliation(name, muc_service(xmpp_server), "anna@localhost", "moderator")


def test_a_room_option_is_changed(xmpp_server, course_room):
    api, name = course_room
    service = muc_service(xmpp_server)
    api.change_room_option(name, service, "moderated", True)
    api.change_room_option(name, service, "title", "Welding course (archived)")
    options = api.get_room_options(name, service)
    assert (options["moderated"], options["title"]) == ("true", "Welding course (archived)")


async def test_occupants_and_direct_invitations(xmpp_server, course_room, chat_client):
    """The invitation comes from the room (XEP-0249) to someone outside it; whoever is in the
    room is listed with nick and role, and gets no invitation; a member who loses the
    membership is out of the room at once."""
    api, name = course_room
    service = muc_service(xmpp_server)
    room = f"{name}@{service}"
    inside, outside = await chat_client(), await chat_client()
    invitations = asyncio.Queue()
    outside.register_plugin("xep_0249")
    outside.add_event_handler("groupchat_direct_invite", invitations.put_nowait)
    api.set_room_affiliation(name, service, inside.boundjid.bare, "member")
    await inside.plugin["xep_0045"].join_muc_wait(JID(room), "anna", maxstanzas=0, timeout=10)
    assert api.get_room_occupants(name, service) == [
        RoomOccupant(str(inside.boundjid), "anna", "participant")]
    api.send_direct_invitation(name, service, [inside.boundjid.bare, outside.boundjid.bare],
                               reason="Your course room")
    invitation = await asyncio.wait_for(invitations.get(), 10)
    assert invitation["from"] == JID(room)
    assert (invitation["groupchat_invite"]["jid"], invitation["groupchat_invite"]["reason"]) \
        == (JID(room), "Your course room")
    with pytest.raises(ValueError, match="bare JIDs"):
        api.send_direct_invitation(name, service, ["anna@localhost/phone:1"])
    api.set_room_affiliation(name, service, inside.boundjid.bare, "none")  # members-only
    await eventually(lambda: api.get_room_occupants(name, service) == [])


def test_commands_for_a_missing_room_raise_no_such_room(xmpp_server):
    api, service = xmpp_server.instance.api(), muc_service(xmpp_server)
    missing = f"nothing-{uuid.uuid4().hex[:8]}"
    commands = [
        lambda: api.destroy_room(missing, service),
        lambda: api.set_room_affiliation(missing, service, "anna@localhost", "member"),
        lambda: api.get_room_affiliations(missing, service),
        lambda: api.get_room_options(missing, service),
        lambda: api.change_room_option(missing, service, "title", "x"),
        lambda: api.get_room_occupants(missing, service),
        lambda: api.send_direct_invitation(missing, service, ["anna@localhost"]),
    ]
    for command in commands:
        with pytest.raises(NoSuchRoom):
            command()


async def test_a_destroyed_room_is_gone(xmpp_server, course_room):
    """23.01 destroys a room after answering, so the test waits for it to go."""
    api, name = course_room
    service = muc_service(xmpp_server)
    api.destroy_room(name, service)
    await eventually(lambda: f"{name}@{service}" not in api.call("muc_online_rooms",
                                                                  service=service))
    with pytest.raises(NoSuchRoom):
        api.get_room_options(name, service)
