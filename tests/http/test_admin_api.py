"""The school admin's REST API over real HTTP against a real Redis.

Exams, subjects, rooms, slots, staff accounts, roster import, bookings and the audit trail;
and bad input: every refused request answers a 4xx JSON error with a message in the user's
language and leaves every key under the test's prefix exactly as it was.
"""

from __future__ import annotations

import calendar
import json
import re

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.http.context import SERVICES
from server.roster import idcard
from tests.conftest import PASSWORD, fast_settings, jpeg, login, new_client, photo_zip

CJK = re.compile(r"[\u4e00-\u9fff]")


def utc(*fields: int) -> float:
    """Epoch seconds of a UTC calendar time (computed without the server's parsing)."""
    return float(calendar.timegm((*fields, 0, 0, 0)[:6]))


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
async def admin(http, world):
    """``http`` logged in as the world's admin; the admin account."""
    await login(http, "admin-one", PASSWORD)
    return world.staff["admin"]


@pytest.fixture
async def browsers(app):
    """Open more browsers (own cookie jars) on the app; closed at the end."""
    opened: list[TestClient] = []

    async def open_browser() -> TestClient:
        client = await new_client(app)
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        await client.close()


async def error(resp, status: int, code: str, field: str | None = None, lang: str = "zh") -> dict:
    """The error of a refused request: status, JSON shape, code, field and a message in ``lang``."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/json", text
    err = json.loads(text)["error"]
    assert err["code"] == code, err
    if field is not None:
        assert err.get("field") == field, err
    message = err["message"]
    assert message.strip() and message != code, err
    if lang == "zh":
        assert CJK.search(message), message
    else:
        assert re.search(r"[A-Za-z]{3,}", message) and not CJK.search(message.split(":")[0]), message
    return err


async def _content(redis, key: str, kind: str):
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return await redis.hgetall(key)
    if kind == "set":
        return sorted(await redis.smembers(key))
    if kind == "zset":
        return await redis.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return await redis.lrange(key, 0, -1)
    if kind == "stream":
        return await redis.xrange(key)
    return await redis.dump(key)


async def snapshot(redis, prefix: str) -> dict:
    """Every key under the prefix with its type and content — to prove nothing changed.

    (DUMP is not used for the content: a hash's DUMP order can change on a mere read while
    Redis rehashes it.)"""
    keys = sorted([key async for key in redis.scan_iter(match=prefix + "*", count=1000)])
    out = {}
    for key in keys:
        kind = await redis.type(key)
        out[key] = (kind, await _content(redis, key, kind))
    return out


async def exam_audit(client, exam_id: str) -> list[dict]:
    """The exam's audit entries over HTTP, oldest first."""
    resp = await client.get(f"/api/staff/exams/{exam_id}/audit", params={"limit": "1000"})
    assert resp.status == 200, await resp.text()
    return list(reversed((await resp.json())["entries"]))


async def system_audit(services) -> list[dict]:
    """Entries not tied to an exam (accounts), oldest first."""
    return [fields for _, fields in await services.store.redis.xrange(services.store.keys.audit(None))]


def roster_form(csv_bytes: bytes | None, photos: bytes | None = None) -> FormData:
    form = FormData()
    if csv_bytes is not None:
        form.add_field("file", csv_bytes, filename="roster.csv", content_type="text/csv")
    if photos is not None:
        form.add_field("photos", photos, filename="photos.zip", content_type="application/zip")
    return form


async def slots_by_id(client, exam_id: str) -> dict[str, dict]:
    resp = await client.get(f"/api/admin/exams/{exam_id}/slots")
    assert resp.status == 200, await resp.text()
    return {s["id"]: s for s in (await resp.json())["slots"]}


EXAM = {
    "school": "测试音乐学院",
    "name": "2031 年本科招生面试",
    "booking_opens": "2031-03-01T09:00",
    "booking_closes": "2031-03-10T17:00",
}


# --- exams, subjects, rooms, slots ---------------------------------------------------------


async def test_create_exam_accepts_iso_and_epoch_times(http, admin):
    closes = utc(2031, 3, 10, 9) + 0.5
    resp = await http.post(
        "/api/admin/exams",
        json={
            "school": "测试音乐学院",
            "name": "2031 年本科招生面试",
            "booking_opens": "2031-03-01T09:00:00",  # no offset: Asia/Shanghai
            "booking_closes": closes,
            "notice": "请提前 30 分钟进入候考",
            "pledge": "本人承诺诚信参加考试",
            "subjects": [{"name": "声乐", "interview_minutes": 10}, {"name": "钢琴", "interview_minutes": 20}],
        },
    )
    assert resp.status == 201, await resp.text()
    exam = (await resp.json())["exam"]
    assert exam["booking_opens"] == utc(2031, 3, 1, 1)  # 09:00 in Shanghai is 01:00 UTC
    assert exam["booking_closes"] == closes
    assert (exam["name"], exam["notice"]) == ("2031 年本科招生面试", "请提前 30 分钟进入候考")

    resp = await http.get(f"/api/admin/exams/{exam['id']}")
    assert resp.status == 200
    body = await resp.json()
    assert body["exam"] == exam
    assert [(s["name"], s["interview_minutes"]) for s in body["subjects"]] == [("声乐", 10), ("钢琴", 20)]
    assert body["rooms"] == [] and body["slots"] == []
    listed = (await (await http.get("/api/admin/exams")).json())["exams"]
    assert exam["id"] in [e["id"] for e in listed]

    # an offset (or Z) is honoured, and a change of window is kept
    for value, expected in [
        ("2031-03-01T01:00:00Z", utc(2031, 3, 1, 1)),
        ("2031-03-02T09:00:00+08:00", utc(2031, 3, 2, 1)),
        (utc(2031, 3, 3), utc(2031, 3, 3)),
    ]:
        resp = await http.patch(f"/api/admin/exams/{exam['id']}", json={"booking_opens": value})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["exam"]["booking_opens"] == expected
    resp = await http.get(f"/api/admin/exams/{exam['id']}")
    assert (await resp.json())["exam"]["booking_opens"] == utc(2031, 3, 3)

    entries = await exam_audit(http, exam["id"])
    assert [e["event"] for e in entries] == [
        "exam_created",
        "subject_created",
        "subject_created",
        "exam_updated",
        "exam_updated",
        "exam_updated",
    ]
    assert {(e["actor"], e["actor_role"]) for e in entries} == {(admin.id, "admin")}


