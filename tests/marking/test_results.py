"""An exam's results on a real Redis (server/marking/results.py), with interviews run through the real
waiting queue and marked by a real two-examiner panel: sealed marks give the final mark per subject and the
total, absences and removals are stated, pending marks stop the lock, the lock stops every further save,
seal and reopening, publishing needs the lock and happens once, candidates see nothing before it and never
another's result, and the lock and the publication are audited with their actor."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import UserError
from server.roster import idcard
from server.store.models import RosterEntry
from tests.conftest import ADMIN
from tests.recorded.test_grading import close_window, submission

from .test_interview_marks import FULL_1, FULL_2, events, interview, panel_world, refused
from .test_take_marks import _seal_both, assignments, full, marked_world


@pytest.fixture
async def w(services):
    return await panel_world(services)


async def sealed_interview(w, index: int = 0) -> str:
    first, second = w.actors
    iv = await interview(w, index)  # creates candidate ``index``'s account (``account_of``)
    await w.services.interview_marks.seal(first, w.room.id, iv, FULL_1, "")
    await w.services.interview_marks.seal(second, w.room.id, iv, FULL_2, "")
    return iv


async def account_of(w, index: int):
    number = w.live.world.roster[index][1]
    holder = await w.services.store.redis.get(w.services.store.keys.id_claim(number))
    return await w.services.directory.get(holder) if holder else await w.live.world.candidate(index)


async def all_rows(services, exam_id: str, page: int = 500) -> list[dict]:
    """Every row of ``Results.pages`` (the exports' read)."""
    return [r async for rows in services.results.pages(exam_id, page) for r in rows]


def row_of(rows: list[dict], id_number: str) -> dict:
    return next(r for r in rows if r["id_number"] == id_number)


async def test_sealed_marks_give_the_final_mark_per_subject_and_the_total_absences_stated(w, services):
    iv = await sealed_interview(w, 0)  # candidate 0: 声乐 only
    rows = await all_rows(services, w.exam.id)
    assert len(rows) == 4  # every rostered candidate, also those who never registered
    roster = w.live.world.roster
    mine = row_of(rows, roster[0][1])
    (voice,) = mine["subjects"]
    assert voice["subject_name"] == "声乐" and voice["status"] == "final" and voice["interview_id"] == iv
    assert voice["final"] == pytest.approx((83.5 + 78) / 2) and mine["total"] == pytest.approx(80.75)
    assert voice["combination"] == "考官总分的平均分"
    assert sorted((m["name"], m["total"]) for m in voice["markers"]) == [("examiner", 83.5), ("考官乙", 78)]
    # candidate 1 (声乐;器乐) never interviewed: both subjects absent, no total
    other = row_of(rows, roster[1][1])
    assert [c["status"] for c in other["subjects"]] == ["absent", "absent"] and other["total"] is None
    assert other["account_id"] is None  # never registered
    # no pass mark set yet: no outcome
    assert mine["outcome"] is None


async def test_an_interview_called_before_the_candidates_index_existed_still_counts(w, services):
    """A server upgraded during an exam: interviews called before ``interviews:{account}`` was written have
    only their room's list. The first results listing of the exam indexes them, so they are not absences."""
    iv = await sealed_interview(w, 0)
    account_id = await services.store.redis.hget(services.store.keys.interview(iv), "account_id")
    await services.store.redis.delete(services.store.keys.candidate_interviews(account_id))  # as before the upgrade
    row = row_of(await all_rows(services, w.exam.id), w.live.world.roster[0][1])
    assert row["subjects"][0]["status"] == "final" and row["total"] == pytest.approx(80.75)
    assert await services.store.redis.zrange(services.store.keys.candidate_interviews(account_id), 0, -1) == [iv]


async def test_a_removed_interview_and_pending_marks_are_stated_and_pending_stops_the_lock(w, services):
    first, _ = w.actors
    removed = await interview(w, 0, end="removed")
    assert removed
    rows = await all_rows(services, w.exam.id)
    assert row_of(rows, w.live.world.roster[0][1])["subjects"][0]["status"] == "removed"
    iv = await interview(w, 1)
    await services.interview_marks.seal(first, w.room.id, iv, FULL_1, "")  # the second examiner has not
    row = row_of(await all_rows(services, w.exam.id), w.live.world.roster[1][1])
    assert row["subjects"][0]["status"] == "pending" and row["subjects"][0]["final"] is None
    error = await refused(services.results.lock(ADMIN, w.exam.id))
    assert error.code == "results_pending" and "1 项评分未完成" in error.message("zh")
    assert (await services.results.state(w.exam.id))["state"] == "open"  # nothing changed


async def test_the_lock_refuses_every_further_save_seal_and_reopening(w, services):
    marks = services.interview_marks
    first, second = w.actors
    iv = await sealed_interview(w, 0)
    view = await services.results.lock(ADMIN, w.exam.id)
    assert view["state"] == "locked" and view["locked_by"] == ADMIN.account_id
    iv2 = await interview(w, 2)  # an interview after the lock cannot be marked either
    for coro in (
        marks.save(first, w.room.id, iv2, {"skill": 3}, ""),
        marks.seal(second, w.room.id, iv2, FULL_2, ""),
        marks.reopen(ADMIN, iv, first.account_id, "写错了"),
    ):
        error = await refused(coro)
        assert error.code == "results_locked" and error.message("zh") == "本场考试的成绩已锁定，评分不能再修改"
    assert (await marks.sheets(iv))[first.account_id].state == "sealed"
    assert first.account_id not in await marks.sheets(iv2)
    assert (await refused(services.results.lock(ADMIN, w.exam.id))).code == "results_already_locked"
    locked = await events(services, w.exam.id, "results_locked")
    assert len(locked) == 1 and locked[0]["actor"] == ADMIN.account_id and locked[0]["data"]["candidates"] == 4


async def test_a_reopening_between_the_check_and_the_lock_makes_the_lock_refuse(w, services):
    """The lock checks every page for pending marks, then locks: an admin reopening a sheet (or an excuse, a
    seal, a new interview) landing in between would lock a pending row, published as 不合格 under a pass mark.
    The marks' change counter makes the lock refuse instead; locking again then sees the pending mark."""
    first, _ = w.actors
    iv = await sealed_interview(w, 0)
    results = services.results
    checked = results._computed_pages

    async def pages_then_reopen(exam_id):  # the reopening lands while the lock is reading the pages
        async for rows in checked(exam_id):
            yield rows
        await services.interview_marks.reopen(ADMIN, iv, first.account_id, "分数录错")

    results._computed_pages = pages_then_reopen
    try:
        error = await refused(results.lock(ADMIN, w.exam.id))
    finally:
        results._computed_pages = checked
    assert error.code == "results_changed" and "重新锁定" in error.message("zh")
    assert (await results.state(w.exam.id))["state"] == "open" and not await events(
        services, w.exam.id, "results_locked"
    )
    assert (await refused(results.lock(ADMIN, w.exam.id))).code == "results_pending"


async def test_publish_needs_the_lock_and_happens_once_candidates_see_only_their_own_after_it(w, services):
    results = services.results
    await sealed_interview(w, 0)
    me = await account_of(w, 0)
    other = await account_of(w, 2)  # 声乐 only, absent
    assert (await refused(results.publish(ADMIN, w.exam.id))).code == "results_not_locked"
    assert (await refused(results.mine(me, w.exam.id))).code == "results_unpublished"
    await results.set_settings(ADMIN, w.exam.id, {"pass_mark": 80, "show_marks": False})
    await results.lock(ADMIN, w.exam.id)
    error = await refused(results.mine(me, w.exam.id))  # locked is not published
    assert error.code == "results_unpublished" and error.message("zh") == "成绩未发布"
    # the process died between the lock and writing the rows (some written, ``rows_at`` never set):
    # publishing writes them again, so nobody is left with "未发布" for good
    keys = services.store.keys
    await services.store.redis.hdel(keys.results_rows(w.exam.id), w.live.world.roster[0][1])
    await services.store.redis.hdel(keys.results(w.exam.id), "rows_at")
    view = await results.publish(ADMIN, w.exam.id)
    assert view["state"] == "published" and view["published_at"]
    again = await refused(results.publish(ADMIN, w.exam.id))
    assert again.code == "results_published" and "不能重复发布" in again.message("zh")
    assert len(await events(services, w.exam.id, "results_published")) == 1
    published = (await events(services, w.exam.id, "results_published"))[0]
    assert published["actor"] == ADMIN.account_id and published["actor_role"] == "admin"
    # the candidate's own: the outcome only (show_marks off)
    mine = await results.mine(me, w.exam.id)
    assert (mine["published"], mine["outcome"], mine["passed"]) == (True, "合格", True)
    assert "total" not in mine and "subjects" not in mine and mine["name"] == "考生0"
    theirs = await results.mine(other, w.exam.id)
    assert theirs["outcome"] == "不合格" and theirs["name"] == "考生2"
    # settings cannot change after publication
    error = await refused(results.set_settings(ADMIN, w.exam.id, {"show_marks": True}))
    assert error.code == "results_published"
    # an account of no row of this exam gets the same "未发布", as does an exam that does not exist
    assert (await refused(results.mine(w.outsider, w.exam.id))).code == "results_unpublished"
    assert (await refused(results.mine(me, "nope"))).code == "results_unpublished"


async def test_marks_shown_and_a_pass_list_rule(w, services):
    results = services.results
    await sealed_interview(w, 0)
    me = await account_of(w, 0)
    roster = w.live.world.roster
    await results.set_settings(
        ADMIN,
        w.exam.id,
        {"rule": "pass_list", "pass_list": [roster[2][1]], "pass_label": "录取", "fail_label": "未录取"},
    )
    await results.lock(ADMIN, w.exam.id)
    await results.publish(ADMIN, w.exam.id)
    mine = await results.mine(me, w.exam.id)
    assert mine["outcome"] == "未录取" and mine["total"] == pytest.approx(80.75)
    assert mine["subjects"] == [{"subject_name": "声乐", "status": "final", "final": pytest.approx(80.75)}]
    rows = await all_rows(services, w.exam.id)
    assert row_of(rows, roster[2][1])["outcome"] == "录取"


async def test_bad_settings_are_refused_with_a_clear_message_and_change_nothing(w, services):
    results = services.results
    before = await results.state(w.exam.id)
    for body, code, text in (
        ({"rule": "lottery"}, "results_rule_invalid", "公布方式只能是"),
        ({"pass_mark": "六十"}, "field_type", "合格分数线格式不正确"),
        ({"pass_mark": -1}, "field_range", "合格分数线应在 0 到 100000 之间"),
        ({"pass_label": " "}, "field_required", "请填写合格的说法"),
        ({"fail_label": "很" * 21}, "field_too_long", "不合格的说法过长"),
        ({"colour": "red"}, "field_unknown", "不支持的字段：colour"),
    ):
        error = await refused(results.set_settings(ADMIN, w.exam.id, body))
        assert error.code == code and text in error.message("zh"), (body, error.message("zh"))
    assert await results.state(w.exam.id) == before
    assert await events(services, w.exam.id, "results_settings") == []


async def test_a_recorded_subject_gives_the_submissions_final_mark_and_the_lock_stops_its_marking(services):
    world, subject, staff, subs = await marked_world(services, 2, 2)  # 2 markers, gap 10
    code, other = list(subs)
    await _seal_both(services, subject, code, staff, [(30, 30, 15), (32, 30, 14)])  # 75 and 76
    rows = await all_rows(services, world.exam.id)
    account, _, _ = subs[code]
    mine = next(r for r in rows if r["account_id"] == account.id)
    recorded = next(c for c in mine["subjects"] if c["subject_id"] == subject.id)
    assert recorded["kind"] == "recorded" and recorded["status"] == "final" and recorded["code"] == code
    assert recorded["final"] == 75.5 and sorted(m["total"] for m in recorded["markers"]) == [75, 76]
    assert "第三位评阅人" in recorded["combination"]
    theirs = next(r for r in rows if r["account_id"] == subs[other][0].id)
    assert next(c for c in theirs["subjects"] if c["subject_id"] == subject.id)["status"] == "pending"
    assert (await refused(services.results.lock(ADMIN, world.exam.id))).code == "results_pending"
    by_id = {g.id: g for g in staff}
    first_id, second_id = (await assignments(services, subject.id, [other]))[other]
    await services.take_marks.seal(by_id[first_id], other, full(20, 20, 10), "")
    # the other submission's second grader has only a draft; finishing it, then the lock
    await services.take_marks.seal(by_id[second_id], other, full(20, 20, 10), "")
    await services.results.lock(ADMIN, world.exam.id)
    tm = services.take_marks
    assert (await refused(tm.reopen(ADMIN, code, staff[0].id, "改分"))).code == "results_locked"
    _, sheet, _ = await tm.sheet(by_id[first_id], other)
    assert sheet.state == "sealed" and sheet.total == 50  # nothing changed
    # a submission made after the lock (candidate 2) cannot be marked either
    await close_window(services, world, subject, open_again=True)  # the admin extended the window
    late_sitting = (await submission(services, world, 2, subject))[1]
    await close_window(services, world, subject)
    late = await services.grading.code_for(late_sitting)
    late_grader = by_id[(await assignments(services, subject.id, [late]))[late][0]]
    assert (await refused(tm.save(late_grader, late, {"skill": 1}, ""))).code == "results_locked"
    assert (await refused(tm.seal(late_grader, late, full(), ""))).code == "results_locked"
    _, sheet, _ = await tm.sheet(late_grader, late)
    assert sheet.state == "assigned"


async def test_the_rows_are_the_same_page_by_page_in_id_number_order_and_locked_rows_stay_as_locked(w, services):
    """The exports and the admin's page read the rows a page of candidates at a time: any page size gives
    the same rows, in ID-number order; once locked, the rows written at the lock (a candidate added to the
    roster afterwards is not in them)."""
    results = services.results
    await sealed_interview(w, 0)
    await interview(w, 1, end="removed")
    rows = await all_rows(services, w.exam.id)
    assert [r["id_number"] for r in rows] == sorted(n for _, n, *_ in w.live.world.roster)
    for size in (1, 2, 3):
        assert await all_rows(services, w.exam.id, page=size) == rows
    view = await results.admin_view(w.exam.id, offset=1, limit=2)
    assert view["rows"] == rows[1:3] and (view["offset"], view["limit"], view["count"]) == (1, 2, 4)
    assert (await results.admin_view(w.exam.id, offset=4, limit=2))["rows"] == []
    await results.lock(ADMIN, w.exam.id)
    keys, redis = services.store.keys, services.store.redis
    late = RosterEntry(w.exam.id, idcard.make("110101", "20060101", 90), "补录考生", subjects=[w.subject_id])
    pipe = redis.pipeline(transaction=True)
    services.roster.queue_put(pipe, late)
    await pipe.execute()
    locked = await all_rows(services, w.exam.id, page=3)
    assert [r["id_number"] for r in locked] == [r["id_number"] for r in rows]  # as locked
    assert [r["total"] for r in locked] == [r["total"] for r in rows]
    assert (await results.admin_view(w.exam.id, offset=0, limit=50))["count"] == 4
    assert await redis.zcard(keys.results_ids(w.exam.id)) == 4


async def test_two_admins_saving_the_wording_at_once_never_lose_a_save(w, services):
    """A check-and-set: the page sends the version its form was read at; of two saves from the same version
    exactly one lands and the other is told (results_settings_conflict, nothing changed); partial saves
    without a version (API clients) are merged again when another landed between, so none is lost."""
    results = services.results
    for n in range(10):
        version = (await results.state(w.exam.id))["settings_version"]
        outcomes = await asyncio.gather(
            results.set_settings(ADMIN, w.exam.id, {"pass_mark": 60 + n, "version": version}),
            results.set_settings(ADMIN, w.exam.id, {"pass_label": f"录取{n}", "version": version}),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, UserError)]
        assert len(errors) == 1 and errors[0].code == "results_settings_conflict", outcomes
        assert "其他管理员修改" in errors[0].message("zh")
        state = await results.state(w.exam.id)
        assert state["settings_version"] == version + 1  # one save, not two
        landed = 0 if not isinstance(outcomes[0], UserError) else 1
        assert (state["settings"]["pass_mark"] == 60 + n) == (landed == 0)
    # partial saves without a version: both land, whatever their order
    await asyncio.gather(
        *[results.set_settings(ADMIN, w.exam.id, {"pass_mark": 70}) for _ in range(3)],
        *[results.set_settings(ADMIN, w.exam.id, {"fail_label": "未录取"}) for _ in range(3)],
    )
    settings = (await results.state(w.exam.id))["settings"]
    assert settings["pass_mark"] == 70 and settings["fail_label"] == "未录取"
    # a stale version alone is refused, nothing changed; a version of the wrong type too
    before = await results.state(w.exam.id)
    error = await refused(results.set_settings(ADMIN, w.exam.id, {"pass_mark": 1, "version": 0}))
    assert error.code == "results_settings_conflict"
    assert (await refused(results.set_settings(ADMIN, w.exam.id, {"version": "1"}))).code == "field_type"
    assert await results.state(w.exam.id) == before
    entry = (await events(services, w.exam.id, "results_settings"))[0]
    assert entry["data"]["version"] == before["settings_version"]
