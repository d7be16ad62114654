"""What the admin's recordings panel names a file by: who, which kind, which segment, when, how long."""

from __future__ import annotations

from tests.conftest import PASSWORD, login
from tests.http.test_recordings_api import recorded


async def test_each_file_carries_its_segment_and_length(http, services, world):
    candidate = await world.candidate(0)
    await recorded(services, world, candidate.id)
    await login(http, "admin-one", PASSWORD)
    (rec,) = (await (await http.get(f"/api/admin/exams/{world.exam.id}/recordings")).json())["recordings"]
    video, audio = rec["tracks"]
    assert (video["participant_name"], video["kind"], video["segment"], video["duration_s"]) == (
        "考生0",
        "video",
        0,
        10.0,
    )
    assert (audio["kind"], audio["segment"], audio["duration_s"]) == ("audio", 0, 10.0)
