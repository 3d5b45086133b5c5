"""A fake Cloud API on a free port, with Twisted on the session's event loop."""

from __future__ import annotations

import pytest

from bots.web import install_reactor
from server_bridge.whatsapp.fake_cloud import FakeCloud

TOKEN = "test-access-token"
APP_SECRET = "test-app-secret"


@pytest.fixture
async def cloud():
    install_reactor()
    fake = FakeCloud(TOKEN, APP_SECRET)
    fake.base_url = fake.start()
    yield fake
    await fake.stop()
