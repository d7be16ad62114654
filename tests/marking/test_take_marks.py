"""Blind double marking of recorded submissions on a real Redis (server/marking/take_marks.py): real
submissions made through the Sittings API, assigned to graders at random and balanced (also when several
processes assign at once), mark sheets drafted and sealed by the assigned grader only, a third grader called
by a gap over the threshold, the final-mark rule, the admin's reopen and progress, and audit entries that
name codes, never the candidate, sitting or take.

``marked_world`` and ``RUBRIC`` are shared with tests/http/test_take_marks_api.py and tests/e2e/test_take_marking.py."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import pytest

from server.marking.rubrics import Rubric
from server.marking.take_marks import final_mark, needs_third
from server.recorded.grading import CODE
from tests.conftest import ADMIN, build_world
from tests.recorded.conftest import events, make_recorded
from tests.recorded.test_grading import close_window, examiner, refused, submission

RUBRIC = {
    "criteria": [
        {"id": "skill", "name": "技巧", "max": 40},
        {"id": "show", "name": "表现", "max": 40},
        {"id": "look", "name": "形象", "max": 20},
    ],
    "step": 0.5,
    "markers": 2,
    "gap": 10,
}


async def set_rubric(services, world, subject, **changes):
    rubric = Rubric.from_json(subject.id, {**RUBRIC, **changes})
    return await services.rubrics.set(ADMIN, world.exam.id, subject.id, rubric)


async def graders(services, n: int) -> list:
    return [await examiner(services, f"grader-{i}") for i in range(n)]


async def marked_world(services, candidates: int, n_graders: int, *, files: bool = False, close: bool = True, **rubric):
    """A recorded subject with a rubric (2 markers, gap 10) and ``n_graders`` graders set before the
    ``candidates`` submissions are made (so each is assigned as it appears), its window closed afterwards
    (``close``; graders mark from then on). Returns (world, subject, graders, {code: (candidate account,
    sitting, take)})."""
    world = await build_world(services, roster_size=max(candidates, 3))
    subject = await make_recorded(services, world)
    await set_rubric(services, world, subject, **rubric)
    staff = await graders(services, n_graders)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff])
    subs = {}
    for i in range(candidates):
        account, sitting, take = await submission(services, world, i, subject, files=files)
        subs[await services.grading.code_for(sitting)] = (account, sitting, take)
    if close:
        subject = await close_window(services, world, subject)
    return world, subject, staff, subs


async def assignments(services, subject_id, codes) -> dict[str, list[str]]:
    return {code: [g["grader_id"] for g in (await services.take_marks.result(code))["graders"]] for code in codes}


def loads(assigned: dict[str, list[str]], pool) -> Counter:
    count = Counter({g.id: 0 for g in pool})
    for graders_ in assigned.values():
        count.update(graders_)
    return count


def full(skill=30, show=30, look=15) -> dict:
    return {"skill": skill, "show": show, "look": look}


async def test_100_submissions_5_graders_2_markers_each_balanced(services):
    world, subject, staff, subs = await marked_world(services, 100, 5)
    assert len(subs) == 100 and all(CODE.match(c) for c in subs)
    assigned = await assignments(services, subject.id, subs)
    assert all(len(g) == 2 and len(set(g)) == 2 for g in assigned.values())
    load = loads(assigned, staff)
    assert sum(load.values()) == 200 and max(load.values()) - min(load.values()) <= 1, load
    # every grader's queue holds exactly their codes, with a sheet waiting
    for grader in staff:
        queue = await services.take_marks.queue(grader)
        assert sorted(sub.code for sub, _ in queue) == sorted(c for c, g in assigned.items() if grader.id in g)
        assert {sheet.state for _, sheet in queue} == {"assigned"}
    # random: not the same pair for every submission
    assert len({tuple(sorted(g)) for g in assigned.values()}) >= 5
    # the catch-up run again changes nothing
    assert await services.take_marks.catch_up(world.exam.id, subject.id) == 0
    assert await assignments(services, subject.id, subs) == assigned


async def _build_take_marks(redis_url: str, prefix: str, tmp_path):
    """Another process's services on its own Redis connection."""
    from server.services import Services
    from server.store.base import Store
    from server.store.redis import connect
    from tests.conftest import fast_settings

    settings = fast_settings(tmp_path, redis_url, prefix)
    client = connect(redis_url)
    return client, Services.build(Store(client, prefix), settings)


CATCH_UP = """
import asyncio, sys
from pathlib import Path
from tests.marking.test_take_marks import _build_take_marks
async def main():
    client, services = await _build_take_marks(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    await services.take_marks.catch_up(sys.argv[4], sys.argv[5])
    await client.aclose()
asyncio.run(main())
"""


