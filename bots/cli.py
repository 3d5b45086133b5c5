"""The `botschaft` command line; plugins add their own subcommands."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from slixmpp.jid import JID, InvalidJID

from bots import audit
from bots import config as configuration
from bots import logs, outbox, privacy, retention
from bots.app import run_until_signal, schemas, send_once
from bots.config import ConfigError
from bots.connection import LoginFailed
from bots.devserver import (BOT_USER, DEFAULT_STATE_DIR, PORT_NAMES, DevCluster, DevServer,
                            DevServerError)
from bots.builtins import Builtins
from bots.dispatch import Dispatcher
from bots.ejabberd_api import EjabberdAPIError
from bots.invites import MAX_COUNT, InvitationError
from bots.personal_data import SERVER_ARCHIVE, declared
from bots.plugin import load_plugins
from bots.services import Services
from bots.storage import Storage, StorageError, redacted

if TYPE_CHECKING:
    from bots.server_privacy import ServerErasure

# Modules only some commands need are imported in them: `botschaft run` starts the bot
# without the development bot's, the doctor's, the scaffold's or the privacy inventory's code
# (the development server's module is imported for the defaults of the `server` options).

DEMO_USER = "demo"


@contextlib.contextmanager
def reported_errors():
    """Show errors the person can fix as one clear line instead of a traceback."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, _errors_people_fix()):
            raise click.ClickException(str(exc)) from exc
        if isinstance(exc, ssl.SSLError):
            raise click.ClickException(f"the server's TLS certificate is not trusted ({exc}); "
                                       "for a self-signed one set [xmpp] ca_file") from exc
        raise


def _errors_people_fix() -> tuple[type[Exception], ...]:
    from bots.devbot import DevBotError
    from bots.scaffold import ScaffoldError

    return (DevServerError, DevBotError, LoginFailed, ConfigError, StorageError, ScaffoldError,
            ConnectionError, TimeoutError)


class PluginCommands(click.Group):
    """The built-in commands plus each installed plugin's own group (`botschaft status …`)."""

    def _plugin_groups(self) -> dict[str, click.Command]:
        groups = {}
        defaults = configuration.load(None, environ={})
        for plugin in load_plugins(defaults).plugins:
            group = plugin.cli()
            if group is not None and plugin.name not in super().list_commands(None):
                groups[plugin.name] = group
        return groups

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_groups()) | {"bridge"})

    def get_command(self, ctx, name):
        if name == "bridge":  # imported only when asked for: the bot never loads the bridge
            from server_bridge.whatsapp.cli import bridge
            return bridge
        return super().get_command(ctx, name) or self._plugin_groups().get(name)


@click.group(cls=PluginCommands)
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=configuration.DEFAULT_PATH, show_default=True, envvar="BOTSCHAFT_CONFIG",
              help="The configuration file.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: int) -> None:
    """Botschaft: business messaging on your own XMPP server."""
    logs.start(verbose, bot_running=ctx.invoked_subcommand == "run")
    ctx.obj = config_path


def load_config() -> configuration.Config:
    """The configuration named by --config (for plugin subcommands too)."""
    with reported_errors():
        return configuration.load(click.get_current_context().find_root().obj)


@contextlib.contextmanager
def plugin_database(name: str):
    """For a plugin's own subcommands: the plugin as configured and the framework's services
    (bots/services.py) over the database with every table up to date; closed afterwards.
    `with plugin_database("status") as (plugin, bot): …` — messages it notifies are sent by
    the running bot."""
    with _plugins_with_database() as (report, bot):
        plugin = next((plugin for plugin in report.plugins if plugin.name == name), None)
        if plugin is None:
            reason = report.failures.get(name, "it is disabled in [plugins] disabled")
            raise click.ClickException(f"the {name} plugin is not loaded: {reason}")
        yield plugin, bot


