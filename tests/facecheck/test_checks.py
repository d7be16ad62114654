"""The queue-entry face check end to end: HTTP, a real worker pool with the real models, Redis.

Faces are public-domain photos that ship in packages (tests/facecheck/faces.py); a head turn is
simulated from a frontal photo (faces.turn_head documents how and what that proves).
"""

import asyncio
import json
import time

import aiohttp
import pytest

from server.app import create_app
from server.facecheck.pool import InferencePool
from server.http.context import SERVICES
from server.roster.photos import PhotoSource
from tests.conftest import ADMIN, PASSWORD, build_world, login, new_client
from tests.facecheck import faces


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


GRACE = faces.grace_hopper()
ASTRONAUT = faces.astronaut()


def roster_csv(world, photo_names):
    lines = ["姓名,身份证号,报考科目,照片"]
    for (name, number, subjects), photo in zip(world.roster, photo_names, strict=False):
        lines.append(f"{name},{number},{subjects},{photo}")
    return "\n".join(lines).encode()


async def face_world(services, photos):
    """A world whose roster rows carry these ID photos (bytes), imported through the face check."""
    return await build_world(services, roster_size=len(photos), photos=photos)


async def candidate_client(http, world, index=0):
    account = await world.candidate(index)
    await login(http, account.phone, PASSWORD)
    return account


async def challenge(http, world):
    resp = await http.post(f"/api/candidate/exams/{world.exam.id}/facecheck/challenge")
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def send(http, world, challenge_id, frames, lang="zh"):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("challenge_id", challenge_id)
    for i, data in enumerate(frames):
        form.add_field("frame", data, filename=f"{i}.jpg", content_type="image/jpeg")
    return await http.post(
        f"/api/candidate/exams/{world.exam.id}/facecheck", data=form, headers={"Accept-Language": lang}
    )


async def turning_burst(face_engine, photo, direction):
    start = faces.sensor(photo, seed=1)
    base = face_engine.observe(start, embed=False)
    sign = 1 if direction == "left" else -1
    frames = [faces.encode(start)]
    for i, degrees in enumerate((10, 20, 30, 35)):
        frames.append(
            faces.encode(faces.sensor(faces.turn_head(photo, base.box, base.keypoints, sign * degrees), seed=10 + i))
        )
    return frames


