"""Booking rules a candidate meets, each with its own message; nothing changes when refused."""

import time

from tests.conftest import ADMIN, PASSWORD, build_world, login


async def book(client, exam_id, slot_id):
    resp = await client.post(f"/api/candidate/exams/{exam_id}/bookings", json={"slot_id": slot_id})
    return resp.status, await resp.json()


async def booked_count(world, slot):
    return await world.services.store.redis.zcard(world.services.store.keys.slot_booked(slot.id))


async def test_book_once_then_the_booking_is_final(http, world):
    account = await world.candidate(1)  # 声乐 + 器乐
    await login(http, account.phone, PASSWORD)
    status, body = await book(http, world.exam.id, world.slots[0].id)
    assert status == 201 and body["slot"]["remaining"] == 1
    # a second booking for the same subject, even of another slot, is refused
    extra = await world.services.catalog.create_slot(
        ADMIN, world.exam.id, world.rooms[0].id, time.time() + 3 * 86400, time.time() + 3 * 86400 + 3600, 5
    )
    status, body = await book(http, world.exam.id, extra.id)
    assert status == 409 and body["error"]["code"] == "already_booked" and "不可修改" in body["error"]["message"]
    # the other subject can still be booked
    status, _ = await book(http, world.exam.id, world.slots[1].id)
    assert status == 201
    view = await (await http.get(f"/api/candidate/exams/{world.exam.id}")).json()
    assert view["bookings"] == {world.subjects[0].id: world.slots[0].id, world.subjects[1].id: world.slots[1].id}
    # there is no way for the candidate to change or cancel it
    assert (
        await http.post(
            f"/api/admin/exams/{world.exam.id}/bookings/cancel",
            json={"slot_id": world.slots[0].id, "account_id": account.id, "reason": "x"},
        )
    ).status == 403
    assert (await http.delete(f"/api/candidate/exams/{world.exam.id}/bookings")).status == 405


async def test_full_slot(http, world):
    for index in (0, 2):  # capacity 2
        other = await world.candidate(index, phone=f"1361111000{index}")
        await world.services.bookings.book(other, world.exam.id, world.slots[0].id)
    account = await world.candidate(1)
    await login(http, account.phone, PASSWORD)
    status, body = await book(http, world.exam.id, world.slots[0].id)
    assert status == 409 and body["error"]["code"] == "slot_full" and body["error"]["field"] == "slot_id"
    assert await booked_count(world, world.slots[0]) == 2


async def test_each_missing_step_has_its_own_message(http, world):
    services = world.services
    account = await world.candidate(0, enrolled=False)
    await login(http, account.phone, PASSWORD)
    expected = ["exam_not_confirmed", "notice_not_read", "pledge_not_signed"]
    steps = [
        lambda: services.enrolments.confirm(account, world.exam.id),
        lambda: services.enrolments.read_notice(account, world.exam.id),
        lambda: services.enrolments.sign_pledge(account, world.exam.id, True),
    ]
    for code, next_step in zip(expected, steps, strict=False):
        status, body = await book(http, world.exam.id, world.slots[0].id)
        assert (status, body["error"]["code"]) == (409, code)
        assert await booked_count(world, world.slots[0]) == 0
        await next_step()
    status, _ = await book(http, world.exam.id, world.slots[0].id)
    assert status == 201


async def test_booking_window_not_open_and_closed(http, services):
    early = await build_world(services, opens_in=3600, closes_in=7200)
    account = await early.candidate(0)
    await login(http, account.phone, PASSWORD)
    status, body = await book(http, early.exam.id, early.slots[0].id)
    assert status == 409 and body["error"]["code"] == "booking_not_open"
    assert "开放时间" in body["error"]["message"]
    await services.catalog.update_exam(
        ADMIN, early.exam.id, booking_opens=time.time() - 7200, booking_closes=time.time() - 60
    )
    status, body = await book(http, early.exam.id, early.slots[0].id)
    assert status == 409 and body["error"]["code"] == "booking_closed"
    resp = await http.post(
        f"/api/candidate/exams/{early.exam.id}/bookings",
        json={"slot_id": early.slots[0].id},
        headers={"Accept-Language": "en"},
    )
    assert "Booking closed" in (await resp.json())["error"]["message"]


async def test_subject_not_rostered_unknown_slot_and_started_slot(http, world):
    account = await world.candidate(0)  # 声乐 only
    await login(http, account.phone, PASSWORD)
    status, body = await book(http, world.exam.id, world.slots[1].id)  # 器乐
    assert (status, body["error"]["code"]) == (403, "not_rostered_subject")
    status, body = await book(http, world.exam.id, "slot_nope")
    assert (status, body["error"]["code"]) == (404, "slot_not_found")
    started = await world.services.catalog.create_slot(
        ADMIN, world.exam.id, world.rooms[0].id, time.time() - 60, time.time() + 3600, 5
    )
    status, body = await book(http, world.exam.id, started.id)
    assert (status, body["error"]["code"]) == (409, "slot_started")
