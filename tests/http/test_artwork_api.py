"""Artwork photos over HTTP on a running app: the admin sets an artwork subject's photo rules; the candidate
uploads photos (the bytes are the body), sees them, removes one, submits; bad files, another's take, forged
ids, too many photos at once and photos after submitting answer a clear Chinese message and store
nothing; a grader gets the photos by code and number with nothing that names or dates them; the admin's
review of the sitting shows the videos, photos, exam code, face result and audit."""

from __future__ import annotations

import asyncio
import json
import re

from server.recorded.artwork import photo_file
from tests.conftest import ADMIN, PASSWORD, login, new_client
from tests.http.test_grading_api import as_user, error
from tests.recorded.conftest import DEVICE, make_recorded, pass_face
from tests.recorded.test_artwork import COMMENT, GPS_MAKER, jpeg_segments, jpeg_with_metadata, png
from tests.recorded.test_grading import close_window, examiner, write_webm

ARTWORK = {"form": "artwork", "photo_time_limit_min": 10, "photos_min": 1, "photos_max": 2}


async def artwork_take(services, world, index: int = 0, files: bool = False):
    """Candidate ``index`` in an artwork sitting with a complete take (a real playable file with ``files``)."""
    subject = await make_recorded(services, world, **ARTWORK)
    account = await world.candidate(index)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await pass_face(services, world.exam.id, account)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "rear", "landscape")
    if files:
        folder = await services.recordings.started(world.exam.id, sitting.id, account.id, take.id)
        length = write_webm(folder / "playable.webm", 2.0)
    await services.sittings.take_ended(take.id, "complete", 2.0)
    if files:
        await services.sittings.take_playable(take.id, {"playable.webm": {"sha256": "ab" * 32, "duration_s": length}})
    return subject, account, sitting, take


async def candidate_client(app, account):
    client = await new_client(app)
    await login(client, account.phone, PASSWORD)
    return client


def upload(client, take_id: str, data: bytes, content_type: str = "image/jpeg"):
    return client.post(f"/api/candidate/takes/{take_id}/photos", data=data, headers={"Content-Type": content_type})


async def test_the_admin_sets_the_photo_rules(app, world, services):
    admin = await as_user(app, "admin-one")
    try:
        url = f"/api/admin/exams/{world.exam.id}/subjects/{world.subjects[0].id}"
        await make_recorded(services, world)
        resp = await admin.put(url, json={"form": "artwork", "photo_time_limit_min": 15, "photos_max": 4})
        assert resp.status == 200, await resp.text()
        subject = (await resp.json())["subject"]
        assert (subject["form"], subject["photo_time_limit_min"], subject["photos_min"], subject["photos_max"]) == (
            "artwork",
            15,
            1,
            4,
        )
        before = await services.catalog.subject(world.exam.id, world.subjects[0].id)
        message = await error(await admin.put(url, json={"photos_min": 5}), 400, "artwork_photos_range")
        assert message == "作品照片的最少张数（5）不能多于最多张数（4）"
        message = await error(await admin.put(url, json={"photo_time_limit_min": 0}), 400, "field_range")
        assert message == "作品拍照时间（分钟）应在 1 到 120 之间"
        await error(await admin.put(url, json={"form": "painting"}), 400, "subject_form_invalid")
        assert await services.catalog.subject(world.exam.id, world.subjects[0].id) == before
    finally:
        await admin.close()


