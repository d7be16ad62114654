"""The face checks' judging with a real worker pool, the real models and Redis: a burst (the identity
appeal's, ``judge_burst``), room entry, the pool's limits, the ID photos. The queue-entry check is
live, on the candidate's socket: tests/facecheck/test_live_challenge.py; no HTTP endpoint takes its
frames any more (checked here).

Faces are public-domain photos that ship in packages (tests/facecheck/faces.py); a head turn is
simulated from a frontal photo (faces.turn_head documents how and what that proves).
"""

import asyncio
import json
import time

import aiohttp
import pytest

from server.app import create_app
from server.errors import UserError
from server.facecheck.checks import CheckResult
from server.facecheck.pool import InferencePool
from server.http.context import SERVICES
from server.http.statuses import STATUS
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


async def send(http, frames, challenge_id="chal_000000000000", lang="zh"):
    """A burst to the one endpoint that still takes frames, the identity appeal's (its frames' headers
    are checked before its challenge is looked up)."""
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("challenge_id", challenge_id)
    for i, data in enumerate(frames):
        form.add_field("frame", data, filename=f"{i}.jpg", content_type="image/jpeg")
    return await http.post("/api/candidate/identity/appeal", data=form, headers={"Accept-Language": lang})


async def judged(services, account, photo_sha256, direction, frames, lang="zh"):
    """A burst judged as the appeal judges it, as the answer a candidate reads (no strike: the appeal's)."""
    checks = services.face_checks
    reference = await checks.references.embedding(photo_sha256)
    reason, distance, details = await checks.judge_burst(checks.pool, account, reference, direction, frames)
    return CheckResult("check_x", not reason, reason, distance, checks.pool.threshold, 0, 3, False, direction).to_json(
        lang
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


async def test_the_queue_check_takes_no_frames_over_http(http, services):
    """The queue-entry check's old challenge and burst endpoints are gone: its frames are the server's."""
    world = await face_world(services, [faces.encode(GRACE)])
    await candidate_client(http, world)
    for path in ("facecheck/challenge", "facecheck"):
        resp = await http.post(f"/api/candidate/exams/{world.exam.id}/{path}", data=b"x")
        assert resp.status in (404, 405), (path, resp.status)


async def test_a_burst_of_the_right_person_turning_passes(services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await world.candidate(0)
    entry = (await services.enrolments.exam_for(account, world.exam.id)).entry
    for direction in ("left", "right"):
        result = await judged(
            services, account, entry.photo_sha256, direction, await turning_burst(face_engine, GRACE, direction)
        )
        assert result["passed"] is True and result["distance"] < result["threshold"], result


async def test_failures_say_why_and_what_to_do(services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await world.candidate(0)
    sha = (await services.enrolments.exam_for(account, world.exam.id)).entry.photo_sha256
    # someone else (the astronaut) doing a perfect head turn
    result = await judged(services, account, sha, "left", await turning_burst(face_engine, ASTRONAUT, "left"))
    assert (result["passed"], result["reason"]) == (False, "face_mismatch")
    assert result["message"] == "人脸比对未通过" and "美瞳" in result["advice"]
    # the right person, but a still photo held up: no head turn
    still = [faces.encode(faces.sensor(GRACE, seed=s)) for s in range(1, 5)]
    result = await judged(services, account, sha, "right", still, lang="en")
    assert result["reason"] == "face_liveness" and result["message"] == "The head turn was not seen"
    assert "right" in result["advice"]
    # too dark
    result = await judged(services, account, sha, "left", [faces.encode(faces.brightness(GRACE, 0.12))])
    assert result["reason"] == "face_too_dark" and result["message"] == "光线太暗"


async def test_bad_frames_are_refused_and_count_nothing(http, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    account = await candidate_client(http, world)
    cases = [
        ([b"not an image at all"], 400, "image_invalid"),
        # (a truncated JPEG passes its header and is refused when the pool decodes it: test_abuse.py)
        ([faces.png_header_claiming(30000, 30000)], 400, "image_too_large"),
        ([faces.encode(GRACE)] * 9, 400, "too_many_frames"),
        ([], 400, "no_frames"),
        ([b"\xff\xd8" + b"0" * (600 * 1024)], 413, "image_too_large"),
    ]
    for frames, status, code in cases:
        resp = await send(http, frames)
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code), code
    resp = await http.post("/api/candidate/identity/appeal", json={"frames": []})
    assert resp.status == 415
    state = await services.face_gate.status(world.exam.id, account.id)
    assert state.status == "none" and state.strikes == 0
    assert await services.face_gate.history(world.exam.id, account.id) == []


async def test_a_challenge_belongs_to_one_candidate(services):
    world = await face_world(services, [faces.encode(GRACE), faces.encode(ASTRONAUT)])
    one, other = await world.candidate(0), await world.candidate(1)
    ch = await services.face_checks.issue_challenge(one, "appeal:x:y")
    assert (await services.face_checks.challenge_of(ch["challenge_id"], one))["exam_id"] == "appeal:x:y"
    with pytest.raises(UserError) as caught:
        await services.face_checks.challenge_of(ch["challenge_id"], other)
    assert caught.value.code == "challenge_expired"


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


async def test_no_reference_photo_is_a_clear_refusal(services):
    world = await build_world(services, roster_size=1, photos=[faces.encode(GRACE)])
    csv = f"姓名,身份证号,报考科目\n{world.roster[0][0]},{world.roster[0][1]},声乐\n".encode()
    await services.importer.import_csv(ADMIN, world.exam.id, csv, PhotoSource.empty())
    entry = await services.roster.entry(world.exam.id, world.roster[0][1])
    await services.store.redis.hset(
        services.store.keys.roster_entry(world.exam.id, entry.id_number), "photo_sha256", ""
    )
    account = await world.candidate(0)
    with pytest.raises(UserError) as caught:  # before any publish is opened (face:live)
        await services.face_checks.live_ready(account, world.exam.id)
    err = caught.value
    assert err.code == "no_reference_photo" and "证件照" in err.message("zh") and STATUS[err.code] == 409


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
        sha = (await services.enrolments.exam_for(account, world.exam.id)).entry.photo_sha256
        reference = await services.face_checks.references.embedding(sha)
        with pytest.raises(Exception) as caught:
            await services.face_checks.judge_burst(small, account, reference, "left", [faces.encode(GRACE)] * 3)
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
        with pytest.raises(UserError) as caught:  # the live check refuses before opening a publish
            await client.server.app[SERVICES].face_checks.live_ready(account, world.exam.id)
        err = caught.value
        assert err.code == "facecheck_unavailable" and STATUS[err.code] == 503 and "稍后" in err.message("zh")
    finally:
        await client.close()
