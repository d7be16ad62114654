"""Recorded exams over HTTP on a running app: the admin sets a subject's rules, a candidate enters,
films (the media side's reports through the domain, as signaling/recorded.py makes them), submits;
bad input answers a clear Chinese message and changes nothing; the submissions CSV is UTF-8 with a
BOM and formula-safe."""

from __future__ import annotations

import asyncio
import csv
import io
import time

from server.roster.photos import PhotoSource
from server.store.models import public
from tests.conftest import ADMIN, PASSWORD, login, new_client
from tests.http.test_grading_api import error
from tests.recorded.conftest import DEVICE, OTHER_DEVICE, make_recorded, pass_face


async def as_admin(app):
    client = await new_client(app)
    await login(client, "admin-one", PASSWORD)
    return client


async def set_rules(admin, world, **rules):
    subject = world.subjects[0]
    now = time.time()
    body = {"kind": "recorded", "window_opens": now - 60, "window_closes": now + 3600, **rules}
    resp = await admin.put(f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}", json=body)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["subject"]


async def test_admin_sets_the_rules_and_bad_rules_change_nothing(app, http, world, services):
    admin = await as_admin(app)
    try:
        url = f"/api/admin/exams/{world.exam.id}/subjects/{world.subjects[0].id}"
        subject = await set_rules(
            admin,
            world,
            takes_allowed=3,
            time_limit_min=50,
            window_opens="2030-06-01T09:00",
            window_closes="2030-06-01T10:00",
        )
        assert (subject["kind"], subject["takes_allowed"], subject["time_limit_min"]) == ("recorded", 3, 50)
        assert subject["window_opens"] == 1906506000.0  # 09:00 Beijing time
        before = await services.catalog.subject(world.exam.id, world.subjects[0].id)
        message = await error(await admin.put(url, json={"takes_allowed": 11}), 400, "field_range")
        assert message == "可录制次数应在 1 到 10 之间"
        await error(await admin.put(url, json={"kind": "video"}), 400, "subject_kind_invalid")
        message = await error(
            await admin.put(url, json={"window_closes": "2030-06-01T08:00"}), 400, "recorded_window_times"
        )
        assert message == "考试结束时间须晚于开始时间"
        await error(await admin.put(url, json={"colour": 1}), 400, "field_unknown")
        await error(await admin.put(url, json={"cut_take_counts": "yes"}), 400, "field_type")
        await error(
            await admin.put(f"/api/admin/exams/{world.exam.id}/subjects/subj_000000000000", json={}),
            404,
            "subject_not_found",
        )
        assert await services.catalog.subject(world.exam.id, world.subjects[0].id) == before
        # a candidate may not set rules
        candidate = await world.candidate(0)
        await login(http, candidate.phone, PASSWORD)
        await error(await http.put(url, json={"takes_allowed": 2}), 403, "forbidden")
    finally:
        await admin.close()


