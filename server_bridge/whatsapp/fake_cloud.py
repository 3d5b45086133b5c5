"""A stand-in for Meta's WhatsApp Cloud API on a local port, for tests, the benchmark and
`botschaft bridge demo`: the bridge talks to it over real HTTP exactly as to graph.facebook.com.

It follows Meta's documented shapes: `POST /{version}/{phone-number-id}/messages` with the
bearer token answers `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages":
[{"id": "wamid.…"}]}`; errors come as `{"error": {"message", "type", "code", "error_data":
{"details"}, "fbtrace_id"}}`; and it posts webhooks signed with the app secret
(`X-Hub-Signature-256`) to the bridge: the messages a WhatsApp user writes (`user_says`), and
the statuses of what the business sent (sent, then delivered; failed with 131047 when the
user's last message is more than 24 hours ago and the message is no template). A user's file
is kept under a media id: `GET /{version}/{media-id}` answers `{"messaging_product", "url",
"mime_type", "sha256", "file_size", "id"}`, and the url (valid for 5 minutes) serves the file
to the bearer token only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections import defaultdict
from typing import NamedTuple

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.resource import Resource

from bots.web import AsyncResource, bearer_matches
from server_bridge.whatsapp.http import Http
from server_bridge.whatsapp.updates import SIGNATURE_HEADER, signature

WINDOW = 24 * 3600  # the customer-service window, seconds after the user's last message
MEDIA_URL_VALID = 300  # seconds a media url works
SENDABLE = ("text", "template", "image", "document", "audio", "video", "reaction")


class StoredMedia(NamedTuple):
    data: bytes
    mime_type: str

# Meta's error codes the fake can answer with: HTTP status, type, title, details
ERRORS = {
    131047: (400, "OAuthException", "Re-engagement message",
             "More than 24 hours have passed since the recipient last replied to the sender "
             "number."),
    131056: (400, "OAuthException", "(Business Account, Consumer Account) pair rate limit hit",
             "Too many messages sent from the sender phone number to the same recipient phone "
             "number in a short period of time."),
    130429: (400, "OAuthException", "Rate limit hit",
             "Cloud API message throughput has been reached."),
    80007: (400, "OAuthException", "Rate limit issues",
            "The WhatsApp Business Account has reached its rate limit."),
    131000: (500, "OAuthException", "Something went wrong",
             "Message failed to send due to an unknown error."),
    190: (401, "OAuthException", "Error validating access token",
          "The access token could not be decrypted."),
    100: (400, "OAuthException", "Invalid parameter", "A parameter is missing or wrong."),
}


def error_body(code: int, http_status: int | None = None) -> tuple[int, bytes]:
    status, kind, title, details = ERRORS[code]
    return http_status or status, json.dumps({"error": {
        "message": f"(#{code}) {title}", "type": kind, "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": secrets.token_urlsafe(12)}}).encode()


class FakeCloud:
    """One business phone number. `sent[number]` lists what the business sent to each user
    (the request bodies); `fail_next(code)` makes the next sends fail as Meta would."""

    def __init__(self, access_token: str, app_secret: str, phone_number_id: str = "106540352242922",
                 display_phone_number: str = "15550783881", version: str = "v21.0",
                 business_account_id: str = "102290129340398"):
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.version = version
        self.business_account_id = business_account_id
        self.webhook_url = ""  # the bridge's, once it runs
        self.sent: dict[str, list[dict]] = defaultdict(list)
        self.wamids: dict[str, list[str]] = defaultdict(list)  # the ids of those, in order
        self.last_message_at: dict[str, float] = {}  # per user: when they last wrote
        self.failures: list[tuple[int, int | None]] = []  # (code, HTTP status) for next sends
        self.attempts = 0  # send requests, answered or failed
        self.auto_statuses = True  # post sent and delivered for each message accepted
        self.answer_delay = 0.0  # seconds a send's answer takes (the message is taken at once)
        self.arrived = asyncio.Event()  # set at each message accepted (tests wait on `sent`)
        self.media: dict[str, StoredMedia] = {}  # files users sent, by media id
        self.media_urls: dict[str, tuple[str, float]] = {}  # url hash: media id, valid until
        self.base_url = ""
        self._listening = None
        self._tasks: set[asyncio.Task] = set()
        self._http: Http | None = None

    # --- running -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the base URL to configure as the bridge's api_url."""
        from twisted.internet import reactor
        from twisted.web.server import Site
        root = Resource()
        version = _Graph(self)
        number = _PhoneNumber(self)
        root.putChild(self.version.encode(), version)
        version.putChild(self.phone_number_id.encode(), number)
        number.putChild(b"messages", _Messages(self))
        business = Resource()  # where Meta's media urls point (lookaside.fbsbx.com)
        root.putChild(b"whatsapp_business", business)
        business.putChild(b"attachments", _Attachment(self))
        self._listening = reactor.listenTCP(port, Site(root), interface=host)
        self._http = Http(timeout=10)
        self.base_url = f"http://{host}:{self._listening.getHost().port}"
        return self.base_url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._listening is not None:
            await Deferred.asFuture(maybeDeferred(self._listening.stopListening),
                                    asyncio.get_running_loop())

    def bridge_environ(self, url: str, instance, deliver_to: str,
                       number_key: str = "") -> dict[str, str]:
        """Settings (BOTSCHAFT_* variables) for a bridge that talks to this fake at `url` and
        to the dev server `instance` (bots/devserver.py), delivering to `deliver_to`; its
        number_key a new one unless given."""
        settings = {"LISTEN": "127.0.0.1:0", "API_URL": url, "API_VERSION": self.version,
                    "PHONE_NUMBER_ID": self.phone_number_id, "ACCESS_TOKEN": self.access_token,
                    "APP_SECRET": self.app_secret, "VERIFY_TOKEN": secrets.token_urlsafe(16),
                    "JID": f"whatsapp.{instance.domain}", "HOST": "127.0.0.1",
                    "PORT": str(instance.ports["component"]),
                    "COMPONENT_SECRET": instance.component_secret, "DELIVER_TO": deliver_to,
                    "NUMBER_KEY": number_key or secrets.token_hex(32)}
        return {**{f"BOTSCHAFT_BRIDGE_WHATSAPP_{name}": value for name, value in settings.items()},
                "BOTSCHAFT_XMPP_CA_FILE": str(instance.ca_file)}  # its uploads are HTTPS

    # --- playing a WhatsApp user ---------------------------------------------------------------
    async def user_says(self, number: str, text: str, name: str = "Kim",
                        kind: str = "text") -> int:
        """`number` (digits, e.g. 4917612345678) writes `text` to the business: posts the
        signed webhook and returns the bridge's HTTP status. `kind` another type (sticker,
        location) sends that instead, without text."""
        self.last_message_at[number] = time.time()
        message = {"from": number, "id": new_wamid(), "timestamp": str(int(time.time())),
                   "type": kind}
        message[kind] = {"body": text} if kind == "text" else {"id": new_wamid()}
        value = {"contacts": [{"profile": {"name": name}, "wa_id": number}],
                 "messages": [message]}
        return (await self.post_webhook(self.envelope(value)))[0]

    async def user_sends_file(self, number: str, kind: str, data: bytes, mime_type: str,
                              filename: str | None = None, caption: str | None = None) -> str:
        """`number` sends a file (`kind` image, document, audio, video): kept under a new
        media id, announced by a signed webhook. Returns the message's wamid."""
        self.last_message_at[number] = time.time()
        media_id = str(secrets.randbelow(10**16))
        self.media[media_id] = StoredMedia(data, mime_type)
        media = {"mime_type": mime_type, "id": media_id,
                 "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
        if caption is not None:
            media["caption"] = caption
        if filename is not None:
            media["filename"] = filename
        wamid = new_wamid()
        await self.post_webhook(self.envelope({
            "contacts": [{"profile": {"name": "Kim"}, "wa_id": number}],
            "messages": [{"from": number, "id": wamid, "timestamp": str(int(time.time())),
                          "type": kind, kind: media}]}))
        return wamid

    async def user_reacts(self, number: str, wamid: str, emoji: str | None) -> int:
        """`number` reacts to the business's message `wamid` (None: takes the reaction back,
        which Meta reports without an emoji)."""
        reaction = {"message_id": wamid}
        if emoji is not None:
            reaction["emoji"] = emoji
        return (await self.post_webhook(self.envelope({
            "contacts": [{"profile": {"name": "Kim"}, "wa_id": number}],
            "messages": [{"from": number, "id": new_wamid(), "timestamp": str(int(time.time())),
                          "type": "reaction", "reaction": reaction}]})))[0]

    def texts_to(self, number: str) -> list[str]:
        """What the business sent `number`: each text's body, each template as `template:name`,
        a file as `image:<link>` (its kind), a reaction as `reaction:<emoji>`."""
        return [describe(message) for message in self.sent[number]]

    def wamids_to(self, number: str) -> list[str]:
        """The ids the business's messages to `number` were given, in order."""
        return self.wamids[number]

    def media_answer(self, media_id: str) -> tuple[int, bytes]:
        """`GET /{version}/{media-id}`: where the file is, for 5 minutes."""
        stored = self.media.get(media_id)
        if stored is None:
            return error_body(100)
        token = secrets.token_urlsafe(24)
        self.media_urls[token] = (media_id, time.time() + MEDIA_URL_VALID)
        return 200, json.dumps({
            "messaging_product": "whatsapp",
            "url": f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}"
                   f"&ext={int(time.time()) + MEDIA_URL_VALID}&hash={token}",
            "mime_type": stored.mime_type, "sha256": hashlib.sha256(stored.data).hexdigest(),
            "file_size": str(len(stored.data)), "id": media_id}).encode()

    def attachment(self, token: str) -> StoredMedia | None:
        media_id, valid_until = self.media_urls.get(token, ("", 0.0))
        return self.media.get(media_id) if time.time() < valid_until else None

    def close_window(self, number: str) -> None:
        """As if `number` last wrote more than 24 hours ago."""
        self.last_message_at[number] = time.time() - WINDOW - 60

    def fail_next(self, code: int, times: int = 1, http_status: int | None = None) -> None:
        self.failures += [(code, http_status)] * times

    # --- webhooks -------------------------------------------------------------------------------
    def envelope(self, value: dict) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{
            "id": self.business_account_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": self.display_phone_number,
                             "phone_number_id": self.phone_number_id}, **value}}]}]}

    async def post_webhook(self, payload: dict, sign_with: str | None = None,
                           raw: bytes | None = None) -> tuple[int, bytes]:
        """Post a delivery to the bridge, signed with the app secret (or `sign_with`; "" for
        none); returns its status and body."""
        body = raw if raw is not None else json.dumps(payload).encode()
        secret = self.app_secret if sign_with is None else sign_with
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, body)
        answer = await self._http.request("POST", self.webhook_url, headers, body)
        return answer.status, answer.body

    def status_update(self, wamid: str, status: str, number: str,
                      error: int | None = None) -> dict:
        entry = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                 "recipient_id": number}
        if error is not None:
            _status, _kind, title, details = ERRORS[error]
            entry["errors"] = [{"code": error, "title": title, "message": title,
                                "error_data": {"details": details}}]
        return self.envelope({"statuses": [entry]})

    def _report(self, wamid: str, number: str, template: bool) -> None:
        """Meta's statuses for an accepted message, posted after the answer."""
        async def post():
            if not template and time.time() - self.last_message_at.get(number, 0) > WINDOW:
                await self.post_webhook(self.status_update(wamid, "failed", number, 131047))
                return
            for state in ("sent", "delivered"):
                await self.post_webhook(self.status_update(wamid, state, number))
        task = asyncio.ensure_future(post())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the send endpoint ------------------------------------------------------------------------
    def accept(self, request_body: bytes) -> tuple[int, bytes]:
        """Answer one send request as Meta would."""
        self.attempts += 1
        if self.failures:
            return error_body(*self.failures.pop(0))
        try:
            message = json.loads(request_body)
            number = message["to"]
            kind = message["type"]
            if message.get("messaging_product") != "whatsapp" or kind not in SENDABLE \
                    or not number.isdigit() or not isinstance(message[kind], dict) \
                    or not message[kind] or not _complete(kind, message[kind]):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            return error_body(100)
        wamid = new_wamid()
        self.sent[number].append(message)
        self.wamids[number].append(wamid)
        self.arrived.set()
        if self.auto_statuses and self.webhook_url:
            self._report(wamid, number, kind == "template")
        return 200, json.dumps({"messaging_product": "whatsapp",
                                "contacts": [{"input": number, "wa_id": number}],
                                "messages": [{"id": wamid}]}).encode()


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def _complete(kind: str, content: dict) -> bool:
    """What Meta requires of each kind: a file by link or media id, a reaction's message id
    and emoji ("" takes it back), a text's body, a template's name."""
    if kind == "reaction":
        return isinstance(content.get("message_id"), str) and isinstance(content.get("emoji"),
                                                                           str)
    if kind in ("image", "document", "audio", "video"):
        return bool(content.get("link") or content.get("id"))
    return bool(content.get("body" if kind == "text" else "name"))


