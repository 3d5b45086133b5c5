"""A stand-in for Meta's WhatsApp Cloud API on a local port, for tests, the benchmark and
`botschaft bridge demo`: the bridge talks to it over real HTTP exactly as to graph.facebook.com.

It follows Meta's documented shapes: `POST /{version}/{phone-number-id}/messages` with the
bearer token answers `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages":
[{"id": "wamid.…"}]}`; errors come as `{"error": {"message", "type", "code", "error_data":
{"details"}, "fbtrace_id"}}`; and it posts webhooks signed with the app secret
(`X-Hub-Signature-256`) to the bridge: the messages a WhatsApp user writes (`user_says`), and
the statuses of what the business sent (sent, then delivered; failed with 131047 when the
user's last message is more than 24 hours ago and the message is no template)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import defaultdict

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.resource import Resource

from bots.web import AsyncResource, bearer_matches
from server_bridge.whatsapp.http import Http
from server_bridge.whatsapp.webhook import SIGNATURE_HEADER, signature

WINDOW = 24 * 3600  # the customer-service window, seconds after the user's last message

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
        self.last_message_at: dict[str, float] = {}  # per user: when they last wrote
        self.failures: list[tuple[int, int | None]] = []  # (code, HTTP status) for next sends
        self.attempts = 0  # send requests, answered or failed
        self.auto_statuses = True  # post sent and delivered for each message accepted
        self.answer_delay = 0.0  # seconds a send's answer takes (the message is taken at once)
        self.arrived = asyncio.Event()  # set at each message accepted (tests wait on `sent`)
        self._listening = None
        self._tasks: set[asyncio.Task] = set()
        self._http: Http | None = None

    # --- running -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the base URL to configure as the bridge's api_url."""
        from twisted.internet import reactor
        from twisted.web.server import Site
        root = Resource()
        version = Resource()
        number = _PhoneNumber(self)
        root.putChild(self.version.encode(), version)
        version.putChild(self.phone_number_id.encode(), number)
        number.putChild(b"messages", _Messages(self))
        self._listening = reactor.listenTCP(port, Site(root), interface=host)
        self._http = Http(timeout=10)
        return f"http://{host}:{self._listening.getHost().port}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._listening is not None:
            await Deferred.asFuture(maybeDeferred(self._listening.stopListening),
                                    asyncio.get_running_loop())

    def bridge_environ(self, url: str, instance, deliver_to: str) -> dict[str, str]:
        """Settings (BOTSCHAFT_* variables) for a bridge that talks to this fake at `url` and
        to the dev server `instance` (bots/devserver.py), delivering to `deliver_to`."""
        settings = {"LISTEN": "127.0.0.1:0", "API_URL": url, "API_VERSION": self.version,
                    "PHONE_NUMBER_ID": self.phone_number_id, "ACCESS_TOKEN": self.access_token,
                    "APP_SECRET": self.app_secret, "VERIFY_TOKEN": secrets.token_urlsafe(16),
                    "JID": f"whatsapp.{instance.domain}", "HOST": "127.0.0.1",
                    "PORT": str(instance.ports["component"]),
                    "COMPONENT_SECRET": instance.component_secret, "DELIVER_TO": deliver_to}
        return {f"BOTSCHAFT_BRIDGE_WHATSAPP_{name}": value for name, value in settings.items()}

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

    def texts_to(self, number: str) -> list[str]:
        """What the business sent `number`: each text's body, each template as `template:name`."""
        return [message["text"]["body"] if message["type"] == "text"
                else f"template:{message['template']['name']}" for message in self.sent[number]]

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
            if message.get("messaging_product") != "whatsapp" or kind not in ("text", "template") \
                    or not number.isdigit() or not message[kind]:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            return error_body(100)
        wamid = new_wamid()
        self.sent[number].append(message)
        self.arrived.set()
        if self.auto_statuses and self.webhook_url:
            self._report(wamid, number, kind == "template")
        return 200, json.dumps({"messaging_product": "whatsapp",
                                "contacts": [{"input": number, "wa_id": number}],
                                "messages": [{"id": wamid}]}).encode()


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


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


class _PhoneNumber(_WithToken):
    """`GET /{version}/{phone-number-id}`: the number's details (what `bridge doctor` asks)."""

    isLeaf = False

    def answer(self, request) -> tuple[int, bytes]:
        return 200, json.dumps({
            "verified_name": "Autohaus Beispiel", "code_verification_status": "VERIFIED",
            "display_phone_number": self.cloud.display_phone_number,
            "quality_rating": "GREEN", "id": self.cloud.phone_number_id}).encode()