async def test_a_candidate_films_and_submits(app, http, world, services):
    admin = await as_admin(app)
    try:
        subject = await set_rules(admin, world, takes_allowed=2)
    finally:
        await admin.close()
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    resp = await http.get(f"/api/candidate/exams/{world.exam.id}/recorded")
    assert resp.status == 200
    (view,) = (await resp.json())["subjects"]
    assert view["subject"]["id"] == subject["id"] and view["sittings"]["formal"] is None and view["window"] == "open"

    enter_url = f"/api/candidate/exams/{world.exam.id}/recorded/{subject['id']}/sittings"
    resp = await http.post(enter_url, json={"mode": "formal", "device": DEVICE})
    assert resp.status == 201, await resp.text()
    sitting = (await resp.json())["sitting"]
    assert len(sitting["code"]) == 4 and sitting["state"] == "in_progress" and sitting["takes_left"] == 2
    message = await error(
        await http.post(enter_url, json={"mode": "formal", "device": OTHER_DEVICE}), 409, "sitting_other_device"
    )
    assert "另一台设备" in message

    takes_url = f"/api/candidate/sittings/{sitting['id']}/takes"
    body = {"device": DEVICE, "camera": "front", "orientation": "portrait"}
    message = await error(await http.post(takes_url, json=body), 409, "take_face_check")
    assert message == "请先完成人脸识别，通过后才能开始录制"
    await pass_face(services, world.exam.id, account)
    resp = await http.post(takes_url, json=body)
    assert resp.status == 201
    take = (await resp.json())["take"]
    assert take["state"] == "recording" and take["video_url"] is None
    await error(await http.post(takes_url, json=body), 409, "take_running")
    # the media side ends it and writes the playable file
    await services.sittings.take_ended(take["id"], "complete", 33.3)
    await services.sittings.take_playable(take["id"], {"playable.webm": {"sha256": "cd" * 32}, "aux-1.webm": "ef" * 32})

    resp = await http.get(f"/api/candidate/sittings/{sitting['id']}")
    assert resp.status == 200
    state = await resp.json()
    assert state["deadline"] == sitting["deadline"] and abs(state["now"] - time.time()) < 5
    (listed,) = state["takes"]
    assert listed["state"] == "complete" and listed["duration_s"] == 33.3 and listed["sha256"] == "cd" * 32
    assert listed["video_url"] == f"/api/candidate/takes/{take['id']}/video"
    assert listed["aux_urls"] == [f"/api/candidate/takes/{take['id']}/aux/1"]

    submit_url = f"/api/candidate/sittings/{sitting['id']}/submit"
    await error(await http.post(submit_url, json={"take_id": "take_000000000000"}), 404, "take_not_found")
    await error(await http.post(submit_url, json={}), 400, "field_required")
    resp = await http.post(submit_url, json={"take_id": take["id"]})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["sitting"]["state"] == "submitted" and done["take"]["sha256"] == "cd" * 32
    message = await error(await http.post(takes_url, json=body), 409, "sitting_over")
    assert "不能再录制" in message
    await error(await http.post(submit_url, json={"take_id": take["id"]}), 409, "sitting_over")
    await error(await http.post(f"/api/candidate/sittings/{sitting['id']}/reset", json={}), 409, "sitting_over")
    (view,) = (await (await http.get(f"/api/candidate/exams/{world.exam.id}/recorded")).json())["subjects"]
    assert view["submission"]["take"]["id"] == take["id"] and view["sittings"]["formal"]["state"] == "submitted"


async def test_bad_input_and_other_candidates_ids_change_nothing(app, http, world, services):
    admin = await as_admin(app)
    try:
        subject = await set_rules(admin, world)
    finally:
        await admin.close()
    owner = await world.candidate(0)
    await pass_face(services, world.exam.id, owner)
    sitting = await services.sittings.enter(owner, world.exam.id, subject["id"], "formal", DEVICE)
    intruder = await world.candidate(1)
    await login(http, intruder.phone, PASSWORD)
    audit_before = await services.store.redis.xlen(services.store.keys.audit(world.exam.id))
    sitting_before = await services.store.redis.hgetall(services.store.keys.sitting(sitting.id))

    body = {"device": DEVICE, "camera": "front", "orientation": "portrait"}
    for sitting_id in (sitting.id, "sitt_000000000000", "sitt_nope"):
        await error(await http.get(f"/api/candidate/sittings/{sitting_id}"), 404, "sitting_not_found")
        await error(await http.post(f"/api/candidate/sittings/{sitting_id}/takes", json=body), 404, "sitting_not_found")
        await error(
            await http.post(f"/api/candidate/sittings/{sitting_id}/submit", json={"take_id": "take_000000000000"}),
            404,
            "sitting_not_found",
        )
        await error(await http.post(f"/api/candidate/sittings/{sitting_id}/reset", json={}), 404, "sitting_not_found")
    mine = (
        await (
            await http.post(
                f"/api/candidate/exams/{world.exam.id}/recorded/{subject['id']}/sittings",
                json={"mode": "formal", "device": DEVICE},
            )
        ).json()
    )["sitting"]
    url = f"/api/candidate/sittings/{mine['id']}/takes"
    message = await error(await http.post(url, json={**body, "camera": "side"}), 400, "field_invalid")
    assert message == "摄像头不正确"
    await error(await http.post(url, json={**body, "orientation": 3}), 400, "field_type")
    await error(await http.post(url, json={**body, "extra": 1}), 400, "field_unknown")
    await error(await http.post(url, data="{", headers={"Content-Type": "application/json"}), 400, "bad_json")
    enter = f"/api/candidate/exams/{world.exam.id}/recorded/{subject['id']}/sittings"
    message = await error(await http.post(enter, json={"mode": "exam", "device": DEVICE}), 400, "sitting_mode_invalid")
    assert "正式考" in message
    await error(
        await http.post(
            f"/api/candidate/exams/{world.exam.id}/recorded/{world.subjects[1].id}/sittings",
            json={"mode": "formal", "device": DEVICE},
        ),
        409,
        "sitting_not_recorded",
    )
    assert await services.store.redis.hgetall(services.store.keys.sitting(sitting.id)) == sitting_before
    # only the intruder's own entry was written
    assert await services.store.redis.xlen(services.store.keys.audit(world.exam.id)) == audit_before + 1
    await http.get("/lang/en?next=/")
    resp = await http.post(url, json={**body, "camera": "side"})
    assert (await resp.json())["error"]["message"] == "Camera is not valid"