@contextlib.contextmanager
def _plugins_with_database():
    """Every enabled plugin, each with the services (`plugin.bot`), over the migrated
    database."""
    config = load_config()
    with reported_errors():
        report = load_plugins(config)
        storage = Storage(config.get("database", "url"), config.get("database", "workers"))
        try:
            storage.check()
            empty = not storage.db.get_tables()
            storage.migrate(schemas(report.plugins))
            if empty:
                click.echo(f"Note: {redacted(storage.url)} held no Botschaft data; its tables "
                           "were made just now, so this is about an empty database. The "
                           "running bot's is named by its [database] url (the development "
                           "bot's: run this as ./dev.sh botschaft …).", err=True)
            services = Services(config, storage, report.plugins)
            for plugin in report.plugins:
                plugin.bot = services
            yield report, services
        finally:
            storage.close()


state_dir_option = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE_DIR,
    envvar="BOTSCHAFT_DEVSERVER_DIR", show_default=True,
    help="Where the private server keeps its configuration, data and logs.")
domain_option = click.option("--domain", default="localhost", show_default=True,
                             help="The XMPP domain (the part after @ in addresses).")


@main.group()
def server() -> None:
    """A private ejabberd for development and tests (Debian's package, loopback only)."""


def port_options(command):
    """--c2s-port, --component-port, … ; omitted ones keep last start's port or get a free one."""
    helps = {"c2s": "Port for Jabber clients.", "component": "Port for XMPP components.",
             "api": "Port of the HTTP admin API.", "dist": "Erlang distribution port.",
             "web": "HTTPS port of the chat in the browser (Converse.js, WebSocket).",
             "s2s": "Port for other servers: the phone apps' push services."}
    for name in reversed(PORT_NAMES):
        command = click.option(f"--{name}-port", name, type=int, help=helps[name])(command)
    return command


def chosen_ports(options: dict) -> dict[str, int]:
    return {name: options[name] for name in PORT_NAMES if options.get(name)}


def dev_server(state_dir: Path) -> DevServer:
    """The server in `state_dir`; for a cluster, its first running node (all share the data)."""
    if DevCluster.node_dirs(state_dir):
        nodes = DevCluster(state_dir).nodes
        return next((node for node in nodes if node.pid() is not None), nodes[0])
    return DevServer(state_dir)


@server.command("start")
@state_dir_option
@domain_option
@click.option("--sql", metavar="postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
              help="Keep ejabberd's data in this PostgreSQL database (its tables are made when "
                   "it has none); remembered for later starts. Default: SQLite in --state-dir.")
@click.option("--cluster", type=click.IntRange(2, 9), metavar="N",
              help="Start N nodes joined in one cluster (in STATE_DIR/node1…; needs --sql, "
                   "ports are chosen per node).")
@port_options
def server_start(state_dir: Path, domain: str, sql: str | None, cluster: int | None,
                 **ports: int | None) -> None:
    """Start the private server and wait until it accepts logins."""
    if cluster or DevCluster.node_dirs(state_dir):
        if chosen_ports(ports):
            raise click.UsageError("a cluster's ports are chosen per node; leave out --*-port")
        with reported_errors():
            instances = DevCluster(state_dir, cluster, sql, domain).start()
        for number, instance in enumerate(instances, 1):
            click.echo(f"node{number} ({instance.node}): clients connect to "
                       f"127.0.0.1:{instance.c2s_port} (STARTTLS)")
        click.echo(f"ejabberd cluster of {len(instances)} nodes running for {domain}; "
                   f"state in {state_dir}")
        return
    with reported_errors():
        instance = DevServer(state_dir, domain, sql=sql).start(chosen_ports(ports))
    click.echo(f"ejabberd is running for {instance.domain}: clients connect to "
               f"127.0.0.1:{instance.c2s_port} (STARTTLS); state in {state_dir}")


@server.command("stop")
@state_dir_option
def server_stop(state_dir: Path) -> None:
    """Stop the private server, or every node of its cluster (only ours, never another
    ejabberd)."""
    with reported_errors():
        if DevCluster.node_dirs(state_dir):
            stopped = DevCluster(state_dir).stop()
            click.echo(f"stopped {stopped} node(s)" if stopped else "not running")
            return
        stopped = DevServer(state_dir).stop()
    click.echo("stopped" if stopped else "not running")


