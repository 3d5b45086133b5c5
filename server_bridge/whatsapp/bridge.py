"""The running bridge: the webhook, the gateway component, and the two queues between them,
on one asyncio loop with Twisted on it. Database work runs on the storage's threads.

To WhatsApp: a message is stored before anything is sent; each is sent at the number's pace
(`rate` a second, `per_recipient` seconds apart to one person, each person's in order) and
retried with growing pauses while the Cloud API cannot take it (no answer, 5xx, 429, rate
limits). One a previous run was sending when it died is sent again: the Cloud API has no
idempotency key, so that one may arrive twice; none is lost.
To XMPP: messages of people who agreed are stored by the webhook, delivered to `deliver_to`
in batches, and marked delivered once the server answered a ping sent after them (a component
has no acknowledgements); a batch in flight when the bridge dies is delivered again, with the
same stanza ids. A file goes to the XMPP server's upload first (media.py); while it cannot,
its sender's later messages wait behind it, in order."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import logging
import math
import random
import uuid

import peewee
import slixmpp
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.web.resource import Resource

from bots import consent
from bots.config import Config, ConfigError, web_address
from bots.i18n import Text, negotiate, render
from bots.outbox import RateLimiter
from bots.people import JidMatcher
from bots.stanza_text import shared_file
from bots.storage import BATCH_MOST, Storage
from bots.waiting import isolated, until_set
from bots.web import install_reactor, listen_site
from server_bridge.whatsapp import relay, texts
from server_bridge.whatsapp.cloud import Cloud, CloudError
from server_bridge.whatsapp.gateway import Gateway
from server_bridge.whatsapp.media import Courier, NotPassedOn, outgoing
from server_bridge.whatsapp.models import SCHEMA
from server_bridge.whatsapp.webhook import Webhook

log = logging.getLogger(__name__)

SECTION = "bridge.whatsapp"
REQUIRED = ("phone_number_id", "access_token", "app_secret", "verify_token", "jid",
            "component_secret", "deliver_to", "number_key")
SCHEMAS = [consent.SCHEMA, SCHEMA]
FIRST_RETRY = 1.0  # seconds; doubling up to retry_max
XMPP_BATCH = 200
ROUND = 0.1  # seconds of sends at the number's pace claimed at once (CLAIM_MOST at most)
CLAIM_MOST = 100
PRUNE_EVERY = 3600.0
STOP_WAIT = 10.0  # seconds a stop waits for the Cloud API's answers to sends under way
FILE_ATTEMPTS = 10  # a file that fails this often (about 20 minutes) is given up, its sender told


def settings_of(config: Config) -> dict:
    """The bridge's settings, checked: ConfigError names what is missing or wrong."""
    settings = config.values[SECTION]
    if importlib.util.find_spec("aiohttp") is None:  # HTTPS to Meta and to the upload
        raise ConfigError("The WhatsApp bridge needs its extra packages: "
                          "pip install 'botschaft[whatsapp]'")
    for name in REQUIRED:
        if not settings[name]:
            hint = "; make one with: openssl rand -hex 32" if name == "number_key" else ""
            raise ConfigError(f"{config.source}: [{SECTION}] {name} is missing (or "
                              f"BOTSCHAFT_BRIDGE_WHATSAPP_{name.upper()}){hint}")
    try:
        web_address(settings["listen"])
    except ValueError as exc:
        raise ConfigError(f"{config.source}: [{SECTION}] listen: {exc}") from None
    if settings["rate"] > 1000:
        raise ConfigError(f"{config.source}: [{SECTION}] rate is {settings['rate']}; the Cloud "
                          "API takes at most 1000 messages a second from one number")
    return settings


