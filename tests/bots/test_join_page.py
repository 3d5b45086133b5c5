"""The join page against the real ejabberd: an invitation link makes an account that logs in,
with the item claimed and its status waiting; bad tokens, names and forms get a clear page."""

from __future__ import annotations

import asyncio
import html
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar

import pytest

from bots import consent
from bots.invites import Invitation
from bots.join_page import CONSENT_PURPOSE, NOTICE_VERSION
from bots.testing import join_settings
from plugins.lessons import Lessons
from plugins.status import Status


@dataclass
class Answer:
    status: int
    text: str
    headers: dict

    def field(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.text)
        return html.unescape(found.group(1)) if found else ""

    def shown(self, element_id: str) -> str:
        found = re.search(rf'id="{element_id}">([^<]*)<', self.text)
        return html.unescape(found.group(1)) if found else ""


class Visitor:
    """A browser without JavaScript: cookies, a language, plain GET and form POST."""

    def __init__(self, port: int, language: str = "en", forwarded_for: str = ""):
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Accept-Language": language}
        if forwarded_for:  # as a proxy in front of the page says who is asking
            self.headers["X-Forwarded-For"] = f"198.51.100.1, {forwarded_for}"
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
            self.cookies))

    async def get(self, path: str) -> Answer:
        return await asyncio.to_thread(self._open, path, None)

    async def post(self, path: str, **fields: str) -> Answer:
        return await asyncio.to_thread(self._open, path,
                                       urllib.parse.urlencode(fields).encode())

    def _open(self, path: str, body: bytes | None) -> Answer:
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.read().decode(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode(), dict(error.headers))


@pytest.fixture
async def workshop(make_bot, xmpp_server, request):
    """A bot with status and lessons and its join page; item 4711 exists."""
    settings = join_settings(xmpp_server)
    settings.update(getattr(request, "param", {}))
    bot = await make_bot(plugins=[Status(), Lessons()], **settings)
    book = bot.services.plugin("status").book
    await bot.storage.run(book.create, "4711", "vehicle")
    await bot.storage.run(book.set_state, "4711", "cleaning", "Noch 20 Minuten.")
    return bot


async def invite(bot, actions=None) -> str:
    made = await bot.storage.run(bot.services.invite, "staff@localhost", actions or {})
    return f"/join/{made.token}"


# The notice names the outbox's period in force: [privacy] retention's, not the older setting's.
@pytest.mark.parametrize("workshop", [{"PRIVACY_RETENTION": "outbox=3",
                                       "RETENTION_OUTBOX_DAYS": "5"}], indirect=True)
async def test_a_job_card_link_makes_an_account_with_the_item_claimed_and_its_status_waiting(
        workshop, chat_client):
    link = await invite(workshop, {"claim": "4711"})
    visitor = Visitor(workshop.join_site.port, language="de-DE,de;q=0.9,en;q=0.5")

    page = await visitor.get(link)
    assert page.status == 200 and '<html lang="de">' in page.text
    assert "Autohaus Beispiel" in page.text and "Vorgang 4711 wird mit dem neuen Konto" in page.text
    assert "Ihre Daten" in page.text and "nach 3 Tagen" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"  # the token is in the address
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert (await visitor.get(link)).status == 200  # a reload: still there until used

    welcome = await visitor.post(link, csrf=page.field("csrf"), name="Weber.K")
    assert welcome.status == 200, welcome.text
    jid, password = welcome.shown("jid"), welcome.shown("password")
    assert jid == "weber.k@localhost" and re.fullmatch(r"(\w{4}-){3}\w{4}", password)
    assert "xmpp:bot@localhost?message" in welcome.text and "<svg" in welcome.text
    assert 'href="/chat"' in welcome.text

    customer = await chat_client(jid, password)  # the account logs in at once
    first = await customer.next_message("bot@localhost")
    assert first["body"] == ("Fahrzeug 4711: Ihr Fahrzeug befindet sich in der Reinigung und "
                             "ist in Kürze abholbereit.\nNoch 20 Minuten.")
    assert (await customer.ask("bot@localhost", "status")).startswith("Ihre Vorgänge:")

    def records():
        row = Invitation.get()
        return (row.used_by, consent.records_of(jid))
    used_by, consents = await workshop.storage.run(records)
    assert used_by == jid
    joined = next(record for record in consents if record["purpose"] == CONSENT_PURPOSE)
    assert joined["text_version"] == NOTICE_VERSION and joined["channel"] == "web"

    again = await Visitor(workshop.join_site.port).get(link)
    assert again.status == 410 and "no longer valid" in again.text


async def test_a_double_click_shows_the_same_account_and_makes_no_second(workshop):
    link = await invite(workshop)
    visitor = Visitor(workshop.join_site.port)
    csrf = (await visitor.get(link)).field("csrf")
    first, second = await asyncio.gather(visitor.post(link, csrf=csrf, name=""),
                                         visitor.post(link, csrf=csrf, name=""))
    assert first.status == second.status == 200
    assert first.shown("jid") == second.shown("jid")
    assert first.shown("jid").startswith("kunde-")
    other_browser = Visitor(workshop.join_site.port)
    other_csrf = (await other_browser.get(link)).field("csrf")
    assert other_csrf == ""  # the page is gone for everybody else
    taken = await other_browser.post(link, csrf="x" * 32, name="")
    assert taken.status == 403  # and a form without its page is refused anyway


