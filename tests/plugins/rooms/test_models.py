"""The rooms plugin's declared personal data: memberships and trainers are kept while needed
(until removed or erased, or the room is destroyed), so the framework's daily purge leaves
them, however old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bots.app import schemas
from bots.retention import purge
from bots.storage import Storage
from plugins.rooms import Rooms
from plugins.rooms.models import LEFT, Member, Room

KINDS = Rooms.personal_data_kinds


def test_the_purge_leaves_memberships_and_trainers_however_old(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'rooms.db'}")
    storage.migrate(schemas([Rooms()]))
    room = Room.create(slug="kurs", name="Kurs", trainer="trainer@example.com", language="de")
    Member.create(room=room, jid="left@example.com", state=LEFT, language="de")
    later = datetime.now(UTC) + timedelta(days=3650)
    assert purge(KINDS, {kind.kind: kind.retention_days for kind in KINDS}, later) == {}
    assert [(member.jid, member.room.trainer) for member in Member.select()] == [
        ("left@example.com", "trainer@example.com")]
    storage.close()
