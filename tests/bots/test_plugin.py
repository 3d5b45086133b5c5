"""Plugins: declared by decorators, found through entry points, and contained when broken."""

from __future__ import annotations

import logging
import os
from datetime import time, timedelta
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from bots import plugin as plugin_module
from bots.cli import main
from bots.config import load
from bots.plugin import Plugin, command, job, load_plugins


class Reminders(Plugin):
    name = "reminders"
    default_config = {"hour": 7}

    @command(help="remind me", role="staff", examples={"en": ["remind me"]})
    async def remind(self, ctx, minutes: int) -> str:
        return "ok"

    @job(every="5m")
    def expire(self, ctx):
        """Recurring work."""

    @job(at="07:30")
    def morning(self, ctx):
        """Daily work at a local time."""


class Broken(Plugin):
    def __init__(self, config=None):
        raise RuntimeError("cannot start without its licence key")


def test_commands_and_jobs_are_declared_by_decorators():
    plugin = Reminders()
    [remind] = plugin.commands()
    assert (remind.name, remind.role, remind.usage(), remind.plugin) == \
        ("remind", "staff", "remind <minutes>", "reminders")
    jobs = {spec.name: spec for spec in plugin.jobs()}
    assert jobs["reminders.expire"].every == timedelta(minutes=5)
    assert jobs["reminders.morning"].at == time(7, 30)


@pytest.mark.parametrize("arguments, message", [
    ({"every": "5 weeks"}, "write a number and a unit"), ({"every": "0m"}, "a number"),
    ({"at": "25:00"}, "a time of day"), ({}, "exactly one"),
    ({"every": "1m", "at": "07:00"}, "exactly one"),
])
def test_a_wrong_job_schedule_is_refused_where_it_is_written(arguments, message):
    with pytest.raises(ValueError, match=message):
        job(**arguments)


def test_an_unknown_role_is_refused_where_it_is_written():
    with pytest.raises(ValueError, match="role must be one of"):
        command(role="boss")


@pytest.fixture
def installed(monkeypatch):
    """Pretend these plugins are installed (as the entry points of some package)."""
    def install(**classes):
        points = [EntryPoint(name, f"{cls.__module__}:{cls.__qualname__}",
                             plugin_module.ENTRY_POINT_GROUP) for name, cls in classes.items()]
        monkeypatch.setattr(plugin_module, "entry_points", lambda group: points)
    return install


def test_a_plugin_that_fails_to_load_is_reported_and_the_others_run(installed, caplog):
    installed(reminders=Reminders, broken=Broken)
    with caplog.at_level(logging.ERROR):
        report = load_plugins(load(None, environ={}))
    assert [plugin.name for plugin in report.plugins] == ["reminders"]
    assert report.failures == {"broken": "RuntimeError: cannot start without its licence key"}
    assert "plugin 'broken'" in caplog.text and "the others run" in caplog.text


def test_disabled_plugins_are_not_loaded(installed):
    installed(reminders=Reminders, broken=Broken)
    report = load_plugins(load(None, environ={"BOTSCHAFT_PLUGINS_DISABLED": "broken"}))
    assert [plugin.name for plugin in report.plugins] == ["reminders"]
    assert report.disabled == ["broken"] and report.failures == {}


def test_a_plugin_gets_its_config_section(installed, tmp_path):
    installed(reminders=Reminders)
    path = tmp_path / "botschaft.toml"
    path.write_text("[plugins.reminders]\nhour = 9\n")
    [plugin] = load_plugins(load(path, environ={})).plugins
    assert plugin.config == {"hour": 9}


def test_the_built_in_plugins_register_through_entry_points():
    report = load_plugins(load(None, environ={}))
    assert "ping" in [plugin.name for plugin in report.plugins]


class Greedy(Plugin):
    """Wants `ping`, which the built-in ping plugin has."""
    name = "aaa-greedy"

    @command(help="not pong")
    async def ping(self, ctx) -> str:
        return "not pong"


def test_plugin_list_shows_a_clash_and_fails(installed, monkeypatch):
    from plugins.ping import Ping
    installed(ping=Ping, greedy=Greedy)
    monkeypatch.setenv("BOTSCHAFT_CONFIG", os.devnull)
    monkeypatch.setenv("BOTSCHAFT_WEB_LISTEN", "")
    result = CliRunner().invoke(main, ["plugin", "list"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "aaa-greedy   loaded    no commands",
        "ping         loaded    echo, ping",
        "CLASH: plugin aaa-greedy: command 'ping' of its command 'ping' is taken by ping's "
        "command 'ping'; not added"]


def test_a_migrations_folder_without_init_is_refused_at_load(tmp_path, monkeypatch):
    package = tmp_path / "opening_hours"
    (package / "migrations").mkdir(parents=True)
    (package / "migrations" / "0001_add_note.py").write_text("def up(migrator, db): pass\n")
    (package / "__init__.py").write_text(
        "from bots.plugin import Plugin\n\nclass Opening(Plugin):\n    name = 'opening'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from opening_hours import Opening
    with pytest.raises(TypeError, match="has no __init__.py, so its migrations would never run"):
        Opening().schema()
