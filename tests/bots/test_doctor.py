"""`botschaft doctor` names what it finds: a table that lacks a column its model has (a plugin
that added a field without a migration: every command using it would fail), and with
`--production` what a live server must not have: the dev server's self-signed certificate,
registration open to strangers, secrets others can read."""

from __future__ import annotations

import secrets

import datetime
import re
import shutil
import socket

import peewee
import pytest

from bots.config import load
from bots import production_checks
from bots.devserver import DevServer, free_port, reference_config
from bots.doctor import _check_admin_api, _check_web_port, missing_columns
from bots.production_checks import (check_certificate, check_federation, check_registration,
                                    check_secret_files, check_workers_database)
from bots.storage import Schema, Storage
from bots.testing import bot_config, join_settings, new_state_dir
from tests.bots.test_cli import botschaft


class NoteBefore(peewee.Model):
    text = peewee.TextField()

    class Meta:
        table_name = "opening_note"


class Note(peewee.Model):
    text = peewee.TextField()
    day = peewee.DateField(null=True)  # added to the model, with no migration

    class Meta:
        table_name = "opening_note"


def test_a_column_the_model_has_and_the_table_lacks_is_named(database_url):
    storage = Storage(database_url)
    try:
        storage.migrate([Schema("opening", (NoteBefore,))])
        assert missing_columns(storage.db, [Schema("opening", (NoteBefore,))]) == []
        assert missing_columns(storage.db, [Schema("opening", (Note,))]) == ["opening_note.day"]
    finally:
        storage.close()


