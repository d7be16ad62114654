"""An admin replaces one roster row's ID photo (the face-check reference) over the REST API: checked
as an import's photos, audited, and a refused photo or a wrong row changes nothing."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import PASSWORD, jpeg, login
from tests.queue.test_waiting import snapshot


@pytest.fixture
async def admin(http, world):
    await login(http, "admin-one", PASSWORD)
    return world.staff["admin"]


def url(world, number: str) -> str:
    return f"/api/admin/exams/{world.exam.id}/roster/{number}/photo"


async def test_the_admin_replaces_a_photo_and_it_is_audited(http, admin, world, services):
    number = world.roster[0][1]
    photo = jpeg((90, 120, 150))
    resp = await http.put(url(world, number), data=photo, headers={"Content-Type": "image/jpeg"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["row"]["status"] == "updated"
    entry = await services.roster.entry(world.exam.id, number)
    assert entry.photo_sha256 == hashlib.sha256(photo).hexdigest()
    events = await services.store.redis.xrevrange(services.store.keys.audit(world.exam.id), count=1)
    assert events[0][1]["event"] == "roster_photo_replaced" and events[0][1]["actor"] == admin.id


@pytest.mark.parametrize("case", ["not_an_image", "wrong_type", "unknown_row", "too_large"])
async def test_bad_photos_and_rows_change_nothing(http, admin, world, redis, prefix, settings, case):
    number = world.roster[0][1]
    body, kind, target, status = {
        "not_an_image": (b"GIF89a not really", "image/jpeg", number, 422),
        "wrong_type": (jpeg(), "text/plain", number, 415),
        "unknown_row": (jpeg(), "image/jpeg", "110101200601019999", 404),
        "too_large": (b"\xff\xd8" + b"0" * (settings.max_photo_bytes + 10), "image/jpeg", number, 413),
    }[case]
    before = await snapshot(redis, prefix)
    resp = await http.put(url(world, target), data=body, headers={"Content-Type": kind})
    assert resp.status == status, await resp.text()
    answer = await resp.json()
    message = answer["row"]["reasons"][0]["message"] if status == 422 else answer["error"]["message"]
    assert message and any("\u4e00" <= ch <= "\u9fff" for ch in message), answer  # said in Chinese
    assert await snapshot(redis, prefix) == before


async def test_nobody_but_an_admin_replaces_a_photo(http, world):
    candidate = await world.candidate(0)
    await login(http, candidate.phone, PASSWORD)
    resp = await http.put(url(world, world.roster[0][1]), data=jpeg(), headers={"Content-Type": "image/jpeg"})
    assert resp.status == 403