@server.command("status")
@state_dir_option
def server_status(state_dir: Path) -> None:
    """Say whether the private server (each node of a cluster) runs; exit code 3 when none
    does."""
    if DevCluster.node_dirs(state_dir):
        statuses = DevCluster(state_dir).status()
    else:
        statuses = [DevServer(state_dir).status()]
    for status in statuses:
        node = f"{status['node']}: " if len(statuses) > 1 else ""
        if status["running"]:
            ports = ", ".join(f"{name} {port}" for name, port in status["ports"].items())
            click.echo(f"{node}running (pid {status['pid']}) for {status['domain']}; "
                       f"ports: {ports}")
        else:
            click.echo(f"{node}not running" + (
                " (stale pid file from a crashed run; `start` cleans it up)"
                if status["stale"] else ""))
    if not any(status["running"] for status in statuses):
        raise SystemExit(3)


@server.command("adduser")
@state_dir_option
@click.argument("user")
@click.option("--password", help="Default: a generated one, printed once.")
def server_adduser(state_dir: Path, user: str, password: str | None) -> None:
    """Create the account USER on the private server."""
    with reported_errors():
        server = dev_server(state_dir)
        password = server.add_user(user, password)
        domain = server.load_instance().domain
    click.echo(f"created {user}@{domain} with password {password}")


@server.command("ctl", context_settings={"ignore_unknown_options": True})
@state_dir_option
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED, required=True)
def server_ctl(state_dir: Path, arguments: tuple[str, ...]) -> None:
    """Run an ejabberdctl command on the private server, e.g. `remove_mam_for_user demo
    localhost` (ejabberdctl alone would reach the system's ejabberd, not this one)."""
    with reported_errors():
        click.echo(dev_server(state_dir).ctl(*arguments), nl=False)


@server.command("deluser")
@state_dir_option
@click.argument("user")
def server_deluser(state_dir: Path, user: str) -> None:
    """Delete the account USER from the private server."""
    with reported_errors():
        dev_server(state_dir).delete_user(user)
    click.echo(f"deleted {user}")


@main.command("run")
def run() -> None:
    """Run the bot with every enabled plugin until Ctrl-C or SIGTERM."""
    config = load_config()
    logs.use(config.get("log", "format"))
    with reported_errors():
        asyncio.run(run_until_signal(config))


@main.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(force: bool) -> None:
    """Write a commented botschaft.toml with every setting and its default."""
    path = click.get_current_context().find_root().obj
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.write_text(configuration.template(), encoding="utf-8")
    click.echo(f"wrote {path}; set [xmpp] jid, and the password in BOTSCHAFT_XMPP_PASSWORD")


@main.command("migrate")
def migrate() -> None:
    """Bring the database schema of the core and every enabled plugin up to date."""
    config = load_config()
    with reported_errors():
        storage = Storage(config.get("database", "url"))
        try:
            applied = storage.migrate(schemas(load_plugins(config).plugins))
        finally:
            storage.close()
    click.echo("\n".join(applied) if applied else "the database is up to date")


@main.group("privacy")
def privacy_group() -> None:
    """Everything stored about one person: export it, or erase it; what is stored where, and
    deleting it once its time is over."""


@privacy_group.command("export")
@click.argument("jid")
@click.option("--with-archive", is_flag=True, help="Include the messages of the bot's "
              "conversation with them that its archive on the XMPP server keeps.")
