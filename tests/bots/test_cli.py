"""The `botschaft` command line, run as a person would run it."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bots.cli import main
from bots.devbot import bot_directory
from bots.devserver import DevServer
from bots.testing import ChatClient, new_state_dir

BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")


@pytest.fixture
def state_dir():
    path = new_state_dir()
    yield path
    DevServer(path).stop()
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(bot_directory(path), ignore_errors=True)


async def test_dev_prints_a_working_login_and_ctrl_c_stops_bot_and_server(state_dir):
    process = subprocess.Popen([BOTSCHAFT, "dev", "--state-dir", str(state_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = ""
        while "Press Ctrl-C" not in printed:
            line = process.stdout.readline()
            assert line, f"botschaft dev ended early:\n{printed}"
            printed += line
        jid = re.search(r"Account \(JID\):\s+(\S+)", printed).group(1)
        password = re.search(r"Password:\s+(\S+)", printed).group(1)
        port = int(re.search(r"port (\d+)", printed).group(1))
        bot = re.search(r"write to the bot, (\S+?):", printed).group(1)
        instance = DevServer(state_dir).load_instance()

        client = ChatClient(jid, password, instance.ca_file)
        await client.start("127.0.0.1", port)
        assert bot in client.client_roster  # the bot is already in the demo user's contacts
        assert await client.ask(bot, "ping") == "pong"
        assert (await client.ask(bot, "create vehicle 4711")).startswith("Created: Vehicle 4711")
        # the demo account is the support team (step 4 of the instructions): a customer who
        # writes "agent" reaches it
        customer = ChatClient(f"kunde@{instance.domain}",
                              DevServer(state_dir).ensure_user("kunde"), instance.ca_file)
        await customer.start("127.0.0.1", port)
        assert "number 1 in the queue" in await customer.ask(bot, "agent")
        assert (await client.next_message(bot))["body"].startswith("Fall 1 wartet")  # [bot] de
        await client.ask(bot, "take 1")
        assert (await customer.next_message(bot))["body"] == "Demo from our team is with you now."
        await customer.stop()
        await client.stop()
        # the admin commands the instructions print reach the running bot's database
        config_file = re.search(r"its settings: (\S+);", printed).group(1)
        shown = subprocess.run([BOTSCHAFT, "status", "show", "4711"], capture_output=True,
                               text=True, env={**os.environ, "BOTSCHAFT_CONFIG": config_file})
        assert shown.returncode == 0 and shown.stdout.startswith("4711 (vehicle): received")
        if os.geteuid() == 0:  # ejabberd needed root; the bot, reading strangers' words, not
            [bot_process] = children_of(process.pid)
            assert pwd.getpwuid(owner_of(bot_process)).pw_name == "botschaft"
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Stopped the bot and the private ejabberd" in rest
    assert DevServer(state_dir).pid() is None


def children_of(pid: int) -> list[int]:
    return [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_in(stat) == pid]


def _parent_in(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # the process ended meanwhile


def owner_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for process {pid}")


def test_status_of_a_stopped_server_exits_3(state_dir):
    result = CliRunner().invoke(main, ["server", "status", "--state-dir", str(state_dir)])
    assert result.exit_code == 3
    assert "not running" in result.output


def test_adduser_on_a_stopped_server_says_how_to_start_it(state_dir):
    result = CliRunner().invoke(main, ["server", "adduser", "--state-dir", str(state_dir), "x"])
    assert result.exit_code == 1
    assert "botschaft server start" in result.output
    assert "Traceback" not in result.output


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite_it(tmp_path):
    path = tmp_path / "botschaft.toml"
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(path), "init"]).exit_code == 0
    assert "[xmpp]" in path.read_text()
    again = runner.invoke(main, ["-c", str(path), "init"])
    assert again.exit_code == 1 and "use --force" in again.output


def test_plugin_list_shows_the_built_in_plugins_and_their_commands(tmp_path):
    result = CliRunner().invoke(main, ["-c", str(tmp_path / "none.toml"), "plugin", "list"])
    assert result.exit_code == 0
    assert re.search(r"^ping\s+loaded\s+echo, ping$", result.output, re.MULTILINE)


def test_a_new_plugins_own_tests_pass_against_the_dev_server(tmp_path):
    result = CliRunner().invoke(main, ["plugin", "new", "notes", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "botschaft-notes"
    assert (package / "botschaft_notes" / "__init__.py").exists()
    # The entry point, as `pip install -e .` registers it, without touching this environment:
    # the bot and `botschaft notes …` find the plugin through it.
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info"], cwd=package, check=True,
                   capture_output=True)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=package, env={**os.environ, "PYTHONPATH": str(package)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 passed" in run.stdout


def test_a_plugin_name_that_cannot_be_a_package_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["plugin", "new", "Bad-Name", "--directory", str(tmp_path)])
    assert result.exit_code == 1 and "lower-case letters" in result.output


def write_config(path: Path, xmpp_server, **xmpp) -> Path:
    instance = xmpp_server.instance
    values = {"jid": f"bot@{instance.domain}", "host": "127.0.0.1", "port": instance.c2s_port,
              "ca_file": str(instance.ca_file),
              "password": xmpp_server.devserver.ensure_user("bot"), **xmpp}
    lines = ["[xmpp]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[database]", f'url = "sqlite:///{path.parent / "bot.db"}"',
              "[web]", 'listen = "127.0.0.1:0"']  # any free port: 8731 may be a dev bot's
    path.write_text("\n".join(lines) + "\n")
    return path


async def botschaft(*arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        BOTSCHAFT, *arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()


async def test_send_delivers_a_message_as_the_bot(tmp_path, xmpp_server, chat_client):
    config = write_config(tmp_path / "botschaft.toml", xmpp_server)
    client = await chat_client()
    code, output = await botschaft("-c", str(config), "send", client.boundjid.bare, "Hallo 👋")
    assert code == 0, output
    message = await client.next_message(f"bot@{xmpp_server.domain}")
    assert message["body"] == "Hallo 👋"
    assert output.strip().splitlines()[-1] == (
        f"sent to {client.boundjid.bare}: the server has it (delivered, or kept until they log "
        "in)")
    code, output = await botschaft("-c", str(config), "audit", "--format", "json")
    assert [(entry["action"], entry["subject"], entry["details"])
            for entry in json.loads(output)] == [("message.send", client.boundjid.bare, {})]


async def test_send_to_an_account_that_does_not_exist_says_so(tmp_path, xmpp_server):
    config = write_config(tmp_path / "botschaft.toml", xmpp_server)
    nobody = f"nobody@{xmpp_server.domain}"
    code, output = await botschaft("-c", str(config), "send", nobody, "x")
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        f"Error: the server refused the message to {nobody} (service-unavailable): is there "
        "such an account?")


async def test_doctor_passes_on_a_working_setup(tmp_path, xmpp_server):
    config = write_config(tmp_path / "botschaft.toml", xmpp_server)
    code, output = await botschaft("-c", str(config), "doctor")
    assert code == 0, output
    assert "FAIL" not in output and "ok    login as bot@" in output


@pytest.mark.parametrize("xmpp, expected", [
    ({"password": "wrong"}, "the server refused the password"),
    ({"port": 1}, "cannot reach 127.0.0.1:1"),
    ({"ca_file": ""}, "certificate is not trusted"),
])
async def test_doctor_says_what_is_wrong_and_how_to_fix_it(tmp_path, xmpp_server, xmpp,
                                                           expected):
    config = write_config(tmp_path / "botschaft.toml", xmpp_server, **xmpp)
    code, output = await botschaft("-c", str(config), "doctor")
    assert code == 1
    assert expected in output, output


def test_a_plugin_adds_its_own_subcommands(monkeypatch, tmp_path):
    from importlib.metadata import EntryPoint

    from bots import plugin as plugin_module

    point = EntryPoint("shop", "tests_cli_shop:Shop", plugin_module.ENTRY_POINT_GROUP)
    module = tmp_path / "tests_cli_shop.py"
    module.write_text(
        "import click\nfrom bots.plugin import Plugin\n\n"
        "class Shop(Plugin):\n"
        "    def cli(self):\n"
        "        @click.group()\n"
        "        def shop():\n"
        "            '''The shop's own commands.'''\n"
        "        @shop.command()\n"
        "        def hello():\n"
        "            click.echo('hello from the shop')\n"
        "        return shop\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugin_module, "entry_points", lambda group: [point])
    result = CliRunner().invoke(main, ["shop", "hello"])
    assert result.exit_code == 0 and result.output == "hello from the shop\n"
    assert "shop" in CliRunner().invoke(main, ["--help"]).output


def test_run_against_a_server_that_is_not_there_ends_with_one_clear_line(tmp_path):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {**os.environ, "BOTSCHAFT_CONFIG": os.devnull,
               "BOTSCHAFT_XMPP_JID": "bot@localhost", "BOTSCHAFT_XMPP_PASSWORD": "secret",
               "BOTSCHAFT_XMPP_HOST": "127.0.0.1", "BOTSCHAFT_XMPP_PORT": str(port),
               "BOTSCHAFT_XMPP_CONNECT_TIMEOUT": "2", "BOTSCHAFT_WEB_LISTEN": "",
               "BOTSCHAFT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    result = subprocess.run([BOTSCHAFT, "run"], env=environ, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # the retries are logged; the end is one line
    assert result.stderr.splitlines()[-1:] == [
        f"Error: no connection to the XMPP server at 127.0.0.1:{port} within 2 s (last error: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {port})): is it running, and are "
        "[xmpp] host and port right?"]