async def test_a_candidate_uploads_views_removes_and_submits_photos(app, world, services):
    _, account, sitting, take = await artwork_take(services, world)
    client = await candidate_client(app, account)
    try:
        resp = await upload(client, take.id, jpeg_with_metadata())
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        photo = body["photo"]
        assert (photo["width"], photo["height"]) == (480, 640)
        assert photo["url"] == f"/api/candidate/takes/{take.id}/photos/{photo['id']}"
        assert [p["id"] for p in body["photos"]] == [photo["id"]]
        resp = await client.get(photo["url"])
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        data = await resp.read()
        assert GPS_MAKER.encode() not in data and COMMENT not in data
        # the sitting's view lists them with the take, with the photo time
        state = await (await client.get(f"/api/candidate/sittings/{sitting.id}")).json()
        (listed,) = state["takes"]
        assert [p["id"] for p in listed["photos"]] == [photo["id"]] and listed["photos_until"] > state["now"]
        # a second (PNG sent as application/octet-stream: the bytes decide), then the most are reached
        resp = await upload(client, take.id, png(), "application/octet-stream")
        assert resp.status == 201, await resp.text()
        second = (await resp.json())["photo"]
        message = await error(await upload(client, take.id, png(500, 400)), 409, "photo_too_many")
        assert message == "每条视频最多上传 2 张作品照片，请先删除不需要的照片"
        resp = await client.delete(f"/api/candidate/takes/{take.id}/photos/{second['id']}")
        assert resp.status == 200
        assert [p["id"] for p in (await resp.json())["photos"]] == [photo["id"]]
        await error(await client.get(second["url"]), 404, "photo_not_found")
        # submitted: the photos go with it, and cannot change afterwards
        resp = await client.post(f"/api/candidate/sittings/{sitting.id}/submit", json={"take_id": take.id})
        assert resp.status == 200, await resp.text()
        message = await error(await upload(client, take.id, png()), 409, "photo_sitting_over")
        assert "已提交或已结束" in message
        await error(
            await client.delete(f"/api/candidate/takes/{take.id}/photos/{photo['id']}"), 409, "photo_sitting_over"
        )
        assert len((await services.sittings.find_take(take.id)).photos) == 1
    finally:
        await client.close()


async def test_bad_uploads_answer_a_clear_message_and_store_nothing(app, world, services, settings):
    _, account, sitting, take = await artwork_take(services, world)
    _, other, _, other_take = await artwork_take(services, world, index=1)
    client = await candidate_client(app, account)
    try:
        message = await error(await upload(client, take.id, "一个改名的文本文件".encode()), 400, "photo_not_image")
        assert "JPEG 或 PNG" in message
        heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
        assert "HEIC" in await error(await upload(client, take.id, heic, "image/heic"), 415, "photo_heic")
        big = b"\xff\xd8\xff" + b"\x00" * settings.artwork_photo_max_bytes
        await error(await upload(client, take.id, big), 413, "body_too_large")
        await error(await upload(client, other_take.id, png()), 404, "take_not_found")  # another candidate's take
        await error(await upload(client, "take_000000000000", png()), 404, "take_not_found")
        await error(await upload(client, "take_../x", png()), 404, "not_found")  # a path trick: no such route
        message = await error(
            await client.post(f"/api/candidate/sittings/{sitting.id}/submit", json={"take_id": take.id}),
            409,
            "artwork_photos_missing",
        )
        assert message == "请先为这条视频上传作品照片再提交（至少 1 张，目前 0 张）"
        assert (await services.sittings.find_take(take.id)).photos == []
        folder = services.artwork.folder(take)
        assert not list(folder.glob("photo-*")) if folder.exists() else True
        # staff may not upload as a candidate
        admin = await as_user(app, "admin-one")
        try:
            await error(await upload(admin, take.id, png()), 403, "forbidden")
        finally:
            await admin.close()
    finally:
        await client.close()


async def test_concurrent_uploads_over_http_keep_the_most_photos(app, world, services):
    _, account, _, take = await artwork_take(services, world)
    client = await candidate_client(app, account)
    try:
        responses = await asyncio.gather(*(upload(client, take.id, png(300 + i, 300)) for i in range(6)))
        statuses = sorted(r.status for r in responses)
        assert statuses == [201, 201, 409, 409, 409, 409], statuses
        photos = (await services.sittings.find_take(take.id)).photos
        assert len(photos) == 2
        files = sorted(p.name for p in services.artwork.folder(take).glob("photo-*"))
        assert files == sorted(photo_file(p["id"]) for p in photos)
    finally:
        await client.close()


