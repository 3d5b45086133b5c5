"""`botschaft bridge doctor` as an admin runs it: every part ok against the test server and the
fake Cloud API; a wrong token named as the problem, without showing it."""

from __future__ import annotations

import asyncio
import os
import subprocess

from bots.testing import BOTSCHAFT


async def doctor(environ: dict[str, str]) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run, [BOTSCHAFT, "bridge", "doctor"], capture_output=True, text=True,
        timeout=60, env={**os.environ, "BOTSCHAFT_CONFIG": os.devnull, **environ})


async def test_the_doctor_finds_everything_in_order(cloud, xmpp_server, tmp_path):
    environ = cloud.bridge_environ(cloud.base_url, xmpp_server.instance, "bot@example.com")
    environ["BOTSCHAFT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bridge.db'}"
    checked = await doctor(environ)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("ok: ") == 3 and "+15550783881" in checked.stdout


async def test_the_doctor_names_a_wrong_token_without_showing_it(cloud, xmpp_server, tmp_path):
    environ = cloud.bridge_environ(cloud.base_url, xmpp_server.instance, "bot@example.com")
    environ["BOTSCHAFT_BRIDGE_WHATSAPP_ACCESS_TOKEN"] = "EAAG-a-wrong-token"
    environ["BOTSCHAFT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bridge.db'}"
    checked = await doctor(environ)
    assert checked.returncode == 1
    assert "PROBLEM: the Cloud API" in checked.stdout and "error 190" in checked.stdout
    assert "EAAG-a-wrong-token" not in checked.stdout + checked.stderr


async def test_a_missing_setting_is_named(tmp_path):
    checked = await doctor({})
    assert checked.returncode == 1
    assert "[bridge.whatsapp] phone_number_id is missing" in checked.stderr