async def test_the_right_person_turning_their_head_passes(http, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await candidate_client(http, world)
    ch = await challenge(http, world)
    assert ch["direction"] in ("left", "right") and ch["expires_in"] > 0
    frames = await turning_burst(face_engine, GRACE, ch["direction"])
    resp = await send(http, world, ch["challenge_id"], frames)
    result = await resp.json()
    assert resp.status == 200 and result["passed"] is True, result
    assert result["distance"] < result["threshold"] and result["strikes"] == 0
    state = await (await http.get(f"/api/candidate/exams/{world.exam.id}/facecheck")).json()
    assert state["status"] == "passed" and state["cleared"] is True
    assert await services.face_gate.cleared(world.exam.id, account.id)  # what the queue will ask
    [check] = await services.face_gate.history(world.exam.id, account.id)
    assert check["passed"] and check["frames"] == len(frames)
    assert services.frame_archive.path(world.exam.id, account.id, check["check_id"], len(frames) - 1)
    # the challenge is used up: replaying the same burst is refused, and counts nothing
    resp = await send(http, world, ch["challenge_id"], frames)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "challenge_expired"


async def test_failures_say_why_and_what_to_do_and_three_lock(http, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await candidate_client(http, world)
    ch = await challenge(http, world)
    # someone else (the astronaut) doing a perfect head turn
    result = await (
        await send(http, world, ch["challenge_id"], await turning_burst(face_engine, ASTRONAUT, ch["direction"]))
    ).json()
    assert (result["passed"], result["reason"], result["strikes_left"]) == (False, "face_mismatch", 2)
    assert result["message"] == "人脸比对未通过" and "美瞳" in result["advice"]
    # the right person, but a still photo held up: no head turn
    ch = await challenge(http, world)
    still = [faces.encode(faces.sensor(GRACE, seed=s)) for s in range(1, 5)]
    result = await (await send(http, world, ch["challenge_id"], still, lang="en")).json()
    assert (result["reason"], result["strikes_left"]) == ("face_liveness", 1)
    assert result["message"] == "The head turn was not seen" and ch["direction"] in result["advice"]
    # too dark
    ch = await challenge(http, world)
    dark = [faces.encode(faces.brightness(GRACE, 0.12))]
    result = await (await send(http, world, ch["challenge_id"], dark)).json()
    assert result["reason"] == "face_too_dark" and result["message"] == "光线太暗" and result["locked"] is True
    assert "人工审核" in result["locked_message"]
    # locked: no more tries until a proctor decides
    resp = await http.post(f"/api/candidate/exams/{world.exam.id}/facecheck/challenge")
    assert resp.status == 423 and (await resp.json())["error"]["code"] == "face_check_locked"
    [review] = await services.face_gate.open_reviews()
    assert review.account_id == account.id and len(review.check_ids) == 3


async def test_bad_frames_are_refused_and_count_nothing(http, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await candidate_client(http, world)
    cases = [
        ([b"not an image at all"], 400, "image_invalid"),
        ([faces.encode(GRACE)[:3000]], 400, "image_invalid"),  # truncated JPEG
        ([faces.png_header_claiming(30000, 30000)], 400, "image_too_large"),
        ([faces.encode(GRACE)] * 9, 400, "too_many_frames"),
        ([], 400, "no_frames"),
        ([b"\xff\xd8" + b"0" * (600 * 1024)], 413, "image_too_large"),
    ]
    for frames, status, code in cases:
        ch = await challenge(http, world)
        resp = await send(http, world, ch["challenge_id"], frames)
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code), code
    resp = await http.post(f"/api/candidate/exams/{world.exam.id}/facecheck", json={"frames": []})
    assert resp.status == 415
    state = await services.face_gate.status(world.exam.id, account.id)
    assert state.status == "none" and state.strikes == 0
    assert await services.face_gate.history(world.exam.id, account.id) == []


async def test_a_challenge_belongs_to_one_candidate(app, http, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE), faces.encode(ASTRONAUT)])
    await candidate_client(http, world, 0)
    ch = await challenge(http, world)
    other = await new_client(app)
    await candidate_client(other, world, 1)
    resp = await send(other, world, ch["challenge_id"], [faces.encode(ASTRONAUT)])
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "challenge_expired"
    await other.close()


async def test_roster_photos_without_exactly_one_face_are_rejected(services):
    world = await build_world(services, roster_size=3, photos=[faces.encode(GRACE)] * 3)
    two = faces.side_by_side(GRACE, ASTRONAUT)
    out = faces.encode(GRACE), faces.encode(faces.coffee()), faces.encode(two)
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, data in enumerate(out):
            zf.writestr(f"p{i}.jpg", data)
    seen = []

    async def progress(stage, done, total):
        seen.append((stage, done, total))

    report = await services.importer.import_csv(
        ADMIN,
        world.exam.id,
        roster_csv(world, ["p0.jpg", "p1.jpg", "p2.jpg"]),
        PhotoSource.from_zip(buf.getvalue(), 5 << 20),
        progress,
    )
    assert [(r.status, [c for c, _ in r.reasons]) for r in report.rows] == [
        ("updated", []),
        ("rejected", ["row_photo_no_face"]),
        ("rejected", ["row_photo_faces"]),
    ]
    assert ("faces", 3, 3) in seen and seen[-1][0] == "writing"
    # the reference embedding was computed once, at import, and cached under the model's name
    entry = await services.roster.entry(world.exam.id, world.roster[0][1])
    cached = json.loads(await services.store.redis.get(services.store.keys.face_reference("Dlib", entry.photo_sha256)))
    assert len(cached["embedding"]) == 128


