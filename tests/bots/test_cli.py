"""The `botschaft` command line, run as a person would run it."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bots.cli import main
from bots.devserver import DevServer
from bots.testing import ChatClient, new_state_dir

BOTSCHAFT = str(Path(sys.executable).parent / "botschaft")


@pytest.fixture
def state_dir():
    path = new_state_dir()
    yield path
    DevServer(path).stop()
    shutil.rmtree(path, ignore_errors=True)


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
        await client.disconnect()
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Stopped the bot and the private ejabberd" in rest
    assert DevServer(state_dir).pid() is None


def test_status_of_a_stopped_server_exits_3(state_dir):
    result = CliRunner().invoke(main, ["server", "status", "--state-dir", str(state_dir)])
    assert result.exit_code == 3
    assert "not running" in result.output


def test_adduser_on_a_stopped_server_says_how_to_start_it(state_dir):
    result = CliRunner().invoke(main, ["server", "adduser", "--state-dir", str(state_dir), "x"])
    assert result.exit_code == 1
    assert "botschaft server start" in result.output
    assert "Traceback" not in result.output
