"""Declared personal data: a plugin that only declares its kinds (a third party's, here the
diary below) is exported, erased, purged and listed in the inventory without code of its own;
the core's declarations cover what `botschaft privacy erase` deletes."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint

import peewee
import pytest
from click.testing import CliRunner

from bots import consent, privacy
from bots import plugin as plugin_module
from bots.app import schemas
from bots.cli import main
from bots.config import load
from bots.outbox import enqueue
from bots.people import PersonSetting
from bots.personal_data import CORE_KINDS, PersonalData, check, declared, rows
from bots.plugin import Plugin, load_plugins
from bots.retention import periods, purge
from bots.storage import Storage
from bots.testing import services_over

ALICE, BOB = "alice@example.com", "bob@example.com"
NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)


class Notebook(peewee.Model):
    owner = peewee.CharField(max_length=3071, index=True)
    title = peewee.CharField(max_length=200)

    class Meta:
        table_name = "diary_notebook"


class Page(peewee.Model):
    notebook = peewee.ForeignKeyField(Notebook, on_delete="CASCADE")
    text = peewee.TextField()
    written_at = peewee.DateTimeField(null=True)  # None: a draft, kept

    class Meta:
        table_name = "diary_page"


class Diary(Plugin):
    """A third party's plugin: it declares its personal data, and writes no hooks."""

    name = "diary"
    models = [Notebook, Page]
    personal_data_kinds = [
        PersonalData("diary.notebooks", Notebook, Notebook.owner,
                     "A person's notebooks; an empty one may go.",
                     expired=lambda cutoff: Notebook.id.not_in(Page.select(Page.notebook))),
        PersonalData("diary.pages", Page, Notebook.owner, "What a person wrote.",
                     retention_days=30, since=Page.written_at, columns=("text", "written_at"))]


def days_ago(days: float) -> datetime:
    return (NOW - timedelta(days=days)).replace(tzinfo=None)


def write_diary(jid: str, *ages: float | None) -> Notebook:
    """A notebook of `jid` with a page written `age` days before NOW (None: undated)."""
    notebook = Notebook.create(owner=jid, title=f"{jid}'s")
    for number, age in enumerate(ages):
        Page.create(notebook=notebook, text=f"page {number}",
                    written_at=None if age is None else days_ago(age))
    return notebook


def page_texts() -> set[tuple[str, str]]:
    return {(page.notebook.owner, page.text) for page in Page.select()}


@pytest.fixture
def diary_database(database_url):
    storage = Storage(database_url)
    storage.migrate(schemas([Diary()]))
    yield storage
    storage.close()


def test_declared_data_is_exported_and_erased_without_hooks(diary_database):
    diary = Diary()
    write_diary(ALICE, 1, 2)
    write_diary(BOB, 3)

    exported = privacy.export(ALICE, [diary])["diary"]
    assert exported == {"notebooks": [{"owner": ALICE, "title": f"{ALICE}'s"}],
                        "pages": [{"text": "page 0", "written_at": days_ago(1).isoformat()},
                                  {"text": "page 1", "written_at": days_ago(2).isoformat()}]}
    json.dumps(exported)  # JSON as it is

    # the pages first: deleting the notebook first would cascade, and count 1
    assert privacy.erase(ALICE, [diary], by="admin")["diary"] == 3
    assert privacy.export(ALICE, [diary])["diary"] == {"notebooks": [], "pages": []}
    assert page_texts() == {(BOB, "page 0")}


def test_plugins_with_hooks_of_their_own_keep_them(diary_database):
    class OwnHooks(Diary):
        def personal_data(self, jid: str) -> dict:
            return {"titles": [row.title for row in Notebook.select().where(
                Notebook.owner == jid)]}

    write_diary(ALICE, 1)
    assert privacy.export(ALICE, [OwnHooks()])["diary"] == {"titles": [f"{ALICE}'s"]}