async def test_a_form_posted_without_the_page_is_refused_and_the_invitation_stays(workshop):
    link = await invite(workshop)
    forged = await Visitor(workshop.join_site.port).post(link, csrf="A" * 32, name="mallory")
    assert forged.status == 403 and "open your invitation link again" in forged.text
    visitor = Visitor(workshop.join_site.port)
    page = await visitor.get(link)
    token = page.field("csrf")
    altered = token[:-1] + ("y" if token.endswith("x") else "x")  # it may end in x itself
    wrong = await visitor.post(link, csrf=altered, name="mallory")
    assert wrong.status == 403
    assert (await visitor.post(link, csrf=page.field("csrf"), name="")).status == 200


@pytest.mark.parametrize("workshop", [{"PEOPLE_STAFF": "chef@localhost"}], indirect=True)
async def test_names_taken_too_long_forbidden_or_reserved_are_explained(workshop, xmpp_server):
    taken_jid, _password = xmpp_server.make_account("taken")
    link = await invite(workshop)
    visitor = Visitor(workshop.join_site.port)
    csrf = (await visitor.get(link)).field("csrf")
    for name, status, says in ((taken_jid.partition("@")[0], 409, "This name is taken"),
                               ("chef", 409, "This name is taken"),  # staff by the settings
                               ("x" * 41, 422, "too long"),
                               ("anna maria", 422, "cannot contain spaces"),
                               ("<script>", 422, "cannot contain"),
                               ("a@b", 422, "cannot contain")):
        answer = await visitor.post(link, csrf=csrf, name=name)
        assert answer.status == status and says in answer.text, (name, answer.text)
        assert answer.field("name") == name  # kept in the form, escaped
    assert "<script>" not in (await visitor.post(link, csrf=csrf, name="<script>")).text
    welcome = await visitor.post(link, csrf=csrf, name="Zoë")
    assert welcome.status == 200 and welcome.shown("jid") == "zoë@localhost"


@pytest.mark.parametrize("workshop", [{"JOIN_ATTEMPTS_PER_ADDRESS": "3",
                                       "JOIN_BEHIND_PROXY": "true"}], indirect=True)
async def test_guessing_tokens_is_slowed_down_per_address_and_tells_nothing(workshop):
    link = await invite(workshop)
    used = await invite(workshop)
    await workshop.storage.run(workshop.services.invitations.take, used.rpartition("/")[2],
                               "someone@localhost")
    guesser = Visitor(workshop.join_site.port, forwarded_for="203.0.113.7")
    made_up = [await guesser.get(f"/join/{'A' * 23}{n}") for n in range(2)]
    assert [answer.status for answer in made_up] == [404, 404]
    assert made_up[0].text == made_up[1].text  # nothing about the token in the answer
    assert (await guesser.get(used)).status == 410
    limited = await guesser.get(link)  # even a good link, from this address, for a while
    assert limited.status == 429 and "try again in a few minutes" in limited.text
    other = Visitor(workshop.join_site.port, forwarded_for="203.0.113.8")  # another one is not
    assert (await other.get(link)).status == 200


async def test_a_course_invitation_subscribes_the_new_learner(workshop, chat_client):
    link = await invite(workshop, {"course": "deutsch-alltag"})
    visitor = Visitor(workshop.join_site.port)
    page = await visitor.get(link)
    assert "The new account is subscribed to the course deutsch-alltag" in page.text
    welcome = await visitor.post(link, csrf=page.field("csrf"), name="")
    learner = await chat_client(welcome.shown("jid"), welcome.shown("password"))
    progress = await learner.ask("bot@localhost", "progress")
    assert progress.startswith("Deutsch im Alltag: lesson 0"), progress


async def test_the_chat_page_loads_converse_from_the_company_server_only(workshop, xmpp_server):
    chat = await Visitor(workshop.join_site.port, language="en").get("/chat")
    assert chat.status == 200
    origin = xmpp_server.instance.web_url
    scripts = re.findall(r'<script src="([^"]+)"', chat.text)
    assert scripts == [f"{origin}/conversejs-dist/converse.min.js"]
    policy = chat.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in policy and origin in policy and "*" not in policy
    assert '"auto_join_private_chats": ["bot@localhost"]' in chat.text


@pytest.mark.parametrize("workshop", [{"PEOPLE_STAFF": "@localhost"}], indirect=True)
async def test_staff_invite_in_chat_and_the_link_works(workshop, chat_client, xmpp_server):
    staff = await chat_client()
    answer = await staff.ask("bot@localhost", "einladen 4711", language="de")
    lines = answer.splitlines()
    assert lines[0].startswith("Eine neue Einladung, einmal gültig bis "), answer
    assert lines[1].startswith("http://join.test/join/")
    assert lines[2] == ("• Vorgang 4711 wird mit dem neuen Konto verknüpft, und Änderungen "
                        "seines Stands werden dorthin geschickt")
    link = lines[1].removeprefix("http://join.test")
    assert (await Visitor(workshop.join_site.port).get(link)).status == 200

    refused = await staff.ask("bot@localhost", "invite 0815")
    assert refused.splitlines() == ["I cannot link 0815 to an invitation:",
                                    "There is no item 0815.", 'There is no course "0815".']
    plain = await staff.ask("bot@localhost", "invite")
    assert plain.count("\n") == 2 and "http://join.test/join/" in plain


async def test_customers_cannot_make_invitations(workshop, chat_client):
    customer = await chat_client()
    answer = await customer.ask("bot@localhost", "invite 4711")
    assert answer.startswith('I did not understand "invite 4711"'), answer