async def test_no_reference_photo_is_a_clear_refusal(http, services):
    world = await build_world(services, roster_size=1, photos=[faces.encode(GRACE)])
    csv = f"姓名,身份证号,报考科目\n{world.roster[0][0]},{world.roster[0][1]},声乐\n".encode()
    await services.importer.import_csv(ADMIN, world.exam.id, csv, PhotoSource.empty())
    entry = await services.roster.entry(world.exam.id, world.roster[0][1])
    await services.store.redis.hset(
        services.store.keys.roster_entry(world.exam.id, entry.id_number), "photo_sha256", ""
    )
    await candidate_client(http, world)
    resp = await http.post(f"/api/candidate/exams/{world.exam.id}/facecheck/challenge")
    err = (await resp.json())["error"]
    assert resp.status == 409 and err["code"] == "no_reference_photo" and "证件照" in err["message"]


async def test_room_entry_check_on_decoded_frames(services):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await world.candidate(0)
    ok = await services.face_checks.check_room_entry(account, world.exam.id, [faces.sensor(GRACE, seed=3)])
    assert ok.passed and await services.face_gate.cleared(world.exam.id, account.id)
    wrong = await services.face_checks.check_room_entry(account, world.exam.id, [faces.sensor(ASTRONAUT, seed=3)])
    assert not wrong.passed and wrong.reason == "face_mismatch"
    # failing in the room sends the candidate back to the face check (a strike, and the pass is cleared)
    assert not await services.face_gate.cleared(world.exam.id, account.id)


async def test_a_full_pool_answers_busy_with_a_wait(models_dir, settings, redis, services):
    small = InferencePool(models_dir, "Dlib", workers=1, max_pending=2)
    try:
        world = await face_world(services, [faces.encode(GRACE)])
        account = await world.candidate(0)
        services.attach_face_pool(small)
        ch = await services.face_checks.challenge(account, world.exam.id)
        with pytest.raises(Exception) as caught:
            await services.face_checks.check_queue_entry(
                account, world.exam.id, ch["challenge_id"], [faces.encode(GRACE)] * 3
            )
        assert caught.value.code == "facecheck_busy" and caught.value.status == 503
        assert caught.value.params["seconds"] >= 1
    finally:
        small.close()


async def test_checks_run_off_the_event_loop(http, services, face_engine):
    """While a burst of checks runs in the workers, the server keeps answering at once."""
    world = await face_world(services, [faces.encode(GRACE)])
    account = await world.candidate(0)
    frames = [faces.encode(faces.sensor(GRACE, seed=s)) for s in range(6)]
    pool = services.face_checks.pool
    work = asyncio.gather(*(pool.observe(f) for f in frames * 2))
    slowest = 0.0
    while not work.done():
        start = time.perf_counter()
        assert (await http.get("/healthz")).status == 200
        slowest = max(slowest, time.perf_counter() - start)
        await asyncio.sleep(0.01)
    await work
    assert slowest < 0.25, slowest
    assert account


async def test_missing_models_leave_the_server_up_and_name_the_command(tmp_path, redis_url, prefix, redis):
    from tests.conftest import fast_settings

    settings = fast_settings(tmp_path, redis_url, prefix, facecheck_workers=2, models_dir=tmp_path / "no-models")
    client = await new_client(create_app(settings, redis))
    try:
        health = await client.get("/healthz")
        assert health.status == 503 and (await health.json())["status"] == "unavailable"
        world = await build_world(client.server.app[SERVICES])
        # what is broken, and the command, is for staff (/healthz shows anyone else only the status)
        await login(client, "admin-one", PASSWORD)
        body = await (await client.get("/healthz")).json()
        assert body["checks"]["redis"]["ok"] is True
        assert "interview-server fetch-models" in body["checks"]["facecheck"]["error"]
        await client.post("/api/auth/logout")
        account = await world.candidate(0)
        await login(client, account.phone, PASSWORD)
        resp = await client.post(f"/api/candidate/exams/{world.exam.id}/facecheck/challenge")
        err = (await resp.json())["error"]
        assert resp.status == 503 and err["code"] == "facecheck_unavailable" and "稍后" in err["message"]
    finally:
        await client.close()
