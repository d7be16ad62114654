"""The sitting's state machine on a real Redis: entering, takes, submitting, resetting, and every
refusal a candidate can run into, each with its message and nothing changed."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from server.errors import UserError
from server.store.audit import Actor
from tests.http.test_admin_api import snapshot as store_snapshot

from .conftest import DEVICE, OTHER_DEVICE, events, filmed, make_recorded, pass_face


async def refused(code: str, work, **params) -> UserError:
    with pytest.raises(UserError) as err:
        await work
    assert err.value.code == code, (err.value.code, err.value.message("zh"))
    message = err.value.message("zh")
    assert message != code and re.search(r"[\u4e00-\u9fff]", message), message
    for name, value in params.items():
        assert err.value.params[name] == value
    return err.value


async def snapshot(services, exam_id: str) -> dict:
    """Every key of the test's prefix with its content (the audit streams too): 'nothing changed'."""
    return await store_snapshot(services.store.redis, services.store.keys.prefix)


async def test_entering_starts_the_countdown_with_an_exam_code(services, recorded):
    world, subject = recorded
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    assert sitting.state == "in_progress" and re.fullmatch(r"\d{4}", sitting.code)
    assert sitting.deadline == pytest.approx(subject.window_closes, abs=0.01)
    assert (sitting.takes_allowed, sitting.take_max_s, sitting.number) == (1, 300, 1)
    # entering again from the same device: the same sitting (the countdown runs on); another device: refused
    assert (await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)).id == sitting.id
    before = await snapshot(services, world.exam.id)
    err = await refused(
        "sitting_other_device", services.sittings.enter(account, world.exam.id, subject.id, "formal", OTHER_DEVICE)
    )
    assert "另一台设备" in err.message("zh")
    assert await snapshot(services, world.exam.id) == before
    entered = await events(services, world.exam.id, "sitting_entered")
    assert len(entered) == 1
    assert (entered[0]["actor"], entered[0]["actor_role"], entered[0]["subject"]) == (
        account.id,
        "candidate",
        account.id,
    )
    assert entered[0]["data"]["mode"] == "formal" and entered[0]["data"]["sitting_id"] == sitting.id
    view = (await services.sittings.overview(account, world.exam.id))[0]
    assert view["subject"]["id"] == subject.id and view["sittings"]["formal"]["id"] == sitting.id
    assert view["sittings_left"] == 0 and view["mock_left"] == 0 and view["submission"] is None
    assert view["sittings"]["formal"]["takes_left"] == 1 and 3500 < view["sittings"]["formal"]["remaining_s"] <= 3600


async def test_codes_differ_between_sittings(services, world):
    subject = await make_recorded(services, world)
    codes = set()
    for index in range(3):
        account = await world.candidate(index)
        codes.add((await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)).code)
    assert all(re.fullmatch(r"\d{4}", c) for c in codes)


async def test_who_may_enter(services, world):
    subject = world.subjects[0]
    account = await world.candidate(0)
    await refused("sitting_not_recorded", services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE))
    await make_recorded(services, world)
    not_enrolled = await world.candidate(1, enrolled=False)
    await refused(
        "exam_not_confirmed", services.sittings.enter(not_enrolled, world.exam.id, subject.id, "formal", DEVICE)
    )
    unverified = await world.candidate(2, verified=False)
    await refused("not_verified", services.sittings.enter(unverified, world.exam.id, subject.id, "formal", DEVICE))
    # 器乐 is not candidate 0's subject (the roster gives even rows 声乐 only)
    other = await services.catalog.update_subject(
        Actor("acc_admin", "admin"),
        world.exam.id,
        world.subjects[1].id,
        kind="recorded",
        window_opens=time.time() - 60,
        window_closes=time.time() + 3600,
    )
    await refused("not_rostered_subject", services.sittings.enter(account, world.exam.id, other.id, "formal", DEVICE))
    await refused("sitting_mode_invalid", services.sittings.enter(account, world.exam.id, subject.id, "final", DEVICE))
    await refused("device_id_invalid", services.sittings.enter(account, world.exam.id, subject.id, "formal", "x"))
    await refused("subject_not_found", services.sittings.enter(account, world.exam.id, "subj_x:1", "formal", DEVICE))
    assert await events(services, world.exam.id, "sitting_entered") == []


