"""Settings from `botschaft.toml` plus `BOTSCHAFT_*` environment variables.

Every setting is declared once in `SCHEMA` (name, type, default, help); the same declaration
checks the file, reads the environment and writes the commented file of `botschaft init`.
Secrets never need to be in the file: `password` can come from `BOTSCHAFT_XMPP_PASSWORD`, or
from a file named by `password_file` / `BOTSCHAFT_XMPP_PASSWORD_FILE`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bots.i18n import LANGUAGES
from bots.logs import FORMATS as LOG_FORMATS
from bots.scheduler import zone

ENV_PREFIX = "BOTSCHAFT_"
DEFAULT_PATH = Path("botschaft.toml")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and what is allowed."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    secret: bool = False
    choices: tuple = ()
    required: bool = False
    check: Callable[[Any], Any] | None = None  # raises ValueError with what is wrong


def _positive(value: float) -> None:
    """For counts and durations that must be above zero."""
    if value <= 0:
        raise ValueError(f"must be more than 0, not {value}")


def _long_random_text(value: str) -> None:
    """For keys: empty (not set), or long enough that nobody guesses it."""
    if value and len(value) < 32:
        raise ValueError(f"must be at least 32 characters (it has {len(value)}); make one "
                         "with: openssl rand -hex 32")


def _days_per_kind(value: dict) -> None:
    """[privacy] retention: kind → whole days, 0 or more (the kinds are checked once the
    plugins are loaded: bots.retention.periods)."""
    for kind, days in value.items():
        if not _is_instance(days, int) or days < 0:
            raise ValueError(f"{kind!r} must be a whole number of days, 0 or more, not {days!r}")


SCHEMA: dict[str, list[Setting]] = {
    "xmpp": [
        Setting("mode", str, "client", "client: the bot logs in as an account (jid, password). "
                "component: the bot is a subdomain such as bot.chat.example.com (jid), "
                "connected to ejabberd's component port (host, port, component_secret).",
                choices=("client", "component")),
        Setting("jid", str, "", "The bot's account, e.g. bot@chat.example.com (component mode: "
                "its domain).", required=True),
        Setting("password", str, "", "The bot's password (client mode). Better: the environment "
                "variable BOTSCHAFT_XMPP_PASSWORD, or password_file.", secret=True),
        Setting("component_secret", str, "", "The component secret (component mode), as in "
                "ejabberd's botschaft-site.yml.", secret=True),
        Setting("host", str, "", "Server address; empty: found through DNS from the JID."),
        Setting("port", int, 5222, "Server port for clients."),
        Setting("ca_file", str, "", "Trust this certificate file instead of the system's "
                "(e.g. the development server's self-signed one)."),
        Setting("connect_timeout", float, 30.0, "Seconds `botschaft run` tries to reach the "
                "server at start before it gives up with an error.", check=_positive),
    ],
    "bot": [
        Setting("language", str, "de", "Language for people whose client and settings "
                "name none.", choices=LANGUAGES),
        Setting("timezone", str, "Europe/Berlin", "Time zone for daily jobs and for people "
                "who set none, e.g. Europe/Berlin.", check=zone),
        Setting("prefix", str, "!", "In group rooms the bot answers messages starting with "
                "this prefix, or with its nick."),
        Setting("nick", str, "Botschaft", "The bot's nickname in group rooms."),
        Setting("rooms", list, [], "Group rooms to join, e.g. [\"team@conference.example.com\"]."),
        Setting("max_message_length", int, 4000, "Longer messages get a polite 'too long'."),
    ],
    "people": [
        Setting("admins", list, [], "Admins: JIDs, or domains written as \"@example.com\"."),
        Setting("staff", list, [], "Staff (set statuses, see statistics): JIDs or domains."),
        Setting("bots", list, [], "Other bots: never answered, so two bots cannot loop. Those "
                "named by address may also write to the accounts the join page makes."),
    ],
    "database": [
        Setting("url", str, "sqlite:///botschaft.db", "sqlite:///path/to/file.db (embedded) "
                "or postgresql://user@host/dbname (production; needs botschaft[postgres])."),
        Setting("workers", int, 4, "Threads that run the core's database work (outbox, "
                "scheduler) off the event loop.", check=_positive),
        Setting("handler_workers", int, 4, "Threads for plugins' plain (sync) command handlers, "
                "apart from the core's: a slow handler never holds up delivery.",
                check=_positive),
    ],
    "outbox": [
        Setting("rate", int, 500, "Messages the bot starts itself: at most this many a second."),
        Setting("per_recipient", float, 0.0, "…and at least this many seconds apart to the "
                "same person (0: no limit); meanwhile the others' messages go on."),
        Setting("max_attempts", int, 5, "Sends of a message the server never confirms (it "
                "closes the connection instead) before it ends failed, so the queue moves on; "
                "`botschaft outbox failed` lists such messages.", check=_positive),
        Setting("lease", int, 90, "Component mode with several workers: seconds a worker "
                "holds the messages it is sending; those of a worker that died are sent by "
                "another after this long. Longer than a batch takes to be confirmed.",
                check=_positive),
    ],
    "retention": [
        Setting("outbox_days", int, 7, "Days a sent (done) or failed message stays in the "
                "outbox: the older spelling of [privacy] retention's \"outbox\", which wins.",
                check=_positive),
    ],
    "privacy": [
        Setting("retention", dict, {}, "Days each kind of personal data is kept, e.g. "
                "{ \"outbox\" = 7, \"status.history\" = 90 } (0: deleted at the next daily "
                "purge); the others keep their defaults. `botschaft privacy inventory` lists "
                "the kinds, `botschaft privacy purge --dry-run` shows what would go.",
                check=_days_per_kind),
    ],
    "web": [
        Setting("listen", str, "127.0.0.1:8731", "Address of /healthz, /metrics and plugin "
                "routes (host:port; empty: no web server). Other than loopback needs a token."),
        Setting("token", str, "", "Bearer token every web request must carry, if set. Better: "
                "BOTSCHAFT_WEB_TOKEN or token_file.", secret=True),
        Setting("request_timeout", float, 30.0, "Seconds a client has to send a whole request "
                "from its first byte, and the longest a connection may sit idle.",
                check=_positive),
        Setting("max_connections", int, 100, "Open connections at most; more are closed at "
                "once (a few clients cannot hold the port).", check=_positive),
    ],
    "log": [
        Setting("format", str, "text", "How `botschaft run` writes its log to stderr: text "
                "(lines for people) or json (one object a line: time, level, logger, message, "
                "exc_info; for journald, Loki or Elasticsearch). Neither carries personal data "
                "at info level.", choices=LOG_FORMATS),
    ],
    "join": [
        Setting("listen", str, "", "Address of the public join page, where invitation links "
                "lead (host:port; empty: none). It serves only /join and /chat; put your TLS "
                "proxy in front of it."),
        Setting("public_url", str, "", "The join page's address as people reach it, e.g. "
                "https://chat.example.com (links and QR codes point there)."),
        Setting("company", str, "", "The company's name, as the join page shows it."),
        Setting("chat_url", str, "", "Converse.js as ejabberd serves it (mod_conversejs), e.g. "
                "https://chat.example.com:5443/conversejs; empty: no chat in the browser."),
        Setting("websocket_url", str, "", "ejabberd's XMPP over WebSocket, for the chat in the "
                "browser, e.g. wss://chat.example.com:5443/ws."),
        Setting("invitation_days", int, 14, "Days an invitation stays valid unless its maker "
                "says otherwise.", check=_positive),
        Setting("name_prefix", str, "kunde", "Generated account names: this, a dash and six "
                "letters or digits (people may also choose their own)."),
        Setting("attempts_per_address", int, 20, "Links to unknown or spent invitations one "
                "network address may open in 10 minutes; then it is asked to wait.",
                check=_positive),
        Setting("behind_proxy", bool, False, "The join page is reached through a proxy on "
                "this machine: take the visitor's address from X-Forwarded-For."),
    ],
    "ejabberd": [
        Setting("api_url", str, "", "ejabberd's admin HTTP API (mod_http_api), e.g. "
                "http://127.0.0.1:5281/api: the join page makes accounts through it."),
        Setting("admin_jid", str, "", "An admin account of that API (ADMIN_ACCOUNTS in "
                "ejabberd.yml), e.g. admin@chat.example.com."),
        Setting("admin_password", str, "", "Its password. Better: "
                "BOTSCHAFT_EJABBERD_ADMIN_PASSWORD or admin_password_file.", secret=True),
    ],
    "plugins": [
        Setting("disabled", list, [], "Installed plugins not to load, e.g. [\"lessons\"]."),
    ],
    # `botschaft bridge run` (server_bridge/whatsapp); the bot reads only number_key
    "bridge.whatsapp": [
        Setting("listen", str, "127.0.0.1:8733", "Address of the webhook Meta calls (host:port), "
                "served at /webhook; your TLS reverse proxy forwards to it."),
        Setting("api_url", str, "https://graph.facebook.com", "The Cloud API's base URL."),
        Setting("api_version", str, "v21.0", "The Graph API version in its paths."),
        Setting("phone_number_id", str, "", "The business phone number's id (Meta's "
                "WhatsApp Manager, API setup)."),
        Setting("access_token", str, "", "A system user's access token for the Cloud API. "
                "Better: BOTSCHAFT_BRIDGE_WHATSAPP_ACCESS_TOKEN or access_token_file.",
                secret=True),
        Setting("app_secret", str, "", "The Meta app's secret: webhooks are signed with it.",
                secret=True),
        Setting("verify_token", str, "", "The verify token you enter with the webhook's "
                "address in Meta's app settings.", secret=True),
        Setting("jid", str, "", "The bridge's component domain, e.g. "
                "whatsapp.chat.example.com: a number is +4917612345678@ that domain (keep the "
                "\"whatsapp.\": ejabberd.yml lets it upload the files users send)."),
        Setting("host", str, "127.0.0.1", "ejabberd's component listener (XEP-0114)."),
        Setting("port", int, 5347, "Its port (COMPONENT_PORT in botschaft-site.yml)."),
        Setting("component_secret", str, "", "The component secret, as in ejabberd's "
                "botschaft-site.yml.", secret=True),
        Setting("deliver_to", str, "", "Where messages from WhatsApp go: the bot's address, "
                "e.g. bot@chat.example.com."),
        Setting("senders", list, [], "Besides deliver_to, who may write to WhatsApp users "
                "through the bridge (staff addresses)."),
        Setting("rate", int, 80, "Messages a second at most (the number's throughput: 80, "
                "up to 1000 once Meta raised it).", check=_positive),
        Setting("per_recipient", float, 6.0, "Seconds between two messages to the same person "
                "(Meta's pair rate limit, error 131056)."),
        Setting("retry_max", float, 300.0, "Longest wait, in seconds, between retries of a "
                "message the Cloud API could not take (5xx, 429, rate limits).",
                check=_positive),
        Setting("window_template", str, "", "An approved template that asks a person to write "
                "again when a message waits for the 24-hour window; empty: none (the message "
                "waits, and its sender is told)."),
        Setting("template_language", str, "de", "The template's language code."),
        Setting("max_body_bytes", int, 4 * 1024 * 1024, "Largest webhook body taken (Meta "
                "sends up to 1,000 updates in one).", check=_positive),
        Setting("number_key", str, "", "A random key (openssl rand -hex 32): a consent record "
                "keeps a WhatsApp number only as a hash made with it (HMAC-SHA256), so that "
                "once the number is erased, nobody can tell from a copy of the database whose "
                "record it was. Keep it for good, and apart from the database's backups: "
                "records made with another key are not found again. The bot reads it too, for "
                "`botschaft privacy`. Better: BOTSCHAFT_BRIDGE_WHATSAPP_NUMBER_KEY or "
                "number_key_file.", secret=True, check=_long_random_text),
    ],
}


@dataclass
class Config:
    """Checked settings: `config.get("xmpp", "jid")`, plugin sections by plugin name."""

    values: dict[str, dict[str, Any]]
    plugin_sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "defaults"
    environ: dict[str, str] = field(default_factory=dict)

    def get(self, section: str, name: str) -> Any:
        return self.values[section][name]

    def plugin_config(self, plugin_name: str, defaults: dict[str, Any]) -> dict[str, Any]:
        """The plugin's section merged over its defaults; wrong keys or types are errors."""
        given = self.plugin_sections.get(plugin_name, {})
        where = f"[plugins.{plugin_name}]"
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise ConfigError(f"{self.source}: {where} unknown key {unknown[0]!r}; allowed: "
                              f"{', '.join(sorted(defaults)) or '(none)'}")
        merged = dict(defaults)
        for key, value in given.items():
            expected = type(defaults[key])
            if defaults[key] is not None and not _is_instance(value, expected):
                raise ConfigError(f"{self.source}: {where} {key} must be {_type_name(expected)}, "
                                  f"not {value!r}")
            merged[key] = value
        for key, default in defaults.items():  # BOTSCHAFT_PLUGINS_STATUS_TOKEN(_FILE) wins
            name = _env_name(f"plugins_{plugin_name}", key)
            if name in self.environ and isinstance(default, (str, int, float, list)):
                setting = Setting(key, type(default), default, "")
                merged[key] = _from_env(self.environ[name], setting, name)
            elif name + "_FILE" in self.environ and isinstance(default, str):
                merged[key] = _read_secret(self.environ[name + "_FILE"], name + "_FILE")
        return merged

    def require(self) -> None:
        """Check that the settings needed to run the bot are there."""
        needed = [(section, setting.name) for section, settings in SCHEMA.items()
                  for setting in settings if setting.required]
        needed.append(("xmpp", "component_secret" if self.get("xmpp", "mode") == "component"
                       else "password"))
        for section, name in needed:
            if not self.values[section][name]:
                raise ConfigError(f"{self.source}: [{section}] {name} is missing (or the "
                                  f"environment variable {_env_name(section, name)})")


