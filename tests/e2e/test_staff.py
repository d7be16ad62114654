"""The admin records a staff member's ID number in 账号管理 at 1280x900 (server/exams/staff.py): a number on the
roster of an exam the examiner works on is refused on the page with the reason; another is saved and shown."""

from __future__ import annotations

import asyncio

from server.roster import idcard
from tests.conftest import build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import staff_login
from tests.facecheck import faces


async def test_the_admin_sets_a_staff_members_id_number_and_a_candidates_is_refused(
    live_server, services, browsers, cameras, shots
):
    world = await build_world(services, photos=[faces.encode(faces.grace_hopper())] * 3)
    examiner = world.staff["examiner"]
    async with asyncio.timeout(TEST_TIMEOUT_S):
        admin = await browsers(cameras["grace_hopper"], desktop=True)
        await admin.set_viewport_size({"width": 1280, "height": 900})
        await staff_login(admin, live_server, world.staff["admin"].username, "/admin")
        await admin.goto(f"{live_server}/admin#users")
        row = f"#user-table tr:has(.mono:text-is('{examiner.id}'))"
        await admin.wait_for_selector(row)
        await admin.click(f"{row} .staff-id-form + button, {row} button:has-text('设置证件号')")
        form = f"{row} form.staff-id-form"
        await admin.fill(f"{form} input[name=staff_id_number]", world.roster[0][1])  # a candidate of the exam
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector(f"{form} .error")
        assert "不能同时是本场考试的考生" in await admin.inner_text(f"{form} .error")
        await admin.locator(row).scroll_into_view_if_needed()
        await shots(admin, "staff-id-refused", full_page=False)
        number = idcard.make("110101", "19800101", 3)
        await admin.fill(f"{form} input[name=staff_id_number]", number)
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector(f"{row} [data-staff-id='{number}']")
        await admin.locator(row).scroll_into_view_if_needed()
        await shots(admin, "staff-id-saved", full_page=False)
    assert (await services.directory.get(examiner.id)).staff_id_number == number
