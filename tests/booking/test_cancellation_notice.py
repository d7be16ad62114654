"""A school's cancellation reaches the candidate: the page shows it with the reason until they book
again, and a candidate waiting in that slot's queue leaves it, told why. Also the exam option that
lets a started slot be booked (the demo's slot that is running now)."""

from __future__ import annotations

import time

from tests.conftest import ADMIN, PASSWORD, login, new_client
from tests.live import FIT_DEVICE, live_world


async def my_exam(client, exam_id):
    resp = await client.get(f"/api/candidate/exams/{exam_id}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_the_candidate_sees_the_cancellation_and_its_reason_until_booking_again(app, http, world, services):
    candidate = await world.candidate(0)
    exam_id, slot = world.exam.id, world.slots[0]
    await services.bookings.book(candidate, exam_id, slot.id)
    page = await new_client(app)
    try:
        await login(page, candidate.phone, PASSWORD)
        assert (await my_exam(page, exam_id))["cancellations"] == {}
        reason = "考场调整，请改约其他时段"
        await services.bookings.cancel(ADMIN, exam_id, slot.id, candidate.id, reason)

        view = await my_exam(page, exam_id)
        assert view["bookings"] == {}
        notice = view["cancellations"][slot.subject_id]
        assert (notice["slot_id"], notice["reason"], notice["starts_at"]) == (slot.id, reason, slot.starts_at)

        resp = await page.post(f"/api/candidate/exams/{exam_id}/bookings", json={"slot_id": slot.id})
        assert resp.status == 201, await resp.text()
        view = await my_exam(page, exam_id)
        assert view["cancellations"] == {} and view["bookings"] == {slot.subject_id: slot.id}
    finally:
        await page.close()


async def test_a_cancelled_candidate_waiting_in_the_queue_leaves_it_with_the_reason(services):
    live = await live_world(services)
    account = await live.booked(0)
    other = await live.booked(1)
    for who in (account, other):
        await services.queue.join(who, live.exam.id, live.slot.id, FIT_DEVICE)
    await services.bookings.cancel(ADMIN, live.exam.id, live.slot.id, account.id, "报名信息有误")
    entry = await services.queue.entry(live.room.id, account.id)
    assert (entry.state, entry.reason) == ("removed", "booking_cancelled")
    # the other candidate is untouched, and the cancelled one cannot enter again without a booking
    assert (await services.queue.entry(live.room.id, other.id)).state == "waiting_face_check"
    try:
        await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    except Exception as exc:
        assert getattr(exc, "code", "") == "queue_not_booked"
    else:
        raise AssertionError("joined without a booking")


async def test_a_started_slot_is_bookable_only_where_the_exam_allows_it(services, world):
    now = time.time()
    late = await services.catalog.create_exam(
        ADMIN,
        school="演示",
        name="可补约",
        booking_opens=now - 3600,
        booking_closes=now + 86400,
        subjects=[{"name": "声乐"}],
        late_booking_min=30,
    )
    assert (await services.catalog.exam(late.id)).late_booking_min == 30
    (subject,) = await services.catalog.subjects(late.id)
    rooms = [
        await services.catalog.create_room(ADMIN, late.id, subject.id, f"考场{i}", [world.staff["examiner"].id])
        for i in range(2)
    ]
    running = await services.catalog.create_slot(ADMIN, late.id, rooms[0].id, now - 600, now + 3000, 3)
    ending = await services.catalog.create_slot(ADMIN, late.id, rooms[1].id, now - 3000, now + 600, 3)
    # the usual exam refuses a started slot (tests/booking/test_rules.py); this one takes it while 30 min remain
    from server.roster.photos import PhotoSource
    from tests.conftest import photo_zip

    name, number, _ = world.roster[0]
    await services.importer.import_csv(
        ADMIN,
        late.id,
        f"姓名,身份证号,手机号,报考科目\n{name},{number},,声乐".encode(),
        PhotoSource.from_zip(photo_zip([f"{number}.jpg"]), 5 << 20),
    )
    account = await world.candidate(0)
    for step in (services.enrolments.confirm, services.enrolments.read_notice):
        await step(account, late.id)
    await services.enrolments.sign_pledge(account, late.id, True)
    try:
        await services.bookings.book(account, late.id, ending.id)
    except Exception as exc:
        assert getattr(exc, "code", "") == "slot_started"
    else:
        raise AssertionError("booked a slot with 10 minutes left")
    booked = await services.bookings.book(account, late.id, running.id)
    assert booked.id == running.id
