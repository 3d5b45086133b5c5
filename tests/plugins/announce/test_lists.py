"""The lists a company configures: found by name or title in any language; a wrong
configuration stops the plugin with a message naming the list and the key."""

from __future__ import annotations

import pytest

from bots.config import ConfigError, load
from bots.plugin import load_plugins
from plugins.announce import Announce
from plugins.announce.lists import ListError, load_lists

TITLE = {"en": "News", "de": "Neuigkeiten"}


def test_the_example_list_works_without_configuration():
    lists = Announce().lists
    assert list(lists) == ["news"]
    assert lists["news"].words() == {"news", "neuigkeiten"}
    assert lists["news"].text_version == "announce.news.1"


@pytest.mark.parametrize("lists, problem", [
    ({}, "configure at least one list"),
    ({"News": {"title": TITLE}}, "[plugins.announce.lists.News]: a list's name is lower-case"),
    ({"news": "News"}, "[plugins.announce.lists.news] must be a table with title"),
    ({"news": {"titel": TITLE}}, "[plugins.announce.lists.news]: unknown key 'titel'; allowed: "
                                 "about, timezone, title, wording_version"),
    ({"news": {}}, "[plugins.announce.lists.news]: title is missing"),
    ({"news": {"title": "News"}}, "[plugins.announce.lists.news] title must be a table with "
                                  "de and en"),
    ({"news": {"title": {"en": "News"}}}, "title: needs a text for de and en; de is missing"),
    ({"news": {"title": {**TITLE, "fr": "Nouvelles"}}}, "'fr' is no language of the bot"),
    ({"news": {"title": TITLE, "about": {"en": "x", "de": " "}}}, "about: needs a text for de "
                                                                   "and en; de is missing or "
                                                                   "empty"),
    ({"news": {"title": TITLE, "timezone": "Europe/Berlyn"}}, "timezone 'Europe/Berlyn' is "
                                                              "unknown"),
    ({"news": {"title": TITLE, "wording_version": 0}}, "wording_version must be a whole number "
                                                       "from 1, not 0"),
    ({"news": {"title": TITLE}, "neu": {"title": {"en": "NEWS ", "de": "Neu"}}},
     "[plugins.announce.lists.neu]: 'news' names the list news already"),
])
def test_a_wrong_list_is_refused_naming_the_list_and_the_key(lists, problem):
    with pytest.raises(ListError) as refused:
        load_lists(lists)
    assert problem in str(refused.value)


def test_a_site_s_lists_from_botschaft_toml_replace_the_example(tmp_path):
    path = tmp_path / "botschaft.toml"
    path.write_text('[plugins.announce.lists.angebote]\ntitle = { en = "Offers", de = '
                    '"Angebote" }\ntimezone = "Europe/Vienna"\nwording_version = 2\n',
                    encoding="utf-8")
    [plugin] = [plugin for plugin in load_plugins(load(path, environ={})).plugins
                if plugin.name == "announce"]
    assert list(plugin.lists) == ["angebote"]
    assert plugin.lists["angebote"].timezone == "Europe/Vienna"
    assert plugin.lists["angebote"].text_version == "announce.angebote.2"


def test_a_wrong_list_in_botschaft_toml_is_reported_and_the_other_plugins_load(tmp_path):
    path = tmp_path / "botschaft.toml"
    path.write_text('[plugins.announce.lists.news]\ntitle = "News"\n', encoding="utf-8")
    report = load_plugins(load(path, environ={}))
    assert "title must be a table with de and en" in report.failures["announce"]
    assert "ping" in [plugin.name for plugin in report.plugins]
    path.write_text('[plugins.announce]\nlist = {}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'list'; allowed: lists"):
        load(path, environ={}).plugin_config("announce", Announce.default_config)