def test_the_cores_declarations_cover_what_erase_deletes(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([]))
    services = services_over(storage, [], JOIN_PUBLIC_URL="https://join.example.com")
    for jid in (ALICE, BOB):
        PersonSetting.create(jid=jid, language="de")
        consent.give(jid, "join.privacy", "1")
        enqueue(f"hello:{jid}", jid, "Hallo")
        services.daily("diary.remind", f"person:{jid}", "07:30", "Europe/Berlin")
        services.invitations.take(services.invite(jid).token, f"guest-of-{jid}")
        services.invitations.take(services.invite("staff@example.com").token, jid)
    assert all(rows(kind, ALICE) for kind in CORE_KINDS)
    assert privacy.export(ALICE, [])["schedule"][0]["daily_at"] == "07:30"

    privacy.erase(ALICE, [], by="admin")
    assert {kind.kind: rows(kind, ALICE) for kind in CORE_KINDS} == {
        kind.kind: [] for kind in CORE_KINDS}
    assert all(rows(kind, BOB) for kind in CORE_KINDS)
    storage.close()


def test_older_rows_go_younger_and_undated_ones_stay_and_a_dry_run_counts_them(
        diary_database, caplog):
    diary = Diary()
    write_diary(ALICE, 31, 29, None)
    write_diary(BOB, 45)
    kinds = [kind for _owner, kind in declared([diary])]
    assert periods([diary], load(None, environ={}))["diary.notebooks"] is None  # kept
    days = periods([diary], load(None, environ={
        "BOTSCHAFT_PRIVACY_RETENTION": "diary.notebooks=0"}))
    assert days["diary.pages"] == 30 and days["diary.notebooks"] == 0

    would = purge(kinds, days, NOW, dry_run=True)
    assert Page.select().count() == 4 and Notebook.select().count() == 2
    with caplog.at_level(logging.INFO, logger="bots"):
        removed = purge(kinds, days, NOW, batch=1)
    # Bob's notebook is empty once his page is gone: the dry run counts it too
    assert would == removed == {"outbox": 0, "audit": 0, "diary.notebooks": 1, "diary.pages": 2}
    assert page_texts() == {(ALICE, "page 1"), (ALICE, "page 2")}
    assert [notebook.owner for notebook in Notebook.select()] == [ALICE]
    assert ("rows deleted per kind: outbox 0, audit 0, diary.notebooks 1, diary.pages 2"
            in caplog.text)
    assert ALICE not in caplog.text and "page 0" not in caplog.text  # counts only


class Misnamed(Diary):
    personal_data_kinds = [PersonalData("notes.pages", Page, Notebook.owner, "")]


def install(monkeypatch, cls: type[Plugin]) -> None:
    """Pretend `cls` is installed as the plugin diary (the entry point of some package)."""
    monkeypatch.setattr(plugin_module, "entry_points", lambda group: [EntryPoint(
        "diary", f"{cls.__module__}:{cls.__qualname__}", plugin_module.ENTRY_POINT_GROUP)])


def test_a_plugin_whose_declarations_are_wrong_fails_to_load(monkeypatch):
    install(monkeypatch, Misnamed)
    report = load_plugins(load(None, environ={}))
    assert report.plugins == []
    assert report.failures == {"diary": "ValueError: personal data 'notes.pages': name it "
                                        "diary.<what>, after the plugin"}


@pytest.mark.parametrize("kinds, generic, message", [
    ([PersonalData("diary", Page, Notebook.owner, "")], False, r"name it diary.<what>"),
    ([PersonalData("diary.pages", Page, Notebook.owner, "")] * 2, False, "declared twice"),
    (["diary.pages"], False, "'diary.pages', which is no PersonalData"),
    ([PersonalData("diary.notebooks", Notebook, Page.text, "")], True,
     r"no foreign key leads from diary_notebook to diary_page"),
])
def test_declarations_export_or_erase_cannot_follow_are_named(kinds, generic, message):
    with pytest.raises((TypeError, ValueError), match=message):
        check("diary", kinds, generic)
    if generic:  # the plugin's own hooks may follow them
        check("diary", kinds, generic=False)


