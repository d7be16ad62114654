"""The candidate's results page in a real phone-sized Chromium (390x844): an interview marked by a two-examiner
panel (the final mark is the mean of the two totals); before publication the page says 未发布 and shows no
mark; the admin sets the wording (pass mark 80, marks shown), locks and publishes; the candidate opens the
page from the exam list and sees 已发布, their outcome (合格), the subject's final mark and the total."""

from __future__ import annotations

import asyncio

from server.marking.rubrics import Rubric
from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import staff_login
from tests.facecheck import faces
from tests.live import live_world
from tests.marking.test_interview_marks import RUBRIC, PanelWorld
from tests.marking.test_results import sealed_interview


async def panel_world_with_faces(services) -> PanelWorld:
    """tests/marking's two-examiner panel, with roster photos that have a face (the import checks them here)."""
    live = await live_world(services, photos=[faces.encode(faces.grace_hopper())] * 4)
    second = await services.directory.create(
        "examiner", PASSWORD, Actor.system(), name="考官乙", username="examiner-two"
    )
    await services.store.redis.sadd(services.store.keys.room_examiners(live.room.id), second.id)
    await services.rubrics.set(ADMIN, live.exam.id, live.room.subject_id, Rubric.from_json("", RUBRIC))
    return PanelWorld(live, second, None)


async def test_the_candidate_sees_their_published_result_on_the_phone(live_server, services, browsers, cameras, shots):
    w = await panel_world_with_faces(services)
    await sealed_interview(w, 0)  # 83.5 and 78: the mean, 80.75
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["astronaut"])
        await staff_login(page, live_server, "13900000000", "/candidate")
        url = f"{live_server}/candidate/exams/{w.exam.id}/results"
        await page.goto(url)
        await page.wait_for_selector("#results-state[data-state=unpublished]")
        assert await page.inner_text("#results-state") == "未发布"
        assert (
            await page.query_selector("#results-outcome") is None
            and await page.query_selector("#results-marks") is None
        )
        await shots(page, "unpublished", full_page=False)
        # the admin's 成绩 tab: the row, the wording, lock, publish
        admin = await browsers(cameras["grace_hopper"], desktop=True)
        await admin.set_viewport_size({"width": 1280, "height": 900})
        admin.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "确定锁定？" / "确定发布？"
        await staff_login(admin, live_server, w.live.world.staff["admin"].username, "/admin")
        await admin.goto(f"{live_server}/admin?exam={w.exam.id}")
        await admin.click("#exam-tabs [data-panel=panel-results]")
        await admin.wait_for_selector("#results-state[data-state=open]")
        table = await admin.inner_text("#results-table")
        assert "考生0" in table and "80.75" in table and "考官乙 78" in table and "缺考" in table
        await admin.fill("#results-settings input[name=pass_mark]", "80")
        await admin.click("#results-settings button[type=submit]")
        await admin.wait_for_selector("#results-table td[data-passed=true]")
        await admin.click("#results-lock")
        await admin.wait_for_selector("#results-state[data-state=locked]")
        await admin.click("#results-publish")
        await admin.wait_for_selector("#results-state[data-state=published]")
        await shots(admin, "admin-results", full_page=False)
        assert (await services.results.state(w.exam.id))["settings"]["pass_mark"] == 80
        # from the exam list, as a candidate finds it
        await page.goto(f"{live_server}/candidate")
        link = f"#results-card a[href='/candidate/exams/{w.exam.id}/results']"
        await page.wait_for_selector(link)
        await page.locator(link).scroll_into_view_if_needed()
        await shots(page, "exam-list-link", full_page=False)
        await page.click(link)
        await page.wait_for_url(url)
        await page.wait_for_selector("#results-state[data-state=published]")
        assert await page.inner_text("#results-state") == "已发布"
        assert await page.inner_text("#results-outcome") == "合格"
        marks = await page.inner_text("#results-marks")
        assert "声乐" in marks and "80.75" in marks and "总分" in marks
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing wider than the phone
        await shots(page, "published", full_page=False)
    # the one expected failure: the API's 404 results_unpublished before publication (the page shows 未发布)
    unexpected = [e for e in browsers.errors if "/results:" not in e or "status of 404" not in e]
    assert not unexpected, unexpected
    assert len(browsers.errors) - len(unexpected) == 1
