"""Call-next refusals say which condition holds and for whom (queue_call.lua decides, in the same
atomic script that admits): nobody in line; the head still waiting for the face check; everyone
disconnected; the slot not started yet (with its start, Beijing time). A refusal changes nothing."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from server.errors import UserError
from server.store.audit import Actor

from ..live import FIT_DEVICE, live_world
from .test_waiting import snapshot


@pytest.fixture
async def live(services):
    return await live_world(services)


def examiner(live):
    return Actor(live.examiner.id, "examiner")


async def joined(live, index, *, present=True, face=True):
    account = await live.booked(index)
    if present:
        await live.present(account)
    await live.services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    if face:
        await live.pass_face(account)
    return account


async def refusal(live) -> UserError:
    with pytest.raises(UserError) as err:
        await live.services.queue.call_next(examiner(live), live.room.id)
    return err.value


def name(live, index):
    return live.world.roster[index][0]


async def test_nobody_in_line(live):
    err = await refusal(live)
    assert err.code == "queue_empty"
    assert err.message("zh") == "候考队列中没有考生"


async def test_the_head_of_the_line_is_still_in_the_face_check(live, redis, prefix):
    await joined(live, 0, face=False)
    await joined(live, 1, face=False)
    before = await snapshot(redis, prefix)
    err = await refusal(live)
    assert err.code == "nobody_ready" and err.status == 409
    assert err.params["why"] == "face_check_pending"
    assert [b["name"] for b in err.params["blocked"]] == [name(live, 0), name(live, 1)]
    zh = err.message("zh")
    assert f"{name(live, 0)}、{name(live, 1)} 尚未通过人脸核验（等待人脸核验）" in zh, zh
    assert zh.startswith("暂无可叫号的考生（候考 2 人）")
    assert "face check has not passed" in err.message("en")
    assert await snapshot(redis, prefix) == before  # read only


async def test_everyone_waiting_is_disconnected(live, services):
    first = await joined(live, 0)
    second = await joined(live, 1, present=False)  # never had a live socket
    await services.queue.drop(first.id, "sid-test")  # lost it: marked disconnected by the sweep
    assert not (await services.queue.entry(live.room.id, first.id)).connected
    err = await refusal(live)
    assert err.params["why"] == "disconnected"
    assert [b["account_id"] for b in err.params["blocked"]] == [first.id, second.id]
    assert f"{name(live, 0)}、{name(live, 1)} 已断线" in err.message("zh")
    assert f"{name(live, 0)}, {name(live, 1)}: disconnected" in err.message("en")


async def test_the_slot_has_not_started_yet(services):
    live = await live_world(services, starts_in=600)  # the queue opens 15 minutes early
    account = await joined(live, 0)
    err = await refusal(live)
    assert err.params["why"] == "slot_not_started"
    starts = datetime.fromtimestamp(live.slot.starts_at, ZoneInfo("Asia/Shanghai"))
    same_day = starts.date() == datetime.now(ZoneInfo("Asia/Shanghai")).date()
    when = starts.strftime("%H:%M" if same_day else "%m-%d %H:%M")
    assert f"{name(live, 0)} 的考试时段 {when}（北京时间）开始" in err.message("zh"), err.message("zh")
    assert f"starts at {when} (Beijing time)" in err.message("en")
    # once the slot has started the same candidate is called: the admission rule is unchanged
    await services.queue.touch({account.id: ["sid-test"]}, 3600)
    called = await services.queue.call_next(examiner(live), live.room.id, now=live.slot.starts_at + 1)
    assert (called.account, called.state) == (account.id, "called")


async def test_several_reasons_name_each_candidate_in_line_order(live, services):
    await joined(live, 0, face=False)
    await joined(live, 1, present=False)
    await joined(live, 2, face=False)
    err = await refusal(live)
    assert err.params["why"] == "mixed"
    assert [b["why"] for b in err.params["blocked"]] == ["face_check_pending", "disconnected", "face_check_pending"]
    zh = err.message("zh")
    assert zh == (
        f"暂无可叫号的考生（候考 3 人）：{name(live, 0)}、{name(live, 2)} 尚未通过人脸核验（等待人脸核验），"
        f"通过后才能叫号；{name(live, 1)} 已断线，重新连接后才能叫号"
    ), zh


async def test_a_long_line_names_the_first_few(services):
    live = await live_world(services, size=7)
    for i in range(7):
        await joined(live, i, face=False)
    err = await refusal(live)
    assert len(err.params["blocked"]) == 7
    assert f"{name(live, 4)} 等 7 人" in err.message("zh") and name(live, 5) not in err.message("zh")
    assert "and 2 more" in err.message("en")


async def test_the_candidate_who_is_ready_is_still_called_first(live, services):
    await joined(live, 0, face=False)
    ready = await joined(live, 1)
    called = await services.queue.call_next(examiner(live), live.room.id, now=time.time())
    assert called.account == ready.id