def describe(message: dict) -> str:
    kind = message["type"]
    if kind == "text":
        return message["text"]["body"]
    if kind == "template":
        return f"template:{message['template']['name']}"
    if kind == "reaction":
        return f"reaction:{message['reaction']['emoji']}"
    return f"{kind}:{message[kind].get('link') or message[kind].get('id')}"


class _WithToken(AsyncResource):
    """A Graph API resource: Meta's error 190 without the right bearer token."""

    def __init__(self, cloud: FakeCloud):
        super().__init__()
        self.cloud = cloud

    async def respond(self, request):
        if not bearer_matches(request, self.cloud.access_token):
            status, body = error_body(190)
        else:
            status, body = self.answer(request)
        return status, "application/json", body

    def answer(self, request) -> tuple[int, bytes]:
        raise NotImplementedError


class _Messages(_WithToken):
    methods = ("POST",)

    async def respond(self, request):
        answer = await super().respond(request)
        await asyncio.sleep(self.cloud.answer_delay)  # taken already; the answer is late
        return answer

    def answer(self, request) -> tuple[int, bytes]:
        return self.cloud.accept(request.content.read())


class _Graph(Resource):
    """`/{version}/`: the phone number's node, and `GET /{version}/{media-id}` for files."""

    def __init__(self, cloud: FakeCloud):
        super().__init__()
        self.cloud = cloud

    def getChild(self, path, request):
        return _MediaInfo(self.cloud, path.decode(errors="replace"))


