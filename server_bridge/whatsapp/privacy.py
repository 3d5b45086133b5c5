"""The bridge's part of `botschaft privacy`: a plugin with no commands that knows the bridge's
tables, so that export, erase and the inventory cover a WhatsApp user like everyone else.

A WhatsApp user's address is +<number>@whatsapp.<domain> (server_bridge/whatsapp/gateway.py);
the bridge keys its rows by the number (digits) and its consent records by the number's hash
made with [bridge.whatsapp] number_key (relay.consent_subject), which the plugin reads too.
The bot and `botschaft privacy` share the bridge's database (the same [database] url), so the
plugin migrates the bridge's tables as the bridge does, owner and all; a company without
WhatsApp disables it: [plugins] disabled = ["whatsapp"].
"""

from __future__ import annotations

from datetime import datetime

from bots.config import ConfigError
from bots.consent import Consent
from bots.i18n import format_moment, plural_translator, render, translator
from bots.personal_data import PersonalData
from bots.plugin import Plugin
from bots.storage import Schema
from server_bridge.whatsapp import relay
from server_bridge.whatsapp.gateway import NUMBER
from server_bridge.whatsapp.models import SCHEMA, Contact, ToWhatsApp, ToXmpp

_ = translator(__name__)
_n = plural_translator(__name__)
AGREED_ON = _("Your WhatsApp number +{number}: you agreed on {moment} that we write there")
ASKED = _("Your WhatsApp number +{number}: we asked whether you want to continue on WhatsApp")
MESSAGES = _n("{count} message between you and us on WhatsApp: its state, and its text until it "
              "is delivered", "{count} messages between you and us on WhatsApp: their states, "
              "and their texts until they are delivered")
GONE = "Deleted with the number at STOP or `botschaft privacy erase`"
PERSONAL_DATA = [
    PersonalData("whatsapp.contacts", Contact, Contact.number,
                 "The phone number of each WhatsApp user the bridge talks to, whether they "
                 "agreed to the bridge, and when they last wrote (the 24-hour window). "
                 f"{GONE}; a number that never agreed after {relay.UNANSWERED_DAYS} days.",
                 columns=("number", "state", "asked_at", "agreed_at", "last_message_at")),
    PersonalData("whatsapp.from_whatsapp", ToXmpp, ToXmpp.number,
                 "Messages from WhatsApp users on their way to the bot. The text goes once it "
                 f"is delivered, the row (ids, state) after {relay.FINISHED_DAYS} days; {GONE}.",
                 columns=("number", "body", "received_at")),
    PersonalData("whatsapp.to_whatsapp", ToWhatsApp, ToWhatsApp.number,
                 "Messages on their way to WhatsApp users, and who sent them (to tell them of a "
                 "failure). The text goes once it is delivered, the row (ids, state) after "
                 f"{relay.FINISHED_DAYS} days; {GONE}.",
                 columns=("number", "sender", "body", "created_at")),
]


def number_of(jid: str) -> str | None:
    """The number a bridge address stands for (digits), or None for anyone else."""
    user = jid.split("@", 1)[0] if "@" in jid else ""
    found = NUMBER.fullmatch(user)
    return found.group(1) if found else None


class WhatsAppData(Plugin):
    name = "whatsapp"
    description = "The WhatsApp bridge's data about a person, for export and erasure."
    models = list(SCHEMA.models)
    personal_data_kinds = PERSONAL_DATA

    def schema(self) -> Schema:
        return SCHEMA

    def personal_data(self, jid: str) -> dict:
        number = number_of(jid)
        return relay.data_of(number, self._number_key()) if number else {}

    def describe_personal_data(self, data: dict, language: str) -> list[str]:
        agreed = data["agreed_at"]
        lines = [render(AGREED_ON, language, number=data["number"], moment=format_moment(
            datetime.fromisoformat(agreed), language, self.bot.timezone)) if agreed
                 else render(ASKED, language, number=data["number"])]
        count = len(data["from_whatsapp"]) + len(data["to_whatsapp"])
        if count:
            lines.append(render(MESSAGES, language, count=count))
        return lines

    def erase_person(self, jid: str) -> int:
        """The number's messages and mapping (as STOP does), and its consent records, which
        are kept by the number's hash; then the bridge tells them so on WhatsApp."""
        number = number_of(jid)
        if number is None:
            return 0
        subject = relay.consent_subject(number, self._number_key())  # before anything goes
        erased = relay.erase_number(number) + Consent.delete().where(
            Consent.jid == subject).execute()
        if erased:
            relay.confirm_erased(number)
        return erased

    def _number_key(self) -> str:
        """The bridge's key, without which its consent records cannot be found."""
        key = self.bot.setting("bridge.whatsapp", "number_key")
        if not key:
            raise ConfigError("[bridge.whatsapp] number_key is not set in this configuration: "
                              "the WhatsApp bridge's consent records are found by it. Set it "
                              "as for the bridge (or BOTSCHAFT_BRIDGE_WHATSAPP_NUMBER_KEY), "
                              "then try again.")
        return key