async def test_concurrent_catch_up_from_several_processes_keeps_the_balance(services, redis_url, prefix, tmp_path):
    """Submissions made before the subject had graders; then three processes and four coroutines (on
    their own connections) all run the catch-up at once: still exactly 2 distinct graders each, balanced."""
    world = await build_world(services, roster_size=60)
    subject = await make_recorded(services, world)
    codes = []
    for i in range(60):
        _, sitting, _ = await submission(services, world, i, subject)
        codes.append(await services.grading.code_for(sitting))
    assert await services.take_marks.catch_up(world.exam.id, subject.id) == 0  # no rubric, no graders yet
    # setting the graders would run the catch-up at once (wiring.py): here the processes race to run it
    services.grading.on_graders_set.clear()
    await set_rubric(services, world, subject)
    staff = await graders(services, 5)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff])
    others = [await _build_take_marks(redis_url, prefix, tmp_path) for _ in range(3)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", CATCH_UP, redis_url, prefix, str(tmp_path), world.exam.id, subject.id
        )
        for _ in range(3)
    ]
    await asyncio.gather(
        services.take_marks.catch_up(world.exam.id, subject.id),
        *(s.take_marks.catch_up(world.exam.id, subject.id) for _, s in others),
        *(p.wait() for p in procs),
    )
    assert [p.returncode for p in procs] == [0, 0, 0]
    for client, _ in others:
        await client.aclose()
    assigned = await assignments(services, subject.id, codes)
    assert all(len(g) == 2 and len(set(g)) == 2 for g in assigned.values()), assigned
    load = loads(assigned, staff)
    assert sum(load.values()) == 120 and max(load.values()) - min(load.values()) <= 1, load
    entries = await events(services, world.exam.id, "take_marks_assigned")
    assert len(entries) == 60  # one assignment per code, whoever ran it


async def test_concurrent_assignment_of_one_code_never_double_assigns(services):
    world, subject, staff, subs = await marked_world(services, 1, 4, markers=1)
    (code,) = subs
    await asyncio.gather(*(services.take_marks.assign(world.exam.id, subject.id, code) for _ in range(20)))
    assigned = await assignments(services, subject.id, subs)
    assert len(assigned[code]) == 1


async def test_sheets_draft_seal_and_refusals_change_nothing(services):
    world, subject, staff, subs = await marked_world(services, 2, 2)
    code = next(iter(subs))
    mine = (await assignments(services, subject.id, [code]))[code]
    grader = next(g for g in staff if g.id in mine)
    tm = services.take_marks
    sheet = await tm.save(grader, code, {"skill": 12.5}, "音准尚可")
    assert (sheet.state, sheet.marks, sheet.comment) == ("draft", {"skill": 12.5}, "音准尚可")
    # bad marks: refused, the draft as it was
    for code_, marks in (
        ("mark_over_max", {"skill": 41}),
        ("mark_over_max", {"look": -1}),
        ("mark_not_on_step", {"skill": 12.3}),
        ("mark_criterion_unknown", {"voice": 3}),
        ("mark_not_number", {"skill": "12"}),
    ):
        await refused(code_, tm.save(grader, code, marks, "x"))
        await refused(code_, tm.seal(grader, code, {**full(), **marks}, "x"))
    await refused("mark_missing", tm.seal(grader, code, {"skill": 10}, ""))
    await refused("field_too_long", tm.save(grader, code, {}, "长" * 2001))
    _, again, _ = await tm.sheet(grader, code)
    assert (again.state, again.marks, again.comment) == ("draft", {"skill": 12.5}, "音准尚可")
    assert await events(services, world.exam.id, "take_mark_sealed") == []
    sealed = await tm.seal(grader, code, full(30, 30.5, 15), "好")
    assert (sealed.state, sealed.total) == ("sealed", 75.5) and sealed.sealed_at
    # sealed: immutable
    await refused("take_mark_sealed", tm.seal(grader, code, full(), ""))
    await refused("take_mark_sealed", tm.save(grader, code, full(), ""))
    _, after, _ = await tm.sheet(grader, code)
    assert (after.marks, after.total, after.comment) == (full(30, 30.5, 15), 75.5, "好")
    assert await services.rubrics.sealed_count(subject.id) == 1
    # the rubric cannot change now
    await refused("rubric_in_use", set_rubric(services, world, subject, gap=5))


