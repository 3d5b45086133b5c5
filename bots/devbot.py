"""The bot of `botschaft dev`, run as an unprivileged user.

`./dev.sh run` needs root for apt-get and to start ejabberd as its own user; the bot, which
reads whatever strangers write to it, must not keep those rights. As root, `botschaft dev`
runs `botschaft run` as the system user `botschaft` (created when missing), with its own
directory (`<state dir>-bot`: the database and a copy of the server's certificate) and no way
to gain privileges again. Run without root, the bot simply runs as the calling user.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bots.devserver import Instance

BOT_SYSTEM_USER = "botschaft"
DEFAULT_WEB_PORT = 8731  # /healthz and /metrics, as the README shows them
DEFAULT_JOIN_PORT = 8732  # the join page
BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")


class DevBotError(Exception):
    """The bot could not be started; the message says why and what to do."""


def bot_directory(state_dir: Path) -> Path:
    """Beside the server's directory, which only ejabberd's user may enter."""
    return state_dir.with_name(f"{state_dir.name}-bot")


class DevBot:
    """`botschaft run` in a child process, unprivileged; `start()` returns once it is online.
    Its configuration is a file in its directory (`config_file`), which `./dev.sh botschaft …`
    hands to the command line, so that admin commands reach the dev bot's database."""

    def __init__(self, state_dir: Path, instance: Instance, jid: str, password: str,
                 admins: list[str]):
        self.directory = bot_directory(state_dir)
        self.config_file = self.directory / "botschaft.toml"
        self.instance = instance
        self.settings = {"jid": jid, "host": "127.0.0.1", "port": instance.c2s_port,
                         "admins": admins}
        self.password = password
        self.ca_file = instance.ca_file
        self.join_url = ""  # the join page's address, from start() on
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        user = _ensure_system_user() if os.geteuid() == 0 else None
        web_port = _free_port(DEFAULT_WEB_PORT)
        join_port = _free_port(DEFAULT_JOIN_PORT)
        self.join_url = f"http://127.0.0.1:{join_port}"
        self._prepare_directory(web_port, join_port)
        if user is not None:
            for path in [self.directory, *self.directory.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        environ = {**os.environ, "BOTSCHAFT_CONFIG": str(self.config_file)}
        as_user = []
        if user is not None:
            environ["HOME"] = str(self.directory)
            as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                       "--init-groups", "--no-new-privs", "--"]
            _check_runnable(as_user, environ)
        self.process = subprocess.Popen([*as_user, BOTSCHAFT, "run"], env=environ,
                                        cwd=self.directory, preexec_fn=_private_files)
        self._wait_until_online(web_port, timeout)

    def _prepare_directory(self, web_port: int, join_port: int) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(self.ca_file, self.directory / "server-ca.pem")
        password_file = self.directory / "bot-password"
        password_file.touch(mode=0o600)
        password_file.write_text(self.password)
        admin_password_file = self.directory / "ejabberd-admin-password"
        admin_password_file.touch(mode=0o600)
        admin_password_file.write_text(self.instance.admin_password)
        number_key_file = self.directory / "whatsapp-number-key"
        if not number_key_file.exists():  # kept: consent records made with it are found by it
            number_key_file.touch(mode=0o600)
            number_key_file.write_text(secrets.token_hex(32))
        api = self.instance.api()
        admins = ", ".join(f'"{admin}"' for admin in self.settings["admins"])
        staff = "\n".join(f'"{admin}" = "Demo"' for admin in self.settings["admins"])
        always = ", ".join(f'{day} = "00:00-24:00"' for day in ("mon", "tue", "wed", "thu", "fri",
                                                                  "sat", "sun"))
        self.config_file.write_text(f"""\
# Written by `botschaft dev` at each start: the development bot's settings. Admin commands
# use it through `./dev.sh botschaft …` (or BOTSCHAFT_CONFIG={self.config_file}).
[xmpp]
jid = "{self.settings['jid']}"
password_file = "{password_file}"
host = "{self.settings['host']}"
port = {self.settings['port']}
ca_file = "{self.directory / 'server-ca.pem'}"

[database]
url = "sqlite:///{self.directory / 'bot.db'}"

[people]
admins = [{admins}]

[web]
listen = "127.0.0.1:{web_port}"

[join]
listen = "127.0.0.1:{join_port}"
public_url = "{self.join_url}"
company = "Botschaft Demo"
chat_url = "{self.instance.chat_url}"
websocket_url = "{self.instance.websocket_url}"

[plugins.support]  # the demo desk is open day and night
hours = {{ {always} }}

[plugins.support.staff]  # who answers when a customer writes "agent", and their name for them
{staff}

[bridge.whatsapp]  # `./dev.sh botschaft bridge demo` brings the rest; the bot reads this key
number_key_file = "{number_key_file}"

[ejabberd]
api_url = "{api.url}"
admin_jid = "{self.instance.admin_jid}"
admin_password_file = "{admin_password_file}"
""", encoding="utf-8")
        self.config_file.chmod(0o600)

    def _wait_until_online(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevBotError(f"the bot ended at its start (exit code "
                                  f"{self.process.returncode}); its messages are above")
            if _connected(port):
                return
            time.sleep(0.2)
        self.stop()
        raise DevBotError(f"the bot was not online within {timeout:.0f} s")

    def stop(self, timeout: float = 20) -> None:
        """Stop it as Ctrl-C would (the terminal sends Ctrl-C to it as well)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _private_files() -> None:
    """The bot's files (its database: personal data) are readable by the bot alone."""
    os.umask(0o077)


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(BOT_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", BOT_SYSTEM_USER], check=True)
        return pwd.getpwnam(BOT_SYSTEM_USER)


def _check_runnable(as_user: list[str], environ: dict[str, str]) -> None:
    """The unprivileged user must be able to run this Python and import Botschaft."""
    probe = subprocess.run([*as_user, sys.executable, "-c", "import bots.app"], env=environ,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise DevBotError(
            f"the user '{BOT_SYSTEM_USER}' cannot run this Python ({sys.executable}): {reason}. "
            "Its files must be readable by every user (Debian's /usr/bin/python3 is; one "
            "installed under /root is not): remove .venv and run ./dev.sh again, which builds "
            "it with Debian's python3")


def _free_port(preferred: int) -> int:
    """The README's port when it is free, so its examples work; else any free one."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise DevBotError("no free port on 127.0.0.1 for the bot's web servers")


def _connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(json.loads(response.read()).get("connected"))
    except urllib.error.HTTPError as error:  # 503 while something is not yet up
        return bool(json.loads(error.read() or b"{}").get("connected"))
    except (OSError, ValueError):
        return False
