"""The waiting queue's rules, on a real Redis, through the service the sockets use."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.errors import UserError
from server.queue.sweeper import sweep_once
from server.queue.views import room_view
from server.store import audit
from server.store.audit import Actor
from tests.http.test_admin_api import snapshot

from ..live import FIT_DEVICE, live_world


@pytest.fixture
async def live(services):
    return await live_world(services)


def examiner(live):
    return Actor(live.examiner.id, "examiner")


async def ready(live, index):
    """Booked, in the queue, connected, face check passed."""
    account = await live.booked(index)
    await live.present(account)
    await live.services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    await live.pass_face(account)
    return account


async def test_order_is_arrival_order_and_positions_count_who_is_ahead(live, services):
    people = [await ready(live, i) for i in range(3)]
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [p.id for p in people]
    positions = [view.position(p.id) for p in people]
    assert [p["position"] for p in positions] == [1, 2, 3]
    assert [p["ahead"] for p in positions] == [0, 1, 2]
    # no interview finished yet: the subject's length (10 min) estimates each one ahead
    assert [p["eta_s"] for p in positions] == [0, 600, 1200]


async def test_entering_needs_the_booked_slot_and_its_time(services):
    live = await live_world(services, starts_in=3 * 3600)
    account = await live.booked(0)
    with pytest.raises(UserError) as err:
        await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    assert err.value.code == "queue_too_early" and err.value.params["minutes"] >= 164
    other = await live.world.candidate(1)  # not booked
    with pytest.raises(UserError) as err:
        await services.queue.join(other, live.exam.id, live.slot.id, FIT_DEVICE)
    assert err.value.code == "queue_not_booked"
    # the early margin (15 min) lets the candidate in before the slot
    with pytest.raises(UserError) as err:
        await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE, now=live.slot.ends_at + 1)
    assert err.value.code == "queue_slot_over"
    entry = await services.queue.join(
        account, live.exam.id, live.slot.id, FIT_DEVICE, now=live.slot.starts_at - 14 * 60
    )
    assert entry.state == "waiting_face_check"


@pytest.mark.parametrize(
    "device, codes",
    [
        ({**FIT_DEVICE, "battery_level": 0.12, "charging": False}, ["device_battery_low"]),
        (
            {**FIT_DEVICE, "camera": "denied", "microphone": "prompt"},
            ["device_camera_denied", "device_microphone_denied"],
        ),
        ({**FIT_DEVICE, "in_app": "微信"}, ["device_in_app_browser"]),
        ({**FIT_DEVICE, "browser": "Safari", "browser_version": "12.1"}, ["device_browser_old"]),
    ],
)
async def test_an_unfit_device_is_refused_with_every_reason_and_nothing_changes(
    live, services, redis, prefix, device, codes
):
    account = await live.booked(0)
    before = await snapshot(redis, prefix)
    with pytest.raises(UserError) as err:
        await services.queue.join(account, live.exam.id, live.slot.id, device)
    assert err.value.code == "device_check_failed"
    assert [p["code"] for p in err.value.params["problems"]] == codes
    assert await snapshot(redis, prefix) == before


async def test_low_battery_is_fine_while_charging(live, services):
    account = await live.booked(0)
    entry = await services.queue.join(
        account, live.exam.id, live.slot.id, {**FIT_DEVICE, "battery_level": 0.05, "charging": True}
    )
    assert entry.state == "waiting_face_check"


async def test_only_candidates_past_the_face_check_and_connected_are_called(live, services):
    first = await live.booked(0)
    await live.present(first)
    await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    second = await ready(live, 1)
    third = await live.booked(2)  # passed the face check but not connected
    await services.queue.join(third, live.exam.id, live.slot.id, FIT_DEVICE)
    await live.pass_face(third)
    called = await services.queue.call_next(examiner(live), live.room.id)
    assert called.account == second.id and called.state == "called"
    # the first keeps the head of the line while their check is pending
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [first.id, third.id]


async def test_call_next_on_an_empty_queue_or_a_busy_room_is_refused(live, services):
    with pytest.raises(UserError) as err:
        await services.queue.call_next(examiner(live), live.room.id)
    assert err.value.code == "queue_empty"
    await ready(live, 0)
    await ready(live, 1)
    await services.queue.call_next(examiner(live), live.room.id)
    with pytest.raises(UserError) as err:
        await services.queue.call_next(examiner(live), live.room.id)
    assert err.value.code == "room_busy"


async def test_two_examiners_calling_at_once_admit_one_candidate(live, services):
    await ready(live, 0)
    await ready(live, 1)
    results = await asyncio.gather(
        *(services.queue.call_next(examiner(live), live.room.id) for _ in range(5)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, Exception)]
    assert len(admitted) == 1
    assert {r.code for r in results if isinstance(r, UserError)} == {"room_busy"}


async def test_entering_the_room_reminds_the_next_candidate_exactly_once(live, services):
    heard = []
    services.queue.listeners.append(lambda change: _record(heard, change))
    first, second, _ = [await ready(live, i) for i in range(3)]
    await services.queue.call_next(examiner(live), live.room.id)
    await services.queue.enter_room(first, live.room.id)
    await services.queue.enter_room(first, live.room.id)  # joining the room twice: no second reminder
    assert [c.remind for c in heard if c.remind] == [second.id]
    await services.queue.finish(examiner(live), live.room.id, first.id)
    await services.queue.call_next(examiner(live), live.room.id)
    await services.queue.enter_room(second, live.room.id)
    assert len([c.remind for c in heard if c.remind]) == 2


async def _record(heard, change):
    heard.append(change)


async def test_finished_interviews_set_the_estimated_wait(live, services):
    people = [await ready(live, i) for i in range(3)]
    await services.queue.call_next(examiner(live), live.room.id)
    await services.queue.enter_room(people[0], live.room.id)
    await services.store.redis.hset(
        services.store.keys.queue_entry(live.room.id, people[0].id), "in_room_at", time.time() - 300
    )  # the interview began 5 minutes ago
    await services.queue.finish(examiner(live), live.room.id, people[0].id)
    view = await room_view(services.store, live.room.id)
    assert 299 <= view.average_s <= 302
    assert view.position(people[2].id)["eta_s"] == pytest.approx(view.average_s, abs=2)


async def test_three_failed_checks_open_a_review_and_approval_restores_the_place(live, services):
    first = await live.booked(0)
    await live.present(first)
    await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    later = await ready(live, 1)
    outcomes = [await live.pass_face(first, passed=False) for _ in range(3)]
    assert outcomes == ["failed", "failed", "locked"]
    entry = await services.queue.entry(live.room.id, first.id)
    assert entry.state == "review_pending" and entry.reason == "face_check_locked"
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [later.id]
    with pytest.raises(UserError) as err:  # entering again while in review is refused
        await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    assert err.value.code == "face_review_pending"
    review = (await services.face_gate.open_reviews())[0]
    await services.face_gate.resolve(Actor(live.proctor.id, "proctor"), review.id, True, "本人")
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [first.id, later.id]
    assert view.line[0].state == "waiting"


async def test_a_rejected_review_removes_the_candidate(live, services):
    first = await live.booked(0)
    await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    for _ in range(3):
        await live.pass_face(first, passed=False)
    review = (await services.face_gate.open_reviews())[0]
    await services.face_gate.resolve(Actor(live.proctor.id, "proctor"), review.id, False, "非本人")
    entry = await services.queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("removed", "face_review_rejected")


async def test_a_failed_room_check_sends_the_candidate_back_to_the_face_check(live, services):
    first, second = await ready(live, 0), await ready(live, 1)
    await services.queue.call_next(examiner(live), live.room.id)
    await services.queue.enter_room(first, live.room.id)
    assert await live.pass_face(first, passed=False, kind="room") == "failed"
    entry = await services.queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("waiting_face_check", "face_room_failed")
    view = await room_view(services.store, live.room.id)
    assert view.current is None and [e.account for e in view.line] == [first.id, second.id]


async def test_removed_candidates_see_the_reason_and_reenter_at_the_end(live, services):
    first, second = await ready(live, 0), await ready(live, 1)
    await services.queue.remove(examiner(live), live.room.id, first.id, "背景中有他人")
    entry = await services.queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("removed", "背景中有他人")
    again = await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    assert again.state == "waiting"  # the face check passed minutes ago still counts
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [second.id, first.id]
    events = [
        e["event"] for e in await audit.read(services.store.redis, services.store.keys, live.exam.id, subject=first.id)
    ]
    assert "queue_removed" in events and "queue_reentered" in events


async def test_joining_twice_or_after_the_interview_changes_nothing(live, services, redis, prefix):
    first = await ready(live, 0)
    before = await snapshot(redis, prefix)
    with pytest.raises(UserError) as err:
        await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    assert err.value.code == "already_in_queue"
    assert await snapshot(redis, prefix) == before
    await services.queue.call_next(examiner(live), live.room.id)
    await services.queue.enter_room(first, live.room.id)
    await services.queue.finish(examiner(live), live.room.id, first.id)
    with pytest.raises(UserError) as err:
        await services.queue.join(first, live.exam.id, live.slot.id, FIT_DEVICE)
    assert err.value.code == "interview_done"


async def test_a_disconnected_candidate_keeps_the_place_for_the_grace_period(live, services):
    first, second = await ready(live, 0), await ready(live, 1)
    await services.queue.drop(first.id, "sid-test")
    entry = await services.queue.entry(live.room.id, first.id)
    assert entry.state == "waiting" and not entry.connected
    # while away the examiner's call skips them; back within the grace period, the place is theirs
    await live.present(first)
    await services.queue.sweep(live.room.id)
    entry = await services.queue.entry(live.room.id, first.id)
    assert entry.connected
    view = await room_view(services.store, live.room.id)
    assert [e.account for e in view.line] == [first.id, second.id]
    await services.queue.drop(first.id, "sid-test")
    await services.queue.sweep(live.room.id, now=time.time() + services.queue.grace_s + 1)
    entry = await services.queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("absent", "disconnected")


async def test_slot_end_marks_no_shows_and_the_disconnected_absent(services):
    live = await live_world(services, length_s=120)
    came = await ready(live, 0)
    await live.booked(1)  # never comes
    await services.queue.drop(came.id, "sid-test")
    await sweep_once(services.queue, services.catalog, now=live.slot.ends_at + 1)
    view = await room_view(services.store, live.room.id, now=live.slot.ends_at + 1)
    states = {e.account: (e.state, e.reason) for e in view.recent}
    assert sorted(states.values()) == [("absent", "no_show"), ("absent", "slot_over")]
    assert view.line == []


async def test_an_early_arrival_who_drops_before_the_slot_starts_keeps_the_place(services):
    """Offline for longer than the grace period *before* the slot starts is not a no-show: the grace
    period runs from the slot's start."""
    live = await live_world(services, starts_in=600)
    account = await live.booked(0)
    await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE, now=live.slot.starts_at - 300)
    await services.queue.drop(account.id, "sid-test")
    grace = services.queue.grace_s
    await services.queue.sweep(live.room.id, now=live.slot.starts_at - 1)  # away for ~5 min before the start
    entry = await services.queue.entry(live.room.id, account.id)
    assert entry.state == "waiting_face_check" and not entry.connected
    await services.queue.sweep(live.room.id, now=live.slot.starts_at + grace - 1)
    assert (await services.queue.entry(live.room.id, account.id)).state == "waiting_face_check"
    await services.queue.sweep(live.room.id, now=live.slot.starts_at + grace + 1)
    entry = await services.queue.entry(live.room.id, account.id)
    assert (entry.state, entry.reason) == ("absent", "disconnected")