@pytest.mark.parametrize("arguments, message", [
    (dict(retention_days=30), "retention_days needs since or expired"),
    (dict(since=Notebook.title), "since must be a column of diary_page"),
    (dict(columns=("txt",)), "diary_page has no column 'txt'"),
])
def test_a_declaration_that_cannot_work_is_refused_where_it_is_written(arguments, message):
    with pytest.raises(ValueError, match=message):
        PersonalData("diary.pages", Page, Notebook.owner, "", **arguments)


def test_purge_and_its_dry_run_from_the_command_line(monkeypatch, tmp_path):
    install(monkeypatch, Diary)
    config = tmp_path / "botschaft.toml"
    config.write_text('[privacy]\nretention = { "diary.pages" = 10 }\n')
    monkeypatch.setenv("BOTSCHAFT_CONFIG", str(config))
    monkeypatch.setenv("BOTSCHAFT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.migrate(schemas([Diary()]))
    now = datetime.now(UTC)  # the command purges at the real time: ages far from the edge
    for age, text in ((400, "old"), (11, "old too"), (9, "young")):
        notebook = Notebook.create(owner=ALICE, title="t")
        Page.create(notebook=notebook, text=text,
                    written_at=(now - timedelta(days=age)).replace(tzinfo=None))
    storage.close()

    dry = CliRunner().invoke(main, ["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    counted = re.search(r"diary\.pages +(\d+) rows", dry.output)
    assert counted and "nothing is" in dry.output and "(kept 10 days)" in dry.output
    assert "Kept while needed (until the person is erased): consent," in dry.output
    assert re.search(r"server\.archive +not applied: ejabberd's admin API is not configured",
                     dry.output)  # this site has none: tests/bots/test_retention.py asks one
    done = CliRunner().invoke(main, ["privacy", "purge"])
    assert done.exit_code == 0, done.output
    assert re.search(r"diary\.pages +(\d+) rows", done.output).group(1) == counted.group(1)
    storage = Storage(f"sqlite:///{tmp_path / 'bot.db'}")
    storage.bind(schemas([Diary()]))
    assert [page.text for page in Page.select()] == ["young"] and counted.group(1) == "2"
    storage.close()


def test_the_inventory_lists_the_cores_and_each_plugins_tables(monkeypatch, tmp_path):
    install(monkeypatch, Diary)
    config = tmp_path / "botschaft.toml"
    config.write_text('[privacy]\nretention = { "diary.pages" = 10 }\n')
    monkeypatch.setenv("BOTSCHAFT_CONFIG", str(config))

    listed = CliRunner().invoke(main, ["privacy", "inventory", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    entries = {entry["kind"]: entry for entry in json.loads(listed.output)}
    assert set(entries) == {kind.kind for kind in CORE_KINDS} | {"diary.notebooks",
                                                                "diary.pages", "server.archive"}
    assert entries["diary.pages"] == {
        "kind": "diary.pages", "part": "diary", "table": "diary_page",
        "columns": ["text", "written_at"],
        "person": "diary_notebook.owner (through diary_page.notebook_id)",
        "retention_days": 10, "default_retention_days": 30, "counted_from": "written_at",
        "description": "What a person wrote."}
    assert entries["schedule"]["person"] == 'bots_schedule.key ("person:" and the JID)'
    assert {name: entries["server.archive"][name] for name in ("part", "table",
                                                               "retention_days")} == {
        "part": "ejabberd", "table": "archive", "retention_days": 30}
    assert "ejabberd's database" in entries["server.archive"]["description"]

    page = CliRunner().invoke(main, ["privacy", "inventory"]).output
    assert page.startswith("| Kind | Part | Table | Columns | Whose (column) | Kept |")
    assert ("| `diary.pages` | diary | `diary_page` | text, written_at | diary_notebook.owner "
            "(through diary_page.notebook_id) | 10 days | 30 days | written_at | What a person "
            "wrote. |") in page
    assert "| `outbox` | core | `bots_outbox` | recipient, body | bots_outbox.recipient | " \
           "7 days |" in page