async def test_add_subject_and_room_with_examiner_panel(http, admin, world, redis, prefix, browsers):
    exam_id, examiner, proctor = world.exam.id, world.staff["examiner"], world.staff["proctor"]
    resp = await http.post(f"/api/admin/exams/{exam_id}/subjects", json={"name": "钢琴", "interview_minutes": 20})
    assert resp.status == 201, await resp.text()
    subject = (await resp.json())["subject"]
    assert (subject["name"], subject["interview_minutes"], subject["exam_id"]) == ("钢琴", 20, exam_id)
    subjects = (await (await http.get(f"/api/admin/exams/{exam_id}")).json())["subjects"]
    assert [s["name"] for s in subjects] == ["声乐", "器乐", "钢琴"]

    # a panel member that is not an examiner account is refused, naming the account; nothing is written
    before = await snapshot(redis, prefix)
    for bad in ([proctor.id], [examiner.id, "acc_000000000000"], [world.staff["admin"].id]):
        resp = await http.post(
            f"/api/admin/exams/{exam_id}/rooms",
            json={"subject_id": subject["id"], "name": "钢琴考场", "examiners": bad},
        )
        err = await error(resp, 400, "examiner_invalid", field="examiners")
        assert bad[-1] in err["message"]
    assert await snapshot(redis, prefix) == before

    resp = await http.post(
        f"/api/admin/exams/{exam_id}/rooms",
        json={"subject_id": subject["id"], "name": "钢琴考场", "examiners": [examiner.id]},
    )
    assert resp.status == 201, await resp.text()
    room = (await resp.json())["room"]
    assert (room["name"], room["subject_id"], room["examiners"]) == ("钢琴考场", subject["id"], [examiner.id])
    rooms = {r["id"]: r for r in (await (await http.get(f"/api/admin/exams/{exam_id}/rooms")).json())["rooms"]}
    assert rooms[room["id"]] == room and len(rooms) == 3

    # the examiner sees the new room on their page
    as_examiner = await browsers()
    await login(as_examiner, "examiner-one", PASSWORD)
    mine = (await (await as_examiner.get("/api/examiner/rooms")).json())["rooms"]
    assert room["id"] in [r["room"]["id"] for r in mine]

    entries = (await exam_audit(http, exam_id))[-2:]
    assert [e["event"] for e in entries] == ["subject_created", "room_created"]
    assert all(e["actor"] == admin.id for e in entries)
    assert entries[1]["data"]["examiners"] == [examiner.id]


async def test_slots_take_iso_or_epoch_times_and_list_remaining_places(http, admin, world, redis, prefix):
    exam_id, room = world.exam.id, world.rooms[1]
    resp = await http.post(
        f"/api/admin/exams/{exam_id}/slots",
        json={"room_id": room.id, "starts_at": "2031-03-05T09:00", "ends_at": utc(2031, 3, 5, 1, 30), "capacity": 3},
    )
    assert resp.status == 201, await resp.text()
    slot = (await resp.json())["slot"]
    assert (slot["starts_at"], slot["ends_at"]) == (utc(2031, 3, 5, 1), utc(2031, 3, 5, 1, 30))
    assert (slot["room_id"], slot["subject_id"]) == (room.id, room.subject_id)
    assert (slot["capacity"], slot["booked"], slot["remaining"]) == (3, 0, 3)

    listed = await slots_by_id(http, exam_id)
    assert list(listed)[-1] == slot["id"]  # ordered by start time
    assert listed[slot["id"]]["remaining"] == 3
    assert listed[world.slots[0].id]["remaining"] == 2

    before = await snapshot(redis, prefix)
    for starts, ends in [
        ("2031-03-05T10:00", "2031-03-05T09:00"),
        ("2031-03-05T10:00", "2031-03-05T10:00"),
        (utc(2031, 3, 5, 2), "2031-03-05T09:59:59"),
    ]:
        resp = await http.post(
            f"/api/admin/exams/{exam_id}/slots",
            json={"room_id": room.id, "starts_at": starts, "ends_at": ends, "capacity": 3},
        )
        await error(resp, 400, "slot_times", field="ends_at")
    assert await snapshot(redis, prefix) == before

    entry = (await exam_audit(http, exam_id))[-1]
    assert (entry["event"], entry["actor"], entry["data"]["slot_id"]) == ("slot_created", admin.id, slot["id"])


async def test_slot_capacity_never_drops_below_the_places_booked(http, admin, world, services, redis, prefix):
    exam_id, slot_id = world.exam.id, world.slots[0].id
    for index in (0, 1):
        await services.bookings.book(await world.candidate(index), exam_id, slot_id)
    slot = (await slots_by_id(http, exam_id))[slot_id]
    assert (slot["capacity"], slot["booked"], slot["remaining"]) == (2, 2, 0)

    before = await snapshot(redis, prefix)
    resp = await http.patch(f"/api/admin/exams/{exam_id}/slots/{slot_id}", json={"capacity": 1})
    err = await error(resp, 409, "slot_capacity_below_booked", field="capacity")
    assert "2" in err["message"]
    resp = await http.patch(
        f"/api/admin/exams/{exam_id}/slots/{slot_id}", json={"capacity": 1}, headers={"Accept-Language": "en"}
    )
    err = await error(resp, 409, "slot_capacity_below_booked", field="capacity", lang="en")
    assert "(2)" in err["message"]
    assert await snapshot(redis, prefix) == before

    resp = await http.patch(f"/api/admin/exams/{exam_id}/slots/{slot_id}", json={"capacity": 5})
    assert resp.status == 200, await resp.text()
    assert {k: (await resp.json())["slot"][k] for k in ("capacity", "booked", "remaining")} == {
        "capacity": 5,
        "booked": 2,
        "remaining": 3,
    }
    assert (await slots_by_id(http, exam_id))[slot_id]["remaining"] == 3
    resp = await http.patch(f"/api/admin/exams/{exam_id}/slots/{slot_id}", json={"capacity": 2})
    assert resp.status == 200
    assert (await slots_by_id(http, exam_id))[slot_id]["remaining"] == 0

    changes = [e for e in await exam_audit(http, exam_id) if e["event"] == "slot_capacity_changed"]
    assert [(e["actor"], e["data"]["before"], e["data"]["after"]) for e in changes] == [
        (admin.id, 2, 5),
        (admin.id, 5, 2),
    ]


# --- accounts ---------------------------------------------------------------------------------