def privacy_export(jid: str, with_archive: bool) -> None:
    """Print all data about JID (core, every plugin, the XMPP server) as JSON."""
    from bots.server_privacy import export_from_server

    jid = _bare(jid)
    config = load_config()
    with _plugins_with_database() as (report, bot):
        with reported_errors():  # e.g. the WhatsApp bridge's part without its number_key
            data = privacy.export(jid, report.plugins)
        audit.record(audit.admin(), "privacy.export", jid)
        with reported_errors():
            try:
                data["server"] = asyncio.run(
                    export_from_server(config, bot, jid, with_archive))
            except EjabberdAPIError as exc:
                raise click.ClickException(f"the XMPP server's part: {exc}") from None
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@privacy_group.command("erase")
@click.argument("jid")
@click.option("--account", is_flag=True, help="Delete their account on the XMPP server too.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def privacy_erase(jid: str, account: bool, yes: bool) -> None:
    """Delete all data about JID: core, every plugin, and what the XMPP server keeps (their
    archive, the bot's with them, the bot's contact entry; with --account their account)."""
    from bots.server_privacy import erase_on_server

    jid = _bare(jid)
    if not yes:
        click.confirm(f"Erase everything stored about {jid}"
                      f"{' and their account' if account else ''}?", abort=True)
    config = load_config()
    with _plugins_with_database() as (report, bot):
        with reported_errors():  # every part can be found (a missing key would stop one)
            privacy.export(jid, report.plugins)  # before the server's part is gone for good
        server = erase_on_server(config, bot, jid, account)
        try:
            deleted = privacy.erase(jid, report.plugins, by=getpass.getuser(),
                                    server=server.record)
        except EjabberdAPIError as exc:
            _echo_server_part(server)
            raise click.ClickException(f"the bot's own data about {jid} is not erased (a "
                                       f"plugin needs the XMPP server): {exc}") from None
        audit.record(audit.admin(), "privacy.erase", None, erasure=privacy.last_erasure())
    click.echo(f"erased {jid}: " + ", ".join(f"{part} {count}" for part, count in
                                             deleted.items()))
    _echo_server_part(server)
    if server.error is not None:
        raise click.ClickException(f"the XMPP server failed before all was erased there: "
                                   f"{server.error}; run this again to finish (erasing twice "
                                   "is fine)")


def _echo_server_part(server: ServerErasure) -> None:
    click.echo("On the XMPP server:")
    for line in server.lines():
        click.echo(f"  {line}")


@privacy_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count, per kind, what would be deleted.")
def privacy_purge(dry_run: bool) -> None:
    """Delete now, per kind of personal data, the rows older than its retention period
    ([privacy] retention), and ask ejabberd to delete its archived messages older than
    theirs, as the bot does every night."""
    from bots.inventory import KEPT_WHILE_NEEDED, kept

    config = load_config()
    with _plugins_with_database() as (report, bot):
        _left_out(report.failures)
        days = retention.periods(report.plugins, config)
        counts = retention.purge([kind for _owner, kind in declared(report.plugins)], days,
                                 datetime.now(UTC), dry_run)
        click.echo("Would be deleted (nothing is: --dry-run):" if dry_run else "Deleted:")
        for kind, count in counts.items():
            click.echo(f"  {kind:<28} {count:>8} rows  (kept {kept(days[kind])})")
        try:
            archive = retention.purge_server_archive(config, bot, days[SERVER_ARCHIVE.kind],
                                                     dry_run)
        except EjabberdAPIError as exc:
            raise click.ClickException(f"the XMPP server's archive: {exc}") from None
    click.echo(f"  {SERVER_ARCHIVE.kind:<28} {archive}")
    click.echo(f"Kept {KEPT_WHILE_NEEDED}: "
               + ", ".join(kind for kind, period in days.items() if period is None))


@privacy_group.command("inventory")
@click.option("--format", "form", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True, help="markdown: the table for docs/data-protection.md.")
def privacy_inventory(form: str) -> None:
    """Every table and column holding personal data, the core's and each loaded plugin's,
    with whose it is and how long it is kept (configured, and the default)."""
    from bots.inventory import inventory, markdown

    config = load_config()
    with reported_errors():
        report = load_plugins(config)
        _left_out(report.failures)
        entries = inventory(report.plugins, retention.periods(report.plugins, config))
    click.echo(markdown(entries) if form == "markdown"
               else json.dumps(entries, indent=2, ensure_ascii=False), nl=form == "json")


def _left_out(failures: dict[str, str]) -> None:
    for name, reason in failures.items():
        click.echo(f"The plugin {name} did not load ({reason}): its data is left out.",
                   err=True)


def _bare(jid: str) -> str:
    try:
        bare = JID(jid.strip()).bare.lower()
    except InvalidJID:
        bare = ""
    if "@" not in bare:
        raise click.BadParameter(f"{jid!r} is no Jabber address (name@domain)")
    return bare


@main.group("plugin")
def plugin_group() -> None:
    """Installed plugins, and a scaffold for new ones."""


@plugin_group.command("list")
def plugin_list() -> None:
    """Every installed plugin: loaded (with its commands), disabled, or failed and why; words
    two plugins want; and, when the running bot answers on [web] listen, plugins whose start
    failed there."""
    from bots.doctor import running_bot_health

    config = load_config()
    report = load_plugins(config)
    dispatcher = Dispatcher([Builtins(), *report.plugins])
    for plugin in report.plugins:
        commands = ", ".join(spec.name for spec in dispatcher.specs.values()
                             if spec.plugin == plugin.name) or "no commands"
        click.echo(f"{plugin.name:<12} loaded    {commands}")
    for name in report.disabled:
        click.echo(f"{name:<12} disabled  (in [plugins] disabled)")
    for name, reason in report.failures.items():
        click.echo(f"{name:<12} FAILED    {reason}")
    for clash in dispatcher.clashes:
        click.echo(f"CLASH: {clash}")
    failed_at_start = running_bot_health(config).get("plugins", {}).get("failed", {})
    for name, reason in failed_at_start.items():
        click.echo(f"{name:<12} FAILED    at start in the running bot: {reason}")
    if report.failures or dispatcher.clashes or failed_at_start:
        raise SystemExit(1)


@plugin_group.command("new")
@click.argument("name")
@click.option("--directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the plugin's folder.")
def plugin_new(name: str, directory: Path) -> None:
    """Create an installable plugin package NAME with a command, a model and a test."""
    from bots import scaffold

    with reported_errors():
        target = scaffold.create(name, directory)
    click.echo(f"created {target}; next: pip install -e {target} && pytest {target}")


@main.command("send")
@click.argument("jid")
@click.argument("text")
def send(jid: str, text: str) -> None:
    """Send TEXT to JID as the bot (e.g. to test an account)."""
    config = load_config()
    with reported_errors():
        refused = asyncio.run(send_once(config, jid, text))
    if refused:
        raise click.ClickException(f"the server refused the message to {jid} ({refused}): "
                                   "is there such an account?")
    with _plugins_with_database():
        audit.record(audit.admin(), "message.send", jid.strip().split("/", 1)[0].lower())
    click.echo(f"sent to {jid}: the server has it (delivered, or kept until they log in)")


def _moment(_context, parameter, value: str | None) -> datetime | None:
    """A day ("2025-03-01") or a moment ("2025-03-01 14:30"), in UTC; `--until` a day takes
    the whole day in."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: write a day, YYYY-MM-DD, or a moment, "
                                 "YYYY-MM-DD HH:MM (UTC)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    whole_day = parameter.name == "until" and len(value.strip()) == len("YYYY-MM-DD")
    return moment + timedelta(days=1) if whole_day else moment


@main.command("audit")
@click.option("--actor", help="Who acted: a staff member's address, an admin's login name, "
              "or system.")
@click.option("--subject", help="Whom or what they acted on: an address, an item, a room.")
@click.option("--action", help="One action (status.set), or all of a part (status).")
@click.option("--since", metavar="DATE", callback=_moment,
              help="From this day on, or from YYYY-MM-DD HH:MM (UTC).")
@click.option("--until", metavar="DATE", callback=_moment,
              help="Up to this day, included, or before YYYY-MM-DD HH:MM (UTC).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--format", "shape", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def audit_log(actor: str | None, subject: str | None, action: str | None,
              since: datetime | None, until: datetime | None, limit: int, shape: str) -> None:
    """What staff and admins did, newest first: who set a status, made an invitation, added
    someone to a room, exported or erased someone's data (times in UTC; no contents)."""
    with _plugins_with_database():
        entries = audit.entries(actor, subject, action, since, until, limit)
    if shape == "json":
        click.echo(json.dumps([{"at": entry.at.isoformat(), "actor": entry.actor,
                                "channel": entry.channel, "action": entry.action,
                                "subject": entry.subject, "details": entry.facts}
                               for entry in entries], indent=2, ensure_ascii=False))
        return
    for entry in entries:
        details = " ".join(f"{name}={value}" for name, value in entry.facts.items()
                           if value is not None)
        click.echo(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.actor} ({entry.channel})  "
                   f"{entry.action}  {entry.subject or '-'}  {details}".rstrip())
    click.echo(f"{len(entries)} shown")