async def test_outside_the_window(services, world):
    now = time.time()
    account = await world.candidate(0)
    subject = await make_recorded(services, world, window_opens=now + 3600, window_closes=now + 7200)
    err = await refused(
        "sitting_window_not_open", services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    )
    assert "尚未开始" in err.message("zh") and "北京时间" in err.message("zh")
    subject = await make_recorded(services, world, window_opens=now - 7200, window_closes=now - 60)
    await refused(
        "sitting_window_closed", services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    )
    assert await events(services, world.exam.id, "sitting_entered") == []


async def test_a_take_needs_the_face_check_and_one_take_at_a_time(services, recorded):
    world, subject = recorded
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    err = await refused(
        "take_face_check", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    )
    assert err.message("zh") == "请先完成人脸识别，通过后才能开始录制"
    await pass_face(services, world.exam.id, account)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "rear", "landscape")
    assert (take.state, take.camera, take.orientation, take.number) == ("recording", "rear", "landscape", 1)
    assert take.stop_at == pytest.approx(take.started_at + 300, abs=0.01)
    await refused("take_running", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))
    await refused(
        "sitting_other_device", services.sittings.start_take(account, sitting.id, OTHER_DEVICE, "front", "portrait")
    )
    await refused("take_running", services.sittings.submit(account, sitting.id, take.id))
    ended = await services.sittings.take_ended(take.id, "complete", 21.4)
    assert (ended.state, ended.duration_s, ended.counts) == ("complete", 21.4, True)
    # a second report of the media side changes nothing
    assert (await services.sittings.take_ended(take.id, "failed", 0)).state == "complete"
    err = await refused(
        "take_limit", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"), allowed=1
    )
    assert err.message("zh") == "本场考试的 1 次录制机会已用完"


async def test_a_locked_face_check_refuses_takes(services, recorded):
    world, subject = recorded
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    for _ in range(3):
        await services.face_gate.record(
            world.exam.id,
            Actor(account.id, "candidate"),
            passed=False,
            reason="face_mismatch",
            distance=0.9,
            check={"check_id": f"check_{_:012x}"},
            kind="queue",
            name="",
            id_number=account.id_number,
            photo_sha256="",
        )
    await refused("face_review_pending", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))


async def test_cut_takes_count_only_if_the_subject_says_so(services, world):
    subject = await make_recorded(services, world, takes_allowed=2)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    cut = await filmed(services, account, sitting, "cut", 4.0)
    failed = await filmed(services, account, sitting, "failed", 0)
    assert (cut.counts, failed.counts) == (False, False)
    assert (await services.sittings.sitting_of(account, sitting.id)).takes_used == 0
    await filmed(services, account, sitting)
    await filmed(services, account, sitting)
    await refused("take_limit", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))

    other = await world.candidate(1)
    await make_recorded(services, world, takes_allowed=2, cut_take_counts=True)
    await pass_face(services, world.exam.id, other)
    sitting = await services.sittings.enter(other, world.exam.id, subject.id, "formal", DEVICE)
    assert (await filmed(services, other, sitting, "cut", 4.0)).counts is True
    assert (await services.sittings.sitting_of(other, sitting.id)).takes_used == 1


