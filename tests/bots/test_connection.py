"""The bot stays reachable: a dropped connection resumes, a restarted server is reconnected
to, and what people wrote meanwhile is answered once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
from slixmpp import JID

from bots.connection import KEEPALIVE, ComponentSession
from bots.outbox import SCHEMA as OUTBOX_SCHEMA
from bots.outbox import OutboxMessage, enqueue
from bots.storage import Storage
from bots.devserver import BOT_USER
from bots.testing import (BOTSCHAFT, component_environment, join_settings,
                          run_environment, run_until)
from tests.conftest import eventually



async def test_after_a_dropped_connection_what_came_meanwhile_is_answered_once(
        make_bot, chat_client, xmpp_server):
    bot = await make_bot()
    client = await chat_client()
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"
    management = bot.plugin["xep_0198"]
    management.request_ack()
    await eventually(lambda: management.last_ack == management.seq > 0)
    api, resource = xmpp_server.devserver.api(xmpp_server.instance), bot.boundjid.resource
    bot.transport.abort()  # the network goes away under the bot's feet
    # the stream is not kept for resumption (ClientBot says why): the server ends it at once
    await eventually(lambda: resource not in api.call("user_resources", user=bot.boundjid.user,
                                                      host=bot.boundjid.domain))
    client.say(bot.boundjid.bare, "ping")  # kept offline, unless the bot is back already
    assert (await client.next_message(bot.boundjid.bare, timeout=30))["body"] == "pong"
    assert bot.sessions == 2 and bot.resumptions == 0
    # the new stream's stanzas are counted from 0, as the server counts them (XEP-0198)
    management.request_ack()
    await eventually(lambda: management.last_ack == management.seq and not
                     management.unacked_queue)
    assert await client.ask(bot.boundjid.bare, "help") != "pong"  # no second pong came


async def test_what_is_written_while_the_bot_is_killed_is_answered_once_it_is_back(
        xmpp_server, chat_client, tmp_path):
    """kill -9 leaves no stream behind that would hold the message for 300 s and then bounce
    it: the server keeps it offline, and the bot started again answers it."""
    env = run_environment(xmpp_server.instance, xmpp_server.devserver.ensure_user(BOT_USER),
                          f"sqlite:///{tmp_path / 'bot.db'}")
    jid = env["BOTSCHAFT_XMPP_JID"]
    api, user = xmpp_server.devserver.api(xmpp_server.instance), jid.partition("@")[0]
    api.call("kick_user", user=user, host=xmpp_server.domain)  # an earlier test's bot's streams
    await eventually(lambda: api.call("user_resources", user=user, host=xmpp_server.domain) == [])
    customer = await chat_client()
    bot = subprocess.Popen([BOTSCHAFT, "run"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        assert await customer.ask(jid, "ping", timeout=60) == "pong"
        # its outbox's stream is up too: the one that stays for resumption after the kill
        await eventually(lambda: len(api.call("user_resources", user=user,
                                              host=xmpp_server.domain)) == 2)
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.wait()
    await eventually(lambda: len(api.call("user_resources", user=user,  # the server saw it
                                          host=xmpp_server.domain)) == 1)
    customer.say(jid, "ping")

    async def answers() -> list[str]:
        return [(await customer.next_message(jid, timeout=60))["body"],
                await customer.ask(jid, "help", timeout=30)]  # after a second pong, if any
    answering = asyncio.ensure_future(answers())
    await run_until(env, answering.done, timeout=90)
    pong, help_text = answering.result()
    assert pong == "pong" and help_text.startswith("I understand these commands")


async def test_the_bot_comes_back_by_itself_after_a_server_restart(make_bot, xmpp_server,
                                                                    chat_client):
    bot = await make_bot()
    client = await chat_client()
    xmpp_server.devserver.stop()
    xmpp_server.devserver.start()
    await eventually(lambda: bot.sessions == 2 and client.sessions == 2)
    assert await client.ask(bot.boundjid.bare, "ping") == "pong"
    assert bot.reconnects >= 1


async def test_messages_sent_while_the_bot_was_away_are_answered_once(make_bot, chat_client,
                                                                      xmpp_server):
    bot = await make_bot()
    client = await chat_client()
    jid = bot.boundjid.bare
    await bot.stop()
    client.say(jid, "ping")  # offline storage keeps it
    client.say(jid, "help")
    api = xmpp_server.instance.api()
    await eventually(lambda: api.call("get_offline_count", user=bot.boundjid.user,
                                      host=bot.boundjid.domain) == {"value": 2})
    await make_bot()
    answers = sorted([(await client.next_message(jid))["body"] for _ in range(2)])
    # each message is answered in its own task, so the two answers may come in either order
    assert answers[0].startswith("I understand these commands") and answers[1] == "pong"
    assert await client.ask(jid, "ping") == "pong"  # the next answer is the next question's


@pytest.fixture
def component_bot(xmpp_server, tmp_path, request):
    """`botschaft run` in component mode as bot.<domain>, in its own process: slixmpp's client
    and component stanza namespaces cannot share one interpreter (the test's clients). More
    settings come as the test's parameter (indirect); rooms it is to join exist first."""
    settings = dict(getattr(request, "param", {}))
    if settings.pop("ADMIN_API", False):  # the admin API, as the rooms plugin needs
        settings.update({name: value for name, value in join_settings(xmpp_server).items()
                         if name.startswith("EJABBERD_")})
    if "BOT_ROOMS" in settings:
        request.getfixturevalue("component_room")
    instance = xmpp_server.instance
    database = f"sqlite:///{tmp_path / 'component.db'}"
    env = component_environment(instance, database, **settings)
    process = subprocess.Popen([BOTSCHAFT, "run"], env=env)
    storage = Storage(database)
    storage.migrate([OUTBOX_SCHEMA])
    yield SimpleNamespace(domain=f"bot.{instance.domain}", storage=storage, process=process,
                          environ=env)
    process.send_signal(signal.SIGTERM)
    process.wait(15)
    storage.close()


async def ask_until_online(client, address: str, timeout: float = 30) -> str:
    """Ping until the component answers (the server bounces messages while it is not there),
    then take the replies to the earlier pings too, so that none is read as the answer to a
    later question: each ping gets one, a bounce or a pong."""
    deadline = time.monotonic() + timeout
    pings = replies = 0
    while True:
        client.say(address, "ping")
        pings += 1
        try:
            answer = await client.next_message(address, timeout=1)
            replies += 1
            if answer["type"] != "error":
                break
        except TimeoutError:
            pass
        assert time.monotonic() < deadline, f"{address} did not answer"
        await asyncio.sleep(0.2)  # and ask again
    while replies < pings:
        await client.next_message(address, timeout=10)
        replies += 1
    return answer["body"]


async def test_in_component_mode_the_bot_answers_every_address_of_its_domain(
        component_bot, chat_client):
    client = await chat_client()
    assert await ask_until_online(client, component_bot.domain) == "pong"
    answer = await client.ask(f"werkstatt@{component_bot.domain}", "ping")
    assert answer == "pong"


COMPONENT_ROOM = "werkstatt-team@conference.localhost"


@pytest.fixture
def component_room(xmpp_server):
    """A members-only room with the component bot among its owners (so it sees who writes),
    as its rooms address (bots.services.ROOMS_LOCALPART)."""
    api = xmpp_server.instance.api()
    name, service = COMPONENT_ROOM.split("@")
    api.create_room_with_opts(name, service, xmpp_server.domain, {"persistent": True})
    api.set_room_affiliation(name, service, f"rooms@bot.{xmpp_server.domain}", "owner")
    yield api
    api.destroy_room(name, service)


@pytest.mark.parametrize("component_bot", [{"BOT_ROOMS": COMPONENT_ROOM}], indirect=True)
async def test_in_component_mode_the_bot_joins_its_rooms_and_answers_there(
        component_room, component_bot, chat_client, xmpp_server):
    client = await chat_client()
    name, service = COMPONENT_ROOM.split("@")
    component_room.set_room_affiliation(name, service, client.boundjid.bare, "member")
    await ask_until_online(client, component_bot.domain)
    await client.plugin["xep_0045"].join_muc_wait(JID(COMPONENT_ROOM), "kim", maxstanzas=0)
    await eventually(lambda: "Botschaft" in client.plugin["xep_0045"].get_roster(
        JID(COMPONENT_ROOM)))
    client.send_message(mto=COMPONENT_ROOM, mbody="!ping", mtype="groupchat")
    while True:
        message = await client.next_message(COMPONENT_ROOM)
        if message["from"].resource == "Botschaft":
            break
    assert message["body"] == "kim: pong"


@pytest.mark.parametrize("component_bot", [{"ADMIN_API": True}], indirect=True)
async def test_in_component_mode_the_rooms_plugin_owns_its_rooms_under_its_rooms_address(
        component_bot, chat_client, xmpp_server):
    client = await chat_client()
    client.register_plugin("xep_0249")
    invitations: asyncio.Queue = asyncio.Queue()
    client.add_event_handler("groupchat_direct_invite", invitations.put_nowait)
    await ask_until_online(client, component_bot.domain)
    slug = f"team-{time.monotonic_ns()}"
    for command in (["create", slug, "Werkstatt-Team"], ["add", slug, client.boundjid.bare]):
        subprocess.run([BOTSCHAFT, "rooms", *command], env=component_bot.environ, check=True,
                       capture_output=True)
    service = f"conference.{xmpp_server.domain}"
    api = xmpp_server.instance.api()
    assert {entry.jid: entry.affiliation for entry in api.get_room_affiliations(
        slug, service)} == {f"rooms@{component_bot.domain}": "owner"}

    client.say(component_bot.domain, f"join {slug}")
    while "member" not in (await client.next_message(component_bot.domain))["body"]:
        pass  # the invitation note comes first
    invitation = await asyncio.wait_for(invitations.get(), 20)
    assert (invitation["from"].bare, invitation["groupchat_invite"]["jid"]) == (
        f"rooms@{component_bot.domain}", f"{slug}@{service}")
    await client.plugin["xep_0045"].join_muc_wait(JID(f"{slug}@{service}"), "kim",
                                                  maxstanzas=0, timeout=10)
    api.destroy_room(slug, service)


async def test_in_component_mode_the_bot_accepts_subscription_requests(component_bot,
                                                                       chat_client):
    client = await chat_client()
    await ask_until_online(client, component_bot.domain)
    address = f"werkstatt@{component_bot.domain}"
    client.send_presence(pto=address, ptype="subscribe")
    await eventually(lambda: client.client_roster[address]["subscription"] in ("to", "both"))


async def test_in_component_mode_the_outbox_delivers_also_after_a_server_restart(
        component_bot, chat_client, xmpp_server):
    client = await chat_client()
    await ask_until_online(client, component_bot.domain)
    enqueue("push:1", client.boundjid.bare, "Ihr Fahrzeug ist fertig.")
    first = await client.next_message(component_bot.domain, timeout=10)
    assert first["body"] == "Ihr Fahrzeug ist fertig."
    # Component mode is at-least-once: a row still in flight when the server goes away would
    # be sent again. Restart only once the server has confirmed it.
    await eventually(lambda: OutboxMessage.get(OutboxMessage.key == "push:1").state == "done")
    xmpp_server.devserver.stop()
    enqueue("push:2", client.boundjid.bare, "Abholbereit.")  # written while the server is down
    xmpp_server.devserver.start()
    while (message := await client.next_message(component_bot.domain, timeout=60))[
            "body"] != "Abholbereit.":
        # the server's own copy of what the client had not yet acknowledged when the server
        # stopped (kept offline for it): the same stanza, by its origin-id, not a second send
        assert origin_id(message) == origin_id(first)
    assert OutboxMessage.get(OutboxMessage.key == "push:1").attempts == 1


def origin_id(message) -> str:
    return message.xml.find("{urn:xmpp:sid:0}origin-id").get("id")


async def test_a_stopped_connection_checks_its_connection_no_more(xmpp_server):
    """The keepalive ends with the connection: a stopped component (a bridge's gateway) used to
    go on pinging a closed stream every minute, and warn each time that nobody answered."""
    instance = xmpp_server.instance
    session = ComponentSession(f"keepalive.{instance.domain}", instance.component_secret,
                               "127.0.0.1", instance.ports["component"])
    await session.start()
    assert KEEPALIVE in session.scheduled_events
    await session.stop()
    assert KEEPALIVE not in session.scheduled_events


async def test_a_delivery_receipt_is_sent_where_one_is_asked_for(make_bot, chat_client):
    bot = await make_bot()
    client = await chat_client()
    receipts = asyncio.Queue()
    client.add_event_handler("receipt_received", receipts.put_nowait)
    message = client.make_message(mto=bot.boundjid.bare, mbody="ping", mtype="chat")
    message["id"] = "receipt-please"
    message["request_receipt"] = True
    message.send()
    receipt = await asyncio.wait_for(receipts.get(), 10)
    assert receipt["receipt"] == "receipt-please"
    assert (await client.next_message(bot.boundjid.bare))["body"] == "pong"


async def test_an_answer_comes_in_the_thread_type_and_language_of_the_message(make_bot,
                                                                            chat_client):
    bot = await make_bot()
    client = await chat_client()
    message = client.make_message(mto=bot.boundjid.bare, mbody="ping", mtype="normal")
    message["thread"] = "order-4711"
    message["parent_thread"] = "orders"
    message["lang"] = "de"
    message.send()
    answer = await client.next_message(bot.boundjid.bare)
    assert (answer["body"], answer["type"], answer["lang"]) == ("pong", "normal", "de")
    assert (answer["thread"], answer["parent_thread"]) == ("order-4711", "orders")
    client.say(bot.boundjid.bare, "ping", "en")
    answer = await client.next_message(bot.boundjid.bare)
    assert (answer["type"], answer["thread"], answer["lang"]) == ("chat", "", "en")


ARRIVING = [  # stanzas as they come from the server (each closed by the test)
    "message xmlns='jabber:client' type='chat'><body>x</body><request xmlns='urn:xmpp:receipts'/>"
    "<markable xmlns='urn:xmpp:chat-markers:0'/>",
    "message xmlns='jabber:client'><received xmlns='urn:xmpp:receipts' id='x'/>",
    "message xmlns='jabber:client' type='error'><error type='cancel'><item-not-found "
    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    "message xmlns='jabber:client' type='groupchat'><body>hi</body><subject>s</subject>",
    "message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'><invite "
    "from='a@example.com'/></x>",
    "message xmlns='jabber:client'><x xmlns='jabber:x:conference' jid='r@muc.example.com'/>",
    "message xmlns='jabber:client'><x xmlns='jabber:x:data' type='form'/>",
    "message xmlns='jabber:client'><displayed xmlns='urn:xmpp:chat-markers:0' id='y'/>",
    "message xmlns='jabber:client'><reactions xmlns='urn:xmpp:reactions:0' id='z'><reaction>"
    "👍</reaction></reactions>",
    "message xmlns='jabber:client'><body>file</body><x xmlns='jabber:x:oob'><url>https://x/y"
    "</url></x>",
    "iq xmlns='jabber:client' type='set' id='2'><command "
    "xmlns='http://jabber.org/protocol/commands' node='x'/>",
    "presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'/>",
]


async def test_every_handler_matches_as_before_only_asking_for_the_element_first():
    """The element guard (connection._ForElement: the element, then a plainly named child or
    a stanza plugin's element) changes no answer of any handler the bot's sessions register,
    for the stanzas a bot sees, in client and component mode."""
    from slixmpp import Iq, Message, Presence
    from slixmpp.xmlstream import ET

    from bots.connection import Session, _ForElement

    def stanzas(session):
        message = Message(session, sto="bot@example.com", stype="chat")
        message["body"] = "status"
        receipt = Message(session)
        receipt["receipt"] = "id-1"
        asked = Message(session)
        asked["body"] = "hi"
        asked["request_receipt"] = True
        error = Message(session, stype="error")
        error["error"]["condition"] = "item-not-found"
        ping, roster = Iq(session, stype="get"), Iq(session, stype="set")
        ping.enable("ping")
        roster.enable("roster")
        ack = session._build_stanza(ET.fromstring("<a xmlns='urn:xmpp:sm:3' h='3'/>"))
        received = [session._build_stanza(ET.fromstring(f"<{xml}</{xml.split()[0]}>"))
                    for xml in ARRIVING]
        return [message, receipt, asked, error, ping, roster, Presence(session), ack, *received]

    for session in (Session("bot@example.com", "secret"),
                    ComponentSession("bot.example.com", "secret", "127.0.0.1", 5347)):
        for plugin in ("xep_0004", "xep_0045", "xep_0050", "xep_0066", "xep_0249", "xep_0333",
                       "xep_0444"):  # rooms, ad-hoc commands, files, markers, reactions
            session.register_plugin(plugin)
        handlers = session._XMLStream__handlers
        guarded = [handler for handler in handlers if isinstance(handler._matcher, _ForElement)]
        assert len(guarded) >= len(handlers) - 3  # all but those with a pattern (a MUC's)
        for stanza in stanzas(session):
            for handler in guarded:
                assert handler._matcher.match(stanza) == handler._matcher.matcher.match(
                    stanza), (handler.name, str(stanza))
        assert [handler.name for handler in handlers if handler.match(stanzas(session)[0])] \
            == ["IM"]
