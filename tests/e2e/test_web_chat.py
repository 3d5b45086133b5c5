"""A customer's first minute in a real browser: headless Chromium at a phone's width opens a
job card's join link, makes the account, chats with the bot in Converse.js, sees item 4711's
status and asks `status`, in German and in English.

Screenshots of every step are saved for people to look at: in BOTSCHAFT_SCREENSHOTS if set,
else in `screenshots/` of pytest's base temp dir (/tmp/pytest-of-USER/pytest-N/screenshots)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyasn1.codec.der import decoder, encoder
from pyasn1_modules import rfc5280
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from bots.testing import join_settings
from plugins.lessons import Lessons
from plugins.status import Status

# Debian's packages (chromium, chromium-driver), found on the PATH and handed to Selenium, so
# that it never goes looking for (and downloading) a browser of its own.
BROWSER_PROGRAMS = ("chromium", "chromedriver")
PHONE = {"width": 390, "height": 844, "pixelRatio": 2, "mobile": True, "touch": True}
PATIENCE = 30  # seconds for anything the page does: a loaded machine is slow, not broken
BOT = "bot@localhost"
# Converse 10's markup: the chat with the bot, what the bot said in it, and the message box.
FROM_THE_BOT = (f'converse-chat[jid="{BOT}"] .chat-msg[data-from^="{BOT}"] '
                ".chat-msg__text")
MESSAGE_BOX = f'converse-chat[jid="{BOT}"] textarea.chat-textarea'


@dataclass(frozen=True)
class Speaker:
    """A customer whose browser prefers one language, and what the pages tell them."""

    language: str
    accept_language: str
    note: str  # staff's note on item 4711
    linking: str
    first_status: str
    items: str


GERMAN = Speaker("de", "de-DE,de;q=0.9,en;q=0.5", "Noch 20 Minuten.",
                 "Vorgang 4711 wird mit dem neuen Konto verknüpft",
                 "Fahrzeug 4711: Ihr Fahrzeug befindet sich in der Reinigung und ist in Kürze "
                 "abholbereit.\nNoch 20 Minuten.", "Ihre Vorgänge:")
ENGLISH = Speaker("en", "en-GB,en;q=0.9", "20 more minutes.",
                  "Item 4711 is linked to the new account",
                  "Vehicle 4711: Your vehicle is being cleaned and will be ready for pick-up "
                  "shortly.\n20 more minutes.", "Your items:")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("BOTSCHAFT_SCREENSHOTS")
                  or tmp_path_factory.getbasetemp() / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(xmpp_server):
    """One headless Chromium for the module: a German phone that trusts the test server's
    certificate (its key, pinned) and nothing else that is self-signed."""
    chromium, chromedriver = (shutil.which(name) for name in BROWSER_PROGRAMS)
    if not (chromium and chromedriver):
        pytest.fail("chromium or chromedriver is not on the PATH: `./dev.sh test` installs "
                    "Debian's chromium and chromium-driver", pytrace=False)
    options = Options()
    options.binary_location = chromium
    options.add_argument("--headless=new")
    options.add_argument("--lang=de-DE")
    options.add_argument("--ignore-certificate-errors-spki-list="
                         + spki_pin(xmpp_server.instance.ca_file))
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    options.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de"})
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver),
                              options=options)
    yield driver
    driver.quit()


def spki_pin(certificate: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: how Chromium is told to
    trust exactly one key."""
    der = ssl.PEM_cert_to_DER_cert(certificate.read_text())
    parsed, _rest = decoder.decode(der, asn1Spec=rfc5280.Certificate())
    key = encoder.encode(parsed["tbsCertificate"]["subjectPublicKeyInfo"])
    return base64.b64encode(hashlib.sha256(key).digest()).decode()