async def test_admin_creates_staff_of_each_role_who_can_log_in(http, admin, services, browsers, redis, prefix):
    created = {}
    for role in ("examiner", "proctor", "admin"):
        resp = await http.post(
            "/api/admin/users",
            json={"role": role, "name": f"新{role}", "username": f"New-{role}", "password": "Start-pass-2031"},
        )
        assert resp.status == 201, await resp.text()
        user = (await resp.json())["user"]
        assert (user["role"], user["username"], user["disabled"]) == (role, f"new-{role}", False)
        assert "password_hash" not in user
        created[role] = user
        browser = await browsers()
        me = await login(browser, f"new-{role}", "Start-pass-2031")
        assert (me["id"], me["role"]) == (user["id"], role)

    before = await snapshot(redis, prefix)
    resp = await http.post(
        "/api/admin/users",
        json={"role": "proctor", "name": "重名", "username": "NEW-EXAMINER", "password": "Other-pass-2031"},
    )
    await error(resp, 409, "username_taken", field="username")
    assert await snapshot(redis, prefix) == before

    resp = await http.get("/api/admin/users", params={"role": "examiner"})
    users = (await resp.json())["users"]
    assert {u["role"] for u in users} == {"examiner"}
    assert {created["examiner"]["id"], "examiner-one"} <= {u["id"] for u in users} | {u["username"] for u in users}
    assert all("password_hash" not in u for u in users)
    everyone = (await (await http.get("/api/admin/users")).json())["users"]
    assert {u["id"] for u in created.values()} <= {u["id"] for u in everyone}

    entries = [e for e in await system_audit(services) if e["subject"] in {u["id"] for u in created.values()}]
    assert [(e["event"], e["actor"], e["actor_role"]) for e in entries] == [("account_created", admin.id, "admin")] * 3


async def test_disabling_a_user_ends_their_session_at_once_and_enabling_lets_them_back(
    http, admin, world, services, browsers
):
    proctor = world.staff["proctor"]
    browser = await browsers()
    await login(browser, "proctor-one", PASSWORD)
    assert (await browser.get("/api/auth/me")).status == 200

    resp = await http.patch(f"/api/admin/users/{proctor.id}", json={"disabled": True})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"]["disabled"] is True
    await error(await browser.get("/api/auth/me"), 401, "login_required")
    await error(await browser.get("/api/proctor/appeals"), 401, "login_required")
    resp = await browser.post("/api/auth/login", json={"login": "proctor-one", "password": PASSWORD})
    await error(resp, 403, "account_disabled")

    resp = await http.patch(f"/api/admin/users/{proctor.id}", json={"disabled": False})
    assert resp.status == 200
    assert (await resp.json())["user"]["disabled"] is False
    await error(await browser.get("/api/auth/me"), 401, "login_required")  # the old session stays ended
    await login(browser, "proctor-one", PASSWORD)
    assert (await browser.get("/api/auth/me")).status == 200

    entries = [e for e in await system_audit(services) if e["subject"] == proctor.id][-2:]
    assert [(e["event"], e["actor"]) for e in entries] == [
        ("account_disabled", admin.id),
        ("account_enabled", admin.id),
    ]


async def test_revoking_sessions_logs_the_account_out_everywhere(http, admin, world, services, browsers):
    examiner = world.staff["examiner"]
    phone, desktop = await browsers(), await browsers()
    for browser in (phone, desktop):
        await login(browser, "examiner-one", PASSWORD)
        assert (await browser.get("/api/auth/me")).status == 200

    resp = await http.post(f"/api/admin/users/{examiner.id}/revoke-sessions")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"revoked": 2}
    for browser in (phone, desktop):
        await error(await browser.get("/api/auth/me"), 401, "login_required")
    assert (await http.get("/api/auth/me")).status == 200  # the admin's own session is untouched
    await login(phone, "examiner-one", PASSWORD)  # the account itself still works
    assert (await phone.get("/api/auth/me")).status == 200

    entry = (await system_audit(services))[-1]
    assert (entry["event"], entry["actor"], entry["subject"]) == ("sessions_revoked", admin.id, examiner.id)
    assert json.loads(entry["data"]) == {"count": 2}


# --- roster import ---------------------------------------------------------------------------


async def test_roster_import_answers_a_row_report_and_keeps_photos(http, admin, world):
    exam_id = world.exam.id
    n1, n2, n3 = (idcard.make("310101", "20050505", i) for i in (11, 12, 13))
    csv_text = (
        "姓名,身份证号,手机号,报考科目,照片\n"
        f"新生甲,{n1},138 0000 0001,声乐,{n1}.JPG\n"
        f"新生乙,{n2},,声乐；器乐,\n"
        f"新生丙,{n3},,舞蹈,\n"
    )
    resp = await http.post(
        f"/api/admin/exams/{exam_id}/roster",
        data=roster_form(csv_text.encode(), photo_zip([f"photos/{n1}.jpg", f"{n2}.jpg"])),
    )
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["imported"], report["updated"], report["rejected"]) == (2, 0, 1)
    rows = {r["line"]: r for r in report["rows"]}
    assert [(rows[i]["name"], rows[i]["status"]) for i in (2, 3, 4)] == [
        ("新生甲", "imported"),
        ("新生乙", "imported"),
        ("新生丙", "rejected"),
    ]
    reasons = {r["code"]: r["message"] for r in rows[4]["reasons"]}
    assert set(reasons) == {"row_subject_unknown", "row_photo_missing"}
    assert "舞蹈" in reasons["row_subject_unknown"] and CJK.search(reasons["row_photo_missing"])

    roster = {
        e["id_number"]: e for e in (await (await http.get(f"/api/admin/exams/{exam_id}/roster")).json())["roster"]
    }
    assert n3 not in roster
    assert (roster[n1]["name"], roster[n1]["phone"]) == ("新生甲", "13800000001")
    assert len(roster[n2]["subjects"]) == 2
    resp = await http.get(f"/api/staff/photos/{roster[n1]['photo_sha256']}")
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    assert await resp.read() == jpeg()

    # the same person again is an update, not a second entry
    resp = await http.post(
        f"/api/admin/exams/{exam_id}/roster", data=roster_form(f"姓名,身份证号,科目\n新生甲,{n1},器乐\n".encode())
    )
    report = await resp.json()
    assert (report["imported"], report["updated"], report["rejected"]) == (0, 1, 0)
    roster = {
        e["id_number"]: e for e in (await (await http.get(f"/api/admin/exams/{exam_id}/roster")).json())["roster"]
    }
    assert roster[n1]["subjects"] == [world.subjects[1].id]

    entries = await exam_audit(http, exam_id)
    imports = [e for e in entries if e["event"] == "roster_imported" and e["actor"] == admin.id]
    assert [(e["data"]["imported"], e["data"]["updated"], e["data"]["rejected"]) for e in imports] == [
        (2, 0, 1),
        (0, 1, 0),
    ]
    assert {e["actor"] for e in entries if e["event"].startswith("roster_entry_") and e["subject"] in (n1, n2)} == {
        admin.id
    }


