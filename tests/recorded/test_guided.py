"""Guided items (指定项目): a subject's steps (text, length, an uploaded audio guide or the browser's speech),
copied into each take when it starts; the step timeline is set on the server's clock when the camera
joins, and the take ends after the last step."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.recorded.take_forms import steps_view

from ..conftest import ADMIN
from .conftest import DEVICE, events, make_recorded
from .media import audio, score

STEPS = [
    {"text": "请面向镜头，报出考试码", "duration_s": 5, "speak": True},
    {"text": "把杆：一位手擦地", "duration_s": 20},
    {"text": "中间：小跳", "duration_s": 15, "speak": True},
]


@pytest.fixture
async def subject(services, world):
    return await make_recorded(services, world, form="guided", take_max_s=300, takes_allowed=3)


async def test_steps_are_set_with_an_audio_guide_and_copied_into_each_take(services, world, subject):
    guide = await services.guided.upload(world.exam.id, subject.id, audio("mp3"), "擦地.mp3")
    steps = [STEPS[0], {**STEPS[1], "audio_sha256": guide.sha256}, STEPS[2]]
    updated = await services.guided.set(ADMIN, world.exam.id, subject.id, steps)
    assert [s["audio_sha256"] for s in updated.steps] == ["", guide.sha256, ""]
    assert [s["speak"] for s in updated.steps] == [True, False, True]
    stored = await services.catalog.subject(world.exam.id, subject.id)
    assert stored.steps == updated.steps
    (entry,) = await events(services, world.exam.id, "guided_steps_set")
    assert entry["data"]["steps"] == 3 and entry["data"]["total_s"] == 40

    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert take.form == "guided" and take.steps == updated.steps and take.timeline == []
    assert take.stop_at == pytest.approx(take.started_at + 40, abs=0.01)  # the steps' length, not take_max_s
    # the steps change later: the take keeps its own
    await services.guided.set(ADMIN, world.exam.id, subject.id, STEPS[:1])
    assert (await services.sittings.find_take(take.id)).steps == updated.steps


async def test_the_timeline_begins_when_the_camera_joins(services, world, subject):
    await services.guided.set(ADMIN, world.exam.id, subject.id, STEPS)
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    begun = await services.sittings.begin_answer(take)
    assert [(m["index"], m["offset_s"]) for m in begun.timeline] == [(0, 0), (1, 5), (2, 25)]
    assert [m["at"] - begun.answer_at for m in begun.timeline] == pytest.approx([0, 5, 25], abs=0.002)
    assert begun.stop_at == pytest.approx(begun.answer_at + 40, abs=0.01)
    again = await services.sittings.begin_answer(begun)  # a reconnect: the same timeline
    assert again.timeline == begun.timeline
    view = steps_view(begun)
    assert [v["text"] for v in view] == [s["text"] for s in STEPS] and all(v["video_s"] is None for v in view)
    (entry,) = await events(services, world.exam.id, "take_steps_started")
    assert entry["data"]["steps"] == 3


async def test_steps_past_the_longest_take_are_left_out(services, world):
    subject = await make_recorded(services, world, form="guided", take_max_s=20)
    await services.guided.set(ADMIN, world.exam.id, subject.id, STEPS)
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.begin_answer(
        await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    )
    assert [m["index"] for m in take.timeline] == [0, 1]
    assert take.stop_at == pytest.approx(take.answer_at + 20, abs=0.01)


@pytest.mark.parametrize(
    ("steps", "code", "field"),
    [
        ([], "guided_steps_count", "steps"),
        ([{"text": "x", "duration_s": 5}] * 31, "guided_steps_count", "steps"),
        ([{"text": " ", "duration_s": 5}], "guided_step_text", "steps.0.text"),
        ([STEPS[0], {"text": "长", "duration_s": 2}], "field_range", "steps.1.duration_s"),
        ([{"text": "x", "duration_s": "5"}], "field_range", "steps.0.duration_s"),
        ([{"text": "x", "duration_s": 5, "audio_sha256": "0" * 64}], "guided_step_audio", "steps.0.audio_sha256"),
        ([{"text": "x", "duration_s": 5, "audio_sha256": "../../etc/passwd"}], "guided_step_audio", None),
        ([{"text": "x", "duration_s": 5, "extra": 1}], "guided_step_invalid", "steps.0"),
        ([{"text": "x", "duration_s": 600}] * 7, "guided_steps_too_long", "steps"),
        ("steps", "guided_steps_count", "steps"),
    ],
)
async def test_bad_steps_are_refused_by_name_and_nothing_changes(services, world, subject, steps, code, field):
    await services.guided.set(ADMIN, world.exam.id, subject.id, STEPS)
    with pytest.raises(UserError) as caught:
        await services.guided.set(ADMIN, world.exam.id, subject.id, steps)
    assert caught.value.code == code
    if field:
        assert caught.value.field == field
    assert (await services.catalog.subject(world.exam.id, subject.id)).steps[0]["text"] == STEPS[0]["text"]
    assert len(await events(services, world.exam.id, "guided_steps_set")) == 1


async def test_a_step_guide_must_be_audio_and_a_guided_subject_needs_steps(services, world, subject, settings):
    with pytest.raises(UserError) as caught:
        await services.guided.upload(world.exam.id, subject.id, score(), "score.png")
    assert caught.value.code == "guided_step_audio_type"
    assert not (settings.data_dir / "questions").exists()
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
    with pytest.raises(UserError) as caught:
        await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert caught.value.code == "guided_no_steps"
    assert (await services.sittings.sitting_of(account, sitting.id)).takes_total == 0
