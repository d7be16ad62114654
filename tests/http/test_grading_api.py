"""Graders over HTTP on a running app (server/http/grading_api.py): the admin assigns examiners to a recorded
subject (audited; a proctor is refused with a clear message, nothing changed); a grader lists their subjects'
submissions, and the raw answer holds no name, ID number, account, exam code, face result, sitting or take
id; the video and the aux camera are served by code with Range requests; another grader's, an unassigned
examiner's or a forged code is 404, and in-progress sittings are not listed."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from server.rooms.remux import PLAYABLE
from tests.conftest import ADMIN, PASSWORD, login, new_client
from tests.recorded.conftest import DEVICE, events, make_recorded
from tests.recorded.test_grading import close_window, examiner, submission


async def error(resp, status: int, code: str) -> str:
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert re.search(r"[\u4e00-\u9fff]", message), message
    return message


async def as_user(app, username: str):
    client = await new_client(app)
    await login(client, username, PASSWORD)
    return client


async def test_the_admin_assigns_graders_examiners_only(app, services, world):
    subject = await make_recorded(services, world)
    admin = await as_user(app, "admin-one")
    try:
        url = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/graders"
        grader = world.staff["examiner"]
        resp = await admin.put(url, json={"account_ids": [grader.id]})
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {"subject_id": subject.id, "graders": [grader.id]}
        resp = await admin.get(f"/api/admin/exams/{world.exam.id}/graders")
        assert (await resp.json())["graders"] == {subject.id: [grader.id]}
        (entry,) = await events(services, world.exam.id, "subject_graders_set")
        assert entry["actor_role"] == "admin" and entry["data"]["graders"] == [grader.id]

        message = await error(
            await admin.put(url, json={"account_ids": [world.staff["proctor"].id]}), 400, "grader_invalid"
        )
        assert message == f"账号 {world.staff['proctor'].id} 不是考官账号，不能担任评阅老师"
        await error(await admin.put(url, json={"account_ids": "all"}), 400, "field_type")
        await error(await admin.put(url, json={}), 400, "field_required")
        interview = world.subjects[1]
        message = await error(
            await admin.put(
                f"/api/admin/exams/{world.exam.id}/subjects/{interview.id}/graders", json={"account_ids": []}
            ),
            409,
            "grading_not_recorded",
        )
        assert "器乐" in message
        await error(
            await admin.put(
                f"/api/admin/exams/{world.exam.id}/subjects/subj_000000000000/graders", json={"account_ids": []}
            ),
            404,
            "subject_not_found",
        )
        assert await services.grading.graders_of(world.exam.id, subject.id) == [grader.id]
        assert len(await events(services, world.exam.id, "subject_graders_set")) == 1
    finally:
        await admin.close()
    # an examiner may not assign graders
    grader_client = await as_user(app, "examiner-one")
    try:
        await error(await grader_client.put(url, json={"account_ids": []}), 403, "forbidden")
    finally:
        await grader_client.close()


async def test_a_grader_sees_anonymous_submissions_and_plays_them_by_code(app, services, world):
    subject = await make_recorded(services, world)
    now = time.time()
    second = await services.catalog.update_subject(
        ADMIN,
        world.exam.id,
        world.subjects[1].id,
        kind="recorded",
        window_opens=now - 60,
        window_closes=now + 3600,
    )
    grader = world.staff["examiner"]
    other = await examiner(services, "grader-two")
    await examiner(services, "grader-idle")
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    await services.grading.assign(ADMIN, world.exam.id, second.id, [other.id])
    account, sitting, take = await submission(services, world, 0, subject, files=True, aux=True)
    other_account, _, other_take = await submission(services, world, 1, second, files=True)
    # candidate 2 is in progress with a complete take: not listed
    waiting = await world.candidate(2)
    await services.sittings.enter(waiting, world.exam.id, subject.id, "formal", DEVICE)
    subject, second = await close_window(services, world, subject), await close_window(services, world, second)

    me = await as_user(app, "examiner-one")
    them = await as_user(app, "grader-two")
    idle = await as_user(app, "grader-idle")
    try:
        resp = await me.get("/api/grader/subjects")
        assert [s["id"] for s in (await resp.json())["subjects"]] == [subject.id]
        resp = await me.get("/api/grader/submissions")
        assert resp.status == 200
        raw = await resp.text()
        (item,) = json.loads(raw)["submissions"]
        assert re.fullmatch(r"S-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}", item["code"])
        assert set(item) == {
            *("code", "exam", "subject", "state", "duration_s", "orientation", "video_url", "aux", "photos"),
            *("form", "question", "steps"),  # a drawn question or guided steps: nothing of the candidate
        }
        assert item["subject"] == {"id": subject.id, "name": "声乐"} and item["state"] == "submitted"
        assert item["duration_s"] == round(take.duration_s, 1) and item["duration_s"] > 2
        assert item["video_url"] == f"/api/grader/submissions/{item['code']}/video"
        assert item["aux"] == [{"n": 1, "url": f"/api/grader/submissions/{item['code']}/aux/1", "offset_s": 0.4}]
        # nothing in the raw answer leads back to the candidate
        leaks = {
            "name": account.name,
            "id number": account.id_number,
            "account id": account.id,
            "sitting id": sitting.id,
            "take id": take.id,
            "checksum": take.sha256,
            "other candidate": other_account.id,
            "other take": other_take.id,
        }
        for what, value in leaks.items():
            assert value and value not in raw, what
        assert not re.search(rf"(?<![0-9A-Za-z]){sitting.code}(?![0-9A-Za-z])", raw), "the exam code"
        for word in ("face", "distance", 'name": "考生', "id_number", "account", "sitting", "take", "submitted_at"):
            assert word not in raw, word
        assert "考生" not in raw

        # the video by code, with Range (the <video> element seeks)
        size = (await playable_path(services, take)).stat().st_size
        resp = await me.get(item["video_url"])
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/webm"
        assert int(resp.headers["Content-Length"]) == size and "Content-Disposition" not in resp.headers
        assert take.id not in json.dumps(dict(resp.headers))
        body = await resp.read()
        assert body[:4] == b"\x1aE\xdf\xa3"
        resp = await me.get(item["video_url"], headers={"Range": "bytes=100-199"})
        assert resp.status == 206 and await resp.read() == body[100:200]
        assert resp.headers["Content-Range"] == f"bytes 100-199/{size}"
        resp = await me.get(item["aux"][0]["url"], headers={"Range": "bytes=0-9"})
        assert resp.status == 206 and (await resp.read())[:4] == b"\x1aE\xdf\xa3"
        # nothing dates the submission: no Last-Modified, no ETag (aiohttp's is the mtime in hex), and the
        # conditional headers that would let a grader bisect the file's time are not answered
        for url in (item["video_url"], item["aux"][0]["url"]):
            resp = await me.get(url)
            await resp.read()
            assert "Last-Modified" not in resp.headers and "ETag" not in resp.headers, dict(resp.headers)
        far_future, long_ago = "Fri, 01 Jan 2100 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"
        for headers, status in (
            ({"If-Modified-Since": far_future}, 200),  # a FileResponse would say 304 for any date after the mtime
            ({"If-Unmodified-Since": long_ago}, 200),  # ... and 412 for any date before it
            ({"If-None-Match": "*"}, 200),
            ({"If-Match": '"nope"'}, 200),
            ({"Range": "bytes=0-9", "If-Range": long_ago}, 206),  # ... and the whole file for a stale If-Range
        ):
            resp = await me.get(item["video_url"], headers=headers)
            got = await resp.read()
            assert resp.status == status, (headers, resp.status)
            assert len(got) == (10 if status == 206 else size) and "Last-Modified" not in resp.headers
        await error(await me.get(f"/api/grader/submissions/{item['code']}/aux/2"), 404, "take_file_missing")
        await error(await me.get(f"/api/grader/submissions/{item['code']}/aux/x"), 404, "take_file_missing")

        # another grader's code, an unassigned examiner, a forged code: 404 alike, nothing said about why
        message = await error(await them.get(item["video_url"]), 404, "submission_not_found")
        assert message == "找不到该提交：匿名编号不存在，或不属于您评阅的科目"
        await error(await them.get(item["aux"][0]["url"]), 404, "submission_not_found")
        await error(await idle.get(item["video_url"]), 404, "submission_not_found")
        assert (await (await idle.get("/api/grader/submissions")).json()) == {"submissions": []}
        (theirs,) = (await (await them.get("/api/grader/submissions")).json())["submissions"]
        assert theirs["code"] != item["code"] and theirs["subject"]["id"] == second.id and theirs["aux"] == []
        await error(await me.get(theirs["video_url"]), 404, "submission_not_found")
        for forged in ("S-22222", "S-2222", "S-0OIL1", sitting.id, take.id, sitting.code, "..%2F..%2Fetc"):
            await error(await me.get(f"/api/grader/submissions/{forged}/video"), 404, "submission_not_found")
        await error(await me.get(f"/api/grader/submissions?subject={second.id}"), 404, "subject_not_found")

        # the other roles: a candidate or a proctor may not list or play
        candidate = await new_client(app)
        try:
            await login(candidate, account.phone, PASSWORD)
            await error(await candidate.get(item["video_url"]), 403, "forbidden")
            await error(await candidate.get("/api/grader/submissions"), 403, "forbidden")
        finally:
            await candidate.close()

        # the page: the grader's subjects; an examiner without any sees it say so
        resp = await me.get("/examiner/grading")
        page = await resp.text()
        assert resp.status == 200 and "录制科目评阅" in page and "声乐" in page and 'id="grading-table"' in page
        assert "<script>" not in page and "style=" not in page
        resp = await idle.get("/examiner/grading")
        assert "您尚未被分配任何录制科目的评阅工作" in await resp.text()
    finally:
        for client in (me, them, idle):
            await client.close()


async def playable_path(services, take) -> Path:
    record = await services.recordings.get(take.id)
    return Path(record["folder"]) / PLAYABLE