async def test_roster_import_reads_a_gbk_csv_from_excel(http, admin, world):
    number = idcard.make("440101", "20060606", 21)
    csv_bytes = (
        f"姓名,身份证号码,报考科目\r\n欧阳娜娜,{number},器乐\r\n张三,{idcard.make('440101', '20060606', 22)},舞蹈\r\n"
    )
    csv_bytes = csv_bytes.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        csv_bytes.decode("utf-8")
    resp = await http.post(
        f"/api/admin/exams/{world.exam.id}/roster", data=roster_form(csv_bytes), headers={"Accept-Language": "en"}
    )
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["imported"], report["rejected"]) == (1, 1)
    assert report["rows"][0]["name"] == "欧阳娜娜"
    assert report["rows"][1]["reasons"][0]["message"] == "The exam has no subject named 舞蹈"
    roster = (await (await http.get(f"/api/admin/exams/{world.exam.id}/roster")).json())["roster"]
    assert {e["name"] for e in roster if e["id_number"] == number} == {"欧阳娜娜"}


async def test_roster_import_without_the_file_part_changes_nothing(http, admin, world, redis, prefix):
    before = await snapshot(redis, prefix)
    url = f"/api/admin/exams/{world.exam.id}/roster"
    await error(
        await http.post(url, data=roster_form(None, photo_zip(["a.jpg"]))), 400, "roster_file_missing", field="file"
    )
    await error(await http.post(url, data=roster_form(b"")), 400, "roster_file_missing", field="file")
    form = FormData()
    form.add_field("roster", b"\xe5\xa7\x93\xe5\x90\x8d", filename="roster.csv")  # a wrongly named part
    await error(
        await http.post(url, data=form, headers={"Accept-Language": "en"}), 400, "roster_file_missing", lang="en"
    )
    assert await snapshot(redis, prefix) == before


async def test_roster_import_needs_multipart(http, admin, world, redis, prefix):
    before = await snapshot(redis, prefix)
    url = f"/api/admin/exams/{world.exam.id}/roster"
    err = await error(await http.post(url, json={"file": "姓名,身份证号,科目"}), 415, "bad_content_type")
    assert "multipart/form-data" in err["message"]
    await error(
        await http.post(url, data="姓名,身份证号,科目\n".encode(), headers={"Content-Type": "text/csv"}),
        415,
        "bad_content_type",
    )
    assert await snapshot(redis, prefix) == before


async def test_roster_upload_over_the_limit_is_refused_and_writes_nothing(tmp_path, redis_url, prefix, redis, world):
    app = create_app(fast_settings(tmp_path, redis_url, prefix, max_upload_bytes=4096), redis)
    photos_dir = app[SERVICES].photos.root
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await login(client, "admin-one", PASSWORD)
        before, files_before = await snapshot(redis, prefix), sorted(photos_dir.rglob("*"))
        rows = [f"考生{i},{idcard.make('120101', '20050101', i)},声乐" for i in range(200, 400)]
        csv_bytes = ("姓名,身份证号,科目\n" + "\n".join(rows) + "\n").encode()
        assert len(csv_bytes) > 4096
        url = f"/api/admin/exams/{world.exam.id}/roster"
        err = await error(await client.post(url, data=roster_form(csv_bytes)), 413, "body_too_large")
        assert "4 KB" in err["message"]
        small_csv = f"姓名,身份证号,科目\n考生甲,{idcard.make('120101', '20050101', 7)},声乐\n".encode()
        big_zip = photo_zip([f"{i}.jpg" for i in range(10)])
        assert len(big_zip) > 4096
        await error(
            await client.post(url, data=roster_form(small_csv, big_zip), headers={"Accept-Language": "en"}),
            413,
            "body_too_large",
            lang="en",
        )
        assert await snapshot(redis, prefix) == before
        assert sorted(photos_dir.rglob("*")) == files_before
        # under the limit the same app imports
        resp = await client.post(url, data=roster_form(small_csv))
        assert resp.status == 200 and (await resp.json())["imported"] == 1
    finally:
        await client.close()


# --- bookings -------------------------------------------------------------------------------


async def test_bookings_list_and_admin_cancel_frees_the_place(http, admin, world, services, browsers, redis, prefix):
    exam_id, slot_id = world.exam.id, world.slots[0].id
    candidate = await world.candidate(0)
    await services.bookings.book(candidate, exam_id, slot_id)

    rows = (await (await http.get(f"/api/admin/exams/{exam_id}/bookings")).json())["bookings"]
    assert [(r["account_id"], r["name"], r["id_number"], r["slot_id"]) for r in rows] == [
        (candidate.id, "考生0", world.roster[0][1], slot_id)
    ]
    assert rows[0]["starts_at"] == world.slots[0].starts_at and isinstance(rows[0]["booked_at"], float)
    assert (await slots_by_id(http, exam_id))[slot_id]["remaining"] == 1

    reason = "考生因病申请取消，经招生办同意"
    resp = await http.post(
        f"/api/admin/exams/{exam_id}/bookings/cancel",
        json={"slot_id": slot_id, "account_id": candidate.id, "reason": reason},
    )
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"ok": True}
    assert (await slots_by_id(http, exam_id))[slot_id]["remaining"] == 2
    assert (await (await http.get(f"/api/admin/exams/{exam_id}/bookings")).json())["bookings"] == []

    entry = (await exam_audit(http, exam_id))[-1]
    assert (entry["event"], entry["actor"], entry["actor_role"], entry["subject"]) == (
        "booking_cancelled",
        admin.id,
        "admin",
        candidate.id,
    )
    assert entry["data"] == {"slot_id": slot_id, "reason": reason}

    before = await snapshot(redis, prefix)
    resp = await http.post(
        f"/api/admin/exams/{exam_id}/bookings/cancel",
        json={"slot_id": slot_id, "account_id": candidate.id, "reason": reason},
    )
    await error(resp, 404, "booking_not_found")
    assert await snapshot(redis, prefix) == before

    # the candidate can book again
    browser = await browsers()
    await login(browser, candidate.phone, PASSWORD)
    resp = await browser.post(f"/api/candidate/exams/{exam_id}/bookings", json={"slot_id": slot_id})
    assert resp.status == 201, await resp.text()


