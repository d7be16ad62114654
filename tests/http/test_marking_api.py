"""Marking over HTTP on a running app (server/http/marking_api.py): the admin's rubric (set, read, every
bad field a Chinese message naming it and nothing changed, frozen once a mark is sealed); an examiner's
marking card of an interview of their room (draft, seal, a second seal refused, bad marks refused with
nothing changed, others' marks hidden until both sealed, the final mark), the unfinished list, another
room's examiner and forged ids refused, and the admin's reopening with a reason."""

from __future__ import annotations

from tests.http.test_grading_api import as_user, error
from tests.marking.test_interview_marks import FULL_1, FULL_2, RUBRIC, interview, panel_world


async def test_the_admin_sets_a_subjects_rubric(app, services):
    w = await panel_world(services)
    admin = await as_user(app, "admin-one")
    try:
        subject = w.live.world.subjects[1]  # no rubric yet
        url = f"/api/admin/exams/{w.exam.id}/subjects/{subject.id}/rubric"
        resp = await admin.get(url)
        assert resp.status == 200 and await resp.json() == {"rubric": None, "in_use": False}
        bad = [
            ({**RUBRIC, "step": 0.25}, "rubric_step_invalid", "评分步长只能是 1 或 0.5"),
            (
                {**RUBRIC, "criteria": [{"id": "skill", "name": "技巧", "max": 40.5}], "step": 1},
                "rubric_max_not_on_step",
                "技巧",
            ),
            ({**RUBRIC, "combine": "median"}, "rubric_combine_invalid", "合分方式"),
            ({**RUBRIC, "criteria": []}, "rubric_criteria_count", "评分项"),
            ({**RUBRIC, "extra": 1}, "field_unknown", "extra"),
        ]
        for body, code, words in bad:
            assert words in await error(await admin.put(url, json=body), 400, code)
        assert (await (await admin.get(url)).json())["rubric"] is None  # nothing changed
        resp = await admin.put(url, json={**RUBRIC, "combine": "trimmed_mean"})
        assert resp.status == 200, await resp.text()
        saved = (await resp.json())["rubric"]
        assert saved["max_total"] == 100 and saved["combine"] == "trimmed_mean" and saved["version"] == 1
        assert [c["name"] for c in saved["criteria"]] == ["技巧", "表现", "形象"]
        got = await (await admin.get(url)).json()
        assert got["rubric"] == saved
        other = f"/api/admin/exams/{w.exam.id}/subjects/subj_000000000000/rubric"
        await error(await admin.put(other, json=RUBRIC), 404, "subject_not_found")
    finally:
        await admin.close()


async def panel_clients(app, services):
    """A two-examiner panel's ended interview, each examiner and the admin logged in."""
    w = await panel_world(services)
    iv = await interview(w)
    first, second = await as_user(app, "examiner-one"), await as_user(app, "examiner-two")
    return w, iv, first, second, await as_user(app, "admin-one")


async def test_an_examiner_drafts_seals_and_sees_the_others_only_after_all_sealed(app, services):
    w, iv, first, second, admin = await panel_clients(app, services)
    try:
        url = f"/api/examiner/rooms/{w.room.id}/interviews/{iv}/marks"
        card = await (await first.get(url)).json()
        assert card["mine"]["state"] == "none" and card["rubric"]["step"] == 0.5
        assert card["interview"]["candidate_name"] == w.live.world.roster[0][0]
        assert [p["sealed"] for p in card["panel"]] == [False, False]
        # bad marks: a clear message, nothing saved
        for marks, code, words in (
            ({"skill": 45}, "mark_over_max", "“技巧”的分数应在 0 到 40 分之间"),
            ({"skill": 30.3}, "mark_not_on_step", "0.5 的整数倍"),
            ({"voice": 3}, "mark_criterion_unknown", "voice"),
            ({"skill": "很好"}, "mark_not_number", "应为数字"),
        ):
            assert words in await error(await first.put(url, json={"marks": marks}), 400, code)
        await error(await first.put(url, json={"marks": [1]}), 400, "field_type")
        await error(await first.put(url, json={"marks": {}, "comment": "长" * 1001}), 400, "field_too_long")
        assert await services.interview_marks.sheets(iv) == {}
        # a draft, then an incomplete seal refused
        resp = await first.put(url, json={"marks": {"skill": 35, "show": None}, "comment": "音色明亮"})
        assert resp.status == 200 and (await resp.json())["sheet"]["state"] == "draft"
        assert (await (await first.get(url)).json())["mine"]["marks"] == {"skill": 35}
        message = await error(await first.post(url + "/seal", json={"marks": {"skill": 35}}), 400, "mark_missing")
        assert message == "请为“表现”打分后再提交"
        # sealed, then immutable
        resp = await first.post(url + "/seal", json={"marks": FULL_1, "comment": "音色明亮"})
        assert resp.status == 200, await resp.text()
        card = await resp.json()
        assert card["mine"]["state"] == "sealed" and card["mine"]["total"] == 83.5
        assert card["others"] == [] and card["final"] is None
        await error(await first.post(url + "/seal", json={"marks": FULL_2}), 409, "marks_sealed")
        await error(await first.put(url, json={"marks": {"skill": 1}}), 409, "marks_sealed")
        # the second examiner does not see the first's marks before sealing
        theirs = await (await second.get(url)).json()
        assert theirs["others"] == [] and "音色明亮" not in str(theirs) and "83.5" not in str(theirs)
        assert {p["name"]: p["sealed"] for p in theirs["panel"]} == {"examiner": True, "考官乙": False}
        unfinished = await (await second.get("/api/examiner/marking/unfinished")).json()
        assert [i["interview_id"] for i in unfinished["interviews"]] == [iv]
        assert (await (await first.get("/api/examiner/marking/unfinished")).json())["interviews"] == []
        resp = await second.post(url + "/seal", json={"marks": FULL_2, "comment": "节奏稳"})
        card = await resp.json()
        assert card["all_sealed"] and card["final"] == 80.75
        assert [(o["name"], o["total"], o["comment"]) for o in card["others"]] == [("examiner", 83.5, "音色明亮")]
        # the admin sees every sheet, and reopens one with a reason
        admin_url = f"/api/admin/interviews/{iv}/marks"
        seen = await (await admin.get(admin_url)).json()
        assert seen["status"]["final"] == 80.75 and len(seen["sheets"]) == 2
        reopen = f"{admin_url}/{w.second.id}/reopen"
        await error(await admin.post(reopen, json={}), 400, "field_required")
        resp = await admin.post(reopen, json={"reason": "形象分录入错误"})
        assert resp.status == 200 and (await resp.json())["sheet"]["state"] == "draft"
        await error(await admin.post(reopen, json={"reason": "再次"}), 409, "marks_not_sealed")
        assert (await (await first.get(url)).json())["others"] == []  # hidden again
        rows = await (await second.get(f"/api/examiner/rooms/{w.room.id}/interviews")).json()
        assert [(r["interview_id"], r["marks_state"]) for r in rows["interviews"]] == [(iv, "draft")]
    finally:
        for client in (first, second, admin):
            await client.close()