def test_a_web_port_another_program_has_is_named(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = load(None, environ={"BOTSCHAFT_WEB_LISTEN": f"127.0.0.1:{port}"})
        ok, what, detail = _check_web_port(config)
    assert not ok and what == f"web listen 127.0.0.1:{port}"
    assert detail.startswith("cannot listen there (Address already in use): another program")
    ok, what, _detail = _check_web_port(config)  # the port is free again
    assert ok and what == f"web listen 127.0.0.1:{port} (free)"


def test_the_join_pages_admin_api_is_checked_with_its_login(xmpp_server):
    settings = {f"BOTSCHAFT_{name}": value for name, value in join_settings(xmpp_server).items()}
    ok, what, _fix = _check_admin_api(load(None, environ=settings))
    assert ok and what.startswith("ejabberd admin API (http://127.0.0.1:")
    wrong = load(None, environ={**settings, "BOTSCHAFT_EJABBERD_ADMIN_PASSWORD": "wrong"})
    ok, what, fix = _check_admin_api(wrong)
    assert not ok and "admin_jid is one of ADMIN_ACCOUNTS" in fix and "wrong" not in fix


# --- `botschaft doctor --production`, against the session's real ejabberd -------------------

def c2s(xmpp_server) -> tuple[str, int]:
    return "127.0.0.1", xmpp_server.instance.c2s_port


def test_the_dev_servers_self_signed_certificate_fails_with_the_hint(xmpp_server):
    ok, what, fix = check_certificate(xmpp_server.domain, c2s(xmpp_server))
    assert not ok and what == f"TLS certificate of {xmpp_server.domain} at 127.0.0.1:" \
                              f"{xmpp_server.instance.c2s_port}"
    assert fix.startswith("people's apps do not trust it (self-signed certificate): not signed "
                          "by a public CA"), fix
    assert fix.endswith("Use a real certificate for it (deploy/README.md, step 3: certbot).")


def test_a_trusted_certificate_passes_until_two_weeks_before_it_ends(xmpp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(xmpp_server.instance.ca_file))  # as if a CA's
    ok, what, _fix = check_certificate(xmpp_server.domain, c2s(xmpp_server))
    assert ok and "(valid until 20" in what, what
    ends = datetime.date.fromisoformat(what.rpartition("valid until ")[2].rstrip(")"))
    near_the_end = datetime.datetime.combine(ends, datetime.time(), datetime.timezone.utc) \
        - datetime.timedelta(days=10)
    ok, _what, fix = check_certificate(xmpp_server.domain, c2s(xmpp_server), now=near_the_end)
    assert not ok and fix.startswith(f"it expires on {ends:%Y-%m-%d} (in 10 days). Renew it"), fix


def test_a_server_that_does_not_serve_the_domain_is_named(xmpp_server):
    ok, _what, fix = check_certificate("chat.example.com", c2s(xmpp_server))
    assert not ok and fix == "no TLS stream for chat.example.com (stream error: " \
        "host-unknown). The server there does not serve chat.example.com: is [xmpp] jid on " \
        "XMPP_DOMAIN of ejabberd's botschaft-site.yml, and [xmpp] host that server?"


def test_registration_is_closed_on_the_dev_server(xmpp_server):
    config = bot_config(xmpp_server)
    ok, what, fix = check_registration(config, xmpp_server.domain, c2s(xmpp_server))
    assert ok and what == "registration closed (XEP-0077): a registration request before " \
                          "login is refused", fix


def test_federation_is_off_on_the_dev_server(xmpp_server):
    ok, what, _fix = check_federation(xmpp_server.domain, ("127.0.0.1", free_port()))
    assert ok and what.endswith(": off (nothing accepts connections there)")


def test_a_secret_file_others_can_read_fails_and_a_private_one_passes(xmpp_server, tmp_path):
    secret = tmp_path / "xmpp-password"
    secret.write_text(xmpp_server.devserver.ensure_user("bot"))
    config = bot_config(xmpp_server, XMPP_PASSWORD_FILE=str(secret))
    secret.chmod(0o644)
    assert check_secret_files(config, None) == [
        (False, f"secret file {secret} (BOTSCHAFT_XMPP_PASSWORD_FILE)",
         f"others can read it (mode 644). chmod 600 {secret}")]
    secret.chmod(0o600)
    assert check_secret_files(config, None) == [
        (True, "secrets private (1 file(s) readable by their owner only)", "")]


def test_a_config_file_with_secrets_in_it_must_be_private(tmp_path):
    config_file = tmp_path / "botschaft.toml"
    password = secrets.token_urlsafe(12)  # any password: what matters is who may read the file
    config_file.write_text(f'[xmpp]\njid = "bot@localhost"\npassword = "{password}"\n')
    config_file.chmod(0o640)
    [(ok, what, fix)] = check_secret_files(load(config_file, environ={}), config_file)
    assert not ok and what == f"secret file {config_file} (the configuration, which holds " \
                              "secrets)" and fix.endswith(f"chmod 600 {config_file}")


def test_component_mode_on_sqlite_needs_postgresql():
    component = {"BOTSCHAFT_XMPP_MODE": "component", "BOTSCHAFT_XMPP_JID": "bot.localhost"}
    ok, _what, fix = check_workers_database(load(None, environ=component))
    assert not ok and fix.startswith("component mode on SQLite: several workers need PostgreSQL")
    postgres = load(None, environ={**component, "BOTSCHAFT_DATABASE_URL": "postgresql://db/b"})
    assert check_workers_database(postgres) == (
        True, "database for several workers (PostgreSQL)", "")


async def test_production_doctor_on_a_dev_config_names_each_problem(xmpp_server, tmp_path):
    """A config like `./dev.sh run` writes (password_file, ca_file for the self-signed
    certificate), with its password file left readable to all."""
    secret = tmp_path / "bot-password"
    secret.write_text(xmpp_server.devserver.ensure_user("bot"))
    secret.chmod(0o644)
    config_file = tmp_path / "botschaft.toml"
    config_file.write_text(
        f'[xmpp]\njid = "bot@{xmpp_server.domain}"\npassword_file = "{secret}"\n'
        f'host = "127.0.0.1"\nport = {xmpp_server.instance.c2s_port}\n'
        f'ca_file = "{xmpp_server.instance.ca_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n[web]\nlisten = "127.0.0.1:0"\n')
    config_file.chmod(0o600)
    plain = await botschaft("-c", str(config_file), "doctor")
    assert plain[0] == 0, plain[1]
    code, output = await botschaft("-c", str(config_file), "doctor", "--production")
    assert code == 1, output
    failures = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert failures == [
        f"FAIL  TLS certificate of {xmpp_server.domain} at 127.0.0.1:"
        f"{xmpp_server.instance.c2s_port}",
        f"FAIL  secret file {secret} ([xmpp] password_file)"], output
    assert "Use a real certificate for it (deploy/README.md, step 3: certbot)." in output
    assert f"chmod 600 {secret}" in output
    assert "ok    registration closed (XEP-0077)" in output
    assert f"ok    federation (s2s) at {xmpp_server.domain}:5269: off" in output


@pytest.fixture(scope="module", params=["certificate", "dialback"])
def open_server(request):
    """A server with the repository's ejabberd.yml opened up: federation switched on as its
    comment says (allow-list: example.org, listed.invalid) and registration open to all; with
    "dialback", mod_s2s_dialback too (servers may then log in without a certificate)."""
    state_dir = new_state_dir()
    s2s_port = free_port()
    text = re.sub(r"(?m)^#~", "", reference_config().read_text())
    text = text.replace("\ns2s_access: none\n", "\n")
    text = text.replace("FEDERATED_DOMAINS", '["example.org", "listed.invalid"]')
    text = text.replace("S2S_IP", '"127.0.0.1"').replace("S2S_PORT", str(s2s_port))
    text = text.replace("  mod_register:\n    access: none", "  mod_register:\n    access: all")
    if request.param == "dialback":
        text = text.replace("\nmodules:\n", "\nmodules:\n  mod_s2s_dialback: {}\n")
    (state_dir / "open.yml").write_text(text)
    server = DevServer(state_dir, config_file=state_dir / "open.yml")
    try:
        instance = server.start()
        server.ensure_user("bot")
        yield request.param, instance, ("127.0.0.1", s2s_port)
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_registration_open_to_strangers_fails(open_server):
    _kind, instance, _s2s = open_server
    config = load(None, environ={"BOTSCHAFT_XMPP_JID": f"bot@{instance.domain}"})
    ok, _what, fix = check_registration(config, instance.domain, ("127.0.0.1", instance.c2s_port))
    assert not ok and fix.startswith("the server offers registration before login; strangers "
                                     "can make themselves accounts. Set `mod_register: access: "
                                     "none`"), fix


def test_federation_on_is_reported_and_a_stranger_must_be_refused(open_server, monkeypatch):
    kind, instance, s2s = open_server
    ok, what, note = check_federation(instance.domain, s2s)
    if kind == "certificate":  # the allow-list is checked after a certificate login
        assert ok and what.endswith(": on, for servers that log in with a certificate")
        assert note.startswith("(no dialback: a server's login is its certificate"), note
        return
    assert ok and what.endswith(": on, and a server not on the allow-list is refused"), what
    monkeypatch.setattr(production_checks, "STRANGER", "listed.invalid")  # one it lets in
    ok, _what, fix = check_federation(instance.domain, s2s)
    assert not ok and fix.startswith("a server not on the allow-list (listed.invalid) got past")
