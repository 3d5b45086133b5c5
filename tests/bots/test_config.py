"""botschaft.toml and BOTSCHAFT_* variables: every mistake names the setting and what is allowed."""

from __future__ import annotations

import tomllib

import pytest

from bots.config import SCHEMA, ConfigError, Setting, load, template


def write(tmp_path, text: str):
    path = tmp_path / "botschaft.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_init_template_is_valid_toml_with_every_default(tmp_path):
    path = write(tmp_path, template())
    assert tomllib.loads(path.read_text())["xmpp"] == {"jid": ""}
    config = load(path, environ={})
    assert config.get("database", "url") == "sqlite:///botschaft.db"
    assert config.get("bot", "language") == "de"


def test_a_misspelt_key_is_named_with_the_allowed_ones(tmp_path):
    path = write(tmp_path, '[xmpp]\njid = "bot@example.com"\npasswort = "x"\n')
    with pytest.raises(ConfigError, match=r"\[xmpp\] unknown key 'passwort'; allowed: ca_file, "
                                          r"component_secret, component_secret_file, "
                                          r"connect_timeout, host, jid, mode, password, "
                                          r"password_file, port"):
        load(path, environ={})


def test_an_unknown_section_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section \[database_url\]"):
        load(write(tmp_path, '[database_url]\nx = 1\n'), environ={})


@pytest.mark.parametrize("text, message", [
    ('[xmpp]\nport = "5222"', r"\[xmpp\] port must be a whole number, not '5222'"),
    ('[bot]\nlanguage = "fr"', r"\[bot\] language is 'fr'; allowed: de, en"),
    ('[people]\nadmins = "a@b"', r"\[people\] admins must be a list"),
    ('[web]\nmax_connections = 0', r"\[web\] max_connections: must be more than 0, not 0"),
    ('[web]\nrequest_timeout = -1', r"\[web\] request_timeout: must be more than 0, not -1"),
])
def test_a_wrong_value_says_what_is_allowed(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, text), environ={})


def test_broken_toml_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"line 2"):
        load(write(tmp_path, '[xmpp]\njid = "unclosed\n'), environ={})


def test_the_environment_wins_over_the_file(tmp_path):
    path = write(tmp_path, '[xmpp]\njid = "bot@example.com"\nport = 5222\n')
    config = load(path, environ={"BOTSCHAFT_XMPP_PORT": "15222",
                                 "BOTSCHAFT_PEOPLE_STAFF": "a@example.com, @staff.example.com"})
    assert config.get("xmpp", "port") == 15222
    assert config.get("people", "staff") == ["a@example.com", "@staff.example.com"]
    with pytest.raises(ConfigError, match="BOTSCHAFT_XMPP_PORT must be a whole number"):
        load(path, environ={"BOTSCHAFT_XMPP_PORT": "many"})


def test_secrets_come_from_the_environment_or_a_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    path = write(tmp_path, f'[xmpp]\njid = "bot@example.com"\npassword_file = "{secret}"\n')
    assert load(path, environ={}).get("xmpp", "password") == "s3cret"
    assert load(path, environ={"BOTSCHAFT_XMPP_PASSWORD": "other"}).get(
        "xmpp", "password") == "other"
    with pytest.raises(ConfigError, match="cannot read the secret file"):
        load(path, environ={"BOTSCHAFT_XMPP_PASSWORD_FILE": str(tmp_path / "missing")})


def test_running_needs_jid_and_password_or_the_component_secret(tmp_path):
    config = load(write(tmp_path, '[xmpp]\njid = "bot@example.com"\n'), environ={})
    with pytest.raises(ConfigError, match=r"\[xmpp\] password is missing \(or the environment "
                                          r"variable BOTSCHAFT_XMPP_PASSWORD\)"):
        config.require()
    component = load(write(tmp_path, '[xmpp]\nmode = "component"\njid = "bot.example.com"\n'),
                     environ={})
    with pytest.raises(ConfigError, match=r"\[xmpp\] component_secret is missing"):
        component.require()