async def test_submit_is_final(services, world):
    subject = await make_recorded(services, world, takes_allowed=3)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    cut = await filmed(services, account, sitting, "cut", 3.0)
    first = await filmed(services, account, sitting, "complete", 30.0)
    second = await filmed(services, account, sitting, "complete", 31.0)
    files = {"playable.webm": {"sha256": "ab" * 32, "size": 1000, "duration_s": 30.9}, "aux-1.webm": {"sha256": "cd"}}
    await services.sittings.take_playable(second.id, files)
    playable = await services.sittings.take_of(account, second.id)
    assert (playable.sha256, playable.duration_s, playable.files) == ("ab" * 32, 30.9, files)  # the file's length
    before = await snapshot(services, world.exam.id)
    err = await refused("take_not_complete", services.sittings.submit(account, sitting.id, cut.id))
    assert "未完整录制" in err.message("zh")
    await refused("take_not_found", services.sittings.submit(account, sitting.id, "take_000000000000"))
    await refused("take_not_found", services.sittings.submit(account, sitting.id, "take_x"))
    assert await snapshot(services, world.exam.id) == before
    done = await services.sittings.submit(account, sitting.id, second.id)
    assert (done.state, done.submitted_take, done.ended_by) == ("submitted", second.id, account.id)
    # no take can replace it afterwards, no new take, no new entry
    await refused("sitting_over", services.sittings.submit(account, sitting.id, first.id))
    await refused("sitting_over", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))
    await refused("sitting_over", services.sittings.reset(account, sitting.id))
    err = await refused(
        "sitting_already_submitted", services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    )
    assert "一经提交，不得更改" in err.message("zh")
    view = (await services.sittings.overview(account, world.exam.id))[0]
    assert view["submission"]["take"]["id"] == second.id and view["submission"]["take"]["sha256"] == "ab" * 32
    assert view["submission"]["state"] == "submitted" and view["submission"]["code"] == sitting.code
    entry = (await events(services, world.exam.id, "sitting_submitted"))[0]
    assert (entry["actor"], entry["data"]["take_id"], entry["data"]["sha256"]) == (account.id, second.id, "ab" * 32)
    assert entry["data"]["duration_s"] == 30.9


async def test_another_candidates_ids_are_not_found_and_change_nothing(services, world):
    subject = await make_recorded(services, world, takes_allowed=2, sittings_allowed=2)
    owner, intruder = await world.candidate(0), await world.candidate(1)
    for account in (owner, intruder):
        await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(owner, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, owner, sitting)
    theirs = await services.sittings.enter(intruder, world.exam.id, subject.id, "formal", DEVICE)
    mine = await filmed(services, intruder, theirs)
    before = await snapshot(services, world.exam.id)
    await refused("sitting_not_found", services.sittings.sitting_of(intruder, sitting.id))
    await refused("take_not_found", services.sittings.take_of(intruder, take.id))
    await refused("sitting_not_found", services.sittings.start_take(intruder, sitting.id, DEVICE, "front", "portrait"))
    await refused("sitting_not_found", services.sittings.submit(intruder, sitting.id, take.id))
    await refused("sitting_not_found", services.sittings.reset(intruder, sitting.id))
    # the intruder's own sitting with the owner's take
    await refused("take_not_found", services.sittings.submit(intruder, theirs.id, take.id))
    for forged in ("sitt_000000000000", "sitt_zz", "../../x", "", "sitt_abc:def"):
        await refused("sitting_not_found", services.sittings.sitting_of(intruder, forged))
        await refused("sitting_not_found", services.sittings.submit(intruder, forged, mine.id))
    assert await snapshot(services, world.exam.id) == before


