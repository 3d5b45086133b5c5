"""A private ejabberd for development and tests, run from Debian's package.

Everything the instance needs lives in one state directory of ours (configuration, certificate,
database, logs, pid file), it listens on loopback ports only, and it talks to no other Erlang
node: the distribution port is fixed (no epmd) and the cookie is its own. So it runs beside a
system ejabberd or RabbitMQ without touching them, and `stop` can only ever stop this instance.

The configuration is the repository's reference `ejabberd.yml`, unchanged; the site values it
expects (host name, ports, paths, secrets) are written as macros to `botschaft-site.yml`. The web
chat's Converse.js files are copied into the state directory, where ejabberd's user can read them.

ejabberd keeps its data in SQLite in the state directory, or in a PostgreSQL database given as a
URL. Several such servers sharing one PostgreSQL database form a cluster (`DevCluster`): each
node has its own loopback address (127.0.0.N) and long node name, and they all listen for
Erlang distribution on the same port, as the nodes of a real cluster do on their hosts
(ERL_DIST_PORT), so still no epmd is involved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bots.ejabberd_api import EjabberdAPI, EjabberdAPIError
from bots.storage import redacted

log = logging.getLogger(__name__)

SERVER_USER = "ejabberd"
INSTALL_HINT = ("Install it with: sudo apt-get install -y ejabberd erlang-p1-sqlite3 "
                "erlang-p1-oauth2 erlang-p1-pgsql")
# ejabberd's schema for PostgreSQL as Debian installs it: the one `new_sql_schema: false` in
# ejabberd.yml reads (pg.new.sql is the other, with a server_host column in every table).
PGSQL_SCHEMA = Path("/usr/share/ejabberd/sql/pg.sql")
SQL_URL_FORM = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
DEFAULT_STATE_DIR = Path("/var/lib/botschaft/devserver")
PORT_NAMES = ("c2s", "component", "api", "web", "dist", "s2s")
ADMIN_USER = "admin"
BOT_USER = "bot"
# The bots connect from loopback: failed logins from here never lock them out (mod_fail2ban).
BOT_NETWORKS = ["127.0.0.1/32", "::1/128"]
# The push services of the common phone apps (XEP-0357 app servers), the only servers ejabberd.yml
# lets this one talk to (PUSH_SERVICES): Monal (iPhone; its European and American servers),
# Conversations from the Play Store (Android), Siskin IM and Tigase Messenger (iPhone, Android).
PUSH_SERVICES = ["eu.prod.push.monal-im.org", "us.prod.push.monal-im.org", "p2.siacs.eu",
                 "push.tigase.im"]
CONVERSEJS_HINT = ("Install it with `./dev.sh run` (npm ci in deploy/conversejs), or set "
                   "BOTSCHAFT_CONVERSEJS_DIR to the dist/ folder of the npm package converse.js")


class DevServerError(Exception):
    """Something the person starting the server can fix; the message says how."""


def reference_config() -> Path:
    """The reference ejabberd.yml: the repository's own, or the copy `pip install` placed."""
    for candidate in (
        Path(__file__).resolve().parent.parent / "ejabberd.yml",
        Path(sys.prefix) / "share" / "botschaft" / "ejabberd.yml",
    ):
        if candidate.is_file():
            return candidate
    raise DevServerError("ejabberd.yml not found: reinstall botschaft (pip install .)")


def conversejs_dist() -> Path | None:
    """Converse.js's dist/ folder: BOTSCHAFT_CONVERSEJS_DIR, the repository's npm install
    (deploy/conversejs), or a copy installed beside the package; None when there is none."""
    candidates = [Path(__file__).resolve().parent.parent / "deploy" / "conversejs"
                  / "node_modules" / "converse.js" / "dist",
                  Path(sys.prefix) / "share" / "botschaft" / "conversejs"]
    if os.environ.get("BOTSCHAFT_CONVERSEJS_DIR"):
        candidates.insert(0, Path(os.environ["BOTSCHAFT_CONVERSEJS_DIR"]))
    return next((path for path in candidates if (path / "converse.min.js").is_file()), None)


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
        return True


