"""Blind double marking over HTTP on a running app (server/http/take_marks_api.py): a grader's queue holds
only their assigned codes (nothing of the candidate in the raw answer), a draft saves and a seal seals; bad
marks, another grader's code, sealing twice, bad bodies: a clear Chinese message and nothing changed; the
admin's progress, catch-up assignment and reopen with a reason."""

from __future__ import annotations

import json

from tests.conftest import ADMIN
from tests.http.test_grading_api import as_user, error
from tests.marking.test_take_marks import full, marked_world
from tests.recorded.conftest import events
from tests.recorded.test_grading import close_window


async def assigned(services, code) -> list[str]:
    return [g["grader_id"] for g in (await services.take_marks.result(code))["graders"]]


async def test_a_grader_sees_their_queue_drafts_and_seals(app, services):
    world, subject, staff, subs = await marked_world(services, 4, 3)
    code = next(iter(subs))
    mine = await assigned(services, code)
    grader = next(g for g in staff if g.id == mine[0])
    client = await as_user(app, grader.username)
    try:
        resp = await client.get("/api/grader/queue")
        assert resp.status == 200
        raw = await resp.text()
        queue = json.loads(raw)["queue"]
        expected = sorted([c for c in subs if grader.id in await assigned(services, c)])
        assert sorted(row["code"] for row in queue) == expected and code in expected
        row = next(r for r in queue if r["code"] == code)
        assert row["sheet"] == {"state": "assigned", "total": None, "saved_at": None}
        assert set(row) == {
            "code",
            "exam",
            "subject",
            "state",
            "duration_s",
            "orientation",
            "video_url",
            "aux",
            "photos",
            "form",
            "question",
            "steps",
            "sheet",
        }
        for account, sitting, take in subs.values():
            for secret in (account.id, account.name, account.id_number, sitting.id, sitting.code, take.id):
                assert secret and secret not in raw

        url = f"/api/grader/submissions/{code}/marks"
        body = await (await client.get(url)).json()
        assert body["sheet"]["state"] == "assigned"
        assert [c["id"] for c in body["rubric"]["criteria"]] == ["skill", "show", "look"]
        assert body["rubric"]["step"] == 0.5 and body["rubric"]["max_total"] == 100

        resp = await client.put(url, json={"marks": {"skill": 20.5}, "comment": "节奏稳"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["sheet"]["marks"] == {"skill": 20.5}
        # bad input: a message, nothing changed
        for marks, code_, words in (
            ({"skill": 40.5}, "mark_over_max", "0 到 40"),
            ({"skill": 20.2}, "mark_not_on_step", "0.5"),
            ({"voice": 1}, "mark_criterion_unknown", "voice"),
            ({"skill": "高"}, "mark_not_number", "技巧"),
        ):
            message = await error(await client.put(url, json={"marks": marks}), 400, code_)
            assert words in message, message
        await error(await client.put(url, json={"marks": [1, 2]}), 400, "field_type")
        await error(await client.put(url, json={"comment": "x"}), 400, "field_required")
        await error(await client.put(url, json={"marks": {}, "extra": 1}), 400, "field_unknown")
        await error(await client.put(url, json={"marks": {}, "comment": "长" * 2001}), 400, "field_too_long")
        await error(await client.put(url, data="nope", headers={"Content-Type": "application/json"}), 400, "bad_json")
        message = await error(await client.post(f"{url}/seal", json={"marks": {"skill": 20}}), 400, "mark_missing")
        assert "表现" in message
        body = await (await client.get(url)).json()
        assert (body["sheet"]["state"], body["sheet"]["marks"], body["sheet"]["comment"]) == (
            "draft",
            {"skill": 20.5},
            "节奏稳",
        )
        # seal
        resp = await client.post(f"{url}/seal", json={"marks": full(20.5, 30, 15), "comment": "节奏稳"})
        assert resp.status == 200, await resp.text()
        sheet = (await resp.json())["sheet"]
        assert (sheet["state"], sheet["total"]) == ("sealed", 65.5) and sheet["sealed_at"]
        message = await error(await client.post(f"{url}/seal", json={"marks": full()}), 409, "take_mark_sealed")
        assert "不能再修改" in message
        await error(await client.put(url, json={"marks": full()}), 409, "take_mark_sealed")
        assert (await (await client.get(url)).json())["sheet"]["total"] == 65.5
        queue = (await (await client.get("/api/grader/queue")).json())["queue"]
        assert next(r for r in queue if r["code"] == code)["sheet"]["state"] == "sealed"
    finally:
        await client.close()


async def test_another_graders_code_is_404_and_changes_nothing(app, services):
    world, subject, staff, subs = await marked_world(services, 2, 3)
    code = next(iter(subs))
    mine = await assigned(services, code)
    outsider = next(g for g in staff if g.id not in mine)
    client = await as_user(app, outsider.username)
    try:
        url = f"/api/grader/submissions/{code}/marks"
        await error(await client.get(url), 404, "submission_not_found")
        await error(await client.put(url, json={"marks": {"skill": 1}}), 404, "submission_not_found")
        await error(await client.post(f"{url}/seal", json={"marks": full()}), 404, "submission_not_found")
        await error(await client.get("/api/grader/submissions/S-22222/marks"), 404, "submission_not_found")
        queue = (await (await client.get("/api/grader/queue")).json())["queue"]
        assert code not in [r["code"] for r in queue]
    finally:
        await client.close()
    assert await services.store.redis.exists(services.store.keys.take_mark(code, outsider.id)) == 0


async def test_the_admin_sees_progress_assigns_and_reopens(app, services):
    world, subject, staff, subs = await marked_world(services, 3, 2)
    code = next(iter(subs))
    first = (await assigned(services, code))[0]
    grader = next(g for g in staff if g.id == first)
    await services.take_marks.seal(grader, code, full(), "")
    admin = await as_user(app, "admin-one")
    try:
        resp = await admin.get(f"/api/admin/exams/{world.exam.id}/marking/progress")
        assert resp.status == 200
        (row,) = (await resp.json())["subjects"]
        assert row["subject"] == {"id": subject.id, "name": subject.name}
        assert (row["submissions"], row["assigned"], row["sealed"], row["final"]) == (3, 6, 1, 0)
        per = {g["grader_id"]: g for g in row["graders"]}
        assert per[grader.id]["sealed"] == 1 and per[grader.id]["name"] == grader.name
        await error(await admin.get("/api/admin/exams/exam_000000000000/marking/progress"), 404, "exam_not_found")

        assign = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/marking/assign"
        resp = await admin.post(assign, json={})
        assert resp.status == 200 and (await resp.json())["added"] == 0
        await error(await admin.post(assign, json={"x": 1}), 400, "field_unknown")
        other = f"/api/admin/exams/{world.exam.id}/subjects/{world.subjects[1].id}/marking/assign"
        await error(await admin.post(other, json={}), 409, "grading_not_recorded")

        reopen = f"/api/admin/take-marks/{code}/{grader.id}/reopen"
        await error(await admin.post(reopen, json={}), 400, "field_required")
        assert await error(await admin.post(reopen, json={"reason": "   "}), 400, "field_required") == "请填写原因"
        await error(
            await admin.post(f"/api/admin/take-marks/{code}/acc_000000000000/reopen", json={"reason": "x"}),
            404,
            "take_mark_not_found",
        )
        resp = await admin.post(reopen, json={"reason": "分数录入错误"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["sheet"]["state"] == "draft"
        await error(await admin.post(reopen, json={"reason": "再次"}), 409, "take_mark_not_sealed")
        (entry,) = await events(services, world.exam.id, "take_mark_reopened")
        assert entry["actor"] == ADMIN.account_id or entry["actor_role"] == "admin"
        assert entry["data"]["reason"] == "分数录入错误" and entry["subject"] == code
    finally:
        await admin.close()


async def test_no_rubric_is_a_clear_409(app, services, world):
    from tests.recorded.conftest import make_recorded

    subject = await make_recorded(services, world)
    admin = await as_user(app, "admin-one")
    try:
        url = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/marking/assign"
        message = await error(await admin.post(url, json={}), 409, "take_marking_no_rubric")
        assert "评分标准" in message
        resp = await admin.get(f"/api/admin/exams/{world.exam.id}/marking/progress")
        (row,) = (await resp.json())["subjects"]
        assert row["rubric"] is False and row["submissions"] == 0
    finally:
        await admin.close()


async def test_malformed_codes_and_ids_are_404_and_roles_are_enforced(app, services):
    world, subject, staff, subs = await marked_world(services, 1, 2)
    code = next(iter(subs))
    admin = await as_user(app, "admin-one")
    grader = await as_user(app, staff[0].username)
    try:
        await error(
            await admin.post(f"/api/admin/take-marks/{code}/x:y/reopen", json={"reason": "r"}), 404, "not_found"
        )
        bad = "/api/admin/take-marks/S-xx:1/" + staff[0].id + "/reopen"
        await error(await admin.post(bad, json={"reason": "r"}), 404, "take_mark_not_found")
        await error(await grader.get("/api/grader/submissions/S-xx:1/marks"), 404, "submission_not_found")
        await error(await grader.get(f"/api/admin/exams/{world.exam.id}/marking/progress"), 403, "forbidden")
        await error(await admin.get("/api/grader/queue"), 403, "forbidden")
        # a candidate's own account is never a grader
        candidate = subs[code][0]
        client = await as_user(app, candidate.phone)
        try:
            await error(await client.get(f"/api/grader/submissions/{code}/marks"), 403, "forbidden")
        finally:
            await client.close()
    finally:
        await admin.close()
        await grader.close()


async def test_proctors_reading_the_audit_cannot_link_a_code_to_a_candidate(app, services):
    """The marking entries are named by code and written right after the candidate's submission: a
    proctor reading the exam's audit would see which code is whose. Admins see them; proctors do not."""
    world, subject, staff, subs = await marked_world(services, 2, 2)
    code = next(iter(subs))
    first = (await assigned(services, code))[0]
    grader = next(g for g in staff if g.id == first)
    await services.take_marks.seal(grader, code, full(), "")
    await services.proctors.assign(ADMIN, world.exam.id, [world.staff["proctor"].id])
    url = f"/api/staff/exams/{world.exam.id}/audit?limit=1000"
    seen = {}
    for login in ("admin-one", "proctor-one"):
        client = await as_user(app, login)
        try:
            resp = await client.get(url)
            assert resp.status == 200, await resp.text()
            seen[login] = {e["event"] for e in (await resp.json())["entries"]}
        finally:
            await client.close()
    assert {"take_marks_assigned", "take_mark_sealed"} <= seen["admin-one"]
    assert not {e for e in seen["proctor-one"] if e.startswith("take_mark")}, seen["proctor-one"]
    assert "sitting_submitted" in seen["proctor-one"]  # the rest of the exam's audit is still theirs


async def test_while_the_window_is_open_the_queue_says_when_and_listing_it_stays_cheap(app, services):
    """The queue lists nothing of a subject whose window is open and says from when it is graded; a sheet is
    409 grading_not_open in Chinese. Listing the queue runs no catch-up: its cost in Redis commands does not
    grow with the subject's submissions (40 here; the catch-up read every one of them on every listing)."""
    world, subject, staff, subs = await marked_world(services, 40, 20, close=False, markers=1)
    grader = staff[0]
    mine = [c for c in subs if grader.id in await assigned(services, c)]
    assert 1 <= len(mine) <= 3  # balanced: 40 submissions, 20 graders, 1 marker each
    client = await as_user(app, grader.username)
    try:
        body = await (await client.get("/api/grader/queue")).json()
        assert body["queue"] == []
        assert body["waiting"] == [
            {
                "subject": {"id": subject.id, "name": subject.name},
                "exam": {"name": world.exam.name},
                "opens_at": subject.window_closes,
            }
        ]
        message = await error(await client.get(f"/api/grader/submissions/{mine[0]}/marks"), 409, "grading_not_open")
        assert "结束后才能评阅" in message
        await close_window(services, world, subject)
        redis = services.store.redis
        before = (await redis.info("stats"))["total_commands_processed"]
        body = await (await client.get("/api/grader/queue")).json()
        spent = (await redis.info("stats"))["total_commands_processed"] - before
        assert sorted(r["code"] for r in body["queue"]) == sorted(mine) and body["waiting"] == []
        assert spent < 60, spent  # 28 measured; the catch-up alone took 166 here (and grows with the sittings)
    finally:
        await client.close()
