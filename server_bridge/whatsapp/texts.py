"""What people read from the bridge. WhatsApp users get German and English in one message
(the bridge knows no language of theirs before they agreed); XMPP senders get the bot's
language. The notice's wording has a version: consent records which one a person agreed to."""

from __future__ import annotations

from bots.i18n import Text, translator

_ = translator(__name__)

PURPOSE = "whatsapp.relay"  # the consent (bots/consent.py)
NOTICE_VERSION = "whatsapp-notice-2026-12"  # files kept 30 days
YES_WORDS = {"JA": "de", "J": "de", "YES": "en", "Y": "en"}  # and the language they chose
STOP_WORDS = {"STOP", "STOPP"}

NOTICE = _("Hello! Before we chat on WhatsApp: your messages reach our service through Meta "
           "(WhatsApp). We keep them only until they are delivered, files you send for 30 "
           "days, and your number as long as you take part. Reply YES to continue; STOP ends "
           "it at any time and erases your number and messages here.")
WELCOME = _("Thank you, we are connected. Write your question. STOP ends it at any time.")
STOPPED = _("Stopped: you get no more messages from us on WhatsApp, and your number and "
            "messages are erased here. Write again if you want to start over.")
UNSUPPORTED = _("Sorry, stickers, locations and contacts cannot be passed on here; text, "
                "pictures, documents, voice messages and videos can.")
FILE_TOO_LARGE = _("Sorry, your file is too large to pass on here (at most {mb} MB). Could "
                   "you send a smaller one, or describe it in words?")
FILE_FAILED = _("Sorry, your file could not be passed on just now. Please send it again later, "
                "or describe it in words.")
FILE_GONE = _("Sorry, your file could not be passed on: WhatsApp no longer has it. Please "
              "send it again.")
WINDOW_CLOSED = _("Not delivered yet: WhatsApp allows messages only within 24 hours of the "
                  "person's last message. It is kept and goes out as soon as they write again.")
UNDELIVERABLE = _("Not delivered on WhatsApp (error {code}); it will not be sent again.")
NOT_AGREED = _("This person has not agreed to messages on WhatsApp, or has stopped them: "
               "nothing was sent.")
NOT_STORED = _("Not passed on to WhatsApp: the bridge could not store the message. Please "
               "send it again later.")
REACTION_UNKNOWN = _("The reaction was not passed on: the message it is about is no longer "
                     "known here (messages are kept for a week).")
NOT_ALLOWED = _("Only the bot and the staff named in the bridge's settings may write to "
                "WhatsApp users.")
BAD_NUMBER = _("That is no WhatsApp number: write it with the country code, e.g. "
               "+4917612345678@{domain}.")


def both(text: Text, **values) -> str:
    """German, then English: for WhatsApp users."""
    return f"{text.render('de', **values)}\n\n{text.render('en', **values)}"