class Bridge:
    def __init__(self, config: Config, storage: Storage):
        """Build it inside the running event loop (Twisted goes onto it here)."""
        install_reactor()
        self.settings = settings = settings_of(config)
        self.web = config.values["web"]  # request_timeout, max_connections
        self.language = config.get("bot", "language")  # for what XMPP senders are told
        self.storage = storage
        self.cloud = Cloud(settings["api_url"], settings["api_version"],
                           settings["phone_number_id"], settings["access_token"])
        self.gateway = Gateway(settings["jid"], settings["component_secret"], settings["host"],
                               settings["port"], self._from_xmpp)
        # the XMPP server's own domain (whatsapp.chat.example.com → chat.example.com): its
        # HTTP upload takes the files (deliver_to may be a bot's component domain)
        self.courier = Courier(self.cloud, self.gateway, settings["jid"].partition(".")[2],
                               config.get("xmpp", "ca_file") or None)
        self.file_retries: dict[str, tuple[int, float]] = {}  # number: attempts, next try
        self.senders = JidMatcher([settings["deliver_to"], *settings["senders"]])
        self.limiter = RateLimiter(settings["rate"], settings["per_recipient"])
        self.slots = asyncio.Semaphore(32)  # sends waiting for the Cloud API's answer
        self.to_whatsapp = asyncio.Event()
        self.from_xmpp = asyncio.Event()
        self._arrived: list[slixmpp.Message] = []  # from XMPP, not yet taken (_take_from_xmpp)
        # webhook deliveries that come in bursts share a transaction (Storage.run_batched)
        self._receive_burst = functools.partial(relay.in_one_go, relay.receive_many,
                                                relay.receive)
        self.to_xmpp = asyncio.Event()
        self.webhook_port: int | None = None
        self._listening = None
        self._sends: set[asyncio.Task] = set()
        self._answers: list[tuple[int, str, str]] = []  # sends the Cloud API took: (row, wamid,
        # template), recorded by the sender's next round
        self._confirmed: list[int] = []  # delivered to XMPP, recorded with the next read
        self._stopped = False

    async def start(self) -> None:
        await self.storage.run(self.storage.migrate, SCHEMAS)
        resumed = await self.storage.run(relay.resume)
        if resumed:
            log.warning("%d message(s) to WhatsApp were on their way when the bridge last "
                        "stopped; sending them again", resumed)
        root = Resource()
        root.putChild(b"webhook", Webhook(self.settings["app_secret"],
                                          self.settings["verify_token"],
                                          self.settings["phone_number_id"], self._receive))
        host, port = web_address(self.settings["listen"])
        self._listening = listen_site(root, host, port, self.web, f"[{SECTION}] listen")
        self._listening.factory.max_body_bytes = self.settings["max_body_bytes"]
        self.webhook_port = self._listening.getHost().port
        log.info("bridge: webhook listening on port %d", self.webhook_port)
        await self.gateway.start(self.settings["host"], self.settings["port"])
        self._taking = asyncio.ensure_future(self._take_from_xmpp())
        self._sending = asyncio.ensure_future(self._send_to_whatsapp())
        self._delivering = asyncio.ensure_future(self._deliver_to_xmpp())
        self._pruning = asyncio.ensure_future(self._prune())

    async def stop(self) -> None:
        """Takes nothing new from WhatsApp, sends nothing new to it, and ends what is under
        way: the sender's round, the answers to sends (waited for up to STOP_WAIT: one the
        Cloud API took is recorded as sent, not sent again at the next start), what the XMPP
        server confirmed, and the messages from XMPP that came until the component closed
        (stored: they go at the next start). A part that fails is logged, the others still
        run. A second stop does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self.to_whatsapp.set()  # the sender ends after its round
        for task in (self._delivering, self._pruning):
            task.cancel()
        await asyncio.gather(self._delivering, self._pruning, return_exceptions=True)
        if self._listening is not None:
            await _within(Deferred.asFuture(maybeDeferred(self._listening.stopListening),
                                            asyncio.get_running_loop()), "the webhook's port")
        await _within(self._sending, "the sender's last round", STOP_WAIT)
        if self._sends:
            await asyncio.wait(list(self._sends), timeout=STOP_WAIT)
        for task in list(self._sends):
            task.cancel()
        await asyncio.gather(*self._sends, return_exceptions=True)
        await isolated(self._record_answers(), "bridge: recording the Cloud API's last answers")
        await self._record_confirmed()
        await _within(self.gateway.stop(wait=1), "the XMPP component")
        self.from_xmpp.set()  # the component is closed: what came until then is stored
        await _within(self._taking, "storing the last messages from XMPP")
        await _within(self.cloud.close(), "the Cloud API's connections")
        await _within(self.courier.uploads.close(), "the upload connections")

    # --- from WhatsApp --------------------------------------------------------------------------
    async def _receive(self, updates) -> None:
        """A webhook delivery: stored in one transaction before the webhook answers 200."""
        received = await self.storage.run_batched(
            self._receive_burst,
            (updates, self.settings["number_key"], self.settings["window_template"]))
        self._tell(received.tells)
        if received.to_whatsapp:
            self.to_whatsapp.set()
        if received.to_xmpp:
            self.to_xmpp.set()

    async def _deliver_to_xmpp(self) -> None:
        while True:
            if not self.gateway.online:
                await self._record_confirmed()  # not kept for as long as the server is away
                await asyncio.sleep(0.5)
                continue
            try:
                delivered = await self._deliver_batch()
            except Exception:  # a bug must not end delivery for everyone: logged, tried again
                log.exception("bridge: delivering messages to XMPP failed; trying again")
                await asyncio.sleep(1.0)
                continue
            if delivered:
                continue
            await _wait(self.to_xmpp, 1.0)

    async def _record_confirmed(self) -> None:
        """What the XMPP server confirmed and no read recorded yet (at the stop, or while the
        server is away)."""
        confirmed, self._confirmed = self._confirmed, []
        if confirmed:
            await isolated(self.storage.run(relay.delivered_to_xmpp, confirmed),
                           "bridge: recording messages the XMPP server confirmed")

    async def _deliver_batch(self) -> int:
        """Deliver what waits (a person's messages in order, none past a file that waits);
        returns how many the server confirmed."""
        now = asyncio.get_running_loop().time()
        held = frozenset(number for number, (_attempts, next_try) in self.file_retries.items()
                         if next_try > now)
        confirmed, self._confirmed = self._confirmed, []
        try:
            rows = await self.storage.run(relay.next_for_xmpp, confirmed, XMPP_BATCH, held)
        except BaseException:
            self._confirmed[:0] = confirmed
            raise
        delivered, waiting = [], set()
        for item in rows:
            if item.number in waiting:
                continue  # behind a file that could not go yet
            if item.media_id and not item.file_url:
                item = await self._carry(item)
                if item is None:  # gone meanwhile, or not passed on (its caption comes next)
                    self.to_xmpp.set()  # the batch is read again: what the carry changed counts
                    break
                if not item.file_url:
                    waiting.add(item.number)
                    continue
                self._deliver(item)
                delivered.append(item.id)
                break  # an upload takes time: what was read before it is read again (STOP)
            self._deliver(item)
            delivered.append(item.id)
        if not delivered:
            return 0
        try:
            await self.gateway.ping_server(30)
        except Exception:
            log.warning("bridge: the XMPP server did not confirm %d message(s); "
                        "delivering them again", len(delivered))
            return 0
        self._confirmed += delivered  # recorded by the next batch's read (or the stop)
        return len(delivered)

    def _deliver(self, item: relay.ToDeliver) -> None:
        to = item.recipient or self.settings["deliver_to"]
        stanza_id = relay.stanza_id_of(item.wamid)
        if item.reacts_to:
            self.gateway.react(item.number, to, item.reacts_to, item.body or "", stanza_id)
            return
        if item.file_url:
            self.gateway.deliver(item.number, to, "", stanza_id, item.file_url, item.language)
            if not item.body:
                return
            stanza_id = relay.stanza_id_of(f"{item.wamid}#caption")
        self.gateway.deliver(item.number, to, item.body, stanza_id, language=item.language)

    async def _carry(self, item: relay.ToDeliver) -> relay.ToDeliver | None:
        """Upload a file from WhatsApp to the XMPP server: the item with its link; the item
        unchanged when it must wait (tried again, with growing pauses, FILE_ATTEMPTS times);
        None when it is not to be delivered as a file (its sender is told why), or its
        message is gone meanwhile (STOP)."""
        attempts = self.file_retries.get(item.number, (0, 0.0))[0] + 1
        try:
            url = await self.courier.carry(item)
        except NotPassedOn as exc:
            if exc.text is None and attempts < FILE_ATTEMPTS:
                delay = self._backoff(attempts)
                self.file_retries[item.number] = (attempts,
                                                  asyncio.get_running_loop().time() + delay)
                log.warning("bridge: a file from WhatsApp (message %d) waits: %s; again in "
                            "%.1f s", item.id, exc, delay)
                return item
            log.warning("bridge: a file from WhatsApp (message %d) is not passed on: %s",
                        item.id, exc)
            await self.storage.run(relay.file_not_passed_on, item.id, item.number,
                                   exc.text or texts.FILE_FAILED, exc.values)
            self.file_retries.pop(item.number, None)
            self.to_whatsapp.set()
            return None
        self.file_retries.pop(item.number, None)
        if not await self.storage.run(relay.file_uploaded, item.id, url):
            return None
        return item._replace(file_url=url)

    # --- to WhatsApp --------------------------------------------------------------------------
    def _from_xmpp(self, message: slixmpp.Message) -> None:
        """The gateway hands over each message as it arrives; `_take_from_xmpp` stores them
        in their order, those that came together in one transaction (no task per message)."""
        self._arrived.append(message)
        self.from_xmpp.set()

    async def _take_from_xmpp(self) -> None:
        """Until the stop has closed the component and everything that came is stored."""
        while not (self._stopped and not self.gateway.online and not self._arrived):
            await self.from_xmpp.wait()
            self.from_xmpp.clear()
            arrived, self._arrived = self._arrived, []
            try:
                await self._queue(arrived)
            except Exception:  # a bug must not end the way to WhatsApp for everyone
                log.exception("bridge: taking messages from XMPP failed")

    async def _queue(self, messages: list[slixmpp.Message]) -> None:
        """Judge each message from XMPP and store those to send; tell each sender of one
        that is not sent why, in their language."""
        burst: list[tuple[slixmpp.Message, str, tuple]] = []  # message, number, its queue item
        for message in messages:
            number = self.gateway.number_of(message["to"])
            try:
                if message["from"].bare not in self.senders:
                    self._refuse(message, number, texts.NOT_ALLOWED, "forbidden")
                elif number is None:
                    self._refuse(message, number, texts.BAD_NUMBER, "item-not-found")
                elif message.get_plugin("reactions", check=True) is not None:
                    await self._store(burst)  # what came before it goes first
                    burst = []
                    await self._store([(message, number, self._reaction_of(message, number))],
                                      relay.queue_reaction)
                else:
                    burst.append((message, number, self._item_of(message, number)))
                    if len(burst) == BATCH_MOST:
                        await self._store(burst)
                        burst = []
            except Exception:  # this message alone (a link no URL parser takes, a bug)
                log.exception("bridge: a message from XMPP could not be judged")
                self._refuse(message, number, texts.NOT_STORED, "internal-server-error", "wait")
        await self._store(burst)

    def _item_of(self, message: slixmpp.Message, number: str) -> tuple:
        """relay.queue_from_xmpp's arguments for a text or a shared file."""
        link = shared_file(message)
        content = outgoing(link) if link else None
        return (message["from"].bare, number, self._key_of(message),
                None if content else message["body"], message["id"] or None,
                message["request_receipt"],
                message.get_plugin("markable", check=True) is not None, content)

    def _reaction_of(self, message: slixmpp.Message, number: str) -> tuple:
        """relay.queue_reaction's arguments. XEP-0444 sends all of a sender's reactions;
        WhatsApp keeps one: the last."""
        emojis = [reaction["value"] for reaction in message["reactions"] if reaction["value"]]
        return (message["from"].bare, number, self._key_of(message),
                message["reactions"]["id"], emojis[-1] if emojis else "")

    async def _store(self, burst: list[tuple[slixmpp.Message, str, tuple]],
                     one=None) -> None:
        """Store a burst of messages (relay.queue_many_from_xmpp, in one transaction), or
        one with `one`; each sender of one not stored is told why."""
        if not burst:
            return
        items = [item for _message, _number, item in burst]
        try:
            while True:  # while the database cannot be reached at all, the messages wait
                try:
                    if one is not None:
                        results = [await self.storage.run(one, *items[0])]
                    else:
                        results = await self.storage.run(
                            relay.in_one_go, relay.queue_many_from_xmpp, relay.queue_from_xmpp,
                            items)
                    break
                except (peewee.OperationalError, peewee.InterfaceError):
                    log.exception("bridge: storing messages from XMPP failed; trying again "
                                  "in 1 s")
                    await asyncio.sleep(1.0)
        except Exception as error:  # failing whatever is tried: each sender is told
            results = [error] * len(burst)
        for (message, number, _item), result in zip(burst, results, strict=True):
            if isinstance(result, Exception):
                log.error("bridge: a message from XMPP could not be stored: %s", result)
                self._refuse(message, number, texts.NOT_STORED, "internal-server-error",
                             "wait")
            elif result is not None:
                self._refuse(message, number, result, "not-acceptable")
            else:
                self.to_whatsapp.set()

    def _refuse(self, message: slixmpp.Message, number: str | None, problem: Text,
                condition: str, kind: str = "cancel") -> None:
        """In the sender's language, as their client names it."""
        if not self.gateway.online:  # at the stop, once the component is closed
            log.warning("bridge: a message from XMPP was not passed on (%s), and its sender "
                        "could not be told: the component is closed", problem)
            return
        text = render(problem, negotiate(message["lang"]) or self.language,
                      domain=self.gateway.boundjid.domain)
        self.gateway.refuse(message["from"].full, number, text, condition, kind,
                            about=message["id"])

    @staticmethod
    def _key_of(message: slixmpp.Message) -> str:
        """Unique per message (its sender and stanza id): sent again, it is queued once."""
        return f"{message['from'].bare}\n{message['id'] or uuid.uuid4()}"

    async def _send_to_whatsapp(self) -> None:
        """Rounds of about ROUND seconds of sends: each round's one transaction records the
        answers of the round before and claims the next sends (relay.next_sends)."""
        size = max(1, min(CLAIM_MOST, math.ceil(self.settings["rate"] * ROUND)))
        while not self._stopped:
            answers, self._answers = self._answers, []
            try:
                round_ = await self.storage.run(relay.next_sends, answers, size,
                                                self.limiter.throttled())
                self._unrecorded(round_.unrecorded)
                self._tell(round_.tells)
            except Exception:  # the database unreachable, a bug: logged, tried again
                self._answers[:0] = answers
                log.exception("bridge: reading the messages to WhatsApp failed; trying again")
                await asyncio.sleep(1.0)
                continue
            if not round_.claims:
                due = round_.due
                await _wait(self.to_whatsapp, 1.0 if due is None else min(max(due, 0.01), 1.0))
                continue
            for claim in round_.claims:
                if self._stopped:
                    break  # the claimed rest goes again at the next start (relay.resume)
                pause = self.limiter.delay(claim.number)
                if pause:
                    await asyncio.sleep(pause)
                await self.slots.acquire()
                if self._stopped:  # stopped while all slots were waiting for answers
                    self.slots.release()
                    break
                task = asyncio.ensure_future(self._send(claim))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _send(self, claim: relay.Claim) -> None:
        template = self.settings["window_template"]
        try:
            try:
                if claim.template:
                    wamid = await self.cloud.send_template(claim.number, claim.template,
                                                           self.settings["template_language"])
                elif claim.content:
                    wamid = await self.cloud.send_object(claim.number, json.loads(claim.content))
                else:
                    wamid = await self.cloud.send_text(claim.number, claim.body)
            except CloudError as exc:
                if exc.retry:
                    delay = self._backoff(claim.attempts)
                    log.warning("bridge: Cloud API: %s; message %d again in %.1f s", exc,
                                claim.id, delay)
                    await self.storage.run(relay.retry_later, claim.id, delay, str(exc))
                else:
                    log.warning("bridge: Cloud API refused message %d: %s", claim.id, exc)
                    self._tell(await self.storage.run(relay.refused, claim.id, exc.code,
                                                      template))
            else:  # recorded by the sender's next round (or the stop)
                self._answers.append((claim.id, wamid, template))
        finally:
            self.slots.release()
            self.to_whatsapp.set()

    async def _record_answers(self) -> None:
        """At the stop: the answers no round recorded yet."""
        answers, self._answers = self._answers, []
        if answers:
            tells, unrecorded = await self.storage.run(relay.answered, answers)
            self._unrecorded(unrecorded)
            self._tell(tells)

    @staticmethod
    def _unrecorded(failures: list[tuple[int, Exception]]) -> None:
        for row_id, error in failures:
            log.error("bridge: the Cloud API took message %d, but that could not be recorded "
                      "(%s): it is sent again after the next start", row_id, error)

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self.settings["retry_max"], FIRST_RETRY * 2 ** (attempts - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _tell(self, tells: list[relay.Tell | relay.News]) -> None:
        """Tell XMPP senders what became of their messages (when the gateway is online; the
        message's state stays in the database either way)."""
        if not self.gateway.online:
            return
        for tell in tells:
            if isinstance(tell, relay.News):
                self.gateway.news(tell.sender, tell.number, tell.stanza_id, tell.receipt,
                                  tell.marker)
            else:
                wait = tell.text is texts.WINDOW_CLOSED
                self.gateway.refuse(tell.sender, tell.number,
                                    render(tell.text, self.language, **tell.values),
                                    "recipient-unavailable", "wait" if wait else "cancel")

    async def _prune(self) -> None:
        while True:
            pruned = await self.storage.run(relay.prune)
            if pruned:
                log.info("bridge: %d row(s) no longer needed were deleted", pruned)
            await asyncio.sleep(PRUNE_EVERY)


async def _within(closing, what: str, seconds: float = 5.0) -> None:
    """A part of a stop that must not hold it up for ever (a peer that never answers); also in
    a task being cancelled (Ctrl-C during the start), where a time limit of asyncio.timeout
    would end the whole stop."""
    part = asyncio.ensure_future(closing)
    try:
        done, _pending = await asyncio.wait([part], timeout=seconds)
    except asyncio.CancelledError:
        part.cancel()
        raise
    if not done:
        part.cancel()
        log.warning("bridge: %s did not close within %.0f s; going on", what, seconds)
        return
    part.result()  # its error, if any


async def _wait(event: asyncio.Event, timeout: float) -> None:
    await until_set(event, timeout)
    event.clear()
