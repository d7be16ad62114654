"""Lookups the pages make in normal use answer 200 with an explicit empty state, so a browser logs
no error for them (Chromium logs every 4xx as a console error); real errors stay 4xx."""

from __future__ import annotations

from tests.conftest import PASSWORD, login


async def test_import_progress_before_the_import_has_begun(http, world):
    await login(http, "admin-one", PASSWORD)
    resp = await http.get("/api/admin/imports/imp_0a1b2c3d4e5f")  # the page polls while still uploading
    assert resp.status == 200
    assert await resp.json() == {"stage": "none", "done": 0, "total": 0, "exam_id": None}
    assert (await http.get("/api/admin/imports/not-an-id!")).status == 404


async def test_import_progress_of_a_running_import(http, services, world):
    await login(http, "admin-one", PASSWORD)
    key = services.store.keys.import_progress("imp_0a1b2c3d4e5f")
    await services.store.redis.hset(key, mapping={"stage": "faces", "done": 3, "total": 9, "exam_id": world.exam.id})
    assert await (await http.get("/api/admin/imports/imp_0a1b2c3d4e5f")).json() == {
        "stage": "faces",
        "done": 3,
        "total": 9,
        "exam_id": world.exam.id,
    }


async def test_the_favicon_is_there_without_a_session(http):
    resp = await http.get("/favicon.ico")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
