"""`botschaft doctor` names what it finds: here, a table that lacks a column its model has
(a plugin that added a field without a migration: every command using it would fail)."""

from __future__ import annotations

import socket

import peewee

from bots.config import load
from bots.doctor import _check_admin_api, _check_web_port, missing_columns
from bots.storage import Schema, Storage
from bots.testing import join_settings


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
