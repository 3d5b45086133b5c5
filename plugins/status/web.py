"""The HTTP feed for the company's systems (ERP, dealer management, shop):

    POST /status/items    {"ref": "4711", "kind": "vehicle", "code": "K7M2QX"}   → 201
    POST /status/events   {"event_id": "erp-99812", "ref": "4711", "state": "cleaning",
                           "note": "…"}                                           → 200

Both need `Authorization: Bearer <[plugins.status] token>` (or the [web] token when the
plugin has none). Events are idempotent by `event_id`: a repeated event changes nothing and
answers `"duplicate": true`, so the sender may retry freely; an id belongs to the item it
first came with. Errors are JSON `{"error": "…", "field": "…"}` with 400 (bad input), 401,
404 (no such item), 409 (the item exists; the event id was sent for another item). A body over
bots.web's MAX_BODY_BYTES gets a plain 413 before it is read.
"""

from __future__ import annotations

import json

from bots.web import AsyncResource, bearer_matches
from plugins.status.feed import EVENT_FIELDS, ITEM_FIELDS, FeedError, parse_json
from plugins.status.service import EventConflict, ItemExists, StatusError, UnknownItem

ERROR_STATUS = {UnknownItem: 404, ItemExists: 409, EventConflict: 409}  # other bad input: 400


def feed_routes(plugin) -> dict:
    return {"items": _ItemsFeed(plugin), "events": _EventsFeed(plugin)}


def _answer(status: int, **content) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(content, ensure_ascii=False).encode() + b"\n"


class _Feed(AsyncResource):
    methods = ("POST",)
    fields: dict[str, bool] = {}

    def __init__(self, plugin):
        super().__init__()
        self.plugin = plugin

    async def respond(self, request):
        if self.plugin.book is None:
            return _answer(503, error="the bot is starting; try again in a moment")
        token = self.plugin.config["token"] or self.plugin.bot.web_token
        if not token:
            return _answer(503, error="the status feed is off: set [plugins.status] token "
                           "(or BOTSCHAFT_PLUGINS_STATUS_TOKEN)", field="token")
        if not bearer_matches(request, token):
            return _answer(401, error="send Authorization: Bearer <token>", field="token")
        try:
            data = parse_json(request.content.read(), self.fields)
            return await self.plugin.bot.run(self.apply, data)
        except (FeedError, StatusError) as error:
            return _answer(ERROR_STATUS.get(type(error), 400), error=str(error),
                           field=error.field)

    def apply(self, data: dict) -> tuple[int, str, bytes]:
        raise NotImplementedError


class _ItemsFeed(_Feed):
    fields = ITEM_FIELDS

    def apply(self, data):
        item = self.plugin.book.create(data["ref"], data["kind"], data.get("code"),
                                       data.get("state"), data.get("note"), source="http")
        return _answer(201, ref=item.ref, kind=item.kind, state=item.state, code=item.code)


class _EventsFeed(_Feed):
    fields = EVENT_FIELDS

    def apply(self, data):
        result = self.plugin.book.set_state(data["ref"], data["state"], data.get("note"),
                                            source="http", event_id=data["event_id"])
        return _answer(200, ref=result.item.ref, state=result.item.state,
                       changed=result.changed, duplicate=result.duplicate_event,
                       told=result.told)