async def test_only_the_assigned_grader_reaches_a_sheet(services):
    world, subject, staff, subs = await marked_world(services, 2, 3)
    code = next(iter(subs))
    mine = (await assignments(services, subject.id, [code]))[code]
    outsider = next(g for g in staff if g.id not in mine)
    stranger = await examiner(services, "not-a-grader")
    tm = services.take_marks
    for who in (outsider, stranger, world.staff["examiner"]):
        await refused("submission_not_found", tm.sheet(who, code))
        await refused("submission_not_found", tm.save(who, code, {"skill": 1}, ""))
        await refused("submission_not_found", tm.seal(who, code, full(), ""))
        assert code not in [s.code for s, _ in await tm.queue(who)]
    await refused("submission_not_found", tm.sheet(outsider, "S-22222"))
    await refused("submission_not_found", tm.sheet(outsider, "not a code"))
    assert await services.store.redis.exists(services.store.keys.take_mark(code, outsider.id)) == 0


async def _seal_both(services, subject, code, staff, totals):
    graders_ = (await assignments(services, subject.id, [code]))[code]
    by_id = {g.id: g for g in staff}
    for grader_id, (skill, show, look) in zip(graders_, totals, strict=False):
        await services.take_marks.seal(by_id[grader_id], code, full(skill, show, look), "")
    return graders_


async def test_a_gap_over_the_threshold_calls_a_third_grader(services):
    world, subject, staff, subs = await marked_world(services, 4, 5)
    near, far = list(subs)[:2]
    # 75 and 70: within the gap of 10, final is the mean, no third
    await _seal_both(services, subject, near, staff, [(30, 30, 15), (30, 25, 15)])
    result = await services.take_marks.result(near)
    assert (len(result["graders"]), result["final"], result["third_due"]) == (2, 72.5, False)
    # 80 and 60: a third grader is assigned automatically, never one of the two
    first_two = await _seal_both(services, subject, far, staff, [(35, 30, 15), (25, 25, 10)])
    result = await services.take_marks.result(far)
    assert len(result["graders"]) == 3 and result["final"] is None and result["third_due"]
    third = result["graders"][2]["grader_id"]
    assert third not in first_two
    queue = await services.take_marks.queue(next(g for g in staff if g.id == third))
    assert far in [s.code for s, _ in queue]
    (entry,) = [
        e for e in await events(services, world.exam.id, "take_marks_assigned") if e["data"]["round"] == "third"
    ]
    assert entry["data"] == {"code": far, "subject_id": subject.id, "graders": [third], "round": "third"}
    progress = (await services.take_marks.progress(world.exam.id))[0]
    assert (progress["waiting_third"], progress["third_missing"], progress["final"]) == (1, 0, 1)
    # the third marks 64: closer to 60, final = (60 + 64) / 2
    await services.take_marks.seal(next(g for g in staff if g.id == third), far, full(25, 25, 14), "")
    result = await services.take_marks.result(far)
    assert result["final"] == 62.0
    progress = (await services.take_marks.progress(world.exam.id))[0]
    assert (progress["waiting_third"], progress["final"], progress["sealed"]) == (0, 2, 5)


async def test_no_grader_left_for_a_third_is_said_in_the_progress(services):
    world, subject, staff, subs = await marked_world(services, 1, 2)
    (code,) = subs
    await _seal_both(services, subject, code, staff, [(40, 40, 20), (10, 10, 5)])
    result = await services.take_marks.result(code)
    assert len(result["graders"]) == 2 and result["third_missing"] and result["final"] is None
    (progress,) = await services.take_marks.progress(world.exam.id)
    assert (progress["waiting_third"], progress["third_missing"]) == (1, 1)
    assert len(await events(services, world.exam.id, "take_third_missing")) == 1
    # a third grader added later: setting the graders assigns them at once (the catch-up runs on that
    # event, not at every listing of a queue); the admin's 分配评阅 then has nothing left to do
    late = await examiner(services, "grader-late")
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff] + [late.id])
    assert [code] == [sub.code for sub, _ in await services.take_marks.queue(late)]
    answer = await services.take_marks.assign_subject(ADMIN, world.exam.id, subject.id)
    assert answer["added"] == 0 and answer["progress"]["third_missing"] == 0
    result = await services.take_marks.result(code)
    assert result["graders"][2]["grader_id"] == late.id and not result["third_missing"]


