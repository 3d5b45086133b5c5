"""`botschaft bridge …`: run the WhatsApp bridge, check its settings and connections, or try it
locally against the fake Cloud API. bots/cli.py imports this only when `bridge` is asked for."""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import signal
import sys
from pathlib import Path

import click

from bots.cli import load_config, reported_errors, state_dir_option
from bots.config import ConfigError
from bots.config import load as load_settings
from bots.devserver import BOT_USER, DevServer
from bots.logs import use as use_log_format
from bots.storage import Storage, StorageError
from bots.web import install_reactor
from server_bridge.whatsapp.bridge import SECTION, Bridge, settings_of
from server_bridge.whatsapp.cloud import Cloud, CloudError
from server_bridge.whatsapp.fake_cloud import FakeCloud
from server_bridge.whatsapp.gateway import Gateway
from server_bridge.whatsapp.media import IMAGE_TYPES


@click.group("bridge")
def bridge() -> None:
    """The opt-in WhatsApp bridge, a process of its own ([bridge.whatsapp] in botschaft.toml)."""


@bridge.command("run")
def run() -> None:
    """Run the bridge until SIGTERM or Ctrl-C."""
    config = load_config()
    use_log_format(config.get("log", "format"))
    with reported_errors():
        settings_of(config)
        asyncio.run(_serve(config))


async def _serve(config) -> None:
    storage = Storage(config.get("database", "url"))
    bridge_ = Bridge(config, storage)
    try:
        await bridge_.start()
        click.echo(f"The WhatsApp bridge runs: webhook on port {bridge_.webhook_port}, "
                   f"component {config.values[SECTION]['jid']}.", err=True)
        stopped = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stopped.set)
        await stopped.wait()
    finally:
        await bridge_.stop()
        storage.close()


