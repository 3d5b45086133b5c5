"""Accounts on the company's server, made for people who join through an invitation.

Names follow XMPP's rules (nodeprep, RFC 6122), or are generated; passwords are generated,
easy to type on a phone. The account is made through ejabberd's admin API and gets what every
person's account needs: the privacy list that keeps customers apart and the bot in its
contacts. Blocking (HTTP to the API): run it on a worker thread.
"""

from __future__ import annotations

import secrets

from slixmpp.jid import JID, InvalidJID

from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError
from bots.i18n import Text, translator

_ = translator(__name__)

MAX_NAME_LENGTH = 40
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed on a phone


class NameProblem(ValueError):
    """A name the person chose cannot be an account name; `text` says why, for them."""

    def __init__(self, text: Text):
        super().__init__(str(text))
        self.text = text


def chosen_name(wanted: str, domain: str) -> str:
    """The account name for what the person typed (XMPP lower-cases it), or NameProblem."""
    wanted = wanted.strip()
    if len(wanted) > MAX_NAME_LENGTH:
        raise NameProblem(_("That name is too long: at most 40 characters, please."))
    try:
        jid = JID(f"{wanted}@{domain}")
    except InvalidJID:
        jid = None
    if jid is None or not jid.user or jid.resource or jid.domain != domain:
        raise NameProblem(_("A name cannot contain spaces or any of these: @ / : < > & ' \" "
                            "Please choose another, or leave the field empty for one we make "
                            "up."))
    return jid.user


def generated_name(prefix: str) -> str:
    return f"{prefix}-{_random_text(6)}"


def generated_password() -> str:
    """About 79 bits, in four groups of four."""
    return "-".join(_random_text(4) for _group in range(4))


def _random_text(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _letter in range(length))


def create_account(api: EjabberdAPI, user: str, domain: str, password: str,
                   bot_jid: str, other_bots: list[str], bot_name: str) -> None:
    """Register `user`, keep it apart from the other customers and put the bot in its contacts
    as `bot_name`. Only on the customer's side: a bot with every customer in its own contact
    list would slow every further one down and send its presence to all of them; the privacy
    list lets the two talk anyway. Raises AccountExists when the name is taken; on any other
    failure the half-made account is removed again, and EjabberdAPIError says why."""
    api.register(user, domain, password)
    try:
        api.keep_apart(user, domain, [bot_jid, *other_bots])
        api.add_contact(user, domain, bot_jid, bot_name)
    except EjabberdAPIError:
        api.call("unregister", user=user, host=domain)
        raise


def account_domain(bot_jid: str, mode: str) -> str:
    """The domain people's accounts are on: the bot account's, or (a component such as
    bot.chat.example.com) its parent's."""
    domain = bot_jid.rpartition("@")[2]
    return domain.partition(".")[2] if mode == "component" else domain
