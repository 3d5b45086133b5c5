"""The private ejabberd: starting, stopping only our own instance, and clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket

import pytest

from bots.devserver import DevServer, DevServerError, _wait_for_exit
from bots.testing import new_state_dir


@pytest.fixture
def new_devserver():
    """Factory for extra private servers (besides the session's), each stopped afterwards."""
    servers = []

    def create(**options) -> DevServer:
        server = DevServer(new_state_dir(), **options)
        servers.append(server)
        return server

    yield create
    for server in servers:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)


def test_missing_ejabberd_is_reported_with_how_to_install_it(new_devserver):
    server = new_devserver(ejabberdctl="no-such-ejabberdctl")
    with pytest.raises(DevServerError, match=r"not installed.*apt-get install -y ejabberd"):
        server.start()


def test_a_port_in_use_is_named(new_devserver):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DevServerError, match=rf"port {port} \(c2s\).*in use"):
            new_devserver().start({"c2s": port})


def test_a_broken_configuration_is_reported_with_ejabberds_own_words(new_devserver, tmp_path):
    broken = tmp_path / "ejabberd.yml"
    broken.write_text("hosts: [localhost]\nno_such_option: 1\n")
    server = new_devserver(config_file=broken)
    with pytest.raises(DevServerError, match="no_such_option"):
        server.start(timeout=30)
    assert server.pid() is None


def test_stop_stops_only_our_own_instance(new_devserver):
    first, second = new_devserver(), new_devserver()
    first.start()
    second.start()
    assert first.pid() != second.pid()
    assert first.stop() is True
    assert first.pid() is None and not first.status()["running"]
    assert second.status()["running"]
    assert first.stop() is False  # stopping twice is harmless


def test_start_again_returns_the_running_instance(new_devserver):
    server = new_devserver()
    instance = server.start()
    pid = server.pid()
    assert server.start().ports == instance.ports
    assert server.pid() == pid


def test_after_a_crash_start_cleans_up_and_keeps_the_accounts(new_devserver):
    server = new_devserver()
    server.start()
    password = server.add_user("survivor")
    # Right away: ejabberd.yml keeps accounts in SQL, committed at once. (With ejabberd's
    # default Mnesia an account made within ~2 s of a kill -9 was lost.)
    pid = server.pid()
    os.kill(pid, signal.SIGKILL)
    assert _wait_for_exit(pid, 10)
    status = server.status()
    assert not status["running"] and status["stale"]

    instance = server.start()
    assert not server.status()["stale"]
    assert instance.api().call("check_password", user="survivor", host=instance.domain,
                               password=password) == 0


def test_accounts_are_created_reused_and_deleted(new_devserver):
    server = new_devserver()
    server.start()
    password = server.add_user("carla")
    assert server.ensure_user("carla") == password
    with pytest.raises(DevServerError, match="carla@localhost"):
        server.add_user("carla")
    server.delete_user("carla")
    with pytest.raises(DevServerError, match="no account carla@localhost"):
        server.delete_user("carla")


def test_commands_on_a_stopped_server_say_how_to_start_it(new_devserver):
    with pytest.raises(DevServerError, match="botschaft server start"):
        new_devserver().add_user("nobody")
