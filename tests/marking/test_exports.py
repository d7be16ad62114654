"""An exam's exports on a real Redis (server/marking/exports.py): live interview mark sheets per
criterion per examiner (sealed and draft), the recorded takes' sheets by anonymous code with the
candidate, attendance (present / removed with the reason / recorded sittings) and bookings; the rows
are the same whatever the page size (paged reads), an unknown kind and an unknown exam refused.

``live_exam`` and ``recorded_exam`` are shared with tests/http/test_exports_api.py."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.marking.exports import COLUMNS, Exports
from tests.marking.test_interview_marks import FULL_1, interview, panel_world
from tests.marking.test_take_marks import full, marked_world

COMMENT = '=HYPERLINK("http://evil","点我")'  # a formula a spreadsheet would run


def exports_of(services) -> Exports:
    return Exports(services.store, services.catalog, services.rubrics, results=services.results)


async def rows_of(services, exam_id: str, kind: str, page: int = 500) -> list[list]:
    out: list[list] = []
    async for rows in exports_of(services).pages(exam_id, kind, page=page):
        assert rows
        out += rows
    return out


async def live_exam(services):
    """Candidate 0 interviewed (first examiner sealed with a formula-like comment, the second a draft),
    candidate 1 removed by the examiner. Returns (panel world, [interview ids], [accounts])."""
    w = await panel_world(services)
    first, second = w.actors
    iv0 = await interview(w, 0)
    await services.interview_marks.seal(first, w.room.id, iv0, FULL_1, COMMENT)
    await services.interview_marks.save(second, w.room.id, iv0, {"skill": 30}, "+1 好")
    iv1 = await interview(w, 1, end="removed")
    redis, keys = services.store.redis, services.store.keys
    accounts = [await services.directory.get(await redis.hget(keys.interview(iv), "account_id")) for iv in (iv0, iv1)]
    return w, [iv0, iv1], accounts


async def recorded_exam(services):
    """Three recorded submissions, two graders each; one grader sealed one sheet."""
    world, subject, staff, subs = await marked_world(services, 3, 2)
    code = sorted(subs)[0]
    grader_id = (await services.take_marks.result(code))["graders"][0]["grader_id"]
    grader = next(g for g in staff if g.id == grader_id)
    await services.take_marks.seal(grader, code, full(), "@稳")
    return world, subject, staff, subs, code, grader


async def test_live_marks_one_row_per_criterion_per_examiner(services):
    w, (iv0, iv1), (c0, _) = await live_exam(services)
    rows = await rows_of(services, w.exam.id, "marks")
    assert all(len(r) == len(COLUMNS["marks"]) for r in rows)
    mine = [r for r in rows if r[3] == iv0]
    assert len(mine) == 6  # 3 criteria x 2 examiners
    sealed = [r for r in mine if r[8] == w.first.id]
    assert [(r[10], r[11], r[12]) for r in sealed] == [
        ("技巧 (skill)", 35, 40),
        ("表现 (show)", 30.5, 40),
        ("形象 (look)", 18, 20),
    ]
    assert {r[9] for r in sealed} == {"已提交"} and {r[14] for r in sealed} == {83.5}
    assert {r[15] for r in sealed} == {COMMENT} and all(r[16] for r in sealed)  # the domain keeps the words
    assert {(r[4], r[5], r[6]) for r in mine} == {(c0.name, c0.id_number, c0.id)}
    assert {r[7] for r in sealed} == {"examiner"}  # the examiner's name
    draft = [r for r in mine if r[8] == w.second.id]
    assert [r[11] for r in draft] == [30, "", ""] and {r[9] for r in draft} == {"草稿"}
    assert not [r for r in rows if r[3] == iv1]  # removed before anyone marked: no sheet, no row
    # paged reads give the same rows
    assert await rows_of(services, w.exam.id, "marks", page=1) == rows


async def test_attendance_present_and_removed_with_reason_and_bookings(services):
    w, _, (c0, c1) = await live_exam(services)
    rows = await rows_of(services, w.exam.id, "attendance")
    by_account = {r[6]: r for r in rows}
    assert set(by_account) == {c0.id, c1.id}
    assert by_account[c0.id][7:10] == ["出席", "面试已结束", ""]
    assert by_account[c1.id][7:10] == ["移出", "已移出", "网络中断"]
    assert by_account[c0.id][:3] == [w.live.world.subjects[0].name, "现场面试", w.room.name]
    bookings = await rows_of(services, w.exam.id, "bookings")
    assert sorted(r[6] for r in bookings) == sorted([c0.id, c1.id])
    assert {r[4] for r in bookings} == {c0.name, c1.name} and all(r[7] for r in bookings)
    assert await rows_of(services, w.exam.id, "bookings", page=1) == bookings
    assert await rows_of(services, w.exam.id, "attendance", page=1) == rows


async def test_recorded_marks_by_code_with_the_candidate_and_sittings_attendance(services):
    world, subject, staff, subs, code, grader = await recorded_exam(services)
    rows = await rows_of(services, world.exam.id, "marks")
    mine = [r for r in rows if r[3] == code]
    account = subs[code][0]
    assert {(r[1], r[4], r[6]) for r in mine} == {("录制", account.name, account.id)}
    sealed = [r for r in mine if r[8] == grader.id]
    assert (
        [r[11] for r in sealed] == [30, 30, 15]
        and {r[14] for r in sealed} == {75}
        and {r[15] for r in sealed} == {"@稳"}
    )
    waiting = [r for r in mine if r[8] != grader.id]
    assert len(waiting) == 3 and {r[9] for r in waiting} == {"未评"} and {r[11] for r in waiting} == {""}
    assert {r[3] for r in rows} == set(subs)  # every code, each with its two graders' sheets
    assert len(rows) == 3 * 2 * 3
    attendance = [r for r in await rows_of(services, world.exam.id, "attendance") if r[1] == "录制"]
    assert sorted(r[6] for r in attendance) == sorted(a.id for a, _, _ in subs.values())
    assert {r[7] for r in attendance} == {"出席"} and {r[8] for r in attendance} == {"已提交"}


async def test_results_one_row_per_candidate_and_subject(services):
    w, (iv0, _), (c0, c1) = await live_exam(services)
    rows = await rows_of(services, w.exam.id, "results")
    assert all(len(r) == len(COLUMNS["results"]) for r in rows)
    by_number = {r[0]: r for r in rows if r[3] == w.live.world.subjects[0].name}
    assert len(by_number) == len(w.live.world.roster)  # every rostered candidate
    assert by_number[c0.id_number][5] == "评分中" and by_number[c0.id_number][6] == ""  # one sheet is a draft
    assert "83.5" in by_number[c0.id_number][7] and "草稿" in by_number[c0.id_number][7]
    assert by_number[c1.id_number][5] == "移出"
    others = [r for n, r in by_number.items() if n not in (c0.id_number, c1.id_number)]
    assert others and {r[5] for r in others} == {"缺考"}
    # once the second examiner seals, the final mark is the mean of the two totals
    _, second = w.actors
    await services.interview_marks.seal(second, w.room.id, iv0, {"skill": 30, "show": 32, "look": 16}, "")
    rows = await rows_of(services, w.exam.id, "results", page=1)
    mine = next(r for r in rows if r[0] == c0.id_number and r[3] == w.live.world.subjects[0].name)
    assert mine[5:7] == ["已评定", 80.75] and mine[8] == "考官总分的平均分"
    assert Exports(services.store, services.catalog, services.rubrics).columns("results")  # no Results: refused
    with pytest.raises(UserError):
        await rows_of_without_results(services, w.exam.id)


async def rows_of_without_results(services, exam_id):
    async for _ in Exports(services.store, services.catalog, services.rubrics).pages(exam_id, "results"):
        pass


async def test_unknown_kind_and_exam_are_refused(services, world):
    with pytest.raises(UserError) as caught:
        await rows_of(services, world.exam.id, "salaries")
    assert caught.value.code == "export_unknown" and "salaries" in caught.value.message("zh")
    with pytest.raises(UserError) as caught:
        await rows_of(services, "exam_000000000000", "bookings")
    assert caught.value.code == "exam_not_found"
    assert await rows_of(services, world.exam.id, "marks") == []  # nothing marked yet: no rows