async def test_twenty_at_once_exactly_one_take_and_one_submission(services, world):
    """Two tabs (or twenty) of the same candidate start a take and submit at the same moment."""
    subject = await make_recorded(services, world, takes_allowed=3)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)

    async def attempt(work):
        try:
            return await work
        except UserError as err:
            return err.code

    starts = await asyncio.gather(
        *[attempt(services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")) for _ in range(20)]
    )
    won = [r for r in starts if not isinstance(r, str)]
    assert len(won) == 1 and set(r for r in starts if isinstance(r, str)) == {"take_running"}
    assert len(await services.sittings.takes(sitting.id)) == 1
    assert (await services.sittings.sitting_of(account, sitting.id)).takes_used == 1
    await services.sittings.take_ended(won[0].id, "complete", 10)
    second = await filmed(services, account, sitting)
    results = await asyncio.gather(
        *[attempt(services.sittings.submit(account, sitting.id, (won[0], second)[i % 2].id)) for i in range(20)]
    )
    done = [r for r in results if not isinstance(r, str)]
    assert len(done) == 1 and set(r for r in results if isinstance(r, str)) == {"sitting_over"}
    assert len(await events(services, world.exam.id, "sitting_submitted")) == 1
    assert len(await events(services, world.exam.id, "take_started")) == 2
    # and twenty entries of another candidate from twenty devices: one sitting
    other = await world.candidate(1)
    entries = await asyncio.gather(
        *[
            attempt(services.sittings.enter(other, world.exam.id, subject.id, "formal", f"device-{i:04d}-xxxx"))
            for i in range(20)
        ]
    )
    sittings = [r for r in entries if not isinstance(r, str)]
    assert len(sittings) == 1 and set(r for r in entries if isinstance(r, str)) == {"sitting_other_device"}
    assert len(await events(services, world.exam.id, "sitting_entered")) == 2


async def test_reset_uses_an_entry_and_discards_the_takes(services, world):
    subject = await make_recorded(services, world, sittings_allowed=2, takes_allowed=2)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    first = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, account, first)
    running = await services.sittings.start_take(account, first.id, DEVICE, "front", "portrait")
    await refused("take_running", services.sittings.reset(account, first.id))
    await services.sittings.take_ended(running.id, "complete", 5)
    reset = await services.sittings.reset(account, first.id)
    assert (reset.state, reset.ended_by) == ("reset", account.id)
    assert {t.state for t in await services.sittings.takes(first.id)} == {"discarded"}
    await refused("sitting_over", services.sittings.submit(account, first.id, take.id))
    second = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    assert second.id != first.id and second.number == 2 and second.takes_used == 0
    assert second.entered_at >= first.entered_at  # the countdown starts again
    err = await refused("sitting_reset_none_left", services.sittings.reset(account, second.id), allowed=2)
    assert "不能重置" in err.message("zh")
    assert (await services.sittings.sitting_of(account, second.id)).state == "in_progress"
    entry = (await events(services, world.exam.id, "sitting_reset"))[0]
    assert (entry["actor"], entry["data"]["from"], entry["data"]["count"]) == (account.id, "in_progress", 2)


async def test_with_one_entry_there_is_no_reset_and_no_second_entry(services, recorded):
    world, subject = recorded
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await refused("sitting_reset_none_left", services.sittings.reset(account, sitting.id))
    ended = await services.sittings.expire_due(now=sitting.deadline + 1)
    assert [s.state for s in ended] == ["absent"]
    err = await refused(
        "sitting_no_sittings_left",
        services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE),
        allowed=1,
    )
    assert err.message("zh") == "该科目的 1 次考试机会已用完"


async def test_after_the_deadline(services, world):
    """A window that closes in two seconds: after it, no take and no submission."""
    subject = await make_recorded(services, world, window_closes=time.time() + 2)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, account, sitting)
    assert take.stop_at == pytest.approx(sitting.deadline, abs=0.01)  # the media stops it at the deadline
    await asyncio.sleep(max(0.0, sitting.deadline - time.time()) + 0.05)
    await refused("sitting_over", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))
    await refused("sitting_over", services.sittings.submit(account, sitting.id, take.id))
    assert (await services.sittings.sitting_of(account, sitting.id)).state == "in_progress"  # until the sweep


async def test_the_deadline_sweep(services, world):
    subject = await make_recorded(services, world, takes_allowed=4, time_limit_min=50)
    submitter, absentee, latecomer = [await world.candidate(i) for i in range(3)]
    for account in (submitter, latecomer):
        await pass_face(services, world.exam.id, account)
    s1 = await services.sittings.enter(submitter, world.exam.id, subject.id, "formal", DEVICE)
    older = await filmed(services, submitter, s1, "complete", 20)
    newest = await filmed(services, submitter, s1, "complete", 25)
    await filmed(services, submitter, s1, "cut", 2)  # the last take was cut: not complete, passed over
    s2 = await services.sittings.enter(absentee, world.exam.id, subject.id, "formal", DEVICE)
    s3 = await services.sittings.enter(latecomer, world.exam.id, subject.id, "formal", DEVICE)
    await filmed(services, latecomer, s3, "complete", 9)
    running = await services.sittings.start_take(latecomer, s3.id, DEVICE, "front", "portrait")

    assert await services.sittings.expire_due(now=s1.deadline - 1) == []  # not yet
    after = max(s1.deadline, s2.deadline, s3.deadline) + 0.5
    ended = {s.id: s for s in await services.sittings.expire_due(now=after)}
    assert set(ended) == {s1.id, s2.id}  # the latecomer's take is still recording: waited for
    assert (ended[s1.id].state, ended[s1.id].submitted_take, ended[s1.id].ended_by) == (
        "auto_submitted",
        newest.id,
        "system",
    )
    assert older.id != newest.id
    assert ended[s2.id].state == "absent" and ended[s2.id].submitted_take == ""
    # the media stops the running take at the deadline; it ends complete within the grace: it is submitted
    await services.sittings.take_ended(running.id, "complete", 40)
    later = await services.sittings.expire_due(now=after + 1)
    assert [(s.id, s.state, s.submitted_take) for s in later] == [(s3.id, "auto_submitted", running.id)]
    assert await services.sittings.expire_due(now=after + 100) == []  # repeats are harmless
    view = (await services.sittings.overview(submitter, world.exam.id))[0]
    assert view["submission"]["state"] == "auto_submitted" and view["submission"]["take"]["id"] == newest.id
    auto = await events(services, world.exam.id, "sitting_auto_submitted", "sitting_absent")
    assert [(e["event"], e["actor"], e["actor_role"], e["subject"]) for e in auto] == [
        ("sitting_auto_submitted", "system", "system", submitter.id),
        ("sitting_absent", "system", "system", absentee.id),
        ("sitting_auto_submitted", "system", "system", latecomer.id),
    ]