async def test_a_grader_sees_the_photos_by_code_with_nothing_that_names_or_dates_them(app, world, services):
    subject, account, sitting, take = await artwork_take(services, world, files=True)
    photo, _ = await services.artwork.add(account, take.id, jpeg_with_metadata())
    await services.artwork.add(account, take.id, png())
    await services.sittings.submit(account, sitting.id, take.id)
    grader = world.staff["examiner"]
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    await close_window(services, world, subject)  # graders see a subject once its window has closed
    await examiner(services, "grader-two")
    me = await as_user(app, "examiner-one")
    them = await as_user(app, "grader-two")
    try:
        resp = await me.get("/api/grader/submissions")
        raw = await resp.text()
        (item,) = json.loads(raw)["submissions"]
        code = item["code"]
        assert item["photos"] == [
            {"n": 1, "url": f"/api/grader/submissions/{code}/photos/1", "width": 480, "height": 640},
            {"n": 2, "url": f"/api/grader/submissions/{code}/photos/2", "width": 400, "height": 300},
        ]
        stored = (await services.sittings.find_take(take.id)).photos
        for secret in (account.id, account.name, sitting.id, sitting.code, take.id, photo["id"], photo["sha256"]):
            assert secret not in raw, secret
        assert "photo-" not in raw and "added_at" not in raw and not re.search(r"\b1[78]\d{8}\b", raw)
        resp = await me.get(item["photos"][0]["url"])
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        for header in ("Last-Modified", "ETag", "Content-Disposition"):
            assert header not in resp.headers, (header, resp.headers)
        data = await resp.read()
        assert data == (services.artwork.folder(take) / photo_file(stored[0]["id"])).read_bytes()
        assert [m for m in jpeg_segments(data) if 0xE1 <= m <= 0xEF or m == 0xFE] == []
        assert b"Exif" not in data and GPS_MAKER.encode() not in data and b"2026:06:01" not in data
        await error(await me.get(f"/api/grader/submissions/{code}/photos/3"), 404, "photo_not_found")
        await error(await me.get(f"/api/grader/submissions/{code}/photos/0"), 404, "photo_not_found")
        await error(await them.get(item["photos"][0]["url"]), 404, "submission_not_found")  # not their subject
        await error(await me.get("/api/grader/submissions/S-22222/photos/1"), 404, "submission_not_found")
    finally:
        await me.close()
        await them.close()


async def test_the_admin_reviews_one_sitting(app, world, services):
    _, account, sitting, take = await artwork_take(services, world, files=True)
    photo, _ = await services.artwork.add(account, take.id, png())
    await services.sittings.submit(account, sitting.id, take.id)
    admin = await as_user(app, "admin-one")
    client = await candidate_client(app, account)
    try:
        resp = await admin.get(f"/api/admin/sittings/{sitting.id}")
        assert resp.status == 200, await resp.text()
        review = await resp.json()
        assert review["candidate"] == {"account_id": account.id, "name": account.name, "id_number": account.id_number}
        assert review["sitting"]["code"] == sitting.code and review["sitting"]["state"] == "submitted"
        assert review["sitting"]["submitted_take"] == take.id and review["subject"]["form"] == "artwork"
        (listed,) = review["takes"]
        assert listed["video_url"] == f"/api/admin/takes/{take.id}/video"
        assert listed["photos"][0]["url"] == f"/api/admin/takes/{take.id}/photos/{photo['id']}"
        assert listed["photos"][0]["sha256"] == photo["sha256"]
        assert review["face"]["status"] == "passed" and review["identity"]["status"] == "pending"
        events = [e["event"] for e in review["audit"]]
        assert events[0] == "sitting_entered" and "take_photo_added" in events and events[-1] == "sitting_submitted"
        resp = await admin.get(listed["photos"][0]["url"])
        assert (
            resp.status == 200
            and (await resp.read()) == (services.artwork.folder(take) / photo_file(photo["id"])).read_bytes()
        )
        resp = await admin.get(f"/admin/sittings/{sitting.id}")
        assert resp.status == 200 and "review.js" in await resp.text()
        await error(await admin.get("/api/admin/sittings/sitt_000000000000"), 404, "sitting_not_found")
        resp = await admin.get("/admin/sittings/sitt_000000000000")
        assert resp.status == 404 and "sitting_not_found" in await resp.text()
        # not for candidates (it names the candidate), nor their own
        await error(await client.get(f"/api/admin/sittings/{sitting.id}"), 403, "forbidden")
        await error(await client.get(listed["photos"][0]["url"]), 403, "forbidden")
    finally:
        await admin.close()
        await client.close()
