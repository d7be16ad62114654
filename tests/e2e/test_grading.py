"""录制科目评阅 in a real Chromium at 1280x900: the admin assigns an examiner as grader of a recorded subject
on the admin page; the examiner's page shows 录制科目评阅; the grading page lists the subject's submissions
by anonymous code only (no name, ID number or exam code on the page), leaves out a sitting in progress and
another subject's submission, and plays one (its currentTime advances), the aux camera beside it.

The submissions are real: candidates enter, pass the face check (recorded by the real gate), film a take
ended as the media side reports it, with a real VP8 WebM written where the recorder puts it, and submit
through the Sittings API (tests/recorded/test_grading.py ``submission``)."""

from __future__ import annotations

import asyncio
import time

from server.marking.rubrics import Rubric
from tests.conftest import ADMIN, PASSWORD, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_recorded import PLAYS_JS
from tests.facecheck import faces
from tests.recorded.conftest import DEVICE
from tests.recorded.test_grading import close_window, examiner, submission

SCREEN = {"width": 1280, "height": 900}


async def staff_login(page, base: str, username: str, home: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{home}")


async def test_a_grader_sees_anonymous_codes_and_plays_a_submission(live_server, services, browsers, cameras, shots):
    await asyncio.wait_for(_scenario(live_server, services, browsers, cameras, shots), TEST_TIMEOUT_S)


async def _scenario(live_server, services, browsers, cameras, shots):
    world = await build_world(services, roster_size=4, photos=[faces.encode(faces.grace_hopper())] * 4)
    now = time.time()
    singing, playing = [
        await services.catalog.update_subject(
            ADMIN, world.exam.id, s.id, kind="recorded", window_opens=now - 600, window_closes=now + 3600
        )
        for s in world.subjects
    ]
    # marking needs a rubric: with one marker each submission goes to the grader once they are set (queue listing)
    await services.rubrics.set(
        ADMIN,
        world.exam.id,
        singing.id,
        Rubric.from_json(singing.id, {"criteria": [{"id": "all", "name": "总评", "max": 100}]}),
    )
    grader = world.staff["examiner"]
    other = await examiner(services, "grader-two")
    await services.grading.assign(ADMIN, world.exam.id, playing.id, [other.id])
    with_aux = await submission(services, world, 0, singing, files=True, aux=True, seconds=4)
    plain = await submission(services, world, 2, singing, files=True, seconds=3)
    elsewhere = await submission(services, world, 1, playing, files=True, seconds=3)
    waiting = await world.candidate(3)  # in progress: not listed
    in_progress = await services.sittings.enter(waiting, world.exam.id, singing.id, "formal", DEVICE)

    # the admin assigns the grader of 声乐 on the admin page
    admin = await browsers(cameras["grace_hopper"], desktop=True)
    await admin.set_viewport_size(SCREEN)
    await staff_login(admin, live_server, world.staff["admin"].username, "/admin")
    await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
    await admin.click("[data-panel=panel-setup]")
    form = f"#grader-subjects form[data-subject='{singing.id}']"
    await admin.wait_for_selector(f"#graders:not([hidden]) {form}")
    await admin.check(f"{form} input[value='{grader.id}']")
    await admin.click(f"{form} button[type=submit]")
    await admin.wait_for_selector(f"{form} [role=status]:not([hidden])")
    assert await services.grading.graders_of(world.exam.id, singing.id) == [grader.id]
    await admin.locator("#graders").scroll_into_view_if_needed()
    await shots(admin, "admin-graders", full_page=False)

    # the examiner's page shows 录制科目评阅 and leads to the grading page
    page = await browsers(cameras["grace_hopper"], desktop=True)
    await page.set_viewport_size(SCREEN)
    await staff_login(page, live_server, grader.username, "/examiner")
    await page.wait_for_selector("#grading-entry:not([hidden])")
    assert "声乐" in await page.inner_text("#grading-subjects")
    await shots(page, "examiner-home", full_page=False)
    await page.click("#grading-link")
    await page.wait_for_url(f"{live_server}/examiner/grading")
    await page.wait_for_selector("#grading-page[data-state=ready]")
    # the exam window is still open: nothing to grade yet, and the page says from when (004_*: assessed
    # after the deadline; a submission may still be reset until then)
    assert await page.locator("#grading-table tr[data-code]").count() == 0
    notice = await page.inner_text("#grading-waiting")
    assert "声乐" in notice and "结束后开始评阅" in notice, notice
    await shots(page, "grading-window-open", full_page=False)
    singing = await close_window(services, world, singing)
    await close_window(services, world, playing)
    await page.click("#grading-refresh")
    await page.wait_for_selector("#grading-table tr[data-code]")
    assert await page.is_hidden("#grading-waiting")
    codes = await page.eval_on_selector_all("#grading-table tr[data-code]", "rows => rows.map((r) => r.dataset.code)")
    listed = {s.take.id: s.code for s in await services.grading.submissions(grader)}
    assert sorted(codes) == sorted(listed.values()) and len(codes) == 2, codes
    text = await page.inner_text("body")
    html = await page.content()
    for account, sitting, take in (with_aux, plain, elsewhere):
        for value in (account.name, account.id_number, account.id, sitting.id, take.id):
            assert value not in html, value
        assert sitting.code not in text
    assert in_progress.id not in html and waiting.name not in html
    await shots(page, "grading-list", full_page=False)

    # play the one with the aux camera: main and aux side by side, the main video advances
    code = listed[with_aux[2].id]
    await page.click(f"button[data-play='{code}']")
    await page.wait_for_selector("#grading-page[data-playing]")
    assert await page.get_attribute("#grading-page", "data-playing") == code
    await page.wait_for_function(
        "() => { const v = document.querySelector('#grading-main'); return v && v.readyState >= 1 && v.videoWidth > 0; }"
    )
    played = await page.evaluate(PLAYS_JS, "#grading-main")
    assert played and played["t1"] > played["t0"] + 0.3, played
    assert played["w"] == 320 and 3.5 < played["duration"] < 4.5, played
    await page.wait_for_function(
        "() => { const v = document.querySelector('video.aux-player'); return v && v.videoWidth > 0 && v.currentTime > 0; }"
    )
    assert await page.locator("#grading-player video").count() == 2
    assert code in await page.inner_text("#grading-player-title")
    await shots(page, "grading-playing", full_page=False)
    assert not browsers.errors, browsers.errors