async def test_a_take_still_recording_past_the_grace_is_passed_over(services, world):
    subject = await make_recorded(services, world, takes_allowed=2)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert await services.sittings.expire_due(now=sitting.deadline + 1) == []
    wait = services.sittings.grace_s + 5
    ended = await services.sittings.expire_due(now=sitting.deadline + wait + 0.1)
    assert [s.state for s in ended] == ["absent"]


async def test_an_auto_submitted_sitting_may_be_reset_while_the_window_is_open(services, world):
    """004_* 6: 超时自动提交的考生，重置次数未用完、仍在考试时间内，可以重置再次进入考试。"""
    subject = await make_recorded(services, world, sittings_allowed=2, time_limit_min=1)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await filmed(services, account, sitting)
    (ended,) = await services.sittings.expire_due(now=sitting.deadline + 1)
    assert ended.state == "auto_submitted"
    await refused(
        "sitting_already_submitted", services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    )
    reset = await services.sittings.reset(account, sitting.id)
    assert reset.state == "reset"
    assert (await services.sittings.overview(account, world.exam.id))[0]["submission"] is None
    again = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    assert again.number == 2 and again.in_progress


async def test_mock_and_practice(services, world, tmp_path):
    subject = await make_recorded(services, world, mock_tries=1, take_max_s=60, takes_allowed=2)
    account = await world.candidate(0)
    mock = await services.sittings.enter(account, world.exam.id, subject.id, "mock", DEVICE)
    assert mock.deadline == pytest.approx(mock.entered_at + 60 * 2 * 2, abs=0.01)
    await refused("take_face_check", services.sittings.start_take(account, mock.id, DEVICE, "front", "portrait"))
    await pass_face(services, world.exam.id, account)
    take = await filmed(services, account, mock)
    await services.sittings.submit(account, mock.id, take.id)
    err = await refused(
        "sitting_no_mock_left", services.sittings.enter(account, world.exam.id, subject.id, "mock", DEVICE), allowed=1
    )
    assert "模拟考" in err.message("zh")
    # a mock submission is not the subject's submission; the formal entry is still there
    view = (await services.sittings.overview(account, world.exam.id))[0]
    assert view["submission"] is None and view["sittings_left"] == 1 and view["mock_left"] == 0
    assert view["sittings"]["mock"]["state"] == "submitted"

    # practice: no face check needed, no deadline, never swept, a new device takes over
    other = await world.candidate(1)
    practice = await services.sittings.enter(other, world.exam.id, subject.id, "practice", DEVICE)
    assert practice.deadline == 0
    kept = await filmed(services, other, practice, "complete", 8)
    moved = await services.sittings.enter(other, world.exam.id, subject.id, "practice", OTHER_DEVICE)
    assert moved.id != practice.id and moved.device == OTHER_DEVICE
    assert (await services.sittings.sitting_of(other, practice.id)).state == "reset"
    assert await services.sittings.expire_due(now=time.time() + 10 * 86400) == []
    # practice takes are deleted after practice_keep_h: folder and records
    folder = services.sittings.recordings_dir / world.exam.id / other.id / kept.id
    folder.mkdir(parents=True)
    (folder / "playable.webm").write_bytes(b"x")
    assert await services.sittings.purge_practice(now=time.time()) == 0
    assert await services.sittings.purge_practice(now=time.time() + services.sittings.practice_keep_s + 1) == 1
    assert not folder.exists()
    assert await services.sittings.find_take(kept.id) is None
    assert await services.sittings.takes(practice.id) == []