@main.command("doctor")
@click.option("--production", is_flag=True, help="Also what a live server needs: a trusted "
              "certificate, registration closed, federation as configured, private secrets.")
def doctor(production: bool) -> None:
    """Check the configuration, the database, the plugins and the login, and say how to fix
    what is wrong."""
    from bots.doctor import diagnose

    results = diagnose(click.get_current_context().find_root().obj, production)
    for ok, what, detail in results:
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {what}" + (f"\n      {detail}" if detail else ""))
    if not all(ok for ok, _what, _detail in results):
        raise SystemExit(1)


@main.command("dev")
@state_dir_option
@domain_option
@port_options
def dev(state_dir: Path, domain: str, **ports: int | None) -> None:
    """Start the private server and the bot, and print how to chat with it. Ctrl-C stops both.
    Run as root (for ejabberd), the bot itself runs as the unprivileged user `botschaft`."""
    from bots.devbot import DevBot

    server = DevServer(state_dir, domain)
    with reported_errors():
        bot = None
        try:
            click.echo("Starting the private ejabberd …")
            instance = server.start(chosen_ports(ports))
            bot_password = server.ensure_user(BOT_USER)
            demo_password = server.ensure_user(DEMO_USER)
            server.add_contacts(DEMO_USER, BOT_USER)
            click.echo("Starting the bot …")
            bot = DevBot(state_dir, instance, f"{BOT_USER}@{instance.domain}", bot_password,
                         [f"{DEMO_USER}@{instance.domain}"])
            bot.start()
            click.echo(login_instructions(instance, demo_password, bot.config_file,
                                          bot.join_url))
            bot.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if bot is not None:
                bot.stop()
            server.stop()
            click.echo("Stopped the bot and the private ejabberd.")


