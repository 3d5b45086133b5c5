"""Every file in deploy/ that a tool on this machine can check is checked with it.

systemd units: `systemd-analyze verify` (syntax, settings, the program exists) and `systemd-analyze
security --offline` (the hardening, as systemd scores it); their secrets reach the settings as
`bots.config` reads them. The nginx example: `nginx -t`, and a real nginx serving it over TLS,
proxying requests to small local backends. The certbot hook: `bash -n`.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from bots import config as configuration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALLED_BOTSCHAFT = "/opt/botschaft/.venv/bin/botschaft"
BOTSCHAFT = Path(sys.executable).parent / "botschaft"  # the entry point pip makes there too
UNITS = sorted(path.name for pattern in ("*.service", "*.timer") for path in DEPLOY.glob(pattern))
BOT_UNITS = ["botschaft.service", "botschaft-worker@.service"]
DOMAIN = "chat.example.com"
# What ejabberd takes (mod_http_upload max_size), and so what nginx must let through.
UPLOAD_LIMIT = yaml.safe_load((DEPLOY.parent / "ejabberd.yml").read_text(encoding="utf-8"))[
    "modules"]["mod_http_upload"]["max_size"]


def _program(name: str) -> str | None:
    """Also where a non-root PATH does not look (nginx is in /usr/sbin)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


SYSTEMD_ANALYZE = _program("systemd-analyze")
NGINX = _program("nginx")
OPENSSL = _program("openssl")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")
needs_nginx = pytest.mark.skipif(
    NGINX is None or OPENSSL is None,
    reason="nginx or openssl is not installed (Debian packages nginx, openssl; ./dev.sh test "
           "installs both)")


# --- systemd units ---------------------------------------------------------------------------

def installed_units(directory: Path) -> Path:
    """deploy/'s units in one folder (a timer finds its service there), as installed except
    for one thing: `systemd-analyze verify` fails when ExecStart's program is missing, and
    /opt/botschaft/.venv does not exist here, so ExecStart names this virtualenv's `botschaft`,
    the same entry point `pip install` puts into /opt/botschaft/.venv/bin."""
    assert BOTSCHAFT.exists(), f"no botschaft entry point at {BOTSCHAFT}"
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        if name in BOT_UNITS:
            assert f"ExecStart={INSTALLED_BOTSCHAFT} " in text
        (directory / name).write_text(text.replace(INSTALLED_BOTSCHAFT, str(BOTSCHAFT)),
                                      encoding="utf-8")
    return directory


def verify_problems(directory: Path, name: str) -> list[str]:
    """What `systemd-analyze verify` says about this unit (a template: about an instance).
    Unknown or misspelt settings are only warnings there, with exit code 0: every line
    naming the unit counts as a problem."""
    unit = name.replace("@.", "@1.")
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", str(directory / unit)],
                            capture_output=True, text=True, timeout=60)
    stem = name.split("@")[0].rsplit(".", 1)[0]
    problems = [line for line in (result.stdout + result.stderr).splitlines() if stem in line]
    if result.returncode != 0 and not problems:
        problems = [f"exit code {result.returncode}: {result.stderr.strip()}"]
    return problems


@needs_systemd_analyze
@pytest.mark.parametrize("name", UNITS)
def test_unit_verifies(tmp_path, name):
    assert verify_problems(installed_units(tmp_path), name) == []


@needs_systemd_analyze
def test_verify_names_a_misspelt_setting(tmp_path):
    """The check above can fail: a typo in a hardening setting would otherwise go unnoticed
    (systemd ignores the line)."""
    installed_units(tmp_path)
    unit = tmp_path / "botschaft.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict"))
    problems = verify_problems(tmp_path, "botschaft.service")
    assert any("ProtectSystm" in line for line in problems), problems


@needs_systemd_analyze
@pytest.mark.parametrize("name", BOT_UNITS)
def test_bot_unit_is_hardened(tmp_path, name):
    """systemd's own exposure score (0 safest … 10): at most 2.0 ("OK"); an unhardened
    service scores 9.6."""
    unit = installed_units(tmp_path) / name.replace("@.", "@1.")
    result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20",
                             "--no-pager", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "Overall exposure level" in result.stdout


def unit_settings(name: str) -> dict[str, list[str]]:
    """[Service] settings of a unit file: name → values in order (a setting may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _equals, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_bot_units_run_as_the_botschaft_user_with_a_config_the_cli_takes():
    for name in BOT_UNITS:
        settings = unit_settings(name)
        assert settings["User"] == ["botschaft"] and settings["Group"] == ["botschaft"]
        assert "DynamicUser" not in settings
        assert settings["StateDirectory"] == ["botschaft"]
        program, *arguments = settings["ExecStart"][0].split()
        assert program == INSTALLED_BOTSCHAFT
        # The real command line accepts these arguments (--config before `run`).
        result = subprocess.run([str(BOTSCHAFT), *arguments, "--help"], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Run the bot" in result.stdout


WORKER_CONFIG = """\
[xmpp]
mode = "component"
jid = "bot.chat.example.com"
host = "127.0.0.1"
port = 5347

[database]
url = "postgresql://botschaft@/botschaft"