async def test_another_rooms_examiner_and_forged_ids_are_not_found(app, services):
    w = await panel_world(services)
    iv = await interview(w)
    outsider, first = await as_user(app, "examiner-three"), await as_user(app, "examiner-one")
    try:
        other_room = w.live.world.rooms[1].id
        for client, room, interview_id in (
            (outsider, w.room.id, iv),
            (outsider, other_room, iv),
            (first, w.room.id, "adm_ffffffffffff"),
            (first, other_room, iv),
        ):
            url = f"/api/examiner/rooms/{room}/interviews/{interview_id}/marks"
            await error(await client.get(url), 404, "interview_not_found")
            await error(await client.put(url, json={"marks": {"skill": 1}}), 404, "interview_not_found")
            await error(await client.post(url + "/seal", json={"marks": FULL_1}), 404, "interview_not_found")
        await error(await first.get(f"/api/examiner/rooms/{w.room.id}/interviews/x/marks"), 404, "interview_not_found")
        await error(await outsider.get(f"/api/examiner/rooms/{w.room.id}/interviews"), 404, "room_not_found")
        assert await services.interview_marks.sheets(iv) == {}
        # the rubric cannot change once sealed
        await first.post(f"/api/examiner/rooms/{w.room.id}/interviews/{iv}/marks/seal", json={"marks": FULL_1})
        admin = await as_user(app, "admin-one")
        try:
            url = f"/api/admin/exams/{w.exam.id}/subjects/{w.subject_id}/rubric"
            assert (await (await admin.get(url)).json())["in_use"] is True
            await error(await admin.put(url, json=RUBRIC), 409, "rubric_in_use")
        finally:
            await admin.close()
    finally:
        await outsider.close()
        await first.close()


async def test_the_admin_excuses_an_absent_examiner_over_http_and_nobody_else_may(app, services):
    """POST .../excuse: admins only (the examiners of the room get 403, so they cannot drop a colleague); a
    reason is required; afterwards the present examiner sees the final mark and the excused one's seal is
    refused with the reason's message."""
    w, iv, first, second, admin = await panel_clients(app, services)
    try:
        url = f"/api/examiner/rooms/{w.room.id}/interviews/{iv}/marks"
        assert (await first.post(url + "/seal", json={"marks": FULL_1})).status == 200
        excuse = f"/api/admin/interviews/{iv}/marks/{w.second.id}/excuse"
        assert (await first.post(excuse, json={"reason": "他没来"})).status == 403  # a colleague cannot
        assert (await second.post(excuse, json={"reason": "我不想评"})).status == 403
        await error(await admin.post(excuse, json={}), 400, "field_required")
        await error(await admin.post(excuse, json={"reason": "x" * 201}), 400, "field_too_long")
        first_excuse = f"/api/admin/interviews/{iv}/marks/{w.first.id}/excuse"
        assert "先重新开放" in await error(
            await admin.post(first_excuse, json={"reason": "x"}), 409, "marks_excuse_sealed"
        )
        assert (await (await first.get(url)).json())["final"] is None  # nothing changed yet
        resp = await admin.post(excuse, json={"reason": "考官乙未到场"})
        assert resp.status == 200, await resp.text()
        status = (await resp.json())["status"]
        assert status["excused"] == [w.second.id] and status["final"] == 83.5 and status["all_sealed"]
        card = await (await first.get(url)).json()
        assert card["final"] == 83.5 and [e["account_id"] for e in card["excused"]] == [w.second.id]
        message = await error(await second.post(url + "/seal", json={"marks": FULL_2}), 409, "marks_excused")
        assert message == "管理员已免除您对这场面试的评分，不能再评分"
        await error(await admin.post(excuse, json={"reason": "again"}), 409, "marks_excused_already")
    finally:
        for client in (first, second, admin):
            await client.close()
