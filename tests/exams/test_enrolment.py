"""Confirm the exam, read the notice, sign the pledge: in that order, once, audited."""

import hashlib
import time

from tests.conftest import ADMIN, PASSWORD, login


async def step(client, exam_id, name, **body):
    return await client.post(f"/api/candidate/exams/{exam_id}/{name}", json=body if body else None)


async def test_steps_in_order_with_their_own_messages(http, world):
    account = await world.candidate(0, enrolled=False)
    await login(http, account.phone, PASSWORD)
    exam = world.exam.id
    resp = await step(http, exam, "notice")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "exam_not_confirmed"
    resp = await step(http, exam, "pledge", agree=True)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "exam_not_confirmed"

    assert (await step(http, exam, "confirm")).status == 200
    resp = await step(http, exam, "pledge", agree=True)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "notice_not_read"
    assert (await step(http, exam, "notice")).status == 200
    resp = await step(http, exam, "pledge", agree=False)
    err = (await resp.json())["error"]
    assert resp.status == 400 and err["code"] == "pledge_must_agree" and err["field"] == "agree"

    resp = await step(http, exam, "pledge", agree=True)
    enrolment = (await resp.json())["enrolment"]
    assert enrolment["pledge_signed_at"] >= enrolment["notice_read_at"] >= enrolment["confirmed_at"] > 0
    assert enrolment["pledge_sha256"] == hashlib.sha256("诚信承诺".encode()).hexdigest()


async def test_repeating_a_step_keeps_the_first_time_and_one_audit_entry(http, world):
    account = await world.candidate(0, enrolled=False)
    await login(http, account.phone, PASSWORD)
    first = (await (await step(http, world.exam.id, "confirm")).json())["enrolment"]
    again = (await (await step(http, world.exam.id, "confirm")).json())["enrolment"]
    assert again["confirmed_at"] == first["confirmed_at"]
    entries = await world.services.store.redis.xrange(world.services.store.keys.audit(world.exam.id))
    confirmed = [e for _, e in entries if e["event"] == "exam_confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["actor"] == account.id


async def test_exam_view_shows_only_rostered_subjects_and_state(http, world):
    account = await world.candidate(0)  # roster row 0: 声乐 only
    await login(http, account.phone, PASSWORD)
    view = await (await http.get(f"/api/candidate/exams/{world.exam.id}")).json()
    assert [s["name"] for s in view["subjects"]] == ["声乐"]
    assert view["enrolment"]["pledge_signed_at"] > 0 and view["photo_on_file"] is True
    slots = (await (await http.get(f"/api/candidate/exams/{world.exam.id}/slots")).json())["slots"]
    assert [s["id"] for s in slots] == [world.slots[0].id] and slots[0]["remaining"] == 2


async def test_unverified_candidate_is_told_to_verify(http, world):
    account = await world.candidate(0, verified=False)
    await login(http, account.phone, PASSWORD)
    for resp in (await http.get("/api/candidate/exams"), await step(http, world.exam.id, "confirm")):
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "not_verified"


async def test_another_schools_exam_is_invisible(app, http, world, services):
    other = await build_world_other(services)
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    for resp in (
        await http.get(f"/api/candidate/exams/{other.id}"),
        await step(http, other.id, "confirm"),
        await http.get(f"/api/candidate/exams/{other.id}/slots"),
        await http.post(f"/api/candidate/exams/{other.id}/bookings", json={"slot_id": "slot_x"}),
    ):
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "exam_not_found"
    # and it does not appear in the candidate's list
    exams = (await (await http.get("/api/candidate/exams")).json())["exams"]
    assert [e["exam"]["id"] for e in exams] == [world.exam.id]


async def build_world_other(services):
    now = time.time()
    return await services.catalog.create_exam(
        ADMIN,
        school="别的学院",
        name="别的考试",
        booking_opens=now - 60,
        booking_closes=now + 3600,
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