async def test_the_staff_view(services, world):
    subject = await make_recorded(services, world, takes_allowed=2)
    a, b = await world.candidate(0), await world.candidate(1)
    await pass_face(services, world.exam.id, a)
    sitting = await services.sittings.enter(a, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, a, sitting)
    await services.sittings.submit(a, sitting.id, take.id)
    await services.sittings.enter(b, world.exam.id, subject.id, "formal", DEVICE)
    rows = {r["id_number"]: r for r in await services.sittings.for_exam(world.exam.id, subject.id)}
    assert len(rows) == 3  # every rostered candidate of the subject, registered or not
    row_a, row_b, row_c = rows[a.id_number], rows[b.id_number], rows[world.roster[2][1]]
    assert (row_a["state"], row_a["code"], row_a["submission"]["take"]["id"]) == ("submitted", sitting.code, take.id)
    assert row_a["face"]["status"] == "passed" and [t["id"] for t in row_a["takes"]] == [take.id]
    assert row_b["state"] == "in_progress" and row_b["sitting"]["remaining_s"] > 0 and row_b["face"]["status"] == "none"
    assert row_c["state"] == "not_started" and row_c["account_id"] is None
    await refused("subject_not_found", services.sittings.for_exam(world.exam.id, world.subjects[1].id))


async def test_a_take_left_recording_by_a_dead_process_does_not_block_the_next(services, world):
    """Nobody ended a take long after its limit (its process died, nobody came back): the next start cuts it."""
    subject = await make_recorded(services, world, takes_allowed=2, take_max_s=10)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    stuck = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    await refused("take_running", services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait"))
    # as if it had started long ago: past its 10 s + the reconnect grace + 30 s
    old = time.time() - 10 - services.sittings.grace_s - 31
    await services.store.redis.hset(
        services.store.keys.take(stuck.id), mapping={"started_at": f"{old:.3f}", "stop_at": f"{old + 10:.3f}"}
    )
    fresh = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert fresh.number == 2
    cut = await services.sittings.take_of(account, stuck.id)
    assert (cut.state, cut.counts) == ("cut", False)
    entry = (await events(services, world.exam.id, "take_ended"))[-1]
    # the candidate's new take is what ends it: their entry, reason "lost"
    assert (entry["actor"], entry["data"]["take_id"], entry["data"]["reason"]) == (account.id, stuck.id, "lost")


async def test_the_end_of_every_sitting_is_heard(services, world):
    """``on_ended`` (the signalling side pushes ``sitting:ended``): submitted, reset, auto-submitted, absent;
    a failing listener does not undo the change."""
    heard = []

    async def listener(sitting):
        heard.append((sitting.id, sitting.state))

    async def broken(sitting):
        raise RuntimeError("push failed")

    services.sittings.on_ended.extend([broken, listener])
    subject = await make_recorded(services, world, sittings_allowed=2, takes_allowed=2)
    a, b = await world.candidate(0), await world.candidate(1)
    for account in (a, b):
        await pass_face(services, world.exam.id, account)
    first = await services.sittings.enter(a, world.exam.id, subject.id, "formal", DEVICE)
    await services.sittings.reset(a, first.id)
    second = await services.sittings.enter(a, world.exam.id, subject.id, "formal", DEVICE)
    take = await filmed(services, a, second)
    assert (await services.sittings.submit(a, second.id, take.id)).state == "submitted"
    other = await services.sittings.enter(b, world.exam.id, subject.id, "formal", DEVICE)
    await services.sittings.expire_due(now=other.deadline + 1)
    assert heard == [(first.id, "reset"), (second.id, "submitted"), (other.id, "absent")]
