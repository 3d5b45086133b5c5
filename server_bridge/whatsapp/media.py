"""Files from WhatsApp to XMPP. Meta keeps a file a user sent under a media id; the bridge asks
where it is (`GET /{media-id}`: an address valid for 5 minutes), gets a slot on the XMPP
server's HTTP upload (XEP-0363) first, so a file too large for it is never downloaded, then
downloads it with the bearer token, checks its SHA-256, and puts it into the slot (over TLS
verified against the XMPP server's certificate). The link goes to the bot; the file itself
stays on the company's own server."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bots.i18n import Text
from server_bridge.whatsapp import texts
from server_bridge.whatsapp.cloud import Cloud, CloudError
from server_bridge.whatsapp.gateway import Gateway, UploadRefused
from server_bridge.whatsapp.http import FAILURES, Http
from server_bridge.whatsapp.relay import ToDeliver

MEDIA_NOT_FOUND = 100  # Meta's "invalid parameter": no such media id (any more)
UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")
# what WhatsApp shows as a picture, a voice message or a video; any other file is a document
# (Meta's supported media types; webp would be a sticker)
IMAGE_TYPES = {"image/jpeg", "image/png"}
AUDIO_TYPES = {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}
VIDEO_TYPES = {"video/mp4", "video/3gpp"}


class NotPassedOn(Exception):
    """A file did not reach the XMPP server. With `text`, it never will (its sender is told
    that text); without, it is tried again later."""

    def __init__(self, reason: str, text: Text | None = None, **values):
        super().__init__(reason)
        self.text = text
        self.values = values


class Courier:
    """Carries files from Meta to the XMPP server of `domain`; `ca_file`: the certificate to
    trust for its uploads instead of the system's CAs (a self-signed one)."""

    def __init__(self, cloud: Cloud, gateway: Gateway, domain: str, ca_file: str | None):
        self.cloud = cloud
        self.gateway = gateway
        self.domain = domain
        self.uploads = Http(timeout=120.0, connections=4, ca_file=ca_file)

    async def carry(self, item: ToDeliver) -> str:
        """The file's link on the XMPP server; NotPassedOn says why not."""
        try:
            info = await self.cloud.media_info(item.media_id)
        except CloudError as exc:
            if exc.http_status == 404 or exc.code == MEDIA_NOT_FOUND:
                raise NotPassedOn(f"Cloud API, media: {exc}", texts.FILE_GONE) from None
            raise NotPassedOn(f"Cloud API, media: {exc}") from None  # a token, Meta's hiccup
        mime_type = info.mime_type or item.mime_type or "application/octet-stream"
        try:
            slot = await self.gateway.upload_slot(self.domain, filename_of(item, mime_type),
                                                  info.file_size, mime_type)
        except UploadRefused as exc:
            if exc.too_large:
                raise NotPassedOn(f"upload: {exc}", texts.FILE_TOO_LARGE,
                                  mb=self.gateway.upload_limit_mb()) from None
            raise NotPassedOn(f"upload: {exc} (ejabberd.yml, mod_http_upload: its access "
                              "rule must allow the bridge's domain)") from None
        try:
            data = await self.cloud.download(info.url)
        except CloudError as exc:
            raise NotPassedOn(f"Cloud API, download: {exc}") from None
        if hashlib.sha256(data).hexdigest() != info.sha256.lower() or \
                len(data) != info.file_size:
            raise NotPassedOn("Cloud API, download: the file is not the one announced")
        try:
            answer = await self.uploads.request("PUT", slot.put_url, {
                **slot.headers, "Content-Type": mime_type}, data)
        except FAILURES as exc:
            raise NotPassedOn(f"upload: {type(exc).__name__}") from None
        if answer.status not in (200, 201):
            raise NotPassedOn(f"upload: HTTP {answer.status}")
        return slot.get_url


def filename_of(item: ToDeliver, mime_type: str) -> str:
    """A document keeps its name (made safe for a URL path); other files get one from the
    kind of file, e.g. whatsapp-12.jpg."""
    name = UNSAFE.sub("_", PurePosixPath(item.filename or "").name).strip(" .")[-120:]
    if name:
        return name
    extension = mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin"
    return f"whatsapp-{item.id}{extension}"


def outgoing(link: str) -> dict:
    """The Cloud API message object for a file shared on XMPP (its link, XEP-0066): WhatsApp
    fetches it from there (the upload address must be reachable from the internet, as it is
    for people's phones)."""
    path = urlsplit(link).path
    mime_type = mimetypes.guess_type(path)[0] or ""
    for kind, types in (("image", IMAGE_TYPES), ("audio", AUDIO_TYPES), ("video", VIDEO_TYPES)):
        if mime_type in types:
            return {"type": kind, kind: {"link": link}}
    return {"type": "document", "document": {
        "link": link, "filename": unquote(PurePosixPath(path).name) or "file"}}
