"""The join page's HTML: plain pages with a little CSS, readable on a phone, in German or
English, loading nothing from anywhere else. Every value is escaped here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from urllib.parse import urlparse

import segno

from bots.i18n import Text, render, translator

_ = translator(__name__)

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1d2330;background:#f3f5f8}
main{max-width:34rem;margin:0 auto;padding:1.2rem 1rem 2rem}
h1{font-size:1.45rem;line-height:1.25;margin:.4rem 0 1rem}
h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
.company{font-weight:600;color:#2d5bd7;margin:0}
.card{background:#fff;border-radius:.8rem;padding:1rem 1.1rem;margin:1rem 0;
 box-shadow:0 1px 3px rgba(0,0,0,.12)}
.notice{font-size:.93rem}
.notice li{margin:.25rem 0}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=text]{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #b8c0cc;
 border-radius:.5rem}
.hint{font-size:.88rem;color:#576073;margin:.3rem 0 0}
button,.button{display:block;width:100%;text-align:center;font:inherit;font-weight:600;
 padding:.85rem;margin:1rem 0 0;border:0;border-radius:.6rem;background:#2d5bd7;color:#fff;
 text-decoration:none;cursor:pointer}
.button.second{background:#e6ebf5;color:#1d2330}
.error{background:#fdecea;color:#8a1c12;border-radius:.5rem;padding:.6rem .8rem}
dl.login{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:.5rem 0}
dl.login dt{color:#576073}
dl.login dd{margin:0;font:600 1.05rem ui-monospace,Menlo,Consolas,monospace;
 overflow-wrap:anywhere}
.qr{text-align:center}
.qr svg{width:12rem;height:12rem}
ul.apps{padding-left:1.2rem}
footer{font-size:.8rem;color:#576073;margin-top:2rem}
"""


@dataclass(frozen=True)
class Page:
    status: int
    html: bytes


def page(status: int, language: str, title: Text, body: str, company: str = "",
         head: str = "") -> Page:
    """A whole page: the company's name, a title and `body` (already HTML)."""
    brand = f'<p class="company">{escape(company)}</p>' if company else ""
    html = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{escape(render(title, language))}'
            f'</title><style>{STYLE}</style>{head}</head><body><main>{brand}'
            f'<h1>{escape(render(title, language))}</h1>{body}</main></body></html>')
    return Page(status, html.encode())


def t(text: Text, language: str, **values) -> str:
    """A text in the language, escaped for HTML (values too)."""
    return escape(render(text, language, **values))


INTRO = _("You are invited to chat with {company}: ask about your orders, get news when "
          "something changes. It works in your browser or in a chat app, on your own account "
          "on our server, not on WhatsApp or another platform.")
OUR_COMPANY = _("our company")
WITH_IT = _("With this invitation:")
YOUR_DATA = _("Your data")
NOTICE = (  # its version is join_page.NOTICE_VERSION: a new wording needs a new version
    _("We store your chat address, the messages you exchange with us, and what you link to "
      "your account (for example the order whose status you follow)."),
    _("Messages our bot sends you are deleted from its records after {days} days; the rest "
      "stays until you delete your account."),
    _("Everything stays on {company}'s own server and is passed to nobody."),
    _("To have everything deleted, write to us in the chat or ask us in person: we then "
      "erase your account and all data about you."))
NAME_LABEL = _("Your account name (optional)")
NAME_HINT = _("Leave it empty and we make one up. People you chat with see it.")
ACCEPT = _("Accept and create my account")
AGREED = _("By clicking you agree to the notice above.")
WELCOME = _("Welcome!")
READY_TITLE = _("Welcome aboard")
READY = _("Your account is ready. Write down your address and password now: we show the "
          "password only this once.")
ADDRESS = _("Address")
PASSWORD = _("Password")
IN_BROWSER = _("Chat in the browser")
IN_APP = _("In a chat app")
APP_STEPS = _("Install a chat app, log in with the address and password above, then scan "
              "this code or tap the button to write to us.")
OPEN_APP = _("Open the chat in my app")
IN_BACKGROUND = _("Messages reach your phone while the app is closed in Conversations (Android) "
                  "and Monal (iPhone): the app is woken without the message's text or sender "
                  "passing through anyone else. In other apps you may see them only when you "
                  "open the app.")
# Where ejabberd serves Converse's dist/ folder (ejabberd.yml: /conversejs-dist, beside the
# /conversejs page): the script, its styles, translations and emoji.
CONVERSE_ASSETS = "/conversejs-dist"
APPS = ('<li>Android: <a href="https://f-droid.org/packages/eu.siacs.conversations/">'
        'Conversations</a></li><li>iPhone, iPad, Mac: <a href="https://monal-im.org/">Monal</a>'
        '</li><li>Windows, Linux: <a href="https://gajim.org/">Gajim</a>, '
        '<a href="https://dino.im/">Dino</a></li>')
NO_DOUBLE_CLICK = ("<script nonce=\"{nonce}\">document.querySelector('form').addEventListener("
                   "'submit',e=>{const b=document.getElementById('join');"
                   "if(b.disabled){e.preventDefault();}b.disabled=true;});</script>")


