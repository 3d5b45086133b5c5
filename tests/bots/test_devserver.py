"""The private ejabberd: starting, stopping only our own instance, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from bots.devserver import DevServer, DevServerError, _wait_for_exit, conversejs_dist
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


def test_an_instance_file_from_before_the_web_chat_gets_a_web_port(new_devserver):
    server = new_devserver()
    old = server.start()
    server.stop()
    saved = json.loads(server.instance_file.read_text())
    del saved["ports"]["web"]  # as written before the web chat existed
    server.instance_file.write_text(json.dumps(saved))
    instance = server.start()
    assert {name: port for name, port in instance.ports.items() if name != "web"} == {
        name: port for name, port in old.ports.items() if name != "web"}
    assert instance.chat_url == f"https://localhost:{instance.ports['web']}/conversejs"
    assert instance.websocket_url == f"wss://localhost:{instance.ports['web']}/ws"


def test_the_converse_files_are_found_where_the_environment_says(tmp_path, monkeypatch):
    (tmp_path / "converse.min.js").write_text("/* converse */")
    monkeypatch.setenv("BOTSCHAFT_CONVERSEJS_DIR", str(tmp_path))
    assert conversejs_dist() == tmp_path


def test_without_converse_the_server_starts_and_says_how_to_install_it(new_devserver,
                                                                         monkeypatch, caplog):
    monkeypatch.setattr("bots.devserver.conversejs_dist", lambda: None)
    server = new_devserver()
    instance = server.start()
    assert server.status()["running"]
    assert list(server.conversejs_dir.iterdir()) == []
    assert "Converse.js not found" in caplog.text and "./dev.sh run" in caplog.text
    context = ssl.create_default_context(cafile=str(instance.ca_file))
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{instance.chat_url}/converse.min.js", context=context,
                               timeout=10)
    assert missing.value.code == 404  # not a redirect to a CDN