def login_instructions(instance, password: str, config_file: Path, join_url: str) -> str:
    jid = f"{DEMO_USER}@{instance.domain}"
    bot = f"{BOT_USER}@{instance.domain}"
    port = instance.c2s_port
    return f"""
Botschaft is running. Log in with any Jabber client on this machine:

  Account (JID):  {jid}
  Password:       {password}
  Server:         127.0.0.1, port {port} (set both in the client's advanced/connection settings)
  TLS:            STARTTLS, required. The certificate is self-signed; accept it when your client
                  asks. SHA-256 fingerprint:
                  {certificate_fingerprint(instance.ca_file)}

Then write to the bot, {bot}: "ping" (it answers "pong") or "help". The demo account is
one of the bot's admins, so it may use every command. To try the built-in plugins:
  lessons:  "courses", "subscribe deutsch-alltag", "next", then answer the quiz with a, b or c
  status:   "create vehicle 4711" (gives a code), "claim 4711 <code>", "set 4711 ready", "status"

  Profanity:  /connect {jid} server 127.0.0.1 port {port} tls trust
              /msg {bot} ping
  Gajim:      add the account with the password above, then set host 127.0.0.1 and port
              {port} in the account's connection settings.
  Dino:       has no host/port setting; start with `./dev.sh run --c2s-port 5222` instead.

A customer's first minute, in a browser on this machine:
  1. write "create vehicle 4711", then "invite 4711" to the bot (or, from a second terminal:
     ./dev.sh botschaft status create 4711 vehicle; ./dev.sh botschaft invite create --claim 4711)
  2. open {instance.chat_url} once and accept its self-signed certificate (the
     web chat's files and its WebSocket come from there; returning users log in on that page)
  3. open the invitation's link ({join_url}/join/…), press the button, then "Chat in the browser"
  4. write "agent" there: this account is the support team and gets the case ("take")

Admin commands reach this bot from a second terminal in this folder, e.g.
  ./dev.sh botschaft status show 4711      ./dev.sh botschaft privacy export {jid}
(its settings: {config_file}; its database and the server's certificate are beside them).

Press Ctrl-C to stop the bot and the server.
"""