async def test_a_stale_face_pass_shows_as_expired_and_a_new_pass_clears_the_entry(services):
    """A pass older than queue_face_pass_valid_s does not clear a new entry: the candidate's status says
    "expired" (so the page offers the check again), the examiners' view too, and a new pass lets the
    candidate be called."""
    live = await live_world(services)
    account = await live.booked(0)
    await live.pass_face(account)
    key = services.store.keys.face_state(live.exam.id, account.id)
    stale = time.time() - services.queue.face_pass_valid_s - 5
    await services.store.redis.hset(key, "passed_at", f"{stale:.3f}")  # passed before the validity

    status = await services.face_checks.status(account, live.exam.id)
    assert (status["status"], status["cleared"]) == ("expired", False)
    await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    await live.present(account)
    assert (await services.queue.entry(live.room.id, account.id)).state == "waiting_face_check"
    view = await room_view(services.store, live.room.id)
    assert view.to_json()["line"][0]["face_status"] == "expired"
    examiner = Actor(live.examiner.id, "examiner")
    with pytest.raises(UserError) as refused:
        await services.queue.call_next(examiner, live.room.id)
    assert refused.value.code == "nobody_ready"

    await live.pass_face(account)
    status = await services.face_checks.status(account, live.exam.id)
    assert (status["status"], status["cleared"]) == ("passed", True)
    assert (await services.queue.entry(live.room.id, account.id)).state == "waiting"
    called = await services.queue.call_next(examiner, live.room.id)
    assert (called.account, called.state) == (account.id, "called")
