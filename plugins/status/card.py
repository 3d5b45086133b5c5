"""The job card: a printed A6 card for one item, with one QR code that leads to an invitation
bound to it. Whoever scans it gets an account with the item already claimed; people who have a
Jabber app already write the claim line shown beneath.

`card_lines` decides what the card says (and is what tests read); `draw_card` lays the lines
out in DejaVu Sans as matplotlib (a dependency already) ships it: Pillow's built-in font has no
umlauts, and the system's fonts differ from machine to machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import matplotlib
import segno
from PIL import Image, ImageDraw, ImageFont

from bots.i18n import format_moment, render, translator

_ = translator(__name__)

CODE = _("Code: {code}")
SCAN = _("Scan the QR code with your phone to chat with us about {item}. We will tell you "
         "there as soon as its status changes.")
VALID = _("The QR code works once, until {until}.")
HAVE_APP = _("Already using a Jabber app? Write to {bot}:")
OPEN_LINK = _("or open {link}")

FORMATS = {".png": "PNG", ".pdf": "PDF"}
DPI = 300
SIZE = (1240, 1748)  # A6 portrait at 300 dpi (105 x 148 mm)
MARGIN = 100
TEXT_WIDTH = SIZE[0] - 2 * MARGIN
TEXT_SCALES = (1.0, 0.85, 0.7, 0.6)  # a long reference makes the text smaller, to this at most
QR_MOST = 640  # pixels: about 54 mm, easy to scan from a counter
QR_LEAST = 360  # about 30 mm: smaller, old phones struggle
QR_BORDER = 4  # modules of quiet zone, as the QR standard asks
GAP = 28  # pixels between two lines of different styles


class Style(NamedTuple):
    size: int  # font size in pixels
    colour: str
    face: str  # a font file of matplotlib's


STYLES = {"company": Style(50, "#444444", "DejaVuSans-Bold.ttf"),
          "title": Style(96, "#000000", "DejaVuSans-Bold.ttf"),
          "code": Style(60, "#000000", "DejaVuSansMono-Bold.ttf"),
          "body": Style(36, "#222222", "DejaVuSans.ttf"),
          "note": Style(28, "#555555", "DejaVuSans.ttf"),
          "link": Style(28, "#555555", "DejaVuSansMono.ttf")}
RULE = "#bbbbbb"
BREAKS_AFTER = "?;&=/"  # where a link too long for a row is best broken


class Line(NamedTuple):
    """One block of the card: its style (a key of STYLES; "qr", whose text is what the code
    encodes; or "rule", a line across) and its text."""

    style: str
    text: str


@dataclass(frozen=True)
class JobCard:
    """What a card shows about an item and the invitation made for it."""

    company: str  # [join] company; may be empty
    item: str  # the kind's label and the reference, e.g. "Fahrzeug 4711"
    ref: str
    code: str  # the claim code
    join_url: str  # the invitation's link: what the QR code encodes
    expires_at: datetime  # naive UTC, as invitations store it
    bot_jid: str
    timezone: str


class CardError(ValueError):
    """A card cannot be written as asked; the message says why and what to do."""


def xmpp_link(bot_jid: str, ref: str, code: str) -> str:
    """The link that opens a chat with the bot with the claim already typed (RFC 5122)."""
    return f"xmpp:{quote(bot_jid, safe='@')}?message;body={quote(f'claim {ref} {code}', safe='')}"


def card_lines(card: JobCard, language: str) -> list[Line]:
    """What the card says, top to bottom, in `language`."""
    until = format_moment(card.expires_at, language, card.timezone)
    lines = [Line("company", card.company)] if card.company else []
    return lines + [
        Line("title", card.item),
        Line("code", render(CODE, language, code=card.code)),
        Line("qr", card.join_url),
        Line("body", render(SCAN, language, item=card.item)),
        Line("note", render(VALID, language, until=until)),
        Line("rule", ""),
        Line("body", render(HAVE_APP, language, bot=card.bot_jid)),
        Line("code", f"claim {card.ref} {card.code}"),
        Line("link", render(OPEN_LINK, language, link=xmpp_link(card.bot_jid, card.ref,
                                                                   card.code))),
    ]


def draw_card(lines: list[Line]) -> Image.Image:
    """The card as an RGB image of SIZE: text wrapped to the width (smaller for long
    references, down to the last of TEXT_SCALES), the QR code centred and as large as the space
    the text leaves, at most QR_MOST; CardError if even the smallest text leaves too little."""
    for scale in TEXT_SCALES:
        rows = [_wrap(line.text, _font(line.style, scale), TEXT_WIDTH)
                if line.style in STYLES else [] for line in lines]
        text_height = sum(_row_height(line.style, scale) * len(each)
                          for line, each in zip(lines, rows) if each)
        qr_room = SIZE[1] - 2 * MARGIN - text_height - GAP * (len(lines) - 1)
        if qr_room >= QR_LEAST:
            break
    else:
        raise CardError("the card's texts are too long to leave room for its QR code; "
                        "shorten [join] company or the reference")
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line, each in zip(lines, rows):
        if line.style == "qr":
            code = _qr_image(line.text, min(QR_MOST, qr_room))
            image.paste(code, ((SIZE[0] - code.width) // 2, y))
            y += code.height
        elif line.style == "rule":
            draw.line([(MARGIN, y), (SIZE[0] - MARGIN, y)], fill=RULE, width=3)
        for row in each:
            draw.text((MARGIN, y), row, font=_font(line.style, scale),
                      fill=STYLES[line.style].colour)
            y += _row_height(line.style, scale)
        y += GAP
    return image


def write_card(card: JobCard, language: str, path: Path) -> None:
    """The card in `language` as PNG or PDF by the file's suffix, at 300 dpi (printed, it is
    A6); CardError for another suffix, OSError if it cannot be written."""
    kind = card_format(path)
    image = draw_card(card_lines(card, language))
    if kind == "PDF":  # Pillow writes it as JPEG: grey (the card has no colour), and fine
        image.convert("L").save(path, "PDF", resolution=DPI, quality=95)
    else:
        image.save(path, "PNG", dpi=(DPI, DPI))


def card_format(path: Path) -> str:
    """PNG or PDF, from the suffix; CardError for any other."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise CardError(f"{path}: a card is written as .png or .pdf, not "
                        f"{path.suffix or 'a file without suffix'}; e.g. --out card.pdf"
                        ) from None


