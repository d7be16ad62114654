"""What a candidate's pages say about time and about the school's decisions, in a real phone-sized
Chromium: too early, the page says when the queue opens, counts down and joins by itself after one
tap; in the queue before the slot starts it counts down to the start; a face pass older than its
validity is offered again; a cancelled booking shows its reason, and after booking again the next
step is in view.

The settings make the minutes of the product seconds here (the early-entry margin and the face
pass's validity), so that a test waits seconds, not a quarter of an hour."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import ADMIN, build_world, fast_settings
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import log_in, pass_face_check
from tests.facecheck import faces
from tests.live import LiveWorld

EARLY_S = 20  # the queue opens this long before the slot (product: 15 min)
PASS_VALID_S = 4  # a face pass clears a queue entry this long (product: 10 min)


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    return fast_settings(tmp_path, redis_url, prefix, queue_early_entry_s=EARLY_S, queue_face_pass_valid_s=PASS_VALID_S)


async def booked_world(services, slot_in: float):
    world = await build_world(
        services, roster_size=1, capacity=2, slot_in=slot_in, photos=[faces.encode(faces.grace_hopper())]
    )
    account = await world.candidate(0)
    await services.bookings.book(account, world.exam.id, world.slots[0].id, now=world.slots[0].starts_at - 60)
    return world, account


async def test_too_early_the_page_counts_down_and_joins_by_itself(live_server, services, browsers, cameras, shots):
    world, account = await booked_world(services, slot_in=EARLY_S + 10)  # the queue opens in ~10 s
    slot = world.slots[0]
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        block = f".start-block[data-exam='{world.exam.id}']"
        await page.wait_for_selector(f"{block}[data-state=early]")
        note = await page.inner_text(f"{block} p")
        assert "“开始面试”将于" in note and "北京时间" not in note or "开放" in note, note
        assert await page.is_hidden(f"{block} a[data-action=interview]")  # not offered days (or seconds) early
        await shots(page, "home-too-early", full_page=False)

        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/interview")
        await page.wait_for_selector("#too-early:not([hidden])")  # said at once, before the device check ends
        text = await page.inner_text("#too-early")
        assert "候考将于" in text and "还有" in text, text
        first = await page.inner_text("#too-early")
        await page.wait_for_selector("#interview-page[data-device=ok]")
        await page.wait_for_function("(t) => document.getElementById('too-early').textContent !== t", arg=first)
        await page.click("#join")  # the one tap: sound on, armed
        assert "到时自动进入候考" in await page.inner_text("#join")
        assert await page.get_attribute("#interview-page", "data-stage") == "check"
        await shots(page, "interview-too-early-armed", full_page=False)

        await page.wait_for_selector("#interview-page[data-stage=queue]", timeout=30_000)  # nobody tapped again
        assert time.time() >= slot.starts_at - EARLY_S
        assert await page.get_attribute("#interview-page", "data-sound") == "on"
        await page.wait_for_selector("#interview-page[data-before-slot='1']")
        assert await page.inner_text("#q-countdown-label") == "距时段开始"
        assert "开始叫号" in await page.inner_text("#q-eta")
        await shots(page, "queue-before-the-slot", full_page=False)
        await page.wait_for_function(
            "() => document.getElementById('q-countdown-label').textContent === '本时段剩余'", timeout=40_000
        )
        assert "开始叫号" not in await page.inner_text("#q-eta")
        assert not browsers.errors, browsers.errors


async def test_a_stale_face_pass_is_offered_again_and_a_new_pass_lets_the_candidate_be_called(
    live_server, services, browsers, cameras, shots
):
    world, account = await booked_world(services, slot_in=-30)
    live = LiveWorld(world, services)
    await live.pass_face(account)  # e.g. at 考前准备, long before joining
    await asyncio.sleep(PASS_VALID_S + 1)
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/interview")
        await page.wait_for_selector("#join:not([disabled])")
        await page.click("#join")
        await page.wait_for_selector("#interview-page[data-queue-state=waiting_face_check]")
        await page.wait_for_selector("#face-box [data-state=expired]")
        assert await page.is_visible("#face-start")  # something to press, not a dead end
        await shots(page, "stale-pass-offered-again")

        await pass_face_check(page, shots, "queue-face-check-again")
        await page.wait_for_selector("#interview-page[data-queue-state=waiting]")
        from server.store.audit import Actor

        called = await services.queue.call_next(Actor(world.staff["examiner"].id, "examiner"), world.rooms[0].id)
        assert called.account == account.id
        await page.wait_for_selector("#interview-page[data-stage=room]")
        assert not browsers.errors, browsers.errors


async def test_a_cancelled_booking_shows_its_reason_and_booking_again_brings_the_next_step_into_view(
    live_server, services, browsers, cameras, shots
):
    world, account = await booked_world(services, slot_in=3600)
    reason = "考场调整，请改约其他时段"
    await services.bookings.cancel(ADMIN, world.exam.id, world.slots[0].id, account.id, reason)
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the booking's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        notice = await page.wait_for_selector(f"[data-cancelled='{world.slots[0].id}']")
        text = await notice.inner_text()
        assert "已被学校取消" in text and reason in text, text
        await notice.scroll_into_view_if_needed()
        await shots(page, "booking-cancelled", full_page=False)

        await page.click(f".slot-option:has(input[value='{world.slots[0].id}'])")
        await page.click("#step-booking button[type=submit]")
        await page.wait_for_selector("#step-booking[data-state=done]")
        await page.wait_for_selector("#summary:not([hidden])")
        assert await page.query_selector("[data-cancelled]") is None
        await page.wait_for_function("""() => { const r = document.getElementById('summary').getBoundingClientRect();
                                        return r.top >= -1 && r.top < window.innerHeight / 2; }""")
        await shots(page, "booked-next-step-in-view", full_page=False)
        assert not browsers.errors, browsers.errors