# --- every admin change is audited with the admin as actor -------------------------------


async def test_every_admin_change_is_audited_with_the_admin_as_actor(http, admin, world, services, redis):
    exam_id = world.exam.id
    candidate = await world.candidate(0)
    await services.bookings.book(candidate, exam_id, world.slots[0].id)
    keys = services.store.keys
    exam_seen, system_seen = await redis.xlen(keys.audit(exam_id)), await redis.xlen(keys.audit(None))

    async def ok(resp):
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()

    await ok(await http.post("/api/admin/exams", json={**EXAM, "subjects": [{"name": "声乐", "interview_minutes": 8}]}))
    await ok(await http.patch(f"/api/admin/exams/{exam_id}", json={"notice": "新的考前须知"}))
    subject = (
        await ok(
            await http.post(f"/api/admin/exams/{exam_id}/subjects", json={"name": "钢琴", "interview_minutes": 15})
        )
    )["subject"]
    room = (
        await ok(
            await http.post(f"/api/admin/exams/{exam_id}/rooms", json={"subject_id": subject["id"], "name": "钢琴考场"})
        )
    )["room"]
    slot = (
        await ok(
            await http.post(
                f"/api/admin/exams/{exam_id}/slots",
                json={
                    "room_id": room["id"],
                    "starts_at": "2031-03-05T09:00",
                    "ends_at": "2031-03-05T12:00",
                    "capacity": 4,
                },
            )
        )
    )["slot"]
    await ok(await http.patch(f"/api/admin/exams/{exam_id}/slots/{slot['id']}", json={"capacity": 6}))
    number = idcard.make("510101", "20050505", 31)
    await ok(
        await http.post(
            f"/api/admin/exams/{exam_id}/roster", data=roster_form(f"姓名,身份证号,科目\n新生,{number},钢琴\n".encode())
        )
    )
    await ok(
        await http.post(
            f"/api/admin/exams/{exam_id}/bookings/cancel",
            json={"slot_id": world.slots[0].id, "account_id": candidate.id, "reason": "考生申请"},
        )
    )
    user = (
        await ok(
            await http.post(
                "/api/admin/users",
                json={"role": "examiner", "name": "新考官", "username": "examiner-two", "password": "Start-pass-2031"},
            )
        )
    )["user"]
    await ok(await http.patch(f"/api/admin/users/{user['id']}", json={"disabled": True}))
    await ok(await http.patch(f"/api/admin/users/{user['id']}", json={"disabled": False}))
    await ok(await http.post(f"/api/admin/users/{user['id']}/revoke-sessions"))

    exam_entries = (await exam_audit(http, exam_id))[exam_seen:]
    assert [e["event"] for e in exam_entries] == [
        "exam_updated",
        "subject_created",
        "room_created",
        "slot_created",
        "slot_capacity_changed",
        "roster_entry_imported",
        "roster_imported",
        "booking_cancelled",
    ]
    system_entries = (await system_audit(services))[system_seen:]
    assert [e["event"] for e in system_entries] == [
        "account_created",
        "account_disabled",
        "account_enabled",
        "sessions_revoked",
    ]
    new_exam = [e for e in (await (await http.get("/api/admin/exams")).json())["exams"] if e["name"] == EXAM["name"]]
    new_exam_entries = await exam_audit(http, new_exam[0]["id"])
    assert [e["event"] for e in new_exam_entries] == ["exam_created", "subject_created"]
    for entry in exam_entries + new_exam_entries + system_entries:
        assert (entry["actor"], entry["actor_role"]) == (admin.id, "admin"), entry
        assert float(entry["at"]) > 0


async def test_proctors_read_the_audit_trail_examiners_do_not(http, world, browsers):
    proctor, examiner = await browsers(), await browsers()
    await login(proctor, "proctor-one", PASSWORD)
    await login(examiner, "examiner-one", PASSWORD)
    entries = await exam_audit(proctor, world.exam.id)
    assert entries[0]["event"] == "exam_created"
    await error(await examiner.get(f"/api/staff/exams/{world.exam.id}/audit"), 403, "forbidden")
    await error(await http.get(f"/api/staff/exams/{world.exam.id}/audit"), 401, "login_required")


# --- bad input: a clear 4xx error, and nothing changes -----------------------------------

