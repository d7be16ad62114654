"""Rubrics (server/marking/rubrics.py): checking marks against a rubric (over the maximum, off the
step, unknown criteria, missing ones when complete), totals with weights, how several markers'
totals combine, reading an admin's JSON, and storing a rubric on a real Redis (audited, refused
once a mark of the subject is sealed)."""

from __future__ import annotations

import json

import pytest

from server.errors import UserError
from server.marking.rubrics import Criterion, Rubric, Rubrics
from tests.conftest import ADMIN


def rubric(step: float = 1.0, combine: str = "mean", weights: tuple[float, float, float] = (1, 1, 1)) -> Rubric:
    return Rubric(
        "subj_000000000001",
        [
            Criterion("skill", "技巧", 40, weights[0]),
            Criterion("show", "表现", 40, weights[1]),
            Criterion("look", "形象", 20, weights[2]),
        ],
        step=step,
        combine=combine,
    )


def refused(fn, *args) -> UserError:
    with pytest.raises(UserError) as caught:
        fn(*args)
    return caught.value


def test_check_keeps_good_marks_in_the_rubrics_order():
    assert rubric().check({"look": 18, "skill": 35}, complete=False) == {"skill": 35.0, "look": 18.0}
    assert rubric().check({"skill": 40, "show": 0, "look": 20}, complete=True) == {"skill": 40, "show": 0, "look": 20}
    assert rubric().check({"skill": None}, complete=False) == {}  # a cleared field is left out of a draft


def test_check_refuses_marks_over_the_maximum_or_below_zero():
    error = refused(rubric().check, {"skill": 41}, False)
    assert error.code == "mark_over_max" and error.field == "marks.skill"
    assert error.message("zh") == "“技巧”的分数应在 0 到 40 分之间"
    assert refused(rubric().check, {"look": -1}, False).code == "mark_over_max"
    assert refused(rubric(step=0.5).check, {"look": 20.5}, False).code == "mark_over_max"


def test_check_refuses_marks_off_the_step():
    error = refused(rubric().check, {"skill": 35.5}, False)
    assert error.code == "mark_not_on_step" and error.message("zh") == "“技巧”的分数须为 1 的整数倍"
    assert rubric(step=0.5).check({"skill": 35.5, "show": 12}, False) == {"skill": 35.5, "show": 12}
    error = refused(rubric(step=0.5).check, {"show": 12.25}, False)
    assert error.code == "mark_not_on_step" and "0.5" in error.message("zh")
    assert refused(rubric(step=0.5).check, {"show": 0.1}, False).code == "mark_not_on_step"


def test_check_refuses_unknown_criteria_and_non_numbers():
    error = refused(rubric().check, {"voice": 3}, False)
    assert error.code == "mark_criterion_unknown" and "voice" in error.message("zh")
    for bad in ("30", True, float("nan"), [1]):
        assert refused(rubric().check, {"skill": bad}, False).code == "mark_not_number"


def test_check_wants_every_criterion_when_complete():
    error = refused(rubric().check, {"skill": 30, "show": 30}, True)
    assert error.code == "mark_missing" and error.message("zh") == "请为“形象”打分后再提交"
    assert rubric().check({"skill": 30, "show": 30}, False) == {"skill": 30, "show": 30}


def test_total_weighs_each_mark():
    assert rubric().total({"skill": 35, "show": 30, "look": 18}) == 83
    weighted = rubric(step=0.5, weights=(1.5, 1, 0.5))
    assert weighted.total({"skill": 35.5, "show": 30, "look": 17.5}) == 35.5 * 1.5 + 30 + 8.75
    assert weighted.max_total == 60 + 40 + 10
    assert rubric().total({"skill": 10}) == 10  # a draft's total counts what is marked


def test_final_is_the_mean_or_the_trimmed_mean_with_four_or_more():
    assert rubric().final([80]) == 80
    assert rubric().final([80, 85]) == 82.5
    assert rubric().final([80, 85, 90]) == 85
    assert rubric().final([70, 80, 85, 99]) == 83.5  # mean keeps every total
    trimmed = rubric(combine="trimmed_mean")
    assert trimmed.final([80, 85, 90]) == 85  # fewer than 4: the plain mean
    assert trimmed.final([70, 80, 85, 99]) == 82.5  # drop 70 and 99
    assert trimmed.final([60, 80, 80, 85, 100]) == 81.67
    with pytest.raises(ValueError):
        rubric().final([])


