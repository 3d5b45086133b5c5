"""`botschaft doctor --production`: what a server people rely on needs beyond a bot that works —
a certificate their apps trust, no accounts for strangers, no federation beyond the allow-list,
private secrets, a database several workers can share.

The server checks talk to it as a stranger's app or server would: a hand-driven XMPP stream
before any login, because what a stranger can do is the question. Registration is probed with a
registration *request* for an account that exists (the bot's, or the admin's): a closed server
refuses it (forbidden), an open one answers "already exists" (conflict), and no account is
made either way. A registration form request (iq get) proves nothing on ejabberd: 23.01
answers it with a form even with `mod_register: access: none`. There is no admin API command in
23.01 that reads an option such as s2s_access, so federation is probed on the s2s port: closed,
or a stranger's dialback request refused; a server offering no dialback (the repository's
ejabberd.yml with federation on) checks its allow-list only after a certificate login, which a
probe without a certificate for another domain cannot reach: that is said, not judged.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
import socket
import ssl
import tomllib
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from slixmpp.xmlstream.resolver import default_resolver, get_SRV

from bots import config as configuration
from bots.accounts import account_domain

Result = tuple[bool, str, str]  # ok, what was checked, what to do

EXPIRY_WARNING_DAYS = 14
TIMEOUT = 10  # seconds for each connection and answer
STRANGER = "botschaft-doctor.invalid"  # a server on no allow-list (.invalid never resolves)
REAL_CERTIFICATE = "Use a real certificate for it (deploy/README.md, step 3: certbot)."

STREAMS = "http://etherx.jabber.org/streams"
TLS = "urn:ietf:params:xml:ns:xmpp-tls"
REGISTER = "jabber:iq:register"
REGISTER_FEATURE = "{http://jabber.org/features/iq-register}register"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
DIALBACK = "jabber:server:dialback"
DIALBACK_FEATURE = "{urn:xmpp:features:dialback}dialback"


def diagnose(config: configuration.Config, config_path: Path | None) -> list[Result]:
    domain = account_domain(config.get("xmpp", "jid"), config.get("xmpp", "mode"))
    c2s = c2s_address(config, domain)
    results = [check_certificate(domain, c2s), check_registration(config, domain, c2s),
               check_federation(domain, srv_address(domain, "xmpp-server", 5269))]
    results += check_secret_files(config, config_path)
    if config.get("xmpp", "mode") == "component":
        results.append(check_workers_database(config))
    return results


def check_workers_database(config: configuration.Config) -> Result:
    """Component mode is for several workers, and they share the database: not SQLite."""
    if not config.get("database", "url").startswith("sqlite"):
        return True, "database for several workers (PostgreSQL)", ""
    return False, "database for several workers", "component mode on SQLite: several workers " \
        "need PostgreSQL. Set [database] url = \"postgresql://botschaft@localhost/botschaft\" " \
        "(pip install 'botschaft[postgres]'), then `botschaft migrate`."


def check_certificate(domain: str, address: tuple[str, int],
                      now: datetime.datetime | None = None) -> Result:
    """The certificate people's apps see: verified against the system's CAs (as their phones
    do, whatever [xmpp] ca_file the bot trusts), valid for the domain and not about to end
    (`now`: the time to judge that by, the present unless given)."""
    what = f"TLS certificate of {domain} at {_shown(address)}"
    try:
        with _Stream(address, domain) as stream:
            stream.open()
            stream.starttls(ssl.create_default_context())
            certificate = stream.sock.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return False, what, _untrusted(exc)
    except StreamError as exc:
        return False, what, f"no TLS stream for {domain} ({exc}). {_serves(domain, exc)}"
    except (OSError, ssl.SSLError) as exc:
        return False, what, f"no TLS connection ({exc}). Is ejabberd running there?"
    ends = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]),
                                           datetime.timezone.utc)
    left = ends - (now or datetime.datetime.now(datetime.timezone.utc))
    if left < datetime.timedelta(days=EXPIRY_WARNING_DAYS):
        return False, what, f"it expires on {ends:%Y-%m-%d} (in {left.days} days). Renew it " \
                            "(certbot renew; deploy/README.md, step 3: the deploy hook " \
                            "reloads ejabberd) and check certbot.timer."
    return True, f"{what} (valid until {ends:%Y-%m-%d})", ""


def _untrusted(error: ssl.SSLCertVerificationError) -> str:
    reason = error.verify_message or str(error)
    if error.verify_code in (18, 19, 20, 21):  # self-signed, or no known CA signed it
        return f"people's apps do not trust it ({reason}): not signed by a public CA, like " \
               f"the development server's self-signed one. {REAL_CERTIFICATE}"
    if error.verify_code == 10:  # expired
        return "it has expired. Renew it (certbot renew; deploy/README.md, step 3)."
    return f"people's apps do not trust it ({reason}). {REAL_CERTIFICATE}"


def _serves(domain: str, error: Exception) -> str:
    if "host-unknown" in str(error):
        return f"The server there does not serve {domain}: is [xmpp] jid on XMPP_DOMAIN of " \
               "ejabberd's botschaft-site.yml, and [xmpp] host that server?"
    return "Is ejabberd running there?"


def check_registration(config: configuration.Config, domain: str,
                       address: tuple[str, int]) -> Result:
    """In-band registration (XEP-0077) is closed to strangers: accounts are the company's to
    make (join page, ejabberdctl register)."""
    what = "registration closed (XEP-0077)"
    fix = "strangers can make themselves accounts. Set `mod_register: access: none` in " \
          "ejabberd.yml, as the repository's ejabberd.yml does, and `ejabberdctl reload_config`."
    existing = _existing_account(config, domain)
    try:
        with _Stream(address, domain) as stream:
            stream.open()
            features = stream.starttls(_unverified())  # only a probe crosses it
            if features.find(REGISTER_FEATURE) is not None:
                return False, what, f"the server offers registration before login; {fix}"
            if existing is None:
                return True, f"{what}: not offered (no account name to probe with)", ""
            stream.send(f"<iq type='set' id='probe' to={quoteattr(domain)}>"
                        f"<query xmlns='{REGISTER}'><username>{escape(existing)}</username>"
                        f"<password>{secrets.token_hex(16)}</password></query></iq>")
            answer = stream.next_element()
    except (OSError, ssl.SSLError, StreamError) as exc:
        return False, what, f"could not ask the server at {_shown(address)} ({exc}). " \
                            f"{_serves(domain, exc)}"
    if answer.get("type") == "error" and answer.find(f".//{{{STANZAS}}}conflict") is None:
        return True, f"{what}: a registration request before login is refused", ""
    return False, what, f"a registration request before login reached the account check; {fix}"


def _existing_account(config: configuration.Config, domain: str) -> str | None:
    """A local part of an account that surely exists: the bot's, or the API admin's."""
    for jid in (config.get("xmpp", "jid"), config.get("ejabberd", "admin_jid")):
        local, at, server = jid.partition("@")
        if at and server == domain:
            return local
    return None


def check_federation(domain: str, address: tuple[str, int]) -> Result:
    """Server-to-server connections (s2s): none, or only from the servers on the allow-list
    (the repository's default: the phone apps' push services), which a stranger's dialback
    request shows."""
    what = f"federation (s2s) at {_shown(address)}"
    try:
        stream = _Stream(address, domain, "jabber:server", sender=STRANGER)
    except OSError:
        return True, f"{what}: off (nothing accepts connections there)", ""
    fix = "As in the repository's ejabberd.yml: s2s only with the phone apps' push services " \
          "(s2s_access: s2s, PUSH_SERVICES; `[]` and no ejabberd_s2s_in listener for none), " \
          "plus FEDERATED_DOMAINS if the federation allow-list is switched on; reload ejabberd."
    try:
        with stream:
            features = stream.open()
            if features.find(f"{{{TLS}}}starttls") is not None:
                features = stream.starttls(_unverified())
            if features.find(DIALBACK_FEATURE) is None:
                return True, f"{what}: on, for servers that log in with a certificate", \
                    "(no dialback: a server's login is its certificate, and the allow-list is " \
                    "checked after it, which doctor cannot do without one). If you did not " \
                    f"mean to federate: {fix}"
            stream.send(f"<db:result xmlns:db='{DIALBACK}' from='{STRANGER}' "
                        f"to={quoteattr(domain)}>{secrets.token_hex(16)}</db:result>")
            answer = stream.next_element()
    except (OSError, ssl.SSLError, StreamError) as exc:
        return False, what, f"the port is open, but the server did not answer a stranger's " \
                            f"dialback request ({exc}), so its allow-list is unknown. {fix}"
    if answer.find(f".//{{{STANZAS}}}forbidden") is not None:
        return True, f"{what}: on, and a server not on the allow-list is refused", ""
    return False, what, f"a server not on the allow-list ({STRANGER}) got past the allow-list " \
                        f"check. {fix}"


def check_secret_files(config: configuration.Config,
                       config_path: Path | None) -> list[Result]:
    """Secrets readable by the bot's user alone: the config file if it holds any, every
    secret's *_file setting and BOTSCHAFT_*_FILE variable (not ca_file: no secret)."""
    data = {}
    if config_path is not None and Path(config_path).is_file():
        data = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    files = {}
    if _holds_secrets(data):
        files[str(config_path)] = "the configuration, which holds secrets"
    secret_variables = set()
    for section, settings in configuration.SCHEMA.items():
        for setting in (setting for setting in settings if setting.secret):
            name = f"{setting.name}_file"
            secret_variables.add(f"{configuration.ENV_PREFIX}{section}_{name}".upper())
            if data.get(section, {}).get(name):
                files[data[section][name]] = f"[{section}] {name}"
    plugins = f"{configuration.ENV_PREFIX}PLUGINS_"  # a plugin's *_FILE settings are secrets
    for name, value in config.environ.items():
        if value and (name in secret_variables
                      or name.startswith(plugins) and name.endswith("_FILE")):
            files[value] = name
    exposed = [(path, where) for path, where in files.items() if _readable_by_others(path)]
    if not exposed:
        return [(True, f"secrets private ({len(files)} file(s) readable by their owner only)",
                 "")]
    return [(False, f"secret file {path} ({where})", f"others can read it (mode "
             f"{Path(path).stat().st_mode & 0o777:o}). chmod 600 {path}")
            for path, where in exposed]