async def test_the_admin_lists_and_exports_submissions(app, http, world, services):
    # a subject whose name a spreadsheet would run, on every candidate's roster row
    now = time.time()
    odd = await services.catalog.add_subject(
        ADMIN, world.exam.id, "=HYPERLINK(1)", 10, kind="recorded", window_opens=now - 60, window_closes=now + 3600
    )
    lines = ["姓名,身份证号,手机号,报考科目"] + [f"{n},{num},,声乐;=HYPERLINK(1)" for n, num, _ in world.roster]
    report = await services.importer.import_csv(ADMIN, world.exam.id, "\n".join(lines).encode(), PhotoSource.empty())
    assert report.rejected == 0, report.to_json("zh")
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, odd.id, "formal", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    await services.sittings.take_ended(take.id, "complete", 12.0)
    await services.sittings.take_playable(take.id, {"playable.webm": {"sha256": "12" * 32}})
    await services.sittings.submit(account, sitting.id, take.id)

    await login(http, "admin-one", PASSWORD)
    resp = await http.get(f"/api/admin/exams/{world.exam.id}/sittings?subject={odd.id}")
    assert resp.status == 200
    rows = (await resp.json())["sittings"]
    assert len(rows) == 3
    mine = next(r for r in rows if r["account_id"] == account.id)
    assert (mine["state"], mine["code"], mine["face"]["status"]) == ("submitted", sitting.code, "passed")
    assert mine["takes"][0]["video_url"] == f"/api/admin/takes/{take.id}/video"
    assert {r["state"] for r in rows if r is not mine} == {"not_started"}

    resp = await http.get(f"/api/admin/exams/{world.exam.id}/submissions.csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:4] == ["科目", "姓名", "证件号码", "状态"]
    submitted = next(r for r in table[1:] if r[2] == account.id_number and r[4])
    assert submitted[0] == "'=HYPERLINK(1)"  # never run as a formula
    assert (submitted[3], submitted[4], submitted[7], submitted[8], submitted[9]) == (
        "已提交",
        sitting.code,
        take.id,
        "12.0",
        "12" * 32,
    )
    assert not any(cell and cell[0] in "=+-@" for row in table for cell in row)
    assert len(table) == 1 + 3  # every candidate of the recorded subject (声乐 is a live interview here)


async def test_the_running_app_ends_sittings_at_their_deadline(app, http, world, services):
    """The app's own loop (every recorded_sweep_s): a sitting with a complete take is auto-submitted at
    its deadline, one with none is absent; the candidate sees which happened."""
    # (through the domain: closing a second client of the same app would stop the app's loops)
    subject = public(await make_recorded(services, world, window_closes=time.time() + 2))
    filmer, idle = await world.candidate(0), await world.candidate(1)
    await pass_face(services, world.exam.id, filmer)
    sitting = await services.sittings.enter(filmer, world.exam.id, subject["id"], "formal", DEVICE)
    take = await services.sittings.start_take(filmer, sitting.id, DEVICE, "front", "portrait")
    await services.sittings.take_ended(take.id, "complete", 1.5)
    nothing = await services.sittings.enter(idle, world.exam.id, subject["id"], "formal", DEVICE)
    await login(http, filmer.phone, PASSWORD)
    for _ in range(80):  # the deadline is 2 s away; the loop runs every second
        await asyncio.sleep(0.1)
        state = (await (await http.get(f"/api/candidate/sittings/{sitting.id}")).json())["sitting"]
        if state["state"] != "in_progress":
            break
    assert (state["state"], state["submitted_take"], state["ended_by"]) == ("auto_submitted", take.id, "system")
    assert time.time() >= sitting.deadline
    (view,) = (await (await http.get(f"/api/candidate/exams/{world.exam.id}/recorded")).json())["subjects"]
    assert view["submission"]["state"] == "auto_submitted" and view["submission"]["take"]["id"] == take.id
    for _ in range(30):
        if (await services.sittings.sitting_of(idle, nothing.id)).state == "absent":
            break
        await asyncio.sleep(0.1)
    assert (await services.sittings.sitting_of(idle, nothing.id)).state == "absent"