def test_plugin_sections_are_checked_against_the_plugins_defaults(tmp_path):
    path = write(tmp_path, '[plugins.status]\nkinds = ["vehicle"]\nnotify = "yes"\n')
    config = load(path, environ={})
    defaults = {"kinds": ["order"], "notify": True, "limit": 5}
    with pytest.raises(ConfigError, match=r"\[plugins.status\] notify must be true or false"):
        config.plugin_config("status", defaults)
    ok = load(write(tmp_path, '[plugins.status]\nkinds = ["vehicle"]\n'), environ={})
    assert ok.plugin_config("status", defaults) == {"kinds": ["vehicle"], "notify": True,
                                                    "limit": 5}
    bad = load(write(tmp_path, '[plugins.status]\nkind = "x"\n'), environ={})
    with pytest.raises(ConfigError, match=r"\[plugins.status\] unknown key 'kind'; allowed: "
                                          r"kinds, limit, notify"):
        bad.plugin_config("status", defaults)


@pytest.mark.parametrize("text, message", [
    ('[xmpp]\npassword = 482913', r"\[xmpp\] password must be text, not a whole number "
                                  r"\(a secret: not shown\)"),
    ('[web]\ntoken = ["x7Qm2"]', r"\[web\] token must be text, not a list \(a secret: not shown\)"),
])
def test_a_mistyped_secret_is_named_but_never_echoed(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as error:
        load(write(tmp_path, text), environ={})
    assert "482913" not in str(error.value) and "x7Qm2" not in str(error.value)


def test_a_secret_that_fails_its_check_is_described_without_its_value(tmp_path, monkeypatch):
    def long_enough(token: str) -> None:
        if len(token) < 16:
            raise ValueError(f"needs 16 characters or more, not {token!r}")
    monkeypatch.setitem(SCHEMA, "web", [Setting("token", str, "", "", secret=True,
                                                check=long_enough)])
    with pytest.raises(ConfigError, match=r"BOTSCHAFT_WEB_TOKEN: needs 16 characters or more, "
                                          r"not '\*\*\*'") as error:
        load(None, environ={"BOTSCHAFT_WEB_TOKEN": "hunter2"})
    assert "hunter2" not in str(error.value)


def test_a_join_page_needs_the_admin_api_and_its_public_address(tmp_path):
    path = write(tmp_path, '[join]\nlisten = "127.0.0.1:8732"\npublic_url = "https://x.example"\n'
                           '[ejabberd]\napi_url = "http://127.0.0.1:5281/api"\n'
                           'admin_jid = "admin@x.example"\n')
    with pytest.raises(ConfigError, match=r"the join page needs \[ejabberd\] admin_password \(or "
                                          r"BOTSCHAFT_EJABBERD_ADMIN_PASSWORD\)"):
        load(path, environ={})
    config = load(path, environ={"BOTSCHAFT_EJABBERD_ADMIN_PASSWORD": "secret"})
    assert config.get("ejabberd", "admin_password") == "secret"
    with pytest.raises(ConfigError, match=r"chat_url needs \[join\] websocket_url"):
        load(path, environ={"BOTSCHAFT_EJABBERD_ADMIN_PASSWORD": "secret",
                            "BOTSCHAFT_JOIN_CHAT_URL": "https://x.example/conversejs"})
    with pytest.raises(ConfigError, match=r"\[join\] listen: 'anywhere' is no host:port"):
        load(write(tmp_path, '[join]\nlisten = "anywhere"\n'), environ={})


@pytest.mark.parametrize("raw, value", [("true", True), ("YES", True), ("0", False),
                                        ("false", False)])
def test_switches_come_from_the_environment_as_words(raw, value):
    assert load(None, environ={"BOTSCHAFT_JOIN_BEHIND_PROXY": raw}).get(
        "join", "behind_proxy") is value
    with pytest.raises(ConfigError, match="BOTSCHAFT_JOIN_BEHIND_PROXY must be true or false, "
                                          "not 'maybe'"):
        load(None, environ={"BOTSCHAFT_JOIN_BEHIND_PROXY": "maybe"})
