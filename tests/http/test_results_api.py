"""Results over HTTP on a running app (server/http/results_api.py): the admin reads the rows, sets the
wording (every bad setting a Chinese message naming it, nothing changed), locks (a seal after it refused
with results_locked), publishes once; a candidate gets 404 "未发布" before publication and their own result
after it, never another's; the results page and the link from the exam list."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, login, new_client
from tests.http.test_grading_api import as_user, error
from tests.marking.test_interview_marks import FULL_2, interview, panel_world
from tests.marking.test_results import sealed_interview


async def as_candidate(app, index: int):
    client = await new_client(app)
    await login(client, f"139{index:08d}", PASSWORD)
    return client


async def test_results_lock_publish_and_the_candidates_own_result(app, services):
    w = await panel_world(services)
    await sealed_interview(w, 0)
    iv = await interview(w, 2)  # candidate 2: interviewed, not marked yet
    admin = await as_user(app, "admin-one")
    me, other = await as_candidate(app, 0), await as_candidate(app, 2)
    base = f"/api/admin/exams/{w.exam.id}/results"
    try:
        resp = await admin.get(base)
        assert resp.status == 200
        body = await resp.json()
        assert body["state"] == "open" and len(body["rows"]) == 4
        mine = next(r for r in body["rows"] if r["name"] == "考生0")
        assert mine["total"] == pytest.approx(80.75) and mine["subjects"][0]["status"] == "final"
        # before publication: 未发布, for the candidate's own exam and for a made-up one alike
        mine_url = f"/api/candidate/exams/{w.exam.id}/results"
        assert await error(await me.get(mine_url), 404, "results_unpublished") == "成绩未发布"
        await error(await me.get("/api/candidate/exams/exam_000000000000/results"), 404, "results_unpublished")
        # bad settings: a clear message, nothing changed
        for payload, status, code, words in (
            ({"rule": "lottery"}, 400, "results_rule_invalid", "公布方式"),
            ({"pass_mark": "六十"}, 400, "field_type", "合格分数线"),
            ({"show_marks": "yes"}, 400, "field_type", "是否公布分数"),
            ({"pass_list": "110101"}, 400, "field_type", "合格名单"),
            ({"nope": 1}, 400, "field_unknown", "nope"),
        ):
            assert words in await error(await admin.put(f"{base}/settings", json=payload), status, code)
        assert (await (await admin.get(base)).json())["settings"]["rule"] == "pass_mark"
        resp = await admin.put(f"{base}/settings", json={"pass_mark": 80, "show_marks": True})
        assert resp.status == 200 and (await resp.json())["settings"]["pass_mark"] == 80
        # publishing needs the lock; the lock needs every mark final
        await error(await admin.post(f"{base}/publish"), 409, "results_not_locked")
        assert "评分未完成" in await error(await admin.post(f"{base}/lock"), 409, "results_pending")
        first, second = w.actors
        await services.interview_marks.seal(first, w.room.id, iv, FULL_2, "")
        await services.interview_marks.seal(second, w.room.id, iv, FULL_2, "")
        resp = await admin.post(f"{base}/lock")
        assert resp.status == 200 and (await resp.json())["state"] == "locked"
        await error(await admin.post(f"{base}/lock"), 409, "results_already_locked")
        # a reopening after the lock is refused over HTTP too
        reopen = f"/api/admin/interviews/{iv}/marks/{first.account_id}/reopen"
        assert "已锁定" in await error(await admin.post(reopen, json={"reason": "改分"}), 409, "results_locked")
        await error(await me.get(mine_url), 404, "results_unpublished")  # locked is not published
        resp = await admin.post(f"{base}/publish")
        assert resp.status == 200 and (await resp.json())["state"] == "published"
        assert "不能重复发布" in await error(await admin.post(f"{base}/publish"), 409, "results_published")
        await error(await admin.put(f"{base}/settings", json={"show_marks": False}), 409, "results_published")
        # the candidate's own, never another's
        resp = await me.get(mine_url)
        got = await resp.json()
        assert resp.status == 200 and got["name"] == "考生0" and got["outcome"] == "合格"
        assert got["total"] == pytest.approx(80.75)
        got = await (await other.get(mine_url)).json()
        assert got["name"] == "考生2" and got["outcome"] == "不合格" and got["total"] == 78
        # roles: a candidate cannot reach the admin's routes, the admin not the candidate's
        assert (await me.get(base)).status == 403
        assert (await admin.get(mine_url)).status == 403
        # the page and the link from the exam list
        page = await me.get(f"/candidate/exams/{w.exam.id}/results")
        assert page.status == 200 and "/static/js/results.js" in await page.text()
        assert 'id="results-card"' in await (await me.get("/candidate")).text()
        events = [e["event"] for e in await services.audit.read(w.exam.id, count=2000)]
        assert events.count("results_locked") == 1 and events.count("results_published") == 1
    finally:
        for client in (admin, me, other):
            await client.close()


async def test_the_admins_results_are_paged_and_the_wording_is_a_check_and_set(app, services):
    w = await panel_world(services)
    await sealed_interview(w, 0)
    admin = await as_user(app, "admin-one")
    base = f"/api/admin/exams/{w.exam.id}/results"
    try:
        body = await (await admin.get(base + "?offset=1&limit=2")).json()
        assert (body["offset"], body["limit"], body["count"], len(body["rows"])) == (1, 2, 4, 2)
        numbers = sorted(n for _, n, *_ in w.live.world.roster)
        assert [r["id_number"] for r in body["rows"]] == numbers[1:3]
        for query, code in (
            ("offset=-1", "field_range"),
            ("limit=0", "field_range"),
            ("limit=501", "field_range"),
            ("offset=abc", "field_type"),
            ("limit=1e3", "field_type"),
        ):
            await error(await admin.get(f"{base}?{query}"), 400, code)
        version = body["settings_version"]
        resp = await admin.put(f"{base}/settings", json={"pass_mark": 60, "version": version})
        assert resp.status == 200 and (await resp.json())["settings_version"] == version + 1
        # another admin's form, read before that save: told, nothing changed
        stale = await admin.put(f"{base}/settings", json={"pass_mark": 90, "version": version})
        assert "其他管理员修改" in await error(stale, 409, "results_settings_conflict")
        assert (await (await admin.get(base)).json())["settings"]["pass_mark"] == 60
    finally:
        await admin.close()