@pytest.mark.parametrize("speaker", [GERMAN, ENGLISH], ids=lambda speaker: speaker.language)
async def test_a_job_card_link_leads_to_the_web_chat_with_the_status_and_answers(
        make_bot, xmpp_server, browser, screenshots, speaker):
    workshop = await make_bot(plugins=[Status(), Lessons()], **join_settings(xmpp_server))
    book = workshop.services.plugin("status").book
    await workshop.storage.run(book.create, "4711", "vehicle")
    await workshop.storage.run(book.set_state, "4711", "cleaning", speaker.note)
    made = await workshop.storage.run(workshop.services.invite, "staff@localhost",
                                      {"claim": "4711"})
    link = f"http://127.0.0.1:{workshop.join_site.port}/join/{made.token}"
    # Selenium blocks: in a thread, so that the bot and its join page answer meanwhile.
    await asyncio.to_thread(Journey(browser, speaker, screenshots).walk, link)


class Journey:
    """What the customer does and sees, all in the page."""

    def __init__(self, driver, speaker: Speaker, screenshots: Path):
        self.driver = driver
        self.speaker = speaker
        self.screenshots = screenshots
        self.wait = WebDriverWait(driver, PATIENCE)
        self.step = "start"

    def walk(self, link: str) -> None:
        driver = self.driver
        driver.get_log("browser")  # what an earlier test left there
        driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {
            "userAgent": driver.execute_script("return navigator.userAgent"),
            "acceptLanguage": self.speaker.accept_language})
        # The bot's time zone (its default), so that Converse's times match the bot's.
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Berlin"})
        try:
            self.join(link)
            self.chat()
        except TimeoutException:
            self.shoot("failed")
            (self.screenshots / f"failed-{self.speaker.language}.html").write_text(
                driver.page_source)
            raise AssertionError(f"nothing came in {PATIENCE} s at: {self.step}; "
                                 f"the browser's log:\n{self.log()}") from None
        problems = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not problems, problems

    def join(self, link: str) -> None:
        self.step = "the join page"
        self.driver.get(link)
        button = self.wait.until(seen.element_to_be_clickable((By.ID, "join")))
        page = self.driver.find_element(By.TAG_NAME, "body").text
        assert "Autohaus Beispiel" in page and self.speaker.linking in page, page
        self.shoot("join", whole_page=True)
        self.step = "the welcome page"
        button.click()
        jid = self.wait.until(seen.visibility_of_element_located((By.ID, "jid"))).text
        assert jid.endswith("@localhost"), jid
        assert self.driver.find_element(By.ID, "password").text
        self.shoot("welcome", whole_page=True)
        self.driver.find_element(By.ID, "chat").click()

    def chat(self) -> None:
        self.step = "the chat with the first status of item 4711"
        first = self.wait.until(self.bot_said(self.speaker.first_status))
        assert first.text == self.speaker.first_status
        self.shoot("chat")
        self.step = "Converse's message box"
        box = self.wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, MESSAGE_BOX)))
        box.send_keys("status", Keys.ENTER)
        self.step = "the answer to `status`"
        answer = self.wait.until(self.bot_said(self.speaker.items))
        assert "4711" in answer.text, answer.text
        self.shoot("chat-answer")

    @staticmethod
    def bot_said(start: str):
        """A wait condition: the bot's message in its chat that starts with `start`."""
        def said(driver):
            return next((element
                         for element in driver.find_elements(By.CSS_SELECTOR, FROM_THE_BOT)
                         if element.text.startswith(start)), False)
        return said

    def shoot(self, name: str, whole_page: bool = False) -> None:
        """`name`-LANGUAGE.png: the phone's screen, or the whole page as it scrolls."""
        path = self.screenshots / f"{name}-{self.speaker.language}.png"
        if not whole_page:
            self.driver.save_screenshot(str(path))
            return
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))

    def log(self) -> str:
        return "\n".join(f"{entry['level']} {entry['message']}"
                         for entry in self.driver.get_log("browser")) or "(empty)"