def join_form(language: str, company: str, csrf: str, does: list[str], keep_days: int,
              name: str = "", problem: Text | None = None, status: int = 200) -> Page:
    """The invitation: who, what it does, the privacy notice, a name to choose, one button."""
    who = company or render(OUR_COMPANY, language)
    error = f'<p class="error" role="alert">{t(problem, language)}</p>' if problem else ""
    listed = ""
    if does:
        items = "".join(f"<li>{escape(text)}</li>" for text in does)
        listed = f"<p>{t(WITH_IT, language)}</p><ul>{items}</ul>"
    notice = "".join(f"<li>{t(text, language, days=keep_days, company=who)}</li>"
                     for text in NOTICE)
    body = (f"<p>{t(INTRO, language, company=who)}</p>{listed}"
            f'<section class="card notice"><h2>{t(YOUR_DATA, language)}</h2><ul>{notice}</ul>'
            f'</section><form method="post" class="card">{error}'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="lang" value="{language}">'
            f'<label for="name">{t(NAME_LABEL, language)}</label>'
            f'<input type="text" id="name" name="name" value="{escape(name)}" maxlength="40" '
            'autocomplete="username" autocapitalize="none" spellcheck="false">'
            f'<p class="hint">{t(NAME_HINT, language)}</p>'
            f'<button type="submit" id="join">{t(ACCEPT, language)}</button>'
            f'<p class="hint">{t(AGREED, language)}</p></form>{NO_DOUBLE_CLICK}')
    return page(status, language, WELCOME, body, company)


def welcome(language: str, company: str, jid: str, password: str, bot_jid: str,
            chat_path: str | None) -> Page:
    """After joining: the address and password (this once), the app way and the browser way."""
    chat_uri = f"xmpp:{bot_jid}?message"
    qr = qr_code(chat_uri)
    browser = ""
    if chat_path:
        credentials = json.dumps({"jid": jid, "password": password})
        browser = (f'<a class="button" id="chat" href="{escape(chat_path)}">'
                   f'{t(IN_BROWSER, language)}</a><script nonce="{{nonce}}">'
                   "document.getElementById('chat').addEventListener('click',()=>{"
                   f"sessionStorage.setItem('botschaft.login',{js(credentials)});"
                   "});</script>")
    body = (f'<section class="card"><p>{t(READY, language)}</p><dl class="login">'
            f'<dt>{t(ADDRESS, language)}</dt><dd id="jid">{escape(jid)}</dd>'
            f'<dt>{t(PASSWORD, language)}</dt><dd id="password">{escape(password)}</dd></dl>'
            f'{browser}</section><section class="card"><h2>{t(IN_APP, language)}</h2>'
            f'<p>{t(APP_STEPS, language)}</p><div class="qr">{qr}</div>'
            f'<a class="button second" href="{escape(chat_uri)}">{t(OPEN_APP, language)}</a>'
            f'<ul class="apps">{APPS}</ul><p class="hint">{t(IN_BACKGROUND, language)}</p>'
            '</section>')
    return page(200, language, READY_TITLE, body, company)


@lru_cache(maxsize=16)
def qr_code(text: str) -> str:
    """An inline SVG QR code; the same for everyone who joins (the bot's address), so it is
    made once: it costs a few milliseconds."""
    return segno.make(text, error="m").svg_inline(scale=4, border=2, title=text, omitsize=True)


def js(value) -> str:
    """A value as JavaScript inside <script>: JSON that cannot end the script element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def problem(status: int, language: str, company: str, title: Text, text: Text,
            **values) -> Page:
    return page(status, language, title, f'<p class="card">{t(text, language, **values)}</p>',
                company)


def chat_page(language: str, chat_url: str, websocket_url: str, bot_jid: str) -> Page:
    """Converse.js from ejabberd (mod_conversejs), logged in with what the welcome page left
    in this tab's session storage, showing only the chat with the bot. Without it (a new tab,
    days later): ejabberd's own Converse page, which asks for address and password."""
    assets = origin(chat_url) + CONVERSE_ASSETS
    settings = {"websocket_url": websocket_url, "assets_path": assets + "/",
                "auto_login": True, "singleton": True, "view_mode": "fullscreen",
                "auto_join_private_chats": [bot_jid], "discover_connection_methods": False,
                "allow_registration": False, "i18n": language, "auto_reconnect": True,
                "show_controlbox_by_default": False, "clear_cache_on_logout": True}
    head = (f'<link rel="stylesheet" href="{escape(assets)}/converse.min.css">'
            f'<script src="{escape(assets)}/converse.min.js" charset="utf-8"></script>')
    html = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>Chat</title>{head}</head><body>'
            '<script nonce="{nonce}">(function(){'
            "const login=JSON.parse(sessionStorage.getItem('botschaft.login')||'null');"
            f"if(!login){{location.replace({js(chat_url)});return;}}"
            f"converse.initialize(Object.assign({js(settings)},"
            "{jid:login.jid,password:login.password}));})();</script></body></html>")
    return Page(200, html.encode())


def origin(url: str) -> str:
    """scheme://host:port of a URL ("" for none)."""
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