JSON = {"Content-Type": "application/json"}
LONG = "长" * 101
C = "/api/admin/exams/{exam}"
BAD = [
    # request shape
    (
        "malformed JSON",
        "POST",
        "/api/admin/exams",
        {"data": b'{"school": "x",', "headers": JSON},
        400,
        "bad_json",
        None,
    ),
    ("JSON array", "POST", "/api/admin/exams", {"data": b'[{"school": "x"}]', "headers": JSON}, 400, "bad_json", None),
    ("JSON string", "PATCH", C + "/slots/{slot}", {"data": b'"capacity"', "headers": JSON}, 400, "bad_json", None),
    ("empty body", "PATCH", C + "/slots/{slot}", {"data": b"", "headers": JSON}, 400, "bad_json", None),
    (
        "not UTF-8",
        "POST",
        C + "/subjects",
        {"data": '{"name": "钢琴"}'.encode("gbk"), "headers": JSON},
        400,
        "bad_json",
        None,
    ),
    (
        "text/plain",
        "POST",
        "/api/admin/exams",
        {"data": json.dumps(EXAM).encode(), "headers": {"Content-Type": "text/plain"}},
        415,
        "bad_content_type",
        None,
    ),
    ("form post", "PATCH", C + "/slots/{slot}", {"data": {"capacity": "3"}}, 415, "bad_content_type", None),
    # field types
    ("capacity as string", "PATCH", C + "/slots/{slot}", {"json": {"capacity": "3"}}, 400, "field_type", "capacity"),
    ("capacity as float", "PATCH", C + "/slots/{slot}", {"json": {"capacity": 2.5}}, 400, "field_type", "capacity"),
    ("capacity as bool", "PATCH", C + "/slots/{slot}", {"json": {"capacity": True}}, 400, "field_type", "capacity"),
    ("name as number", "POST", "/api/admin/exams", {"json": {**EXAM, "name": 2031}}, 400, "field_type", "name"),
    (
        "minutes as bool",
        "POST",
        C + "/subjects",
        {"json": {"name": "钢琴", "interview_minutes": True}},
        400,
        "field_type",
        "interview_minutes",
    ),
    (
        "disabled as string",
        "PATCH",
        "/api/admin/users/{examiner}",
        {"json": {"disabled": "true"}},
        400,
        "field_type",
        "disabled",
    ),
    (
        "examiners as string",
        "POST",
        C + "/rooms",
        {"json": {"subject_id": "{subject}", "name": "x", "examiners": "{examiner}"}},
        400,
        "field_type",
        "examiners",
    ),
    (
        "subjects as string",
        "POST",
        "/api/admin/exams",
        {"json": {**EXAM, "subjects": "声乐"}},
        400,
        "field_type",
        "subjects",
    ),
    (
        "time as bool",
        "POST",
        C + "/slots",
        {"json": {"room_id": "{room}", "starts_at": True, "ends_at": 2e9, "capacity": 2}},
        400,
        "field_invalid",
        "starts_at",
    ),
    (
        "reason as list",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "{slot}", "account_id": "{examiner}", "reason": ["x"]}},
        400,
        "field_type",
        "reason",
    ),
    # unknown fields
    (
        "unknown field",
        "PATCH",
        C + "/slots/{slot}",
        {"json": {"capacity": 3, "colour": "red"}},
        400,
        "field_unknown",
        "colour",
    ),
    (
        "unknown field in a subject",
        "POST",
        "/api/admin/exams",
        {"json": {**EXAM, "subjects": [{"name": "声乐", "interview_minutes": 5, "room": "a"}]}},
        400,
        "field_unknown",
        "subjects",
    ),
    (
        "role smuggled into disable",
        "PATCH",
        "/api/admin/users/{examiner}",
        {"json": {"disabled": False, "role": "admin"}},
        400,
        "field_unknown",
        "role",
    ),
    # missing fields
    (
        "no room_id",
        "POST",
        C + "/slots",
        {"json": {"starts_at": 2e9, "ends_at": 2e9 + 60, "capacity": 2}},
        400,
        "field_required",
        "room_id",
    ),
    (
        "no booking_opens",
        "POST",
        "/api/admin/exams",
        {"json": {k: v for k, v in EXAM.items() if k != "booking_opens"}},
        400,
        "field_required",
        "booking_opens",
    ),
    (
        "no reason",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "{slot}", "account_id": "{examiner}"}},
        400,
        "field_required",
        "reason",
    ),
    (
        "blank reason",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "{slot}", "account_id": "{examiner}", "reason": "   "}},
        400,
        "field_required",
        "reason",
    ),
    ("null capacity", "PATCH", C + "/slots/{slot}", {"json": {"capacity": None}}, 400, "field_required", "capacity"),
    ("empty object", "PATCH", "/api/admin/users/{examiner}", {"json": {}}, 400, "field_required", "disabled"),
    (
        "blank user name",
        "POST",
        "/api/admin/users",
        {"json": {"role": "examiner", "name": " ", "username": "abc", "password": "Start-pass-2031"}},
        400,
        "field_required",
        "name",
    ),
    # lengths and ranges
    ("exam name too long", "POST", "/api/admin/exams", {"json": {**EXAM, "name": LONG}}, 400, "field_too_long", "name"),
    (
        "four examiners",
        "POST",
        C + "/rooms",
        {"json": {"subject_id": "{subject}", "name": "x", "examiners": ["{examiner}"] * 4}},
        400,
        "field_too_long",
        "examiners",
    ),
    (
        "reason too long",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "{slot}", "account_id": "{examiner}", "reason": "因" * 501}},
        400,
        "field_too_long",
        "reason",
    ),
    (
        "username too long",
        "POST",
        "/api/admin/users",
        {"json": {"role": "examiner", "name": "x", "username": "a" * 33, "password": "Start-pass-2031"}},
        400,
        "field_too_long",
        "username",
    ),
    ("capacity 0", "PATCH", C + "/slots/{slot}", {"json": {"capacity": 0}}, 400, "field_range", "capacity"),
    (
        "capacity 10001",
        "POST",
        C + "/slots",
        {"json": {"room_id": "{room}", "starts_at": 2e9, "ends_at": 2e9 + 60, "capacity": 10001}},
        400,
        "field_range",
        "capacity",
    ),
    (
        "241 minutes",
        "POST",
        C + "/subjects",
        {"json": {"name": "钢琴", "interview_minutes": 241}},
        400,
        "field_range",
        "interview_minutes",
    ),
    (
        "0 minutes",
        "POST",
        "/api/admin/exams",
        {"json": {**EXAM, "subjects": [{"name": "声乐", "interview_minutes": 0}]}},
        400,
        "field_range",
        "subjects",
    ),
    # times and rules
    (
        "time not a date",
        "POST",
        C + "/slots",
        {"json": {"room_id": "{room}", "starts_at": "明天上午", "ends_at": 2e9, "capacity": 2}},
        400,
        "field_invalid",
        "starts_at",
    ),
    (
        "30 February",
        "PATCH",
        C,
        {"json": {"booking_closes": "2031-02-30T09:00"}},
        400,
        "field_invalid",
        "booking_closes",
    ),
    (
        "window reversed",
        "POST",
        "/api/admin/exams",
        {"json": {**EXAM, "booking_closes": "2031-02-28T09:00"}},
        400,
        "window_times",
        "booking_closes",
    ),
    (
        "window reversed by a change",
        "PATCH",
        C,
        {"json": {"booking_closes": 1e9}},
        400,
        "window_times",
        "booking_closes",
    ),
    ("time before 2000", "PATCH", C, {"json": {"booking_closes": 1.0}}, 400, "field_invalid", "booking_closes"),
    (
        "unknown role",
        "POST",
        "/api/admin/users",
        {"json": {"role": "superuser", "name": "x", "username": "abcd", "password": "Start-pass-2031"}},
        400,
        "role_invalid",
        "role",
    ),
    ("unknown role filter", "GET", "/api/admin/users?role=boss", {}, 400, "role_invalid", "role"),
    (
        "weak password",
        "POST",
        "/api/admin/users",
        {"json": {"role": "examiner", "name": "x", "username": "abcd", "password": "12345678"}},
        400,
        "password_weak",
        "password",
    ),
    (
        "bad username",
        "POST",
        "/api/admin/users",
        {"json": {"role": "examiner", "name": "x", "username": "1 abc", "password": "Start-pass-2031"}},
        400,
        "username_invalid",
        "username",
    ),
    (
        "no login name",
        "POST",
        "/api/admin/users",
        {"json": {"role": "examiner", "name": "x", "password": "Start-pass-2031"}},
        400,
        "register_needs_login",
        None,
    ),
    (
        "taken username",
        "POST",
        "/api/admin/users",
        {"json": {"role": "admin", "name": "x", "username": "Proctor-One", "password": "Start-pass-2031"}},
        409,
        "username_taken",
        "username",
    ),
    (
        "photos not a zip",
        "POST",
        C + "/roster",
        {"form": (b"\xe5\xa7\x93\xe5\x90\x8d,id\n", b"PK-not-a-zip")},
        400,
        "photos_archive",
        None,
    ),
    (
        "CSV without the ID column",
        "POST",
        C + "/roster",
        {"form": ("姓名,科目\n张三,声乐\n".encode(), None)},
        400,
        "csv_columns",
        None,
    ),
    (
        "CSV with only a header",
        "POST",
        C + "/roster",
        {"form": ("姓名,身份证号,科目\n".encode(), None)},
        400,
        "csv_empty",
        None,
    ),
    ("audit limit not a number", "GET", "/api/staff/exams/{exam}/audit?limit=ten", {}, 400, "field_type", "limit"),
    # unknown ids
    ("unknown exam", "GET", "/api/admin/exams/exam_000000000000", {}, 404, "exam_not_found", None),
    (
        "unknown exam (patch)",
        "PATCH",
        "/api/admin/exams/exam_000000000000",
        {"json": {"name": "x"}},
        404,
        "exam_not_found",
        None,
    ),
    (
        "unknown exam (subject)",
        "POST",
        "/api/admin/exams/exam_000000000000/subjects",
        {"json": {"name": "钢琴", "interview_minutes": 5}},
        404,
        "exam_not_found",
        None,
    ),
    ("unknown exam (rooms)", "GET", "/api/admin/exams/exam_000000000000/rooms", {}, 404, "exam_not_found", None),
    ("unknown exam (slots)", "GET", "/api/admin/exams/exam_000000000000/slots", {}, 404, "exam_not_found", None),
    ("unknown exam (roster)", "GET", "/api/admin/exams/exam_000000000000/roster", {}, 404, "exam_not_found", None),
    (
        "unknown exam (import)",
        "POST",
        "/api/admin/exams/exam_000000000000/roster",
        {"form": ("姓名,身份证号,科目\n".encode(), None)},
        404,
        "exam_not_found",
        None,
    ),
    ("unknown exam (bookings)", "GET", "/api/admin/exams/exam_000000000000/bookings", {}, 404, "exam_not_found", None),
    ("unknown exam (audit)", "GET", "/api/staff/exams/exam_000000000000/audit", {}, 404, "exam_not_found", None),
    ("unknown slot", "PATCH", C + "/slots/slot_000000000000", {"json": {"capacity": 3}}, 404, "slot_not_found", None),
    (
        "slot under another exam",
        "PATCH",
        "/api/admin/exams/exam_000000000000/slots/{slot}",
        {"json": {"capacity": 3}},
        404,
        "slot_not_found",
        None,
    ),
    (
        "unknown room",
        "POST",
        C + "/slots",
        {"json": {"room_id": "room_000000000000", "starts_at": 2e9, "ends_at": 2e9 + 60, "capacity": 2}},
        404,
        "room_not_found",
        None,
    ),
    (
        "unknown subject",
        "POST",
        C + "/rooms",
        {"json": {"subject_id": "subj_000000000000", "name": "x"}},
        404,
        "subject_not_found",
        None,
    ),
    (
        "unknown account",
        "PATCH",
        "/api/admin/users/acc_000000000000",
        {"json": {"disabled": True}},
        404,
        "account_not_found",
        None,
    ),
    (
        "unknown account (revoke)",
        "POST",
        "/api/admin/users/acc_000000000000/revoke-sessions",
        {},
        404,
        "account_not_found",
        None,
    ),
    (
        "cancel unknown slot",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "slot_000000000000", "account_id": "{examiner}", "reason": "x"}},
        404,
        "slot_not_found",
        None,
    ),
    (
        "cancel what was never booked",
        "POST",
        C + "/bookings/cancel",
        {"json": {"slot_id": "{slot}", "account_id": "{examiner}", "reason": "x"}},
        404,
        "booking_not_found",
        None,
    ),
    ("unknown photo", "GET", "/api/staff/photos/" + "0" * 64, {}, 404, "not_found", None),
    # routing
    ("unknown route", "GET", "/api/admin/nothing-here", {}, 404, "not_found", None),
    ("unknown route (post)", "POST", "/api/nope", {"json": {}}, 404, "not_found", None),
    ("wrong method", "DELETE", "/api/admin/exams", {}, 405, "method_not_allowed", None),
    ("wrong method on an exam", "PUT", C, {"json": EXAM}, 405, "method_not_allowed", None),
    ("GET on an action", "GET", C + "/bookings/cancel", {}, 405, "method_not_allowed", None),
    # another site
    (
        "cross-site POST",
        "POST",
        "/api/admin/exams",
        {"json": EXAM, "headers": {"Origin": "https://evil.example"}},
        403,
        "cross_origin",
        None,
    ),
]