def certificate_fingerprint(path: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(Path(path).read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@main.group("outbox")
def outbox_group() -> None:
    """Messages the bot starts itself that ended failed (dead letters), and retrying them."""


@outbox_group.command("failed")
def outbox_failed() -> None:
    """List failed messages: id, time (UTC), key, recipient's domain, reason; no texts."""
    with _plugins_with_database():
        rows = outbox.dead_letters()
    for row_id, failed_at, key, domain, reason in rows:
        click.echo(f"{row_id:>8}  {failed_at:%Y-%m-%d %H:%M:%S}  {key}  {domain}  {reason}")
    click.echo(f"{len(rows)} failed")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Queue the failed messages IDS again; the running bot sends them."""
    with _plugins_with_database():
        queued = outbox.retry(list(ids))
    click.echo(f"{queued} of {len(ids)} queued again")
    if queued < len(ids):
        raise SystemExit(1)


def expires_option(what: str):
    """`--expires 14d|36h` for commands that make invitations (a timedelta, or None)."""
    return click.option("--expires", metavar="DURATION", callback=_duration,
                        help=f"{what}: 14d, 36h (default: [join] invitation_days).")


def _duration(_context, _parameter, value: str | None) -> timedelta | None:
    """A lifetime written as "14d" or "36h"."""
    if value is None:
        return None
    number, unit = value.strip()[:-1], value.strip()[-1:].lower()
    if not number.isdigit() or unit not in ("d", "h"):
        raise click.BadParameter(f"{value!r}: write a number of days or hours, e.g. 14d or 36h")
    return timedelta(days=int(number)) if unit == "d" else timedelta(hours=int(number))


@main.group("invite")
def invite_group() -> None:
    """One-time invitation links: whoever opens one gets an account on your server (the join
    page, [join] in the settings), with the item or course it names already theirs."""


@invite_group.command("create")
@click.option("--claim", "ref", metavar="REF", help="Link this item (status) to the account.")
@click.option("--course", metavar="ID", help="Subscribe the account to this course (lessons).")
@expires_option("How long it stays valid")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, MAX_COUNT),
              help="How many invitations alike (each for one person).")
@click.option("--note", default="", help="A word for yourself, shown by `invite list`.")
def invite_create(ref: str | None, course: str | None, expires: timedelta | None, count: int,
                  note: str) -> None:
    """Make invitations and print their links (shown only now: the server keeps a hash)."""
    wanted = {name: value for name, value in (("claim", ref), ("course", course)) if value}
    with _plugins_with_database() as (_report, bot):
        try:
            made = bot.invitations.create(f"cli:{getpass.getuser()}", wanted, expires, note,
                                          count)
        except InvitationError as refusal:
            raise click.ClickException(str(refusal)) from None
    for invitation in made:
        click.echo(f"{invitation.id:>6}  {invitation.url}")
    click.echo(f"{len(made)} invitation(s), valid until {made[0].expires_at:%Y-%m-%d %H:%M} UTC, "
               "each for one person")


@invite_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Also used, revoked and expired ones.")
def invite_list(everything: bool) -> None:
    """Invitations, newest first: id, state, valid until (UTC), made by, what it does, note."""
    with _plugins_with_database() as (_report, bot):
        rows = bot.invitations.listing(everything)
    for row in rows:
        does = ", ".join(f"{name} {value}" for name, value in row.wanted.items()) or "-"
        click.echo(f"{row.id:>6}  {row.state():<7}  {row.expires_at:%Y-%m-%d %H:%M}  "
                   f"{row.created_by}  {does}  {row.note}".rstrip())
    click.echo(f"{len(rows)} shown")


@invite_group.command("revoke")
@click.argument("ids", nargs=-1, type=int, required=True)
def invite_revoke(ids: tuple[int, ...]) -> None:
    """Make the invitations IDS unusable (used ones stay as they are)."""
    with _plugins_with_database() as (_report, bot):
        revoked = bot.invitations.revoke(list(ids))
    click.echo(f"{revoked} of {len(ids)} revoked")
    if revoked < len(ids):
        raise SystemExit(1)