def _holds_secrets(data: dict) -> bool:
    secret_names = {(section, setting.name) for section, settings in configuration.SCHEMA.items()
                    for setting in settings if setting.secret}
    if any(data.get(section, {}).get(name) for section, name in secret_names):
        return True
    url = data.get("database", {}).get("url", "")
    return bool(url) and urllib.parse.urlsplit(url).password is not None


def _readable_by_others(path: str) -> bool:
    try:
        return bool(Path(path).stat().st_mode & 0o044)
    except OSError:
        return False  # loading the config already said it cannot be read


def c2s_address(config: configuration.Config, domain: str) -> tuple[str, int]:
    """Where people's apps (and a bot in client mode) connect: [xmpp] host and port in client
    mode, otherwise the domain's SRV record or the domain at 5222."""
    if config.get("xmpp", "mode") == "client" and config.get("xmpp", "host"):
        return config.get("xmpp", "host"), config.get("xmpp", "port")
    return srv_address(domain, "xmpp-client", 5222)


def srv_address(domain: str, service: str, default_port: int) -> tuple[str, int]:
    """The first SRV target (_service._tcp.domain), or (domain, default_port) without one."""
    async def lookup():
        resolver = default_resolver(asyncio.get_running_loop())
        return await get_SRV(domain, default_port, [service], resolver=resolver)

    try:
        records = asyncio.run(lookup())
    except Exception:  # no DNS answer: the domain itself, as clients fall back to
        records = []
    for _service, host, port in records:
        return host, port
    return domain, default_port


