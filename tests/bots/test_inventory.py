"""The DPO page's list of personal data is what `botschaft privacy inventory` prints: the page
cannot fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

from bots import retention
from bots.config import load
from bots.inventory import inventory, markdown
from bots.plugin import load_plugins

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-protection.md"
GENERATED = re.compile(r"<!-- inventory: generated [^\n]*-->\n(.*)<!-- inventory: end -->",
                       re.DOTALL)


def test_the_dpo_page_lists_what_the_inventory_of_the_built_in_plugins_lists():
    config = load(None, environ={})
    plugins = load_plugins(config).plugins
    assert {"status", "lessons", "rooms"} <= {plugin.name for plugin in plugins}
    printed = markdown(inventory(plugins, retention.periods(plugins, config)))
    on_the_page = GENERATED.search(PAGE.read_text(encoding="utf-8"))
    assert on_the_page, f"{PAGE.name} lost its inventory markers"
    assert on_the_page.group(1) == printed, (
        "docs/data-protection.md is behind the code: paste the output of "
        "`BOTSCHAFT_CONFIG=/dev/null botschaft privacy inventory` between its inventory markers")