@dataclass
class Instance:
    """What a client needs to reach the instance; saved as instance.json (mode 0600)."""

    domain: str
    node: str
    ports: dict[str, int]
    component_secret: str
    admin_password: str
    certfile: str
    accounts: dict[str, str] = field(default_factory=dict)
    # ejabberd's PostgreSQL database (a URL); None: SQLite in the state directory.
    sql: str | None = None

    @property
    def admin_jid(self) -> str:
        return f"{ADMIN_USER}@{self.domain}"

    @property
    def c2s_port(self) -> int:
        return self.ports["c2s"]

    @property
    def web_url(self) -> str:
        """The HTTPS listener of the web chat (ejabberd_http, TLS)."""
        return f"https://{self.domain}:{self.ports['web']}"

    @property
    def websocket_url(self) -> str:
        """XMPP over WebSocket (RFC 7395), as Converse.js connects."""
        return f"wss://{self.domain}:{self.ports['web']}/ws"

    @property
    def chat_url(self) -> str:
        """The web chat's page (Converse.js, served by mod_conversejs)."""
        return f"{self.web_url}/conversejs"

    @property
    def upload_url(self) -> str:
        """Where clients send and fetch shared files (mod_http_upload on the HTTPS listener)."""
        return f"{self.web_url}/upload"

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate, for clients that verify TLS against it."""
        return Path(self.certfile).with_suffix(".crt")

    def api(self) -> EjabberdAPI:
        return EjabberdAPI(f"http://127.0.0.1:{self.ports['api']}/api",
                           self.admin_jid, self.admin_password)


class DevServer:
    """One private ejabberd instance, identified by its state directory.

    `sql`: a PostgreSQL URL for ejabberd's data (remembered for later starts); without it,
    SQLite. `address`: a cluster node's own loopback address (127.0.0.N), which gives it a long
    node name there; `cookie`: the Erlang cookie the nodes of one cluster share.
    Server-to-server, for tests with a second server standing in for a push service's:
    `push_services`, the domains it talks to (default PUSH_SERVICES); `s2s_cafile`, the CAs
    whose certificates it accepts from them (default: its own certificate, which no other
    server has); `nameserver`, (address, port) of the DNS server to find them with (default:
    the system's).
    """

    def __init__(self, state_dir: Path | str = DEFAULT_STATE_DIR, domain: str = "localhost",
                 config_file: Path | None = None, ejabberdctl: str = "ejabberdctl",
                 sql: str | None = None, address: str | None = None, cookie: str | None = None,
                 push_services: list[str] | None = None, s2s_cafile: Path | None = None,
                 nameserver: tuple[str, int] | None = None):
        self.state_dir = Path(state_dir).absolute()
        self.domain = domain
        self.config_file = Path(config_file) if config_file else None
        self.ejabberdctl = ejabberdctl
        self.sql = sql
        self.address = address or "127.0.0.1"
        self.cookie = cookie
        self.push_services = PUSH_SERVICES if push_services is None else push_services
        self.s2s_cafile = s2s_cafile
        self.nameserver = nameserver
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:10]
        self.node = f"botschaft-{digest}@{address or 'localhost'}"
        self._admin_api: tuple[tuple, EjabberdAPI] | None = None  # see `api`

    # --- paths -----------------------------------------------------------------------------
    @property
    def etc(self) -> Path:
        return self.state_dir / "etc"

    @property
    def spool(self) -> Path:
        return self.state_dir / "spool"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def conversejs_dir(self) -> Path:
        return self.state_dir / "conversejs"

    @property
    def upload_dir(self) -> Path:
        """Files people upload (mod_http_upload's docroot), inside ejabberd's own spool."""
        return self.spool / "upload"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "run" / "ejabberd.pid"

    @property
    def instance_file(self) -> Path:
        return self.state_dir / "instance.json"

    @property
    def cookie_file(self) -> Path:
        """The Erlang cookie of the node and of its ejabberdctl (HOME is the state directory)."""
        return self.state_dir / ".erlang.cookie"

    # --- public API ------------------------------------------------------------------------
    def load_instance(self) -> Instance | None:
        try:
            return Instance(**json.loads(self.instance_file.read_text()))
        except FileNotFoundError:
            return None

    def pid(self) -> int | None:
        """The pid of our own ejabberd (found by its node name), or None."""
        needle = self.node.encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if needle in cmdline and b"-mnesia" in cmdline:
                return int(entry.name)
        return None

    def status(self) -> dict:
        instance = self.load_instance()
        pid = self.pid()
        stale = pid is None and self.pid_file.exists()
        return {
            "running": pid is not None,
            "pid": pid,
            "stale": stale,
            "state_dir": str(self.state_dir),
            "node": self.node,
            "domain": instance.domain if instance else self.domain,
            "ports": instance.ports if instance else {},
        }

    def start(self, ports: dict[str, int] | None = None, timeout: float = 60.0,
              join: DevServer | None = None) -> Instance:
        """Start the instance (or find it running) and return once it accepts logins.

        With `join`, a running node on the same PostgreSQL database, this node takes that
        node's secrets and joins its cluster (once; a member stays one across restarts)."""
        ctl = self._ejabberdctl()
        instance = self.load_instance()
        if join is not None:
            instance = self._shared_with(instance, join._running_instance())
        if instance is not None and instance.domain != self.domain:
            raise DevServerError(
                f"{self.state_dir} holds the server for {instance.domain}, not {self.domain}; "
                "choose another --state-dir for another domain")
        if self.pid() is not None and instance is not None:
            differing = {name: port for name, port in (ports or {}).items()
                         if instance.ports.get(name) != port}
            if differing:
                raise DevServerError(f"the server already runs with ports {instance.ports}; "
                                     "stop it first to change them")
            self._wait_until_ready(instance, timeout)
        else:
            self._clean_stale_state()
            instance = self._prepare(instance, ports or {})
            self._run_ctl(ctl, "start")
            self._wait_until_ready(instance, timeout)
            self._ensure_admin(ctl, instance)
        if join is not None and join.node not in self.cluster_members():
            self._join(ctl, instance, join, timeout)
        return instance

    def cluster_members(self) -> list[str]:
        """The running nodes of this node's cluster (`ejabberdctl list_cluster`)."""
        self._running_instance()
        output = self._run_ctl(self._ejabberdctl(), "list_cluster")
        return [line.strip().strip("'") for line in output.splitlines() if line.strip()]

    def version(self) -> str:
        """The ejabberd version this node runs, as it says itself (`ejabberdctl status`)."""
        output = self._run_ctl(self._ejabberdctl(), "status")
        found = re.search(r"ejabberd (\S+) is running", output)
        return found.group(1) if found else output.strip()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our instance; returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            self._clean_stale_state()
            return False
        try:
            self._run_ctl(self._ejabberdctl(), "stop")
        except DevServerError as exc:
            log.warning("ejabberdctl stop failed (%s); terminating pid %d", exc, pid)
            os.kill(pid, signal.SIGTERM)
        if not _wait_for_exit(pid, timeout):
            log.warning("ejabberd (pid %d) did not stop within %.0f s; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            _wait_for_exit(pid, 5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def add_user(self, user: str, password: str | None = None) -> str:
        """Create an account and return its password (generated unless given). A person's
        account is kept apart from the others' (see `keep_apart`); a bot account is not."""
        instance = self._running_instance()
        password = password or generate_password()
        try:
            self.api(instance).register(user, instance.domain, password)
        except EjabberdAPIError as exc:
            raise DevServerError(f"cannot create {user}@{instance.domain}: {exc}") from exc
        self.keep_apart(instance, user)
        self._remember_account(instance, user, password)
        return password

    def ensure_user(self, user: str) -> str:
        """The account's password: the one saved earlier if it still works, else a new one."""
        instance = self._running_instance()
        api = self.api(instance)
        known = instance.accounts.get(user)
        if known and api.call("check_password", user=user, host=instance.domain,
                              password=known) == 0:
            self.keep_apart(instance, user)  # also for accounts made before they got the list
            return known
        exists = api.call("check_account", user=user, host=instance.domain) == 0
        if not exists:
            return self.add_user(user)
        password = generate_password()
        api.call("change_password", user=user, host=instance.domain, newpass=password)
        self.keep_apart(instance, user)
        self._remember_account(instance, user, password)
        return password

    def api(self, instance: Instance) -> EjabberdAPI:
        """The running instance's admin API for account work, with a token: asked for once,
        where the admin's password is checked (a deliberately slow hash) at every call.
        Creating an account took about 90 ms, half of it those checks."""
        key = (instance.ports["api"], instance.admin_jid, instance.admin_password)
        if self._admin_api is None or self._admin_api[0] != key:
            api = instance.api()
            try:
                api.use_token()
            except EjabberdAPIError:  # a configuration without the admin tokens' rule
                pass
            self._admin_api = (key, api)
        return self._admin_api[1]

    def keep_apart(self, instance: Instance, user: str) -> None:
        """Give a person's account the default privacy list that keeps customers apart (see
        ejabberd.yml); bot accounts stay open to everyone."""
        bots = bot_accounts(instance.domain)
        if f"{user}@{instance.domain}" in bots:
            return
        try:
            self.api(instance).keep_apart(user, instance.domain, bots)
        except EjabberdAPIError as exc:
            raise DevServerError(str(exc)) from exc

    def add_contacts(self, user: str, other: str, group: str = "Botschaft") -> None:
        """Put two accounts in each other's contact list, so clients show them online."""
        instance = self._running_instance()
        self.api(instance).add_contacts(user, other, instance.domain, group)

    def delete_user(self, user: str) -> None:
        instance = self._running_instance()
        api = self.api(instance)
        if api.call("check_account", user=user, host=instance.domain) != 0:
            raise DevServerError(f"no account {user}@{instance.domain}")
        api.call("unregister", user=user, host=instance.domain)
        instance.accounts.pop(user, None)
        self._save_instance(instance)

    # --- steps -----------------------------------------------------------------------------
    def _shared_with(self, previous: Instance | None, first: Instance) -> Instance:
        """A cluster's nodes share one database, so one admin password, one component secret
        and the same accounts: this node takes them from the node it joins."""
        if previous is None:
            return Instance(domain=first.domain, node=self.node, ports={},
                            component_secret=first.component_secret,
                            admin_password=first.admin_password, certfile="",
                            accounts=dict(first.accounts), sql=first.sql)
        previous.component_secret = first.component_secret
        previous.admin_password = first.admin_password
        previous.accounts = dict(first.accounts)
        previous.sql = first.sql
        return previous

    def _join(self, ctl: str, instance: Instance, other: DevServer, timeout: float) -> None:
        """`ejabberdctl join_cluster`: this node's Mnesia is replaced by a copy of the other's,
        and its ejabberd restarts. Checked first: the same ejabberd version (nodes of another
        version would share Mnesia tables of another shape); a refused connection is
        explained by its usual cause, another cookie."""
        mine, theirs = self.version(), other.version()
        if mine != theirs:
            raise DevServerError(
                f"{self.node} runs ejabberd {mine}, {other.node} runs {theirs}: the nodes of a "
                "cluster must run the same version; install the same package on both")
        try:
            self._run_ctl(ctl, "join_cluster", other.node, timeout=timeout)
        except DevServerError as exc:
            if _read_cookie(self.cookie_file) != _read_cookie(other.cookie_file):
                raise DevServerError(
                    f"{self.node} cannot join {other.node}: their Erlang cookies differ "
                    f"({self.cookie_file}, {other.cookie_file}). The nodes of a cluster share "
                    "one cookie: copy it to every node (owner ejabberd, mode 400) and restart "
                    "the node") from exc
            raise DevServerError(
                f"{self.node} cannot join {other.node} ({exc}); is it running, and is its "
                f"distribution port {instance.ports['dist']} reachable from this node?") from exc
        self._wait_until_ready(instance, timeout)

    def _ejabberdctl(self) -> str:
        path = shutil.which(self.ejabberdctl, path=os.pathsep.join(
            [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
        if path is None:
            raise DevServerError(
                f"ejabberd is not installed ({self.ejabberdctl} not found). {INSTALL_HINT}")
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise DevServerError(
                f"the system user '{SERVER_USER}' is missing; ejabberd's Debian package creates "
                f"it. {INSTALL_HINT}") from None
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != SERVER_USER:
            raise DevServerError(
                f"the private ejabberd runs as the system user '{SERVER_USER}': "
                "run this command as root (sudo) or as that user")
        return path

    def _running_instance(self) -> Instance:
        instance = self.load_instance()
        if instance is None or self.pid() is None:
            raise DevServerError(
                f"the dev server in {self.state_dir} is not running; "
                "start it with: botschaft server start")
        return instance

    def _clean_stale_state(self) -> None:
        """A crashed run leaves its pid file behind; ejabberd's database recovers by itself."""
        if self.pid_file.exists():
            log.warning("found stale state from a crashed run in %s (pid file of a process "
                        "that no longer runs); cleaning it up", self.state_dir)
            self.pid_file.unlink()

    def _prepare(self, previous: Instance | None, wanted: dict[str, int]) -> Instance:
        sql = self.sql or (previous.sql if previous else None)
        sql_macros = _sql_macros(sql)  # a malformed URL fails before anything is written
        ports = self._choose_ports(previous, wanted)
        for path in (self.state_dir, self.etc, self.spool, self.upload_dir, self.logs,
                     self.pid_file.parent):
            path.mkdir(parents=True, exist_ok=True)
        _check_reachable_by_server_user(self.state_dir)
        certfile = self.etc / "server.pem"
        if not certfile.exists():
            _make_self_signed_certificate(certfile, self.domain)
        instance = Instance(
            domain=self.domain,
            node=self.node,
            ports=ports,
            component_secret=previous.component_secret if previous else generate_password(),
            admin_password=previous.admin_password if previous else generate_password(),
            certfile=str(certfile),
            accounts=previous.accounts if previous else {},
            sql=sql,
        )
        if sql:
            _load_pgsql_schema(sql)
        else:
            _create_sqlite_database_in_wal_mode(self.spool / "ejabberd.sqlite")
            sql_macros["SQL_DATABASE"] = str(self.spool / "ejabberd.sqlite")
        _copy_conversejs(self.conversejs_dir)
        shutil.copyfile(self.config_file or reference_config(), self.etc / "ejabberd.yml")
        (self.etc / "inetrc").write_text(_inetrc(self.nameserver))
        shutil.copyfile(self.s2s_cafile or instance.ca_file, self.etc / "s2s-ca.pem")
        (self.spool / "botschaft-site.yml").write_text(self._site_macros(instance, sql_macros))
        (self.etc / "ejabberdctl.cfg").write_text(self._ctl_config(instance))
        if self.cookie:
            self.cookie_file.unlink(missing_ok=True)  # Erlang wants it read-only
            with os.fdopen(os.open(self.cookie_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                   0o400), "w") as cookie:
                cookie.write(self.cookie)
        _chown_tree(self.state_dir, SERVER_USER)
        self.state_dir.chmod(0o750)
        (self.spool / "botschaft-site.yml").chmod(0o600)
        self._save_instance(instance)
        return instance

    def _choose_ports(self, previous: Instance | None, wanted: dict[str, int]) -> dict[str, int]:
        """Given ports win; otherwise keep last run's ports (clients stay configured) or pick
        free ones."""
        unknown = set(wanted) - set(PORT_NAMES)
        if unknown:
            raise DevServerError(f"unknown port name(s) {sorted(unknown)}; "
                                 f"allowed: {', '.join(PORT_NAMES)}")
        ports = {}
        for name in PORT_NAMES:
            address = self.address if name == "dist" else "127.0.0.1"
            if wanted.get(name):
                port = wanted[name]
                if not port_is_free(port, address):
                    raise DevServerError(
                        f"port {port} ({name}) on {address} is in use by another program; "
                        f"choose another with --{name}-port, or leave it out to get a free one")
            elif previous and name in previous.ports and port_is_free(previous.ports[name],
                                                                      address):
                port = previous.ports[name]  # an older instance.json lacks newer port names
            else:
                port = free_port()
            ports[name] = port
        if len(set(ports.values())) != len(ports):
            raise DevServerError(f"each port must differ: {ports}")
        return ports

    def _site_macros(self, instance: Instance, sql_macros: dict) -> str:
        macros = {
            "XMPP_DOMAIN": instance.domain,
            "TLS_CERTFILE": instance.certfile,
            "C2S_IP": "127.0.0.1",
            "C2S_PORT": instance.ports["c2s"],
            "COMPONENT_PORT": instance.ports["component"],
            "COMPONENT_SECRET": instance.component_secret,
            "API_PORT": instance.ports["api"],
            "WEB_IP": "127.0.0.1",
            "WEB_PORT": instance.ports["web"],
            "WEBSOCKET_URL": "auto",  # wss://XMPP_DOMAIN:WEB_PORT/ws, Instance.websocket_url
            "CONVERSEJS_DIR": str(self.conversejs_dir),
            "UPLOAD_DIR": str(self.upload_dir),
            # ejabberd puts the host name in for @HOST@; the HTTPS listener answers there.
            "UPLOAD_URL": f"https://@HOST@:{instance.ports['web']}/upload",
            "ADMIN_ACCOUNTS": [instance.admin_jid],
            **sql_macros,
            "BOT_ACCOUNTS": bot_accounts(instance.domain),
            "BOT_NETWORKS": BOT_NETWORKS,
            "S2S_IP": "127.0.0.1",
            "S2S_PORT": instance.ports["s2s"],
            # Other servers' certificates are checked against this copy of `s2s_cafile`: by
            # default only the dev server's own passes, so it reaches no real push service (a
            # real installation names the system's CAs).
            "S2S_CAFILE": str(self.etc / "s2s-ca.pem"),
            "PUSH_SERVICES": self.push_services,
        }
        # JSON is valid YAML, and json.dumps quotes every string safely.
        lines = ["# Written by `botschaft server start`; site values for ejabberd.yml.",
                 "define_macro:"]
        lines += [f"  {name}: {json.dumps(value)}" for name, value in macros.items()]
        return "\n".join(lines) + "\n"

    def _ctl_config(self, instance: Instance) -> str:
        # ERL_DIST_PORT: the node listens on a fixed port of ours and never registers with the
        # machine's shared epmd, which ejabberdctl would otherwise stop when it thinks it's idle.
        return "\n".join([
            "# Written by `botschaft server start`.",
            f"ERLANG_NODE={self.node}",
            f"ERL_DIST_PORT={instance.ports['dist']}",
            ('ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 '
             f'-kernel inet_dist_use_interface {{{self.address.replace(".", ",")}}}"'),
            f"EJABBERD_PID_PATH={self.pid_file}",
            "EJABBERD_BYPASS_WARNINGS=true",
            "",
        ])

    def ctl(self, *args: str) -> str:
        """Any ejabberdctl command for this private server (`botschaft server ctl …`)."""
        self._running_instance()
        return self._run_ctl(self._ejabberdctl(), *args)

    def _run_ctl(self, ctl: str, *args: str, timeout: float = 60) -> str:
        """Run ejabberdctl for our node as the ejabberd user.

        setpriv, not su: su goes through pam_limits, which resets the open-files limit to 1024
        and caps the server at about a thousand connections.
        """
        prefix = []
        if os.geteuid() == 0:
            prefix = ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}",
                      "--init-groups"]
        command = prefix + [
            ctl, "--config-dir", str(self.etc), "--config", str(self.etc / "ejabberd.yml"),
            "--ctl-config", str(self.etc / "ejabberdctl.cfg"), "--spool", str(self.spool),
            "--logs", str(self.logs), *args]
        env = {"HOME": str(self.state_dir), "LANG": "C.UTF-8",
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        result = subprocess.run(command, check=False, env=env, cwd=self.state_dir,
                                capture_output=True, text=True, timeout=timeout,
                                preexec_fn=_raise_open_files_limit)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise DevServerError(f"ejabberdctl {args[0]} failed: {output}")
        return result.stdout

    def _wait_until_ready(self, instance: Instance, timeout: float) -> None:
        """Wait until the client port offers STARTTLS, or report why ejabberd did not start."""
        started = time.monotonic()
        seen_process = False
        while time.monotonic() - started < timeout:
            if self.pid() is not None:
                seen_process = True
                if _offers_starttls(instance.c2s_port, instance.domain):
                    return
            elif seen_process or time.monotonic() - started > 10:
                raise DevServerError("ejabberd stopped while starting:\n" + self._log_tail())
            time.sleep(0.2)
        raise DevServerError(f"ejabberd did not accept connections within {timeout:.0f} s:\n"
                             + self._log_tail())

    def _ensure_admin(self, ctl: str, instance: Instance) -> None:
        """The admin account the HTTP API authenticates; created once through ejabberdctl,
        and kept apart from the customers like every person's account."""
        try:
            instance.api().call("status")
        except EjabberdAPIError:
            self._run_ctl(ctl, "register", ADMIN_USER, instance.domain, instance.admin_password)
        self.keep_apart(instance, ADMIN_USER)

    def _log_tail(self, lines: int = 20) -> str:
        found = []
        for name in ("error.log", "crash.log", "ejabberd.log"):
            path = self.logs / name
            if path.exists():
                found += [f"{path}:"] + path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(found) or f"(no log files in {self.logs})"

    def _remember_account(self, instance: Instance, user: str, password: str) -> None:
        instance.accounts[user] = password
        self._save_instance(instance)

    def _save_instance(self, instance: Instance) -> None:
        temporary = self.instance_file.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(json.dumps(asdict(instance), indent=2))
        temporary.replace(self.instance_file)


class DevCluster:
    """Private ejabberd nodes joined in one cluster on this machine, sharing a PostgreSQL
    database: node N in `STATE_DIR/nodeN`, on 127.0.0.N, all with one Erlang cookie."""

    def __init__(self, state_dir: Path | str = DEFAULT_STATE_DIR, size: int | None = None,
                 sql: str | None = None, domain: str = "localhost",
                 ejabberdctl: str = "ejabberdctl"):
        self.state_dir = Path(state_dir).absolute()
        if size is None:
            size = len(self.node_dirs(self.state_dir))
        if not 2 <= size <= 9:
            raise DevServerError(f"a cluster has 2 to 9 nodes, not {size}")
        cookie = _read_cookie(self.state_dir / "node1" / ".erlang.cookie") or secrets.token_hex(20)
        self.nodes = [DevServer(self.state_dir / f"node{number}", domain, ejabberdctl=ejabberdctl,
                                sql=sql, address=f"127.0.0.{number}", cookie=cookie)
                      for number in range(1, size + 1)]

    @staticmethod
    def node_dirs(state_dir: Path) -> list[Path]:
        """The node directories of a cluster started in `state_dir` before (none: no cluster)."""
        return sorted(path.parent for path in Path(state_dir).glob("node[1-9]/instance.json"))

    def start(self, timeout: float = 60.0) -> list[Instance]:
        """Start every node (the first, then each joining it); returns their instances."""
        if (self.state_dir / "instance.json").exists():
            raise DevServerError(f"{self.state_dir} holds a single server, not a cluster; "
                                 "choose another --state-dir for the cluster")
        first = self.nodes[0]
        previous = first.load_instance()
        if not (first.sql or (previous and previous.sql)):
            raise DevServerError(
                f"the nodes of a cluster share their data in PostgreSQL: give --sql {SQL_URL_FORM}")
        dist = self._dist_port(previous)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o711)  # ejabberd's user passes through to its node directories
        instances = [first.start({"dist": dist}, timeout)]
        for node in self.nodes[1:]:
            instances.append(node.start({"dist": dist}, timeout, join=first))
        return instances

    def stop(self) -> int:
        """Stop the nodes, the first last (it then holds the newest Mnesia tables, and a
        cluster starts again from it); returns how many were running."""
        return sum(node.stop() for node in reversed(self.nodes))

    def status(self) -> list[dict]:
        return [node.status() for node in self.nodes]

    def _dist_port(self, previous: Instance | None) -> int:
        """One Erlang distribution port for every node (on its own address), as ERL_DIST_PORT
        is on every host of a real cluster: last start's, or a free one."""
        addresses = [node.address for node in self.nodes]
        if previous and "dist" in previous.ports:
            port = previous.ports["dist"]
            if (any(node.pid() is not None for node in self.nodes)
                    or all(port_is_free(port, address) for address in addresses)):
                return port
        for _ in range(20):
            port = free_port()
            if all(port_is_free(port, address) for address in addresses):
                return port
        raise DevServerError("found no port free on all of " + ", ".join(addresses))


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def bot_accounts(domain: str) -> list[str]:
    """The bot accounts of the dev server (BOT_ACCOUNTS in ejabberd.yml)."""
    return [f"{BOT_USER}@{domain}"]


def _sql_macros(url: str | None) -> dict:
    """ejabberd.yml's SQL_* macros for a PostgreSQL URL, or for SQLite (whose SQL_DATABASE,
    a file in the state directory, the caller adds)."""
    if url is None:
        return {"SQL_TYPE": "sqlite", "SQL_SERVER": "localhost", "SQL_PORT": 5432,
                "SQL_USERNAME": "ejabberd", "SQL_PASSWORD": ""}
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:
        port = None
    if (parts.scheme not in ("postgresql", "postgres") or not parts.hostname
            or not parts.username or not parts.path.strip("/") or parts.query or port is None):
        raise DevServerError(f"ejabberd's database must be given as {SQL_URL_FORM} "
                             f"(a user, a host and a database; no options), not {redacted(url)}")
    return {"SQL_TYPE": "pgsql", "SQL_SERVER": parts.hostname, "SQL_PORT": port,
            "SQL_DATABASE": unquote(parts.path.strip("/")),
            "SQL_USERNAME": unquote(parts.username), "SQL_PASSWORD": unquote(parts.password or "")}


def _load_pgsql_schema(url: str) -> None:
    """ejabberd 23.01 makes its tables by itself only in SQLite (`update_sql_schema` came with
    23.10); into an empty PostgreSQL database its pg.sql is loaded here, in one transaction."""
    try:
        import psycopg
    except ImportError:
        raise DevServerError("ejabberd on PostgreSQL needs psycopg to load its tables: "
                             "pip install 'botschaft[postgres]'") from None
    try:
        with psycopg.connect(url, connect_timeout=5) as connection:
            columns = {row[0] for row in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'users' AND table_schema = current_schema()")}
            if "server_host" in columns:
                raise DevServerError(
                    f"{redacted(url)} holds ejabberd's tables in the new schema (pg.new.sql), "
                    "but ejabberd.yml reads the one of pg.sql (new_sql_schema: false); "
                    "give an empty database")
            if not columns:
                connection.execute(PGSQL_SCHEMA.read_text())
    except psycopg.Error as exc:
        raise DevServerError(f"cannot prepare ejabberd's database {redacted(url)}: {exc}") from exc
    except FileNotFoundError:
        raise DevServerError(f"{PGSQL_SCHEMA} is missing: ejabberd's Debian package "
                             f"installs it. {INSTALL_HINT}") from None


def _inetrc(nameserver: tuple[str, int] | None) -> str:
    """Erlang's resolver settings. ejabberd finds other servers (s2s) through DNS alone, never
    the hosts file; with `nameserver`, through that DNS server alone."""
    lines = []
    if nameserver:
        host, port = nameserver
        lines = ['{resolv_conf, ""}.', f'{{nameserver, {{{host.replace(".", ",")}}}, {port}}}.']
    return "\n".join([*lines, '{lookup, ["file", "native"]}.', ""])


def _read_cookie(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _offers_starttls(port: int, domain: str) -> bool:
    """True when the c2s listener answers a stream header with its features."""
    header = (f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
              "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(header.encode())
            received = b""
            while b"</stream:features>" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                received += chunk
            return b"starttls" in received
    except OSError:
        return False


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _chown_tree(root: Path, user: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _check_reachable_by_server_user(path: Path) -> None:
    """ejabberd runs as its own user, so every parent directory must let it pass."""
    if os.geteuid() != 0:
        return
    for parent in path.parents:
        if not os.stat(parent).st_mode & 0o001:
            raise DevServerError(
                f"the user '{SERVER_USER}' cannot enter {parent}, so ejabberd cannot reach "
                f"{path}; choose a state directory elsewhere with --state-dir")


def _copy_conversejs(target: Path) -> None:
    """A fresh copy of Converse.js for mod_conversejs (the repository may sit where ejabberd's
    user cannot read, such as /root). Without one the server starts and the chat page stays
    blank; the warning says how to install it."""
    shutil.rmtree(target, ignore_errors=True)
    source = conversejs_dist()
    if source is None:
        log.warning("Converse.js not found: the web chat will not work. %s", CONVERSEJS_HINT)
        target.mkdir()
        return
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.map"))


def _create_sqlite_database_in_wal_mode(path: Path) -> None:
    """An empty database file in write-ahead-log mode (the mode is stored in the file): each
    commit then costs one sync instead of several, which roughly doubles how many messages
    ejabberd can store or archive a second. ejabberd creates its tables in an empty file."""
    if path.exists():
        return
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def _make_self_signed_certificate(certfile: Path, domain: str) -> None:
    """A self-signed certificate for the domain and its subdomains (conference., bot., …)."""
    keyfile = certfile.with_suffix(".key")
    crtfile = certfile.with_suffix(".crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
         "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain},DNS:*.{domain}",
         "-keyout", str(keyfile), "-out", str(crtfile)],
        check=True, capture_output=True)
    certfile.write_bytes(keyfile.read_bytes() + crtfile.read_bytes())
    certfile.chmod(0o600)
    keyfile.unlink()  # the .crt stays: clients verify the server against it
