"""A recorded subject's rules and the deadline of a sitting (001_* 5.3's two candidates exactly)."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from server.errors import UserError
from server.recorded.rules import apply, deadline
from server.store.models import Subject
from tests.conftest import ADMIN

from .conftest import DEVICE, make_recorded

TZ = ZoneInfo("Asia/Shanghai")


def at(hhmm: str) -> float:
    hours, minutes = map(int, hhmm.split(":"))
    return dt.datetime(2026, 6, 1, hours, minutes, tzinfo=TZ).timestamp()


def hhmm(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, TZ)
    return f"{moment.hour}:{moment.minute:02d}"


@pytest.mark.parametrize(
    "mode, window, limit_min, entered, expected",
    [
        # 001_* 5.3: 考试时间为 9:00-10:00，考试规定时间 50 分钟
        ("formal", ("9:00", "10:00"), 50, "9:00", "9:50"),  # 考生 1：9:00 准时进入，必须在 9:50 前提交视频
        ("formal", ("9:00", "10:00"), 50, "9:30", "10:00"),  # 考生 2：9:30 进入（迟到），必须在 10:00 前提交视频
        ("formal", ("9:00", "10:00"), 50, "9:10", "10:00"),  # exactly at the window's end
        ("formal", ("9:00", "10:00"), 50, "9:05", "9:55"),
        ("formal", ("9:00", "10:00"), 0, "9:05", "10:00"),  # no personal limit: the window's end
        ("formal", ("9:00", "12:00"), 30, "11:59", "12:00"),
        ("mock", ("9:00", "10:00"), 50, "23:00", "23:50"),  # a mock sitting has no window
        ("practice", ("9:00", "10:00"), 50, "9:30", None),  # practice: no deadline
    ],
)
def test_the_deadline(mode, window, limit_min, entered, expected):
    result = deadline(mode, at(entered), limit_min, at(window[1]))
    assert (hhmm(result) if result else None) == expected


def test_a_mock_without_a_limit_gets_twice_its_longest_takes():
    assert deadline("mock", 1000.0, 0, 0, take_max_s=300, takes_allowed=2) == 1000.0 + 1200


def test_interviews_keep_their_defaults():
    subject = Subject(id="subj_000000000000", exam_id="exam_000000000000", name="声乐")
    assert (subject.kind, subject.recorded, subject.takes_allowed, subject.take_max_s) == ("interview", False, 1, 300)
    assert apply(subject, interview_minutes=12).interview_minutes == 12  # no window needed for a live interview


@pytest.mark.parametrize(
    "rules, code, field",
    [
        ({"kind": "video"}, "subject_kind_invalid", "kind"),
        ({"form": "dance"}, "subject_form_invalid", "form"),
        ({"takes_allowed": 0}, "field_range", "takes_allowed"),
        ({"takes_allowed": 11}, "field_range", "takes_allowed"),
        ({"take_max_s": 5}, "field_range", "take_max_s"),
        ({"sittings_allowed": 6}, "field_range", "sittings_allowed"),
        ({"mock_tries": -1}, "field_range", "mock_tries"),
        ({"time_limit_min": True}, "field_type", "time_limit_min"),
        ({"cut_take_counts": "yes"}, "field_type", "cut_take_counts"),
        ({"window_closes": 0}, "recorded_window_required", "window_opens"),
        ({"window_closes": 1000.0}, "recorded_window_times", "window_closes"),
        ({"window_closes": 5000.0 + 40 * 86400}, "recorded_window_too_long", "window_closes"),
        ({"colour": "red"}, "field_unknown", "colour"),
    ],
)
def test_bad_rules_are_refused_with_their_reason(rules, code, field):
    subject = Subject(id="subj_000000000000", exam_id="exam_000000000000", name="声乐")
    base = {"kind": "recorded", "window_opens": 5000.0, "window_closes": 8600.0}
    with pytest.raises(UserError) as err:
        apply(subject, **(base | rules))
    assert (err.value.code, err.value.field) == (code, field)
    assert err.value.message("zh")  # a sentence, not the code
    assert err.value.message("zh") != code


async def test_a_refused_update_changes_nothing_and_a_good_one_is_audited(services, world):
    subject = world.subjects[0]
    key = services.store.keys.subject(subject.id)
    before = await services.store.redis.hgetall(key)
    with pytest.raises(UserError) as err:
        await services.catalog.update_subject(ADMIN, world.exam.id, subject.id, kind="recorded")
    assert err.value.code == "recorded_window_required"
    assert err.value.message("zh") == "录制考试需要设置考试时间（开始和结束）"
    with pytest.raises(UserError):
        await services.catalog.update_subject(
            ADMIN,
            world.exam.id,
            subject.id,
            kind="recorded",
            window_opens=5000.0,
            window_closes=9000.0,
            takes_allowed=99,
        )
    assert await services.store.redis.hgetall(key) == before
    updated = await make_recorded(services, world, takes_allowed=3, time_limit_min=50)
    assert (updated.kind, updated.takes_allowed, updated.time_limit_min) == ("recorded", 3, 50)
    again = await services.catalog.subject(world.exam.id, subject.id)
    assert again == updated
    entries = await services.audit.read(world.exam.id, 5)
    change = next(e for e in entries if e["event"] == "subject_updated")
    assert change["actor"] == ADMIN.account_id and change["data"]["after"]["takes_allowed"] == "3"
    assert change["data"]["before"]["kind"] == "interview"


async def test_a_recorded_subject_can_be_created_with_its_rules(services, world):
    now = time.time()
    subject = await services.catalog.add_subject(
        ADMIN, world.exam.id, "钢琴", 10, kind="recorded", window_opens=now, window_closes=now + 3600, mock_tries=2
    )
    assert (await services.catalog.subject(world.exam.id, subject.id)).mock_tries == 2
    entry = (await services.audit.read(world.exam.id, 1))[0]
    assert entry["event"] == "subject_created" and entry["data"]["rules"]["mock_tries"] == 2
    with pytest.raises(UserError) as err:
        await services.catalog.add_subject(ADMIN, world.exam.id, "钢琴", 10, kind="recorded")
    assert err.value.code == "recorded_window_required"


@pytest.mark.parametrize("late", [False, True])
async def test_a_sitting_gets_the_deadline_of_the_rule(services, world, late):
    """001_* 5.3 on a real entry: on time, entry + 50 min; late, the window's end."""
    now = time.time()
    opens = now - (30 * 60 if late else 1)
    subject = await make_recorded(services, world, window_opens=opens, window_closes=opens + 3600, time_limit_min=50)
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    expected = deadline("formal", sitting.entered_at, 50, subject.window_closes)
    assert sitting.deadline == pytest.approx(expected, abs=0.01)
    if late:
        assert sitting.deadline == pytest.approx(subject.window_closes, abs=0.01)
    else:
        assert sitting.deadline == pytest.approx(sitting.entered_at + 50 * 60, abs=0.01)


async def test_an_exam_can_be_created_with_a_recorded_subject(services):
    now = time.time()
    exam = await services.catalog.create_exam(
        ADMIN,
        school="学院",
        name="录制考试",
        booking_opens=now - 60,
        booking_closes=now + 3600,
        subjects=[
            {"name": "声乐", "interview_minutes": 10},
            {"name": "钢琴", "kind": "recorded", "window_opens": now, "window_closes": now + 3600, "takes_allowed": 5},
        ],
    )
    live, recorded = await services.catalog.subjects(exam.id)
    assert (live.kind, recorded.kind, recorded.takes_allowed) == ("interview", "recorded", 5)
