"""Pictures and documents in a room (XEP-0363, mod_http_upload in ejabberd.yml): uploaded with
slixmpp's own client over verified TLS, fetched by another member by the link, and the server's
size limit."""

from __future__ import annotations

import io
import ssl
import uuid

import aiohttp
import pytest
from PIL import Image
from slixmpp import JID
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0363 import http_upload

from tests.conftest import next_room_message

MAX_SIZE = 10 * 1024 * 1024  # max_size in ejabberd.yml
UPLOAD = "urn:xmpp:http:upload:0"


@pytest.fixture
def trusted_uploads(monkeypatch, xmpp_server):
    """slixmpp 1.17's upload_file sends the file with a plain aiohttp.ClientSession, which
    verifies TLS against the system's CAs only and takes no SSL argument. Here its session
    verifies against the dev server's own certificate instead (and nothing else): still real
    HTTPS with certificate and host name checked. Returns that SSL context."""
    context = ssl.create_default_context(cafile=str(xmpp_server.instance.ca_file))

    def verified_session(**arguments) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), **arguments)

    monkeypatch.setattr(http_upload, "ClientSession", verified_session)
    return context


@pytest.fixture
def course_room(xmpp_server):
    """A members-only room made through the admin API; yields (api, room JID)."""
    api, name = xmpp_server.instance.api(), f"course-{uuid.uuid4().hex[:8]}"
    service = f"conference.{xmpp_server.domain}"
    api.create_room_with_opts(name, service, xmpp_server.domain,
                              {"persistent": True, "members_only": True, "mam": True})
    yield api, f"{name}@{service}"
    api.destroy_room(name, service)


async def member(chat_client, course_room, nick: str):
    """A new account, made a member of the room, in the room, able to upload."""
    api, room = course_room
    client = await chat_client()
    name, _, service = room.partition("@")
    api.set_room_affiliation(name, service, client.boundjid.bare, "member")
    client.register_plugin("xep_0363")
    await client.plugin["xep_0045"].join_muc_wait(JID(room), nick, maxstanzas=0, timeout=10)
    return client


def small_png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 40, 40)).save(picture, format="PNG")
    return picture.getvalue()


async def test_a_member_shares_a_picture_another_downloads_the_same_bytes(
        xmpp_server, chat_client, course_room, trusted_uploads, tmp_path):
    _api, room = course_room
    anna = await member(chat_client, course_room, "anna")
    ben = await member(chat_client, course_room, "ben")
    picture = tmp_path / "welding-seam.png"
    picture.write_bytes(small_png())

    url = await anna.plugin["xep_0363"].upload_file(picture, timeout=10)
    assert url.startswith(f"{xmpp_server.instance.upload_url}/")
    anna.send_message(mto=room, mbody=url, mtype="groupchat")

    posted = await next_room_message(ben, room)
    assert posted["body"] == url
    async with aiohttp.ClientSession() as session, \
            session.get(posted["body"], ssl=trusted_uploads) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == picture.read_bytes()


async def test_the_upload_service_announces_its_size_limit(chat_client):
    """In service discovery, as XEP-0363 asks: clients refuse a larger file before trying."""
    client = await chat_client()
    client.register_plugin("xep_0363")
    service = await client.plugin["xep_0363"].find_upload_service(timeout=10)
    assert service is not None, "no HTTP upload service on the server"
    limits = [form["values"].get("max-file-size") for form in service["disco_info"].iterables
              if form["values"].get("FORM_TYPE") == [UPLOAD]]
    assert limits == [str(MAX_SIZE)]


async def test_an_upload_over_the_size_limit_is_refused_by_the_server(chat_client, course_room):
    """Asked for a slot just over 10 MB (no file is sent): ejabberd refuses it with
    not-acceptable, says the limit in words and in a <file-too-large/> element."""
    anna = await member(chat_client, course_room, "anna")
    service = await anna.plugin["xep_0363"].find_upload_service(timeout=10)
    assert service is not None, "no HTTP upload service on the server"
    with pytest.raises(IqError) as refused:
        await anna.plugin["xep_0363"].request_slot(service["from"], "film.mp4", MAX_SIZE + 1,
                                                   "video/mp4", timeout=10)
    error = refused.value.iq["error"]
    assert error["condition"] == "not-acceptable"
    assert error["text"] == f"File larger than {MAX_SIZE} bytes"
    too_large = error.xml.find(f"{{{UPLOAD}}}file-too-large/{{{UPLOAD}}}max-file-size")
    assert too_large is not None and int(too_large.text) == MAX_SIZE
