"""Three failures in a row lock the candidate and open a review; a proctor decides it (no model needed:
results are recorded the way the checks record them)."""

import asyncio
import os
import time

from server.facecheck.frames import FrameArchive
from server.store.audit import Actor
from server.store.models import new_id
from tests.conftest import PASSWORD, jpeg, login, new_client


async def fail(world, account, reason="face_mismatch", passed=False):
    services = world.services
    check_id = new_id("check")
    services.frame_archive.save(world.exam.id, account.id, check_id, [jpeg(), jpeg((90, 90, 90))])
    entry = await services.roster.entry(world.exam.id, account.id_number)
    return await services.face_gate.record(
        world.exam.id,
        Actor(account.id, "candidate"),
        passed=passed,
        reason="" if passed else reason,
        distance=0.3 if passed else 0.8,
        check={"check_id": check_id, "frames": 2, "kind": "queue"},
        kind="queue",
        name=entry.name,
        id_number=entry.id_number,
        photo_sha256=entry.photo_sha256,
    ), check_id


async def test_three_failures_in_a_row_lock_and_open_one_review(world):
    account = await world.candidate(0)
    gate = world.services.face_gate
    (outcome, strikes), _ = await fail(world, account)
    assert (outcome, strikes) == ("failed", 1)
    (outcome, strikes), _ = await fail(world, account, passed=True)  # a pass ends the streak
    assert (outcome, strikes) == ("passed", 0) and await gate.cleared(world.exam.id, account.id)
    ids = []
    for expected in (("failed", 1), ("failed", 2), ("locked", 3)):
        result, check_id = await fail(world, account, "face_too_dark")
        assert result == expected
        ids.append(check_id)
    status = await gate.status(world.exam.id, account.id)
    assert status.locked and not status.cleared and status.last_reason == "face_too_dark"
    [review] = await gate.open_reviews()
    assert review.id == status.review_id and review.check_ids == ids
    assert review.account_id == account.id and review.photo_sha256 and review.id_number == account.id_number
    # further results are refused, nothing more is counted
    (outcome, strikes), _ = await fail(world, account)
    assert (outcome, strikes) == ("already_locked", 3)
    events = [e for _, e in await world.services.store.redis.xrange(world.services.store.keys.audit(world.exam.id))]
    names = [e["event"] for e in events if e["subject"] == account.id and e["event"].startswith("face_")]
    assert names == [
        "face_check_failed",
        "face_check_passed",
        "face_check_failed",
        "face_check_failed",
        "face_check_failed",
        "face_review_opened",
    ]


async def test_concurrent_failures_open_exactly_one_review(world):
    account = await world.candidate(0)
    results = await asyncio.gather(*(fail(world, account) for _ in range(6)))
    outcomes = sorted(r[0][0] for r in results)
    assert outcomes.count("locked") == 1 and outcomes.count("failed") == 2 and outcomes.count("already_locked") == 3
    assert len(await world.services.face_gate.open_reviews()) == 1


async def test_proctor_sees_photo_and_frames_and_approval_unlocks(app, http, world):
    account = await world.candidate(0)
    for _ in range(3):
        _, last_check = await fail(world, account)
    candidate = await new_client(app)
    await login(candidate, account.phone, PASSWORD)
    state = await (await candidate.get(f"/api/candidate/exams/{world.exam.id}/facecheck")).json()
    assert state["status"] == "locked" and state["strikes_left"] == 0 and state["cleared"] is False
    assert (await candidate.get("/api/proctor/reviews")).status == 403

    await login(http, "proctor-one", PASSWORD)
    [review] = (await (await http.get("/api/proctor/reviews")).json())["reviews"]
    detail = await (await http.get(f"/api/proctor/reviews/{review['id']}")).json()
    assert len(detail["checks"]) == 3 and all(len(c["frame_urls"]) == 2 for c in detail["checks"])
    photo = await http.get(review["photo_url"])
    assert photo.status == 200 and (await photo.read())[:2] == b"\xff\xd8"
    frame = await http.get(detail["checks"][0]["frame_urls"][1])
    assert frame.status == 200 and frame.content_type == "image/jpeg"
    # a frame that is not part of this review is not served through it
    other = new_id("check")
    assert (await http.get(f"/api/proctor/reviews/{review['id']}/frames/{other}/0")).status == 404

    resp = await http.post(f"/api/proctor/reviews/{review['id']}", json={"approve": True, "comment": "本人，光线差"})
    assert resp.status == 200 and (await resp.json())["review"]["status"] == "approved"
    state = await (await candidate.get(f"/api/candidate/exams/{world.exam.id}/facecheck")).json()
    assert state["status"] == "approved" and state["cleared"] is True and state["strikes_left"] == 3
    assert await world.services.face_gate.cleared(world.exam.id, account.id)
    resp = await http.post(f"/api/proctor/reviews/{review['id']}", json={"approve": False, "comment": "x"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "review_resolved"
    assert (await (await http.get("/api/proctor/reviews")).json())["reviews"] == []
    audit = await world.services.store.redis.xrevrange(world.services.store.keys.audit(world.exam.id), count=1)
    assert audit[0][1]["event"] == "face_review_approved" and audit[0][1]["actor"] == world.staff["proctor"].id
    await candidate.close()


async def test_rejected_review_keeps_the_candidate_out(app, http, world):
    account = await world.candidate(0)
    for _ in range(3):
        await fail(world, account)
    await login(http, "proctor-one", PASSWORD)
    [review] = (await (await http.get("/api/proctor/reviews")).json())["reviews"]
    resp = await http.post(f"/api/proctor/reviews/{review['id']}", json={"approve": False, "comment": "非本人"})
    assert resp.status == 200
    status = await world.services.face_gate.status(world.exam.id, account.id)
    assert status.status == "rejected" and not status.cleared
    (outcome, _), _ = await fail(world, account, passed=True)
    assert outcome == "already_locked"


def test_frames_are_deleted_after_the_retention(tmp_path):
    archive = FrameArchive(tmp_path)
    exam, account = new_id("exam"), new_id("acc")
    old, recent = new_id("check"), new_id("check")
    archive.save(exam, account, old, [b"\xff\xd8old"])
    archive.save(exam, account, recent, [b"\xff\xd8new"])
    folder = tmp_path / exam / account / old
    past = time.time() - 31 * 86400
    os.utime(folder, (past, past))
    assert archive.cleanup(30) == 1
    assert archive.path(exam, account, old, 0) is None and archive.path(exam, account, recent, 0) is not None
    assert archive.path("../etc", account, recent, 0) is None
