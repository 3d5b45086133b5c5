"""`botschaft support stats` as an admin runs it: the table per day, and the chart as PNG."""

from __future__ import annotations

from click.testing import CliRunner

from bots.app import schemas
from bots.cli import main
from bots.storage import Storage
from bots.testing import services_over
from plugins.support import Support
from plugins.support.stats import count_bot_answer


def test_stats_prints_the_days_and_draws_the_chart(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("BOTSCHAFT_CONFIG", "/dev/null")
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", url)
    plugin = Support({**Support.default_config, "staff": {"anna@example.com": "Anna"}})
    storage = Storage(url)
    storage.migrate(schemas([plugin]))
    plugin.desk = plugin.make_desk(services_over(storage, [plugin]))
    count_bot_answer()
    plugin.desk.ask_for_person("kim@example.net", "en")
    storage.close()

    result = CliRunner().invoke(main, ["support", "stats", "--days", "2", "--chart",
                                       str(tmp_path / "desk.png")])
    assert result.exit_code == 0, result.output
    header, yesterday, today, *rest = result.output.splitlines()
    assert header.split() == ["day", "conversations", "wait", "p50", "wait", "p90", "by", "bot",
                              "by", "people", "rating"]
    assert yesterday.split()[1:] == ["0", "-", "-", "0", "0", "-"]
    assert today.split()[1:] == ["1", "-", "-", "1", "0", "-"]
    assert rest[-1] == f"Chart: {tmp_path / 'desk.png'}"
    assert (tmp_path / "desk.png").read_bytes()[:4] == b"\x89PNG"
