"""The room-entry face check fails closed (server/facecheck/room_checks.py), through the real
signaling with aiortc peers and the real face models: no video, a busy pool are "unverified" with
the reason, never a pass; the examiners retry (once video flows it passes) or override with a
reason; a mark sheet is sealed only after one of those; an examiner of another room can do
neither, and a burst of retries starts one check."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import UserError
from server.facecheck.pool import InferencePool
from server.marking.rubrics import Rubric
from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD

from ..facecheck import faces
from ..marking.test_interview_marks import FULL_1, RUBRIC
from .conftest import url_of
from .test_room_face import (
    app,  # noqa: F401  (the same app: the real face models)
    decided,
    enter_with,
    face_live_world,
)


@pytest.fixture
async def live(services):
    world = await face_live_world(services)
    await services.rubrics.set(ADMIN, world.exam.id, world.room.subject_id, Rubric.from_json("", RUBRIC))
    return world


async def enter(server, services, live, peers, clients, flowing: asyncio.Event):
    """The called candidate enters with a camera that sends nothing until ``flowing`` is set."""
    account, candidate, examiner = await enter_with(
        faces.grace_hopper(), server, services, live, peers, clients, flowing
    )
    entry = await services.queue.entry(live.room.id, account.id)
    return account, candidate, examiner, entry.admission


async def seal(services, live, interview_id: str):
    return await services.interview_marks.seal(Actor(live.examiner.id, "examiner"), live.room.id, interview_id, FULL_1)


async def refused_seal(services, live, interview_id: str) -> UserError:
    with pytest.raises(UserError) as caught:
        await seal(services, live, interview_id)
    return caught.value


async def audit_events(services, live) -> list[dict]:
    return await services.audit.read(live.exam.id, count=500)


async def test_no_video_is_unverified_and_a_retry_passes_once_video_flows(server, services, live, peers, clients):
    flowing = asyncio.Event()
    account, candidate, examiner, interview_id = await enter(server, services, live, peers, clients, flowing)
    running = await examiner.wait_for("room:face", timeout=10)
    assert running["state"] == "checking" and running["interview_id"] == interview_id
    face = await examiner.wait_for("room:face", decided, timeout=30)
    assert face["state"] == "unverified" and face["passed"] is None and face["reason"] == "face_no_frames"
    assert face["message"]["zh"] == "未收到考生的视频画面，无法进行人脸核验"
    told = await candidate.wait_for("room:face", timeout=5)  # the candidate learns their video is missing
    assert told["state"] == "unverified" and told["reason"] == "face_no_frames"
    assert (await services.queue.entry(live.room.id, account.id)).state == "in_room"  # still in the room

    refusal = await refused_seal(services, live, interview_id)  # no mark sheet sealed while unverified
    assert refusal.code == "room_check_unverified"
    assert "人脸核验" in refusal.message("zh")
    assert (await services.interview_marks.sheets(interview_id)) == {}  # nothing written
    # a draft may still be saved
    await services.interview_marks.save(Actor(live.examiner.id, "examiner"), live.room.id, interview_id, {"skill": 30})

    flowing.set()  # the camera comes back
    ack = await examiner.call("room:face_retry", {"interview_id": interview_id})
    assert ack["ok"] and ack["state"] == "checking", ack
    again = await examiner.wait_for("room:face", lambda d: d["state"] == "verified", timeout=40)
    assert again["passed"] is True and again["retries"] == 1 and again["distance"] < 0.49
    sheet = await seal(services, live, interview_id)
    assert sheet.state == "sealed"
    events = [e["event"] for e in await audit_events(services, live)]
    assert "room_check_unverified" in events and "room_check_retried" in events
    retried = next(e for e in await audit_events(services, live) if e["event"] == "room_check_retried")
    assert retried["actor"] == live.examiner.id and retried["data"]["previous"] == "face_no_frames"


async def test_a_busy_pool_leaves_the_candidate_unverified_not_passed(
    server, services, live, peers, clients, models_dir
):
    """Every place in a one-worker pool stays taken by other checks while the candidate enters."""
    small = InferencePool(models_dir, "Dlib", workers=1, max_pending=1)
    shared = services.face_checks.pool
    busy = asyncio.Event()
    stop = False

    async def keep_busy() -> None:
        frame = faces.sensor(faces.grace_hopper(), seed=9)
        while not stop:
            task = asyncio.ensure_future(small.observe_frame(frame, liveness=False))
            busy.set()
            await task

    await small.warm_up()
    filler = asyncio.create_task(keep_busy())
    await busy.wait()
    services.attach_face_pool(small)
    try:
        flowing = asyncio.Event()
        flowing.set()
        account, _candidate, examiner, interview_id = await enter(server, services, live, peers, clients, flowing)
        face = await examiner.wait_for("room:face", decided, timeout=30)
        assert face["state"] == "unverified" and face["passed"] is None and face["reason"] == "facecheck_busy", face
        assert face["message"]["zh"].startswith("人脸比对繁忙")
        assert (await refused_seal(services, live, interview_id)).code == "room_check_unverified"
        assert (await services.queue.entry(live.room.id, account.id)).state == "in_room"
        assert small.busy_refusals >= 1
    finally:
        stop = True
        await filler
        services.attach_face_pool(shared)
        small.close()
    # once the pool has room, the examiners' retry passes
    ack = await examiner.call("room:face_retry", {"interview_id": interview_id})
    assert ack["ok"], ack
    assert (await examiner.wait_for("room:face", lambda d: d["state"] == "verified", timeout=40))["passed"]


async def test_override_needs_a_reason_is_audited_and_only_the_rooms_examiners_may(
    server, services, live, peers, clients
):
    flowing = asyncio.Event()  # never set: no video at all
    account, candidate, examiner, interview_id = await enter(server, services, live, peers, clients, flowing)
    await examiner.wait_for("room:face", lambda d: d["state"] == "unverified", timeout=30)

    # an examiner of the exam's other room, on their own room's socket, cannot touch this candidate
    outsider = await services.directory.create("examiner", PASSWORD, Actor.system(), name="考官丙", username="ex-3")
    other_room = live.world.rooms[1]
    await services.store.redis.sadd(services.store.keys.room_examiners(other_room.id), outsider.id)
    stranger = await peers(url_of(server), "/examiner", outsider, {"room_id": other_room.id}, services)
    await stranger.wait_for("queue:room")
    for event, data in (
        ("room:face_retry", {"interview_id": interview_id}),
        ("room:face_override", {"interview_id": interview_id, "reason": "我认识他"}),
    ):
        ack = await stranger.call(event, data)
        assert not ack["ok"] and ack["error"]["code"] == "room_check_not_found", ack
    # nor a forged id
    for forged in ("adm_000000000000", "x" * 40, account.id):
        ack = await examiner.call("room:face_retry", {"interview_id": forged})
        assert not ack["ok"] and ack["error"]["code"] == "room_check_not_found", ack
    assert (await services.room_checks.get(interview_id)).state == "unverified"

    # a burst of retries from the room's examiner starts one check
    acks = await asyncio.gather(*(examiner.call("room:face_retry", {"interview_id": interview_id}) for _ in range(6)))
    assert sum(a["ok"] for a in acks) == 1, acks
    assert {a["error"]["code"] for a in acks if not a["ok"]} == {"room_check_running"}
    await examiner.wait_for("room:face", lambda d: d["state"] == "unverified" and d["retries"] == 1, timeout=30)

    # an override without a reason is refused and changes nothing
    for reason in ("", "   "):
        ack = await examiner.call("room:face_override", {"interview_id": interview_id, "reason": reason})
        assert not ack["ok"] and ack["error"]["code"] in ("field_required", "payload_invalid"), ack
    assert (await services.room_checks.get(interview_id)).state == "unverified"
    assert (await refused_seal(services, live, interview_id)).code == "room_check_unverified"

    ack = await examiner.call("room:face_override", {"interview_id": interview_id, "reason": "当面核对了身份证"})
    assert ack["ok"] and ack["state"] == "overridden", ack
    face = await examiner.wait_for("room:face", lambda d: d["state"] == "overridden", timeout=5)
    assert face["override_reason"] == "当面核对了身份证" and face["overridden_by"] == live.examiner.id
    assert not [d for d in candidate.seen("room:face") if d["state"] == "overridden"]  # not told who vouched
    entry = next(e for e in await audit_events(services, live) if e["event"] == "room_check_overridden")
    assert entry["actor"] == live.examiner.id and entry["subject"] == account.id
    assert entry["data"]["reason"] == "当面核对了身份证" and entry["data"]["previous"] == "face_no_frames"
    assert (await seal(services, live, interview_id)).state == "sealed"
    # once cleared, neither a retry nor a second override
    ack = await examiner.call("room:face_retry", {"interview_id": interview_id})
    assert not ack["ok"] and ack["error"]["code"] == "room_check_cleared"


async def test_after_the_end_only_an_override_clears_the_check(server, services, live, peers, clients):
    """The interview ended unverified: the sheets wait; no retry (no video any more), an override does."""
    flowing = asyncio.Event()
    account, _candidate, examiner, interview_id = await enter(server, services, live, peers, clients, flowing)
    await examiner.wait_for("room:face", lambda d: d["state"] == "unverified", timeout=30)
    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    ack = await examiner.call("room:face_retry", {"interview_id": interview_id})
    assert not ack["ok"] and ack["error"]["code"] == "room_check_not_found", ack
    assert (await refused_seal(services, live, interview_id)).code == "room_check_unverified"
    ack = await examiner.call("room:face_override", {"interview_id": interview_id, "reason": "录像中核对了本人"})
    assert ack["ok"] and ack["state"] == "overridden", ack
    assert (await seal(services, live, interview_id)).state == "sealed"


async def test_a_reloaded_examiner_page_gets_the_room_checks_state(server, services, live, peers, clients):
    flowing = asyncio.Event()
    account, _candidate, examiner, _ = await enter(server, services, live, peers, clients, flowing)
    await examiner.wait_for("room:face", lambda d: d["state"] == "unverified", timeout=30)
    again = await peers(url_of(server), "/examiner", live.examiner, {"room_id": live.room.id}, services)
    face = await again.wait_for("room:face", timeout=5)
    assert face["account_id"] == account.id and face["state"] == "unverified" and face["message"]["en"]
