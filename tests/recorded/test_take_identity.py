"""Identity on every take, with the real models and a real Redis: a submitted take's playback file
(a VP8 WebM of a real face, as the remux writes it) is sampled and compared with the roster photo;
the admin sees the result on the submission (JSON, CSV), and nothing is ever blocked: the
submission stays submitted whatever the result, and the face gate, its strikes and the queue are
never touched."""

from __future__ import annotations

import asyncio
import csv
import fractions
import hashlib
import io
import time
from pathlib import Path

import av
import numpy as np
import pytest

from server.recorded.take_identity import TakeIdentity, read_identity, sample_frames
from server.rooms.remux import PLAYABLE
from tests.conftest import PASSWORD, build_world, login, new_client

from ..facecheck import faces
from .conftest import DEVICE, events, make_recorded, pass_face

WIDTH, HEIGHT, FPS = 640, 480, 15


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


def framed(image: np.ndarray) -> np.ndarray:
    """A face as a phone at arm's length films it (640x480, the face about 460 px high)."""
    fitted = faces.scale(image, min(460 / image.shape[0], (WIDTH - 20) / image.shape[1]))
    return faces.on_canvas(fitted, WIDTH, HEIGHT, at=((WIDTH - fitted.shape[1]) // 2, (HEIGHT - fitted.shape[0]) // 2))


def write_take(path: Path, scene, seconds: float = 4.0, gop: int = FPS) -> dict:
    """``playable.webm`` as the remux writes it (VP8 video, Opus audio), ``scene(i)`` the i-th frame;
    returns what ``make_playable`` reports of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * FPS)
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = 800_000
        video.codec_context.gop_size = gop
        video.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        audio = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(faces.sensor(scene(i), seed=i), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = av.AudioFrame.from_ndarray(
            np.zeros((1, 960 * 50 * int(seconds)), np.int16), format="s16", layout="mono"
        )
        samples.sample_rate, samples.pts, samples.time_base = 48000, 0, fractions.Fraction(1, 48000)
        out.mux(audio.encode(samples))
        out.mux(audio.encode(None))
    data = path.read_bytes()
    return {
        PLAYABLE: {"kind": "main", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "duration_s": seconds}
    }


def still(image: np.ndarray):
    picture = framed(image)
    return lambda i: np.roll(picture, (i % 8) - 4, axis=1)  # a little movement, as a hand-held phone


async def submitted_take(services, world, account, scene=None, playable=True, submit=True, face_passed=False):
    """A formal sitting of subject 0 with one complete take filmed (its playback file written as the
    media side does after the take ends, unless ``playable`` is False), and submitted."""
    if not face_passed:
        await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, world.subjects[0].id, "formal", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    take = await services.sittings.take_ended(take.id, "complete", 4.0)
    if playable:
        await make_playable(services, take, scene)
    if submit:
        sitting = await services.sittings.submit(account, sitting.id, take.id)
    return sitting, take


async def make_playable(services, take, scene):
    path = services.recordings.folder(take.exam_id, take.account_id, take.id) / PLAYABLE
    files = await asyncio.to_thread(write_take, path, scene)
    await services.sittings.take_playable(take.id, files)


async def result_of(services, take_id, timeout=60.0) -> dict:
    """The take's identity result once recorded (the check runs in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await read_identity(services.store, take_id)
        if result and result["status"] != "pending":
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"no identity result: {await read_identity(services.store, take_id)}")


async def pending_with_reason(services, take_id, timeout=10.0) -> dict:
    """The take's identity once a try could not run (pending, with the reason it will be retried for)."""
    deadline = time.monotonic() + timeout
    pending = await read_identity(services.store, take_id)
    while pending and pending["reason"] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        pending = await read_identity(services.store, take_id)
    assert pending is not None
    return pending


async def gate_of(services, exam_id, account_id) -> dict:
    return await services.store.redis.hgetall(services.store.keys.face_state(exam_id, account_id))


@pytest.fixture
async def grace_world(services):
    """Three rostered candidates whose ID photo is Grace Hopper's portrait; subject 0 recorded."""
    photo = faces.encode(faces.grace_hopper())
    world = await build_world(services, photos=[photo, photo, photo])
    await make_recorded(services, world)
    return world


async def admin_rows(app, exam_id) -> tuple[list[dict], list[list[str]]]:
    client = await new_client(app)
    try:
        await login(client, "admin-one", PASSWORD)
        resp = await client.get(f"/api/admin/exams/{exam_id}/sittings")
        assert resp.status == 200, await resp.text()
        rows = (await resp.json())["sittings"]
        resp = await client.get(f"/api/admin/exams/{exam_id}/submissions.csv")
        assert resp.status == 200
        text = (await resp.read()).decode("utf-8")
        assert text.startswith("\ufeff")
        table = list(csv.reader(io.StringIO(text[1:])))
    finally:
        await client.close()
    return rows, table


def csv_row(table: list[list[str]], id_number: str) -> dict[str, str]:
    header = table[0]
    return next(dict(zip(header, r, strict=True)) for r in table[1:] if r[header.index("证件号码")] == id_number)


async def test_the_roster_person_passes_and_the_admin_sees_the_distances(app, services, grace_world):
    world = grace_world
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    gate_before = await gate_of(services, world.exam.id, account.id)
    sitting, take = await submitted_take(services, world, account, still(faces.grace_hopper()), face_passed=True)
    assert sitting.state == "submitted"  # the answer came before any check
    result = await result_of(services, take.id)
    assert result["status"] == "passed" and result["passed"] is True and result["reason"] is None, result
    assert result["frames"] == 6 and result["compared"] == 6 and result["no_face"] == result["several"] == 0
    assert result["best"] <= result["median"] <= result["threshold"] == services.face_checks.pool.threshold
    assert 0 < result["times"][0] < result["times"][-1] < 4.0  # spread over the take
    print(f"take identity check: {result['took_ms']} ms for {result['frames']} frames ({result['decoded']} decoded)")
    # audited once, by the system; the face gate (status, strikes, last check) is as it was
    [entry] = await events(services, world.exam.id, "take_identity_checked")
    assert entry["actor"] == "system" and entry["data"]["take_id"] == take.id and entry["data"]["passed"] is True
    assert await gate_of(services, world.exam.id, account.id) == gate_before
    rows, table = await admin_rows(app, world.exam.id)
    row = next(r for r in rows if r["account_id"] == account.id and r["subject_id"] == world.subjects[0].id)
    identity = row["submission"]["identity"]
    assert identity["passed"] is True and identity["best"] == result["best"] and identity["median"] == result["median"]
    cells = csv_row(table, account.id_number)
    assert cells["人脸比对"] == "通过" and cells["最佳距离"] == f"{result['best']:.3f}"
    assert cells["中位距离"] == f"{result['median']:.3f}" and cells["无人脸帧"] == "0" and cells["多人脸帧"] == "0"
    # a second trigger (another process's loop, a late playable) changes nothing: one result per submission
    assert await services.take_identity.check(take.id) is None
    assert len(await events(services, world.exam.id, "take_identity_checked")) == 1


async def test_another_face_fails_and_the_submission_stands(app, services, grace_world):
    world = grace_world
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    gate_before = await gate_of(services, world.exam.id, account.id)
    sitting, take = await submitted_take(services, world, account, still(faces.astronaut()), face_passed=True)
    result = await result_of(services, take.id)
    assert result["status"] == "failed" and result["passed"] is False and result["reason"] == "face_mismatch", result
    assert result["median"] > result["threshold"] and result["mismatched"] >= 3
    # nothing blocked: still submitted, the gate still passed with its strikes, the candidate's queue untouched
    reread = await services.sittings.sitting_of(account, sitting.id)
    assert reread.state == "submitted" and reread.submitted_take == take.id
    assert await gate_of(services, world.exam.id, account.id) == gate_before
    status = await services.face_gate.status(world.exam.id, account.id)
    assert status.status == "passed" and status.strikes == 0
    assert not await services.store.redis.exists(services.store.keys.queued(account.id))
    rows, table = await admin_rows(app, world.exam.id)
    row = next(r for r in rows if r["account_id"] == account.id and r["subject_id"] == world.subjects[0].id)
    assert row["state"] == "submitted" and row["submission"]["identity"]["passed"] is False
    assert csv_row(table, account.id_number)["人脸比对"] == "未通过"


async def test_frames_with_no_face_or_several_faces_are_counted(app, services, grace_world):
    world = grace_world
    account = await world.candidate(0)
    empty = framed(faces.coffee())
    two = framed(faces.side_by_side(faces.astronaut(), faces.grace_hopper()))
    # the first half of the take shows a cup, the second two people
    sitting, take = await submitted_take(services, world, account, lambda i: empty if i < 30 else two)
    result = await result_of(services, take.id)
    assert result["frames"] == 6 and result["compared"] == 0, result
    assert result["no_face"] == 3 and result["several"] == 3, result
    assert result["passed"] is False and result["best"] is None and result["median"] is None
    _, table = await admin_rows(app, world.exam.id)
    cells = csv_row(table, account.id_number)
    assert (cells["无人脸帧"], cells["多人脸帧"], cells["最佳距离"]) == ("3", "3", "")


async def test_a_take_submitted_before_its_file_is_checked_once_the_file_is_written(app, services, grace_world):
    world = grace_world
    account = await world.candidate(0)
    sitting, take = await submitted_take(services, world, account, playable=False)
    assert sitting.state == "submitted"
    # the check found no playback file yet: pending (比对中), with the reason, and due again later
    pending = await pending_with_reason(services, take.id)
    assert pending["status"] == "pending" and pending["reason"] == "take_not_playable", pending
    assert await services.store.redis.zscore(services.store.keys.take_identity_due(), take.id) is not None
    rows, _ = await admin_rows(app, world.exam.id)
    row = next(r for r in rows if r["account_id"] == account.id and r["subject_id"] == world.subjects[0].id)
    assert row["submission"]["identity"]["status"] == "pending"
    # the media side writes the file: the check runs at once (no waiting for the retry)
    await make_playable(services, take, still(faces.grace_hopper()))
    result = await result_of(services, take.id, timeout=30)
    assert result["passed"] is True
    assert await services.store.redis.zscore(services.store.keys.take_identity_due(), take.id) is None


async def test_two_processes_checking_at_once_record_one_result(app, services, grace_world):
    world = grace_world
    account = await world.candidate(0)
    sitting, take = await submitted_take(services, world, account, still(faces.grace_hopper()), submit=False)
    services.sittings.on_ended.remove(services.take_identity.sitting_ended)  # this test triggers by hand
    try:
        await services.sittings.submit(account, sitting.id, take.id)
    finally:
        services.sittings.on_ended.append(services.take_identity.sitting_ended)
    other = TakeIdentity(  # another process's: same Redis, same pool, its own claim
        services.store,
        services.sittings,
        services.face_checks,
        services.directory,
        services.roster,
        services.recordings,
    )
    await services.store.redis.zadd(services.store.keys.take_identity_due(), {take.id: time.time()})
    outcomes = await asyncio.gather(services.take_identity.check(take.id), other.check_due())
    assert sum(1 for o in outcomes if o) == 1, outcomes
    assert len(await events(services, world.exam.id, "take_identity_checked")) == 1
    assert (await result_of(services, take.id))["passed"] is True


async def test_what_cannot_be_checked_is_said_and_blocks_nothing(app, services, grace_world, face_pool):
    world = grace_world
    # the playback file is gone from the disk
    first = await world.candidate(0)
    sitting, take = await submitted_take(services, world, first, still(faces.grace_hopper()), submit=False)
    (services.recordings.folder(take.exam_id, take.account_id, take.id) / PLAYABLE).unlink()
    await services.sittings.submit(first, sitting.id, take.id)
    result = await result_of(services, take.id)
    assert (result["status"], result["reason"], result["passed"]) == ("error", "take_file_missing", None)
    # no roster photo any more (the photo file is gone): said, and the submission stands
    second = await world.candidate(1)
    entry = await services.roster.entry(world.exam.id, second.id_number)
    photo = services.photos.path(entry.photo_sha256)
    saved = photo.read_bytes()
    photo.unlink()
    try:
        sitting2, take2 = await submitted_take(services, world, second, still(faces.grace_hopper()))
        result2 = await result_of(services, take2.id)
    finally:
        photo.write_bytes(saved)
    assert (result2["status"], result2["reason"]) == ("error", "no_reference_photo")
    assert (await services.sittings.sitting_of(second, sitting2.id)).state == "submitted"
    # no face-check workers in this process: pending with the reason, retried, then checked when they are back
    third = await world.candidate(2)
    services.attach_face_pool(None)
    try:
        sitting3, take3 = await submitted_take(services, world, third, still(faces.grace_hopper()))
        pending = await pending_with_reason(services, take3.id)
        assert pending["status"] == "pending" and pending["reason"] == "facecheck_unavailable", pending
    finally:
        services.attach_face_pool(face_pool)
    assert await services.take_identity.check_due(now=time.time() + 3600) == 1  # the loop's next pass
    assert (await result_of(services, take3.id))["passed"] is True
    rows, table = await admin_rows(app, world.exam.id)
    by_account = {r["account_id"]: r for r in rows if r["subject_id"] == world.subjects[0].id}
    assert by_account[first.id]["submission"]["identity"]["reason"] == "take_file_missing"
    assert by_account[first.id]["state"] == by_account[second.id]["state"] == "submitted"
    assert csv_row(table, first.id_number)["人脸比对"].startswith("未比对")


async def test_a_photo_without_a_usable_face_is_said(app, services, face_pool):
    # a roster imported before the face check ran (its photos are looked at on first use): plain JPEGs
    services.attach_face_pool(None)
    try:
        world = await build_world(services)
    finally:
        services.attach_face_pool(face_pool)
    await make_recorded(services, world)
    account = await world.candidate(0)
    sitting, take = await submitted_take(services, world, account, still(faces.grace_hopper()))
    result = await result_of(services, take.id)
    assert (result["status"], result["reason"]) == ("error", "reference_unusable")
    assert (await services.sittings.sitting_of(account, sitting.id)).state == "submitted"


def test_sampling_seeks_to_keyframes_and_decodes_on_without_them(tmp_path):
    """With a keyframe every second, each sample costs a few decoded frames; with a single keyframe
    (a WebRTC take nobody asked a keyframe of) it is one pass, bounded by ``max_decoded``."""
    scene = still(faces.grace_hopper())
    dense = tmp_path / "dense.webm"
    write_take(dense, scene, seconds=4.0, gop=FPS)
    sample = sample_frames(dense, 6)
    assert len(sample.frames) == 6 and sample.frames[0].shape == (HEIGHT, WIDTH, 3)
    assert sample.decoded < 40  # 60 frames in the file: the seeks skipped the rest
    assert sample.times == sorted(sample.times) and 0.2 < sample.times[0] and sample.times[-1] < 4.0
    sparse = tmp_path / "sparse.webm"
    write_take(sparse, scene, seconds=4.0, gop=10_000)
    sample = sample_frames(sparse, 6)
    assert len(sample.frames) == 6 and sample.decoded <= 60
    capped = sample_frames(sparse, 6, max_decoded=20)
    assert len(capped.frames) < 6 and capped.decoded == 20
    small = sample_frames(dense, 2, max_side=320)
    assert small.frames[0].shape == (240, 320, 3)