[web]
listen = ""
"""


@pytest.mark.parametrize("name", BOT_UNITS)
def test_unit_secrets_reach_the_settings(tmp_path, name):
    """Each *_FILE variable names a credential the unit loads (LoadCredential=ID:PATH, copied
    to %d/ID), and bots.config reads the secret from there: the example configuration of
    deploy/ with botschaft.service, a component worker's with the worker template."""
    settings = unit_settings(name)
    credentials = dict(entry.split(":", 1) for entry in settings["LoadCredential"])
    assert all(path.startswith("/etc/botschaft/credentials/") for path in credentials.values())
    environ = {}
    for entry in settings["Environment"]:
        variable, _equals, value = entry.partition("=")
        if variable.endswith("_FILE"):
            credential = value.removeprefix("%d/")
            assert credential in credentials, f"{variable} names no loaded credential"
            (tmp_path / credential).write_text(f"secret of {credential}\n")
            environ[variable] = str(tmp_path / credential)
    assert len(environ) == len(credentials)
    if name == "botschaft.service":
        config_file = DEPLOY / "botschaft.toml.example"
    else:
        config_file = tmp_path / "worker-1.toml"
        config_file.write_text(WORKER_CONFIG)
    config = configuration.load(config_file, environ=environ)
    config.require()
    for variable, path in environ.items():  # BOTSCHAFT_EJABBERD_ADMIN_PASSWORD_FILE: …
        setting = variable.removeprefix("BOTSCHAFT_").removesuffix("_FILE").lower()
        section, _underscore, key = setting.partition("_")
        assert config.get(section, key) == Path(path).read_text().strip()


# --- the certbot hook ------------------------------------------------------------------------