def _fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name, method, path, request_args, status, code, field", BAD, ids=[c[0] for c in BAD])
async def test_bad_input_is_refused_clearly_and_changes_nothing(
    http, admin, world, services, redis, prefix, name, method, path, request_args, status, code, field
):
    candidate = await world.candidate(0)
    await services.bookings.book(candidate, world.exam.id, world.slots[0].id)  # a booked place must stay booked
    ids = {
        "exam": world.exam.id,
        "slot": world.slots[0].id,
        "room": world.rooms[0].id,
        "subject": world.subjects[0].id,
        "examiner": world.staff["examiner"].id,
    }
    before = await snapshot(redis, prefix)
    for lang, accept in (("zh", None), ("en", "en-US,en;q=0.9")):
        kwargs = {k: v for k, v in request_args.items() if k != "form"}
        if "json" in kwargs:
            kwargs["json"] = _fill(kwargs["json"], ids)
        if "form" in request_args:
            kwargs["data"] = roster_form(*request_args["form"])
        headers = dict(kwargs.pop("headers", {}))
        if accept:
            headers["Accept-Language"] = accept
        resp = await http.request(method, path.format(**ids), headers=headers, **kwargs)
        await error(resp, status, code, field=field, lang=lang)
    assert await snapshot(redis, prefix) == before