@bridge.command("doctor")
def doctor() -> None:
    """Check the settings, the database, ejabberd's component port and the Cloud API (the
    token and the phone number id); exit code 1 when something is wrong."""
    config = load_config()
    try:
        settings = settings_of(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    problems = asyncio.run(_check(config, settings))
    if problems:
        raise SystemExit(1)


async def _check(config, settings: dict) -> int:
    install_reactor()
    problems = 0

    def report(ok: bool, what: str) -> None:
        nonlocal problems
        problems += not ok
        click.echo(f"{'ok' if ok else 'PROBLEM'}: {what}")

    storage = Storage(config.get("database", "url"))
    try:
        await storage.run(storage.check)
        report(True, "the database can be opened")
    except StorageError as exc:
        report(False, str(exc))
    finally:
        storage.close()
    gateway = Gateway(settings["jid"], settings["component_secret"], settings["host"],
                      settings["port"], _ignore)
    try:
        await gateway.start(settings["host"], settings["port"], timeout=10)
        report(True, f"ejabberd takes the component {settings['jid']}")
        await gateway.stop(wait=1)
    except (ConnectionError, TimeoutError) as exc:
        report(False, f"ejabberd's component port {settings['host']}:{settings['port']}: {exc}")
    cloud = Cloud(settings["api_url"], settings["api_version"], settings["phone_number_id"],
                  settings["access_token"], timeout=15)
    try:
        number = await cloud.check()
        report(True, f"the Cloud API knows the phone number (+{number}) and takes the token")
    except CloudError as exc:
        report(False, f"the Cloud API at {settings['api_url']}: {exc} (check api_url, "
                      "phone_number_id and access_token)")
    finally:
        await cloud.close()
    return problems


def _ignore(_message) -> None:
    """The doctor's gateway relays nothing."""


@bridge.command("demo")
@state_dir_option
@click.option("--number", default="4915550123456", show_default=True,
              help="The WhatsApp number you play (digits, with the country code).")
def demo(state_dir: Path, number: str) -> None:
    """Play a WhatsApp user: a fake Cloud API and the bridge, against the server and bot that
    `./dev.sh run` started. Each line you type is a message from that user; what the business
    answers is printed. Ctrl-D ends."""
    server = DevServer(state_dir)
    instance = server.load_instance()
    if instance is None or server.pid() is None:
        raise click.ClickException("the development server is not running: start it with "
                                   "`./dev.sh run` in another terminal first")
    if not number.isdigit():
        raise click.ClickException(f"--number {number}: digits only, with the country code, "
                                   "e.g. 4915550123456")
    # Through `./dev.sh botschaft`: the development bot's settings, so the bridge keeps what it
    # keeps in the bot's database, as in production (the bot's `datenschutz` then shows it)
    config = load_config()
    database = (config.get("database", "url") if config.source != "environment"
                else f"sqlite:///{state_dir / 'whatsapp-demo.db'}")
    with reported_errors():
        asyncio.run(_demo(instance, database, number,
                          config.get("bridge.whatsapp", "number_key")))


async def _demo(instance, database: str, number: str, number_key: str) -> None:
    install_reactor()
    cloud = FakeCloud(secrets.token_urlsafe(16), secrets.token_urlsafe(16))
    url = cloud.start()
    environ = cloud.bridge_environ(url, instance, f"{BOT_USER}@{instance.domain}", number_key)
    config = load_settings(None, environ={**environ, "BOTSCHAFT_BRIDGE_WHATSAPP_PER_RECIPIENT":
                                          "0", "BOTSCHAFT_BOT_LANGUAGE": "de"})
    storage = Storage(database)
    bridge_ = Bridge(config, storage)
    await bridge_.start()
    cloud.webhook_url = f"http://127.0.0.1:{bridge_.webhook_port}/webhook"
    click.echo(f"You are the WhatsApp user +{number}; the bot is {BOT_USER}@{instance.domain}.\n"
               "Write anything: you get the privacy notice first; answer JA (German) or YES "
               "(English) to go on, STOPP to end. Try \"help\" or \"status\" once you agreed; "
               "/file PATH sends a file, /react 👍 reacts to the last answer. Ctrl-D ends the "
               "demo.\n")
    printer = asyncio.ensure_future(_print_answers(cloud, number))
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, _space, argument = line.strip().partition(" ")
            if command == "/file":
                await _send_file(cloud, number, argument.strip().strip("'\""))
            elif command == "/react":
                await _react(cloud, number, argument.strip())
            elif line.strip():
                await cloud.user_says(number, line.strip())
    finally:
        printer.cancel()
        await bridge_.stop()
        await cloud.stop()
        storage.close()


async def _send_file(cloud: FakeCloud, number: str, name: str) -> None:
    """The demo's user sends a file: a picture as a picture, anything else as a document."""
    if not name:
        click.echo("  (usage: /file PATH, e.g. /file ~/Bilder/kratzer.jpg)")
        return
    path = Path(name).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        click.echo(f"  (not sent: {path}: {exc.strerror})")
        return
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kind = "image" if mime_type in IMAGE_TYPES else "document"
    await cloud.user_sends_file(number, kind, data, mime_type,
                                filename=path.name if kind == "document" else None)
    click.echo(f"  (sent as {'a picture' if kind == 'image' else 'a document'}, {mime_type}, "
               f"{len(data):,} bytes)")


async def _react(cloud: FakeCloud, number: str, emoji: str) -> None:
    """The demo's user reacts to the business's last message (no emoji: takes it back)."""
    if not cloud.wamids_to(number):
        click.echo("  (nothing to react to yet)")
        return
    await cloud.user_reacts(number, cloud.wamids_to(number)[-1], emoji or None)
    click.echo(f"  (reacted {emoji} to the last message)" if emoji else "  (reaction taken back)")


async def _print_answers(cloud: FakeCloud, number: str) -> None:
    shown = 0
    while True:
        await cloud.arrived.wait()
        cloud.arrived.clear()
        for text in cloud.texts_to(number)[shown:]:
            click.echo("\n".join(f"  WhatsApp ← {line}" for line in text.splitlines()) + "\n")
        shown = len(cloud.texts_to(number))
