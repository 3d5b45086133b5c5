"""`botschaft status card`: the job card's QR code is a join link bound to the item, its text
tells customers with and without a Jabber app what to do, and bad input says what is wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from bots.app import schemas
from bots.cli import main
from bots.storage import Storage
from bots.testing import services_over
from plugins.status import Status, card

PUBLIC_URL = "https://chat.example.com"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOTSCHAFT_XMPP_JID", "bot@chat.example.com")
    monkeypatch.setenv("BOTSCHAFT_JOIN_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("BOTSCHAFT_JOIN_COMPANY", "Autohaus Müller")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["status", "create", "4711", "vehicle", "--code", "K7M2QX"])
    return lambda *arguments: runner.invoke(main, ["status", *arguments])


def invitations(tmp_path):
    """The invitations in the CLI's database, as the join page sees them."""
    plugin = Status()
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([plugin]))
    return storage, services_over(storage, [plugin], JOIN_PUBLIC_URL=PUBLIC_URL).invitations


def join_link(output: str) -> str:
    links = re.findall(rf"{re.escape(PUBLIC_URL)}/join/\S+", output)
    assert len(links) == 1, output
    return links[0]


def decoded(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def german_card(join_url: str, ref: str = "4711",
                company: str = "Autohaus Müller") -> card.JobCard:
    return card.JobCard(company, f"Fahrzeug {ref}", ref, "K7M2QX", join_url,
                        datetime(2026, 12, 14, 9), "bot@chat.example.com", "Europe/Berlin")


def test_the_png_card_s_one_qr_code_is_the_join_link_that_claims_the_item(run, tmp_path):
    result = run("card", "4711")
    assert result.exit_code == 0, result.output
    link = join_link(result.output)
    assert f"card: {tmp_path / 'card-4711.png'}" in result.output
    with Image.open(tmp_path / "card-4711.png") as image:
        assert image.size == card.SIZE and image.format == "PNG"
        assert round(image.info["dpi"][0]) == 300
        assert decoded(image) == [link]
    storage, found = invitations(tmp_path)
    try:
        invitation = found.find(link.rsplit("/", 1)[1])
        assert invitation.wanted == {"claim": "4711"} and invitation.state() == "usable"
        assert invitation.created_by.startswith("cli:")
    finally:
        storage.close()


def test_the_pdf_card_is_one_a6_page_valid_as_long_as_asked(run, tmp_path):
    result = run("card", "4711", "--out", "job.PDF", "--expires", "3d", "--language", "en")
    assert result.exit_code == 0, result.output
    document = (tmp_path / "job.PDF").read_bytes()
    assert document.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", document)) == 1
    assert re.search(rb"/MediaBox \[ 0 0 297\.6 419\.52 \]", document)  # 105 x 148 mm
    storage, found = invitations(tmp_path)
    try:
        invitation = found.find(join_link(result.output).rsplit("/", 1)[1])
        left = invitation.expires_at - datetime.now(UTC).replace(tzinfo=None)
        assert timedelta(days=3) - timedelta(minutes=5) < left <= timedelta(days=3)
    finally:
        storage.close()


def test_an_unknown_item_gets_no_card_and_no_invitation(run, tmp_path):
    result = run("card", "99")
    assert result.exit_code == 1 and "no item 99" in result.output
    assert not list(tmp_path.glob("card-*"))
    storage, found = invitations(tmp_path)
    try:
        assert found.listing(everything=True) == []
    finally:
        storage.close()


def test_a_suffix_other_than_png_or_pdf_is_refused_before_anything_is_made(run, tmp_path):
    result = run("card", "4711", "--out", "card.jpg")
    assert result.exit_code == 2
    assert "card.jpg: a card is written as .png or .pdf, not .jpg" in result.output
    assert not (tmp_path / "card.jpg").exists()


def test_a_card_that_cannot_be_written_leaves_no_invitation_behind(run, tmp_path):
    result = run("card", "4711", "--out", "missing/card.png")
    assert result.exit_code == 1
    assert "cannot write there (No such file or directory); no invitation was made" \
        in result.output
    storage, found = invitations(tmp_path)
    try:
        assert found.listing(everything=True) == []
    finally:
        storage.close()


def test_without_a_join_page_the_card_says_what_to_set(run, monkeypatch):
    monkeypatch.delenv("BOTSCHAFT_JOIN_PUBLIC_URL")
    result = run("card", "4711")
    assert result.exit_code == 1
    assert "Invitations need the join page, which is not set up: [join] public_url" \
        in result.output


def test_the_german_card_tells_both_ways_in(tmp_path):
    lines = card.card_lines(german_card(f"{PUBLIC_URL}/join/abc"), "de")
    assert [line.style for line in lines][:4] == ["company", "title", "code", "qr"]
    texts = [line.text for line in lines]
    assert texts[:4] == ["Autohaus Müller", "Fahrzeug 4711", "Code: K7M2QX",
                         f"{PUBLIC_URL}/join/abc"]
    assert ("Scannen Sie den QR-Code mit Ihrem Handy, um mit uns über Fahrzeug 4711 zu "
            "chatten. Dort sagen wir Ihnen Bescheid, sobald sich der Stand ändert.") in texts
    assert "Der QR-Code gilt einmal, bis 14.12.26, 10:00." in texts
    assert "Sie nutzen schon eine Jabber-App? Schreiben Sie an bot@chat.example.com:" in texts
    assert "claim 4711 K7M2QX" in texts
    assert "oder öffnen Sie xmpp:bot@chat.example.com?message;body=claim%204711%20K7M2QX" \
        in texts
    english = [line.text for line in card.card_lines(german_card("x"), "en")]
    assert "Already using a Jabber app? Write to bot@chat.example.com:" in english


def test_the_xmpp_link_encodes_what_a_reference_may_hold():
    assert card.xmpp_link("bot@chat.example.com", "AB/12&3", "K7M2QX") == (
        "xmpp:bot@chat.example.com?message;body=claim%20AB%2F12%263%20K7M2QX")


def test_a_long_reference_makes_the_text_smaller_and_the_code_still_scans():
    link = f"{PUBLIC_URL}/join/AbCdEfGhIjKlMnOpQrStUvWx"
    image = card.draw_card(card.card_lines(german_card(link, ref="WO-" + "X" * 61), "de"))
    assert image.size == card.SIZE and decoded(image) == [link]
    with pytest.raises(card.CardError, match="too long to leave room for its QR code"):
        card.draw_card(card.card_lines(german_card(link, company="Autohaus " * 200), "de"))