def load(path: Path | None = DEFAULT_PATH, environ: dict[str, str] | None = None) -> Config:
    """Read the file (if there is one; None: none), then the environment, which wins."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = str(path)
    if path is not None and Path(path).exists():
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    else:
        source = "environment"

    data = _dotted_sections(data)
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise ConfigError(f"{source}: unknown section [{unknown[0]}]; allowed: "
                          f"{', '.join(f'[{name}]' for name in SCHEMA)}")
    values = {}
    plugin_sections = {}
    for section, settings in SCHEMA.items():
        given = dict(data.get(section, {}))
        if section == "plugins":
            plugin_sections = {key: given.pop(key) for key in list(given)
                               if isinstance(given[key], dict)}
        values[section] = _check_section(section, settings, given, environ, source)
    _check_web(values["web"], source)
    _check_join(values, source)
    return Config(values, plugin_sections, source, dict(environ))


def _dotted_sections(data: dict[str, Any]) -> dict[str, Any]:
    """[bridge.whatsapp] arrives from TOML as {"bridge": {"whatsapp": …}}: name it as SCHEMA
    does. Tables within other sections ([plugins.status]) stay where they are."""
    flat = {}
    for name, value in data.items():
        if name in SCHEMA or not isinstance(value, dict) or not any(
                section.startswith(f"{name}.") for section in SCHEMA):
            flat[name] = value
            continue
        for child, table in value.items():
            flat[f"{name}.{child}"] = table
    return flat


def web_address(listen: str) -> tuple[str, int]:
    """(host, port) of `[web] listen`: "127.0.0.1:8731", "[::1]:8731", ":8731" (loopback)."""
    host, colon, port = listen.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{listen!r} is no host:port such as 127.0.0.1:8731")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_web(web: dict[str, Any], source: str) -> None:
    """A web listener other machines can reach serves /metrics and plugin routes: only with a
    token."""
    if not web["listen"]:
        return
    try:
        host, _port = web_address(web["listen"])
    except ValueError as exc:
        raise ConfigError(f"{source}: [web] listen: {exc}") from None
    if not is_loopback(host) and not web["token"]:
        raise ConfigError(f"{source}: [web] listen = {web['listen']} is reachable from other "
                          "machines: set [web] token (or BOTSCHAFT_WEB_TOKEN, or token_file) "
                          "to protect it, or listen on 127.0.0.1")


def _check_join(values: dict[str, dict[str, Any]], source: str) -> None:
    """A join page makes accounts: it needs the admin API, and its links need an address."""
    join = values["join"]
    if not join["listen"]:
        return
    try:
        web_address(join["listen"])
    except ValueError as exc:
        raise ConfigError(f"{source}: [join] listen: {exc}") from None
    needed = [("join", "public_url"), ("ejabberd", "api_url"), ("ejabberd", "admin_jid"),
              ("ejabberd", "admin_password")]
    for section, name in needed:
        if not values[section][name]:
            raise ConfigError(f"{source}: [join] listen is set, so the join page needs "
                              f"[{section}] {name} (or {_env_name(section, name)})")
    if join["chat_url"] and not join["websocket_url"]:
        raise ConfigError(f"{source}: [join] chat_url needs [join] websocket_url as well")


def _check_section(section: str, settings: list[Setting], given: dict[str, Any],
                   environ: dict[str, str], source: str) -> dict[str, Any]:
    by_name = {setting.name: setting for setting in settings}
    file_keys = {f"{s.name}_file" for s in settings if s.secret}
    unknown = sorted(set(given) - set(by_name) - file_keys)
    if unknown:
        allowed = sorted(set(by_name) | file_keys)
        raise ConfigError(f"{source}: [{section}] unknown key {unknown[0]!r}; allowed: "
                          f"{', '.join(allowed)}")
    values = {}
    for setting in settings:
        where = f"[{section}] {setting.name}"
        value = given.get(setting.name, setting.default)
        env_value = environ.get(_env_name(section, setting.name))
        if env_value is not None:
            where = _env_name(section, setting.name)
            value = _from_env(env_value, setting, where)
        if setting.secret:
            secret_file = environ.get(_env_name(section, setting.name) + "_FILE",
                                      given.get(f"{setting.name}_file"))
            if secret_file and env_value is None:
                value = _read_secret(secret_file, where)
        if not _is_instance(value, setting.type):
            raise ConfigError(f"{source}: {where} must be {_type_name(setting.type)}, "
                              f"not {_shown(setting, value)}")
        if setting.check is not None:
            try:
                setting.check(value)
            except ValueError as exc:
                problem = str(exc).replace(str(value), "***") if setting.secret and value else exc
                raise ConfigError(f"{source}: {where}: {problem}") from None
        if setting.choices and value not in setting.choices:
            raise ConfigError(f"{source}: {where} is {_shown(setting, value)}; allowed: "
                              f"{', '.join(setting.choices)}")
        values[setting.name] = value
    return values


def _shown(setting: Setting, value: Any) -> str:
    """A value as an error message may show it: a secret's only by its kind (errors end up
    in terminals, logs and support tickets)."""
    return f"{_type_name(type(value))} (a secret: not shown)" if setting.secret else repr(value)


def _env_name(section: str, name: str) -> str:
    return f"{ENV_PREFIX}{section}_{name}".replace(".", "_").upper()


def _from_env(raw: str, setting: Setting, where: str) -> Any:
    if setting.type is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if setting.type is dict:  # "status.history=90, outbox=7"
        pairs = [item.partition("=") for item in raw.split(",") if item.strip()]
        if not all(equals for _key, equals, _value in pairs):
            raise ConfigError(f"{where} must be name=value pairs separated by commas, e.g. "
                              f"outbox=7, not {raw!r}")
        return {key.strip(): int(value) if value.strip().isdigit() else value.strip()
                for key, _equals, value in pairs}
    if setting.type is bool:
        answers = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if raw.strip().lower() not in answers:
            raise ConfigError(f"{where} must be true or false, not {raw!r}")
        return answers[raw.strip().lower()]
    if setting.type in (int, float):
        try:
            return setting.type(raw)
        except ValueError:
            raise ConfigError(f"{where} must be {_type_name(setting.type)}, not "
                              f"{raw!r}") from None
    return raw


def _read_secret(path: str, where: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the secret file {path}: {exc.strerror}") from None


def _is_instance(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected)


def _type_name(expected: type) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(expected, expected.__name__)


def template() -> str:
    """A commented botschaft.toml with every setting at its default (`botschaft init`)."""
    lines = ["# Botschaft configuration. Every setting can also come from the environment:",
             "# BOTSCHAFT_<SECTION>_<NAME>, e.g. BOTSCHAFT_XMPP_PASSWORD (lists comma-separated).",
             "# Plugins read their own section, e.g. [plugins.status].", ""]
    for section, settings in SCHEMA.items():
        lines.append(f"[{section}]")
        for setting in settings:
            lines.append(f"# {setting.help}")
            value = _toml_value(setting.default)
            if setting.secret:
                lines.append(f"# {setting.name}_file = \"/etc/botschaft/{setting.name}\"")
                lines.append(f"# {setting.name} = \"\"")
            elif setting.required:
                lines.append(f"{setting.name} = {value}")
            else:
                lines.append(f"# {setting.name} = {value}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_value(key)} = {_toml_value(item)}"
                               for key, item in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