@pytest.mark.parametrize(
    ("markers", "gap", "totals", "final"),
    [
        (1, 0, [77.5], 77.5),
        (1, 0, [None], None),
        (2, 10, [70, 80], 75.0),  # exactly the gap: the mean
        (2, 10, [70, None], None),
        (2, 0, [20, 90], 55.0),  # gap 0: never a third
        (2, 10, [60, 80.5], None),  # over the gap: waits for the third
        (2, 10, [60, 80.5, None], None),
        (2, 10, [60, 80, 64], 62.0),  # the third is closer to the first
        (2, 10, [60, 80, 79], 79.5),  # closer to the second
        (2, 10, [60, 80, 70], 70.0),  # a tie: the mean of all three
        (2, 10, [60, 80, 100], 90.0),
        (2, 0.5, [70, 71, 70.5], 70.5),  # tie at 0.5 each: mean of three
        (2, 10, [33.33, 50, 40], 36.67),  # rounded to 0.01
    ],
)
def test_the_final_mark_rule(markers, gap, totals, final):
    assert final_mark(markers, gap, totals) == final
    if len(totals) == 2 and None not in totals:
        assert needs_third(markers, gap, totals) == (final is None)


async def test_the_admin_reopens_with_a_reason_and_audit_names_codes_only(services):
    world, subject, staff, subs = await marked_world(services, 2, 2)
    code = next(iter(subs))
    account, sitting, take = subs[code]
    mine = (await assignments(services, subject.id, [code]))[code]
    grader = next(g for g in staff if g.id in mine)
    tm = services.take_marks
    await tm.save(grader, code, {"skill": 10}, "")
    await refused("take_mark_reason_required", tm.reopen(ADMIN, code, grader.id, "  "))
    await refused("take_mark_not_sealed", tm.reopen(ADMIN, code, grader.id, "打错分"))
    await refused("take_mark_not_found", tm.reopen(ADMIN, code, world.staff["examiner"].id, "打错分"))
    await refused("take_mark_not_found", tm.reopen(ADMIN, "S-22222", grader.id, "打错分"))
    await tm.seal(grader, code, full(), "")
    reopened = await tm.reopen(ADMIN, code, grader.id, "录入错误")
    assert (reopened.state, reopened.total, reopened.reopen_reason) == ("draft", None, "录入错误")
    assert await services.rubrics.sealed_count(subject.id) == 0
    sealed = await tm.seal(grader, code, full(31), "更正")
    assert sealed.total == 76
    (entry,) = await events(services, world.exam.id, "take_mark_reopened")
    assert (entry["actor"], entry["actor_role"], entry["subject"]) == (ADMIN.account_id, "admin", code)
    assert entry["data"] == {"code": code, "grader": grader.id, "reason": "录入错误", "total": 75}
    marking = await events(
        services, world.exam.id, "take_marks_assigned", "take_mark_sealed", "take_mark_reopened", "take_third_missing"
    )
    assert len(marking) == 2 + 2 + 1
    sealed_entries = [e for e in marking if e["event"] == "take_mark_sealed"]
    assert all(e["actor"] == grader.id and e["data"]["code"] == code for e in sealed_entries)
    for e in marking:
        raw = json.dumps(e, ensure_ascii=False)
        for secret in (account.id, sitting.id, take.id, sitting.code, account.name or "考生0"):
            assert secret not in raw, (e["event"], secret)
        assert e["at"] and e["subject"] in subs


async def test_no_rubric_or_no_graders_assign_nothing_and_the_admin_is_told(services):
    world = await build_world(services)
    subject = await make_recorded(services, world)
    _, sitting, _ = await submission(services, world, 0, subject)
    await refused("take_marking_no_rubric", services.take_marks.assign_subject(ADMIN, world.exam.id, subject.id))
    await set_rubric(services, world, subject)
    await refused("take_marking_no_graders", services.take_marks.assign_subject(ADMIN, world.exam.id, subject.id))
    await refused(
        "grading_not_recorded", services.take_marks.assign_subject(ADMIN, world.exam.id, world.subjects[1].id)
    )
    (progress,) = await services.take_marks.progress(world.exam.id)
    assert (progress["submissions"], progress["unassigned"], progress["assigned"]) == (1, 1, 0)
    staff = await graders(services, 3)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff])  # assigns at once
    answer = await services.take_marks.assign_subject(ADMIN, world.exam.id, subject.id)
    assert answer["added"] == 0 and answer["progress"]["unassigned"] == 0
    per = {g["grader_id"]: g for g in answer["progress"]["graders"]}
    assert sum(g["assigned"] for g in per.values()) == 2 and set(per) == {g.id for g in staff}
    code = await services.grading.code_for(sitting)
    assert len((await services.take_marks.result(code))["graders"]) == 2


