"""`botschaft doctor`: check everything the bot needs and say in plain words how to fix it."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from bots import config as configuration
from bots import production_checks, retention, workers
from bots.app import schemas, server_address
from bots.builtins import Builtins
from bots.connection import ComponentSession, LoginFailed, Session
from bots.dispatch import Dispatcher
from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError
from bots.plugin import load_plugins
from bots.storage import Storage, StorageError

Result = tuple[bool, str, str]  # ok, what was checked, what to do


def diagnose(config_path: Path | None, production: bool = False) -> list[Result]:
    """Every check's result; `production` adds what a server people rely on needs
    (bots.production_checks)."""
    try:
        config = configuration.load(config_path)
        config.require()
    except configuration.ConfigError as exc:
        return [(False, "configuration", f"{exc}. Start from `botschaft init`.")]
    results: list[Result] = [(True, f"configuration ({config.source})", "")]

    report = load_plugins(config)
    results.append((True, f"plugins loaded: {', '.join(p.name for p in report.plugins) or '-'}",
                    ""))
    for name, reason in report.failures.items():
        results.append((False, f"plugin {name}", f"{reason}. Fix or reinstall it, or add it "
                        "to [plugins] disabled."))
    for clash in Dispatcher([Builtins(), *report.plugins]).clashes:
        results.append((False, "command words", f"{clash}. Rename the command or alias in "
                        "that plugin, or disable one of the two."))
    results.append(_check_retention(config, report.plugins))

    if config.get("web", "listen"):
        results.append(_check_web_port(config))
    if config.get("join", "listen") or (production and config.get("ejabberd", "api_url")):
        results.append(_check_admin_api(config))
    results.append(_check_database(config, report.plugins))
    if results[-1][0]:
        results.append(_running_workers(config))
    results.append(asyncio.run(_check_login(config)))
    if production:
        results += production_checks.diagnose(config, config_path)
    return results


def _check_retention(config, plugins) -> Result:
    """[privacy] retention names kinds the loaded plugins declare (`botschaft privacy
    inventory` lists them)."""
    try:
        days = retention.periods(plugins, config)
    except configuration.ConfigError as exc:
        return False, "[privacy] retention", str(exc)
    purged = sum(period is not None for period in days.values())
    return True, f"retention: {purged} of {len(days)} kinds of personal data purged daily", ""


def _check_database(config, plugins) -> Result:
    url = config.get("database", "url")
    try:
        storage = Storage(url)
        try:
            storage.check()
            pending = storage.pending(schemas(plugins))
            missing = missing_columns(storage.db, schemas(plugins))
        finally:
            storage.close()
    except StorageError as exc:
        return False, "database", f"{exc}. Check [database] url."
    if pending:
        return False, "database", f"migrations not applied: {', '.join(pending)}. Run " \
                                  "`botschaft migrate` (the bot also does it when it starts)."
    if missing:
        return False, "database", f"tables lack columns their models have: " \
                                  f"{'; '.join(missing)}. The plugin needs a migration that " \
                                  "adds them (migrations/NNNN_name.py with up(migrator, db))."
    return True, f"database ({storage.backend})", ""


def _running_workers(config) -> Result:
    """Which bot processes use this database now (bots.workers): information, not a check;
    doctor runs before the first start too."""
    storage = Storage(config.get("database", "url"))
    try:
        storage.check()
        storage.bind([workers.SCHEMA])
        running = workers.seen() if workers.Worker.table_exists() else []
    finally:
        storage.close()
    if not running:
        return True, "bot processes running: none seen (start one: botschaft run, or " \
                     "systemctl start botschaft)", ""
    names = ", ".join(f"{worker.name} ({worker.mode}, since "
                      f"{worker.started_at:%Y-%m-%d %H:%M} UTC)" for worker in running)
    return True, f"bot processes running: {len(running)}", names


def _check_admin_api(config) -> Result:
    """The join page makes accounts through ejabberd's admin API: reachable, and ours."""
    server = config.values["ejabberd"]
    api = EjabberdAPI(server["api_url"], server["admin_jid"], server["admin_password"],
                      timeout=5)
    try:
        api.call("status")
    except EjabberdAPIError as exc:
        return False, "ejabberd admin API (for the join page)", \
            f"{exc}. Check [ejabberd] api_url, and that admin_jid is one of ADMIN_ACCOUNTS " \
            "in ejabberd's botschaft-site.yml with admin_password its password."
    return True, f"ejabberd admin API ({server['api_url']})", ""


def _check_web_port(config) -> Result:
    """The web port is free, or the running bot has it."""
    listen = config.get("web", "listen")
    host, port = configuration.web_address(listen)
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        if running_bot_health(config):
            return True, f"web listen {listen} (the running bot answers there)", ""
        return False, f"web listen {listen}", f"cannot listen there ({exc.strerror}): another " \
                                              "program has the port. Choose another [web] listen."
    return True, f"web listen {listen} (free)", ""


def missing_columns(db, schemas) -> list[str]:
    """"table.column" for every column a model has and its existing table lacks."""
    missing = []
    for schema in schemas:
        for model in schema.models:
            table = model._meta.table_name
            if not db.table_exists(table):
                continue  # a new model: migrate creates its table
            present = {column.name for column in db.get_columns(table)}
            missing += [f"{table}.{field.column_name}" for field in model._meta.sorted_fields
                        if field.column_name not in present]
    return missing


def running_bot_health(config) -> dict:
    """The running bot's /healthz report, or {} when it does not answer (not running, no
    [web] listen)."""
    listen = config.get("web", "listen")
    if not listen:
        return {}
    token = config.get("web", "token")
    request = urllib.request.Request(
        f"http://{listen.replace('0.0.0.0', '127.0.0.1')}/healthz",
        headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503 still carries the report
        try:
            return json.loads(error.read())
        except ValueError:
            return {}
    except (OSError, ValueError):
        return {}


async def _check_login(config) -> Result:
    jid = config.get("xmpp", "jid")
    host, port = server_address(config)
    where = f"{host}:{port}" if host else f"the server of {jid.partition('@')[2]} (DNS)"
    if config.get("xmpp", "mode") == "component":
        session = ComponentSession(jid, config.get("xmpp", "component_secret"), host, port)
    else:
        session = Session(jid, config.get("xmpp", "password"),
                          config.get("xmpp", "ca_file") or None)
    try:
        await session.start(host, port, timeout=15)
    except LoginFailed:
        return False, f"login as {jid}", "the server refused the password. Check [xmpp] " \
                                         "password (or BOTSCHAFT_XMPP_PASSWORD)."
    except ssl.SSLError as exc:
        return False, f"login as {jid}", f"the server's certificate is not trusted ({exc}). " \
                                         "For a self-signed one, set [xmpp] ca_file."
    except (ConnectionError, OSError, TimeoutError) as exc:
        return False, f"login as {jid}", f"cannot reach {where} ({exc}). Is the server " \
                                         "running? Check [xmpp] host and port."
    await session.stop()
    return True, f"login as {jid} at {where}", ""