class _MediaInfo(_WithToken):
    def __init__(self, cloud: FakeCloud, media_id: str):
        super().__init__(cloud)
        self.media_id = media_id

    def answer(self, request) -> tuple[int, bytes]:
        return self.cloud.media_answer(self.media_id)


class _Attachment(AsyncResource):
    """A file's download address: the bearer token and a hash that is valid for 5 minutes."""

    def __init__(self, cloud: FakeCloud):
        super().__init__()
        self.cloud = cloud

    async def respond(self, request):
        token = (request.args.get(b"hash") or [b""])[0].decode(errors="replace")
        stored = self.cloud.attachment(token)
        if not bearer_matches(request, self.cloud.access_token) or stored is None:
            return 404, "text/plain", b"Not found\n"
        return 200, stored.mime_type, stored.data


class _PhoneNumber(_WithToken):
    """`GET /{version}/{phone-number-id}`: the number's details (what `bridge doctor` asks)."""

    isLeaf = False

    def answer(self, request) -> tuple[int, bytes]:
        return 200, json.dumps({
            "verified_name": "Autohaus Beispiel", "code_verification_status": "VERIFIED",
            "display_phone_number": self.cloud.display_phone_number,
            "quality_rating": "GREEN", "id": self.cloud.phone_number_id}).encode()