def _unverified() -> ssl.SSLContext:
    """For probes that send nothing secret: their answer matters, not whom they reach."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _shown(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class StreamError(Exception):
    """The server closed the stream or answered something other than XMPP."""


class _Stream:
    """A hand-driven XMPP stream before login: open, STARTTLS, send, read the next top-level
    element (parsed as it arrives)."""

    def __init__(self, address: tuple[str, int], domain: str,
                 namespace: str = "jabber:client", sender: str | None = None):
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.domain = domain
        self.header = (f"<?xml version='1.0'?><stream:stream to={quoteattr(domain)} "
                       + (f"from={quoteattr(sender)} " if sender else "")
                       + f"version='1.0' xmlns='{namespace}' xmlns:stream='{STREAMS}'"
                       + (f" xmlns:db='{DIALBACK}'" if namespace == "jabber:server" else "")
                       + ">")

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *_exc) -> None:
        self.sock.close()

    def open(self) -> ET.Element:
        """Open (or restart) the stream; the server's stream features."""
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self.send(self.header)
        features = self.next_element()
        if features.tag != f"{{{STREAMS}}}features":
            raise StreamError(f"the server answered {features.tag}, not its stream features")
        return features

    def starttls(self, context: ssl.SSLContext) -> ET.Element:
        """TLS on the stream, then the stream's new features."""
        self.send(f"<starttls xmlns='{TLS}'/>")
        if self.next_element().tag != f"{{{TLS}}}proceed":
            raise StreamError("the server refused STARTTLS")
        self.sock = context.wrap_socket(self.sock, server_hostname=self.domain)
        return self.open()

    def send(self, xml: str) -> None:
        self.sock.sendall(xml.encode())

    def next_element(self) -> ET.Element:
        while True:
            for event, element in self._parser.read_events():
                self._depth += 1 if event == "start" else -1
                if event == "end" and self._depth == 1:
                    if element.tag == f"{{{STREAMS}}}error":
                        raise StreamError(f"stream error: {_condition(element)}")
                    return element
                if self._depth == 0:
                    raise StreamError("the server closed the stream")
            data = self.sock.recv(65536)
            if not data:
                raise StreamError("the server closed the connection")
            try:
                self._parser.feed(data)
            except ET.ParseError as exc:
                raise StreamError(f"not XMPP ({exc})") from None


def _condition(error: ET.Element) -> str:
    return next((child.tag.rpartition("}")[2] for child in error), "unknown")