async def test_one_grader_for_two_markers_gets_it_once_and_progress_says_short(services):
    world, subject, staff, subs = await marked_world(services, 3, 1)
    assigned = await assignments(services, subject.id, subs)
    assert all(g == [staff[0].id] for g in assigned.values())
    (progress,) = await services.take_marks.progress(world.exam.id)
    assert (progress["short"], progress["assigned"]) == (3, 3)


async def test_a_submission_withdrawn_by_a_reset_leaves_the_queues(services):
    """004_* 6: an auto-submitted sitting reset while the window is open withdraws its submission; its
    marking goes (queues, loads, sheets, the rubric's sealed count), audited by code."""
    from tests.recorded.conftest import DEVICE, filmed, pass_face

    world = await build_world(services)
    subject = await make_recorded(services, world, sittings_allowed=2, time_limit_min=1)
    await set_rubric(services, world, subject)
    staff = await graders(services, 2)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff])
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await filmed(services, account, sitting)
    (ended,) = await services.sittings.expire_due(now=sitting.deadline + 1)
    assert ended.state == "auto_submitted"
    code = await services.grading.code_for(ended)
    # assigned at the deadline's auto-submit, but graded only from the window's close: until then a reset
    # could still withdraw it
    assert len((await services.take_marks.result(code))["graders"]) == 2
    assert await services.take_marks.queue(staff[0]) == []
    error = await refused("grading_not_open", services.take_marks.sheet(staff[0], code))
    assert "结束后才能评阅" in error.message("zh")
    await close_window(services, world, subject)
    assert len(await services.take_marks.queue(staff[0])) == 1
    await services.take_marks.seal(staff[0], code, full(), "")
    assert await services.rubrics.sealed_count(subject.id) == 1
    # the admin extends the window after all: the candidate resets, and the sealed marking goes with it
    await close_window(services, world, subject, open_again=True)
    await services.sittings.reset(account, sitting.id)
    for grader in staff:
        assert await services.take_marks.queue(grader) == []
        await refused("submission_not_found", services.take_marks.sheet(grader, code))
    assert await services.rubrics.sealed_count(subject.id) == 0
    assert await services.store.redis.hgetall(services.store.keys.take_mark_load(subject.id)) == {
        staff[0].id: "0",
        staff[1].id: "0",
    }
    # a catch-up that listed the code before the reset cannot assign it afterwards
    assert await services.take_marks.assign(world.exam.id, subject.id, code) == []
    assert await services.take_marks.queue(staff[0]) == []
    (entry,) = await events(services, world.exam.id, "take_marks_withdrawn")
    assert entry["subject"] == code and entry["data"]["sealed"] == 1
    assert sorted(entry["data"]["graders"]) == sorted(g.id for g in staff)
    (progress,) = await services.take_marks.progress(world.exam.id)
    assert (progress["submissions"], progress["assigned"], progress["sealed"]) == (0, 0, 0)


async def test_graders_see_a_subject_only_once_its_window_has_closed(services):
    """004_*: the examiners assess the videos after the deadline. While the window is open the submissions
    are assigned (balanced, as they come) but no grader sees, plays or marks one: each is told when marking
    opens; a grader of another subject still gets the same "not found" as for a forged code."""
    world, subject, staff, subs = await marked_world(services, 4, 2, close=False, files=True)
    code = next(iter(subs))
    outsider = await examiner(services, "grader-outsider")
    assigned = await assignments(services, subject.id, subs)
    assert all(len(g) == 2 for g in assigned.values())
    for each in staff:
        assert await services.take_marks.queue(each) == []
        assert await services.grading.submissions(each) == []
    grader = next(g for g in staff if g.id == assigned[code][0])
    for work in (
        services.take_marks.sheet(grader, code),
        services.take_marks.save(grader, code, {"skill": 3}, ""),
        services.take_marks.seal(grader, code, full(), ""),
        services.grading.file_of(grader, code, "playable.webm"),
        services.grading.submission(grader, code),
    ):
        error = await refused("grading_not_open", work)
        assert "结束后才能评阅" in error.message("zh") and subject.name in error.message("zh")
    await refused("submission_not_found", services.grading.submission(outsider, code))  # no oracle
    keys = services.store.keys
    assert await services.store.redis.hget(keys.take_mark(code, grader.id), "state") == "assigned"  # nothing saved
    # closed: the queue, the files and the sheet
    await close_window(services, world, subject)
    assert code in {s.code for s, _ in await services.take_marks.queue(grader)}
    take, name = await services.grading.file_of(grader, code, "playable.webm")
    assert name == "playable.webm" and take.files[name]
    assert (await services.take_marks.seal(grader, code, full(), "")).state == "sealed"