def test_certbot_hook_is_valid_bash():
    hook = DEPLOY / "certbot-deploy-hook.sh"
    result = subprocess.run(["bash", "-n", str(hook)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(hook, os.X_OK), "certbot runs the hook only when it is executable"


# --- nginx -----------------------------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for the example's domain: nginx's own, and the one the
    ejabberd stand-in shows (nginx checks it, as it checks ejabberd's)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def replaced(text: str, old: str, new: str) -> str:
    """Replace a part the example must have (so a changed example fails here, not silently)."""
    assert old in text, f"deploy/nginx/botschaft.conf no longer holds {old!r}"
    return text.replace(old, new)


def example_for_test(cert: Path, http_port: int, https_port: int, webroot: Path) -> str:
    """The example with the test's certificate and the test's loopback ports (nginx binds
    them even for -t, and 80 and 443 may be taken or need root)."""
    text = (DEPLOY / "nginx" / "botschaft.conf").read_text(encoding="utf-8")
    key = cert.with_name("key.pem")
    text = replaced(text, f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem", str(cert))
    text = replaced(text, f"/etc/letsencrypt/live/{DOMAIN}/privkey.pem", str(key))
    text = replaced(text, "/etc/ssl/certs/ca-certificates.crt", str(cert))
    text = replaced(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = replaced(text, "listen [::]:80;", "")
    text = replaced(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = replaced(text, "listen [::]:443 ssl http2;", "")
    return replaced(text, "root /var/www/html;", f"root {webroot};")


def nginx_main_config(directory: Path, site: str) -> Path:
    """A main nginx.conf around the site file (Debian's includes sites-enabled/* in http{}):
    everything nginx writes stays in this folder; workers run as the current user."""
    (directory / "site.conf").write_text(site, encoding="utf-8")
    temp = directory / "temp"
    temp.mkdir()
    main = directory / "nginx.conf"
    # As root, nginx would run its workers as nobody; they run as root then, as the master.
    user = "user root;" if os.geteuid() == 0 else ""
    main.write_text(f"""\
daemon off;
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/site.conf;
}}
""", encoding="utf-8")
    return main


def nginx(directory: Path, *arguments: str) -> list[str]:
    return [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
            "-e", str(directory / "error.log"), *arguments]


@needs_nginx
def test_nginx_accepts_the_example(tmp_path, certificate):
    cert, _key = certificate
    nginx_main_config(tmp_path, example_for_test(cert, _free_port(), _free_port(), tmp_path))
    result = subprocess.run(nginx(tmp_path, "-t"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


class Backend(http.server.ThreadingHTTPServer):
    """A stand-in for the join page or ejabberd's HTTPS listener: answers 200 to every
    request and keeps what arrived (path, headers, peer address, body size)."""

    daemon_threads = True

    def __init__(self, tls: tuple[Path, Path] | None = None):
        self.seen: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Recorder)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        received = 0
        while received < length:
            received += len(self.rfile.read(min(65536, length - received)))
        self.server.seen.append({"method": self.command, "path": self.path,
                                 "headers": self.headers, "peer": self.client_address[0],
                                 "body": received})
        self.send_response(200)
        self.send_header("content-length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(tmp_path, certificate):
    """nginx running the example on loopback ports, in front of the two stand-ins."""
    cert, key = certificate
    join, ejabberd = Backend(), Backend(tls=(cert, key))
    http_port, https_port = _free_port(), _free_port()
    webroot = tmp_path / "webroot"
    (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
    (webroot / ".well-known" / "acme-challenge" / "probe").write_text("certbot was here")
    site = example_for_test(cert, http_port, https_port, webroot)
    site = replaced(site, "server 127.0.0.1:8732;", f"server 127.0.0.1:{join.port};")
    site = replaced(site, "server 127.0.0.1:5443;", f"server 127.0.0.1:{ejabberd.port};")
    nginx_main_config(tmp_path, site)
    process = subprocess.Popen(nginx(tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx ended: {process.stderr.read().decode()}"
                            f"{(tmp_path / 'error.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen within 15 s"
                time.sleep(0.1)
        yield {"join": join, "ejabberd": ejabberd, "http": http_port, "https": https_port,
               "cert": cert}
    finally:
        process.terminate()
        process.wait(timeout=15)
        join.shutdown()
        ejabberd.shutdown()


def request(proxy, method: str, path: str, headers: dict | None = None, body: bytes = b"",
            tls: bool = True, send_body: bool = True) -> http.client.HTTPResponse:
    """One request as a browser sends it to https://chat.example.com (the name in SNI and
    Host, the test certificate trusted). send_body=False: the headers only."""
    if tls:
        context = ssl.create_default_context(cafile=str(proxy["cert"]))
        connection = http.client.HTTPSConnection("127.0.0.1", proxy["https"], timeout=10)
        connection.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", proxy["https"]), timeout=10),
            server_hostname=DOMAIN)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", proxy["http"], timeout=10)
    headers = {"Host": DOMAIN, "Content-Length": str(len(body)), **(headers or {})}
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders(body if send_body else None)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@needs_nginx
def test_join_page_gets_the_visitors_address_and_host(proxy):
    """The join page trusts X-Forwarded-For's last entry ([join] behind_proxy): nginx puts the
    visitor's own address there, whatever the visitor sent."""
    response = request(proxy, "GET", "/join/abc123", {"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 200 and response.body == b"ok\n"
    assert response.getheader("Strict-Transport-Security") == "max-age=63072000"
    assert response.getheader("Server") == "nginx"  # no version
    [seen] = proxy["join"].seen
    assert seen["path"] == "/join/abc123"
    assert seen["headers"]["Host"] == DOMAIN
    assert seen["headers"].get_all("X-Forwarded-For") == ["127.0.0.1"]
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert request(proxy, "GET", "/chat").status == 200
    assert [seen["path"] for seen in proxy["join"].seen] == ["/join/abc123", "/chat"]
    assert proxy["ejabberd"].seen == []


@needs_nginx
def test_ejabberd_paths_reach_its_https_listener_with_the_websocket_upgrade(proxy):
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "xmpp"}
    assert request(proxy, "GET", "/ws", upgrade).status == 200
    assert request(proxy, "GET", "/conversejs").status == 200
    assert request(proxy, "GET", "/conversejs-dist/converse.min.js").status == 200
    seen = proxy["ejabberd"].seen
    assert [entry["path"] for entry in seen] == ["/ws", "/conversejs",
                                                 "/conversejs-dist/converse.min.js"]
    websocket = seen[0]["headers"]
    assert websocket["Upgrade"] == "websocket" and websocket["Connection"] == "upgrade"
    assert websocket["Sec-WebSocket-Protocol"] == "xmpp"
    assert websocket["Host"] == DOMAIN and websocket["X-Forwarded-For"] == "127.0.0.1"
    # Not from 127.0.0.1, which ejabberd's BOT_NETWORKS exempt from mod_fail2ban.
    assert {entry["peer"] for entry in seen} == {"127.0.0.2"}
    assert proxy["join"].seen == []


@needs_nginx
def test_uploads_up_to_ejabberds_limit_pass_larger_ones_do_not(proxy):
    assert request(proxy, "PUT", "/upload/slot/photo.jpg", body=b"x" * UPLOAD_LIMIT).status == 200
    assert proxy["ejabberd"].seen[-1]["body"] == UPLOAD_LIMIT
    # Refused on its announced length alone, before a byte of it is read.
    refused = request(proxy, "PUT", "/upload/slot/big.jpg",
                      {"Content-Length": str(UPLOAD_LIMIT + 1)}, send_body=False)
    assert refused.status == 413
    assert [entry["path"] for entry in proxy["ejabberd"].seen] == ["/upload/slot/photo.jpg"]


@needs_nginx
def test_nothing_else_is_proxied_metrics_included(proxy):
    for path in ("/metrics", "/healthz", "/status/items", "/", "/api/status", "/joinx"):
        assert request(proxy, "GET", path).status == 404, path
    assert proxy["join"].seen == [] and proxy["ejabberd"].seen == []


@needs_nginx
def test_plain_http_serves_certbot_and_sends_everyone_else_to_https(proxy):
    challenge = request(proxy, "GET", "/.well-known/acme-challenge/probe", tls=False)
    assert challenge.status == 200 and challenge.body == b"certbot was here"
    moved = request(proxy, "GET", "/join/abc123", tls=False)
    assert moved.status == 301
    assert moved.getheader("Location") == f"https://{DOMAIN}/join/abc123"