def test_from_json_reads_an_admins_rubric_and_names_what_is_wrong():
    body = {
        "criteria": [
            {"id": "skill", "name": " 技巧 ", "max": 40},
            {"id": "show", "name": "表现", "max": 60, "weight": 2},
        ],
        "step": 0.5,
        "combine": "trimmed_mean",
        "markers": 2,
        "gap": 15,
    }
    parsed = Rubric.from_json("subj_000000000001", body)
    assert parsed.criteria[0] == Criterion("skill", "技巧", 40, 1.0) and parsed.max_total == 160
    assert (parsed.step, parsed.combine, parsed.markers, parsed.gap) == (0.5, "trimmed_mean", 2, 15)
    cases = [
        ({"step": 2}, "rubric_step_invalid"),
        ({"combine": "median"}, "rubric_combine_invalid"),
        ({"markers": 3}, "rubric_markers_invalid"),
        ({"criteria": []}, "rubric_criteria_count"),
        ({"criteria": [{"id": "Skill!", "name": "技巧", "max": 40}]}, "rubric_criterion_id"),
        (
            {"criteria": [{"id": "a", "name": "甲", "max": 4}, {"id": "a", "name": "乙", "max": 4}]},
            "rubric_criterion_duplicate",
        ),
        ({"criteria": [{"id": "a", "name": "", "max": 4}]}, "rubric_criterion_name"),
        ({"criteria": [{"id": "a", "name": "甲", "max": 0}]}, "rubric_criterion_max"),
        ({"step": 1, "gap": 0, "criteria": [{"id": "a", "name": "甲", "max": 4.5}]}, "rubric_max_not_on_step"),
        ({"criteria": [{"id": "a", "name": "甲", "max": 4, "weight": -1}]}, "rubric_criterion_weight"),
        ({"criteria": [{"id": "a", "name": "甲", "max": 4, "extra": 1}]}, "rubric_criterion_invalid"),
        ({"gap": 1000}, "rubric_gap_invalid"),
        ({"colour": "red"}, "field_unknown"),
    ]
    for change, code in cases:
        with pytest.raises(UserError) as caught:
            Rubric.from_json("subj_000000000001", {**body, **change})
        assert caught.value.code == code, (change, caught.value.code)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message("zh")), code


async def test_rubrics_are_stored_audited_and_frozen_once_a_mark_is_sealed(services, world):
    rubrics = Rubrics(services.store)
    subject = world.subjects[0]
    assert await rubrics.get(subject.id) is None
    saved = await rubrics.set(ADMIN, world.exam.id, subject.id, rubric(step=0.5, combine="trimmed_mean"))
    assert saved.version == 1
    got = await rubrics.get(subject.id)
    expected = rubric(step=0.5, combine="trimmed_mean")
    assert (got.criteria, got.step, got.combine, got.subject_id, got.version) == (
        expected.criteria,
        0.5,
        "trimmed_mean",
        subject.id,
        1,
    )
    entries = await services.audit.read(world.exam.id, count=5)
    entry = next(e for e in entries if e["event"] == "rubric_set")
    assert entry["actor"] == ADMIN.account_id and entry["subject"] == subject.id
    assert [c["id"] for c in entry["data"]["criteria"]] == ["skill", "show", "look"]
    with pytest.raises(UserError) as caught:  # the subject of another exam
        await rubrics.set(ADMIN, "exam_000000000000", subject.id, rubric())
    assert caught.value.code == "subject_not_found"
    # a sealed mark of the subject (the mark scripts count them) freezes it
    await services.store.redis.hincrby(services.store.keys.rubric(subject.id), "sealed", 1)
    with pytest.raises(UserError) as caught:
        await rubrics.set(ADMIN, world.exam.id, subject.id, rubric())
    assert caught.value.code == "rubric_in_use" and "不能再修改" in caught.value.message("zh")
    assert (await rubrics.get(subject.id)).step == 0.5  # unchanged
    raw = await services.store.redis.hget(services.store.keys.rubric(subject.id), "criteria")
    assert json.loads(raw)[0]["name"] == "技巧"