async def test_oversized_json_body_is_refused_with_the_limit(tmp_path, redis_url, prefix, redis, world):
    app = create_app(fast_settings(tmp_path, redis_url, prefix, max_json_bytes=1024), redis)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await login(client, "admin-one", PASSWORD)
        before = await snapshot(redis, prefix)
        body = json.dumps({**EXAM, "notice": "须" * 600}, ensure_ascii=False).encode()
        assert len(body) > 1024
        err = await error(await client.post("/api/admin/exams", data=body, headers=JSON), 413, "body_too_large")
        assert "1 KB" in err["message"]

        async def chunks():  # no Content-Length: the limit holds while reading
            for i in range(0, len(body), 256):
                yield body[i : i + 256]

        err = await error(
            await client.post("/api/admin/exams", data=chunks(), headers={**JSON, "Accept-Language": "en"}),
            413,
            "body_too_large",
            lang="en",
        )
        assert "1 KB" in err["message"]
        assert await snapshot(redis, prefix) == before
        small = json.dumps({**EXAM, "notice": "须" * 100}, ensure_ascii=False).encode()
        assert (await client.post("/api/admin/exams", data=small, headers=JSON)).status == 201
    finally:
        await client.close()


async def test_admin_routes_refuse_other_roles_and_strangers(http, world, browsers, redis, prefix):
    proctor = await browsers()
    await login(proctor, "proctor-one", PASSWORD)
    before = await snapshot(redis, prefix)
    await error(await proctor.post("/api/admin/exams", json=EXAM), 403, "forbidden")
    await error(
        await proctor.post(
            "/api/admin/users", json={"role": "admin", "name": "x", "username": "sneaky", "password": "Start-pass-2031"}
        ),
        403,
        "forbidden",
    )
    await error(
        await http.patch(f"/api/admin/users/{world.staff['proctor'].id}", json={"disabled": True}),
        401,
        "login_required",
    )
    assert await snapshot(redis, prefix) == before


# --- inputs that once reached Redis or crashed a handler ---------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/admin/exams/{exam}:rooms", None),
        ("PATCH", "/api/admin/users/{examiner}:sessions", {"disabled": True}),
        (
            "POST",
            "/api/admin/exams/{exam}/rooms",
            {"subject_id": "{subject}", "name": "x", "examiners": ["{examiner}:sessions"]},
        ),
        (
            "POST",
            "/api/admin/exams/{exam}/slots",
            {"room_id": "{room}:examiners", "starts_at": 2e9, "ends_at": 2e9 + 60, "capacity": 1},
        ),
    ],
)
async def test_ids_that_name_other_keys_are_unknown_ids(
    http, admin, world, browsers, redis, prefix, method, path, body
):
    await login(await browsers(), "examiner-one", PASSWORD)  # the examiner now has a sessions set
    ids = {
        "exam": world.exam.id,
        "room": world.rooms[0].id,
        "subject": world.subjects[0].id,
        "examiner": world.staff["examiner"].id,
    }
    before = await snapshot(redis, prefix)
    resp = await http.request(method, path.format(**ids), json=_fill(body, ids))
    assert resp.status in (400, 404), await resp.text()
    assert await snapshot(redis, prefix) == before


async def test_audit_paging_with_a_bad_cursor_is_a_400(http, admin, world):
    resp = await http.get(f"/api/staff/exams/{world.exam.id}/audit", params={"before": "yesterday"})
    assert resp.status == 400, await resp.text()


async def test_deeply_nested_json_is_bad_json(http, admin, redis, prefix):
    before = await snapshot(redis, prefix)
    body = b'{"school": ' + b"[" * 30000 + b"]" * 30000 + b"}"
    await error(await http.post("/api/admin/exams", data=body, headers=JSON), 400, "bad_json")
    assert await snapshot(redis, prefix) == before


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=zzz"])
async def test_broken_multipart_is_a_4xx(http, admin, world, redis, prefix, content_type):
    before = await snapshot(redis, prefix)
    resp = await http.post(
        f"/api/admin/exams/{world.exam.id}/roster", data=b"not multipart at all", headers={"Content-Type": content_type}
    )
    assert 400 <= resp.status < 500, await resp.text()
    assert await snapshot(redis, prefix) == before


async def test_exam_name_cannot_be_blanked(http, admin, world):
    resp = await http.patch(f"/api/admin/exams/{world.exam.id}", json={"name": "  "})
    await error(resp, 400, "field_required", field="name")


async def test_absurd_times_are_refused(http, admin):
    resp = await http.post("/api/admin/exams", json={**EXAM, "booking_closes": 1e20})
    await error(resp, 400, "field_invalid", field="booking_closes")


async def test_a_room_cannot_have_two_slots_at_once(http, admin, world, redis, prefix):
    slot = world.slots[0]
    before = await snapshot(redis, prefix)
    resp = await http.post(
        f"/api/admin/exams/{world.exam.id}/slots",
        json={
            "room_id": world.rooms[0].id,
            "starts_at": slot.starts_at + 1800,
            "ends_at": slot.ends_at + 1800,
            "capacity": 3,
        },
    )
    await error(resp, 409, "slot_overlap", field="starts_at")
    assert await snapshot(redis, prefix) == before
    # back to back is fine, and so is the same time in another room
    resp = await http.post(
        f"/api/admin/exams/{world.exam.id}/slots",
        json={"room_id": world.rooms[0].id, "starts_at": slot.ends_at, "ends_at": slot.ends_at + 3600, "capacity": 3},
    )
    assert resp.status == 201
    room = (
        await (
            await http.post(
                f"/api/admin/exams/{world.exam.id}/rooms",
                json={"subject_id": world.subjects[0].id, "name": "声乐第二考场", "examiners": []},
            )
        ).json()
    )["room"]
    resp = await http.post(
        f"/api/admin/exams/{world.exam.id}/slots",
        json={"room_id": room["id"], "starts_at": slot.starts_at, "ends_at": slot.ends_at, "capacity": 3},
    )
    assert resp.status == 201


async def test_an_admin_cannot_disable_their_own_account(http, admin, world, redis, prefix):
    before = await snapshot(redis, prefix)
    resp = await http.patch(f"/api/admin/users/{world.staff['admin'].id}", json={"disabled": True})
    await error(resp, 409, "cannot_disable_self", field="disabled")
    assert await snapshot(redis, prefix) == before
    assert (await http.get("/api/auth/me")).status == 200