@cache
def _font(style: str, scale: float) -> ImageFont.FreeTypeFont:
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / STYLES[style].face
    return ImageFont.truetype(str(path), round(STYLES[style].size * scale))


def _row_height(style: str, scale: float) -> int:
    return round(STYLES[style].size * scale * 1.3)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Rows that fit `width`, broken between words; a word wider than a row (a link) is broken
    inside (see _cut)."""
    rows: list[str] = []
    for word in text.split():
        candidate = f"{rows[-1]} {word}" if rows else word
        if rows and font.getlength(candidate) <= width:
            rows[-1] = candidate
            continue
        while font.getlength(word) > width:
            cut = _cut(word, font, width)
            rows.append(word[:cut])
            word = word[cut:]
        rows.append(word)
    return rows


def _cut(word: str, font: ImageFont.FreeTypeFont, width: int) -> int:
    """Where a word wider than a row breaks: after the last of BREAKS_AFTER that fits (a link
    stays legible), else as far as fits."""
    fitting = [i for i in range(2, len(word)) if font.getlength(word[:i]) <= width] or [1]
    return ([i for i in fitting if word[i - 1] in BREAKS_AFTER] or fitting)[-1]


def _qr_image(data: str, most: int) -> Image.Image:
    """The QR code of `data` (error correction M: a smudged card still scans), with its quiet
    zone, in whole pixels per module and no wider than `most`."""
    code = segno.make(data, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=QR_BORDER)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, most // modules), border=QR_BORDER)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
