"""The proctor's live view opens only for an exam they are assigned to (docs/security.md)."""

from __future__ import annotations

import pytest
import socketio

from tests.conftest import ADMIN, build_world
from tests.signaling.conftest import url_of


async def test_the_live_view_of_another_exam_is_refused(services, server, peers, live):
    other = await build_world(services, roster_size=1, staff=live.world.staff, first_roster_row=50)
    await services.proctors.assign(ADMIN, other.exam.id, [])  # nobody watches it
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peers(url_of(server), "/proctor", live.proctor, {"exam_id": other.exam.id}, services)
    mine = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    assert (await mine.call("proctor:snapshot"))["ok"]
