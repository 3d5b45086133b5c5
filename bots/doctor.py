"""`botschaft doctor`: check everything the bot needs and say in plain words how to fix it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from bots import config as configuration
from bots.app import schemas, server_address
from bots.connection import ComponentSession, LoginFailed, Session
from bots.plugin import load_plugins
from bots.storage import Storage, StorageError

Result = tuple[bool, str, str]  # ok, what was checked, what to do


def diagnose(config_path: Path | None) -> list[Result]:
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

    results.append(_check_database(config, report.plugins))
    results.append(asyncio.run(_check_login(config)))
    return results


def _check_database(config, plugins) -> Result:
    url = config.get("database", "url")
    try:
        storage = Storage(url)
        try:
            storage.check()
            pending = storage.pending(schemas(plugins))
        finally:
            storage.close()
    except StorageError as exc:
        return False, "database", f"{exc}. Check [database] url."
    if pending:
        return False, "database", f"migrations not applied: {', '.join(pending)}. Run " \
                                  "`botschaft migrate` (the bot also does it when it starts)."
    return True, f"database ({storage.backend})", ""


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
