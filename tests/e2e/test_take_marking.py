"""Blind double marking in a real Chromium at 1280x900: a grader opens their marking queue (only the codes
assigned to them, nothing of the candidate on the page), plays a submission (main + aux camera), marks it on
the sheet beside the video (a draft saved as they type, kept across a reload), submits with the confirm, and
the sheet is sealed; the admin's 录制考试 tab shows the progress per grader.

The submissions are real (tests/recorded/test_grading.py ``submission``: Sittings API, a real VP8 WebM)."""

from __future__ import annotations

import asyncio

from tests.conftest import ADMIN, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_grading import SCREEN, staff_login
from tests.e2e.test_recorded import PLAYS_JS
from tests.facecheck import faces
from tests.marking.test_take_marks import graders, set_rubric
from tests.recorded.conftest import make_recorded
from tests.recorded.test_grading import close_window, submission


async def test_a_grader_marks_a_submission_from_their_queue(live_server, services, browsers, cameras, shots):
    await asyncio.wait_for(_scenario(live_server, services, browsers, cameras, shots), TEST_TIMEOUT_S)


async def _scenario(live_server, services, browsers, cameras, shots):
    world = await build_world(services, roster_size=3, photos=[faces.encode(faces.grace_hopper())] * 3)
    subject = await make_recorded(services, world)
    await set_rubric(services, world, subject)  # 技巧 40 / 表现 40 / 形象 20, step 0.5, 2 markers, gap 10
    staff = await graders(services, 3)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [g.id for g in staff])
    subs = {}
    for i in range(3):
        made = await submission(services, world, i, subject, files=True, aux=i == 0, seconds=4)
        subs[await services.grading.code_for(made[1])] = made
    subject = await close_window(services, world, subject)  # graded once the exam window has closed
    assigned = {c: [g["grader_id"] for g in (await services.take_marks.result(c))["graders"]] for c in subs}
    grader = staff[0]
    mine = sorted(c for c, g in assigned.items() if grader.id in g)
    assert len(mine) == 2  # 3 submissions x 2 markers over 3 graders

    page = await browsers(cameras["grace_hopper"], desktop=True)
    await page.set_viewport_size(SCREEN)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "提交评分" asks to confirm
    await staff_login(page, live_server, grader.username, "/examiner")
    await page.goto(f"{live_server}/examiner/grading")
    await page.wait_for_selector("#grading-page[data-state=ready]")
    codes = await page.eval_on_selector_all("#grading-table tr[data-code]", "rows => rows.map((r) => r.dataset.code)")
    assert sorted(codes) == mine, (codes, mine)
    html = await page.content()
    for account, sitting, take in subs.values():
        for value in (account.name, account.id_number, account.id, sitting.id, take.id):
            assert value not in html, value
    assert "未评分" in await page.inner_text("#grading-table")
    await shots(page, "queue", full_page=False)

    # open one (the one with the aux camera when it is ours): it plays, the sheet is beside it
    code = next((c for c in mine if subs[c][2].files.get("aux-1.webm")), mine[0])
    await page.click(f"button[data-play='{code}']")
    await page.wait_for_selector(f"#mark-form[data-code='{code}'] input[data-criterion=skill]")
    await page.wait_for_function(
        "() => { const v = document.querySelector('#grading-main'); return v && v.readyState >= 1 && v.videoWidth > 0; }"
    )
    played = await page.evaluate(PLAYS_JS, "#grading-main")
    assert played and played["t1"] > played["t0"] + 0.3, played
    skill = page.locator("#mark-form input[data-criterion=skill]")
    assert (await skill.get_attribute("max"), await skill.get_attribute("step")) == ("40", "0.5")
    player, sheet = (
        await page.locator("#grading-player-card").bounding_box(),
        await page.locator("#mark-card").bounding_box(),
    )
    assert player and sheet and sheet["x"] > player["x"] + player["width"] - 1, (player, sheet)  # beside, not below
    assert sheet["x"] + sheet["width"] <= SCREEN["width"]

    # a draft, saved as they type, kept across a reload
    await skill.fill("32.5")
    await page.fill("#mark-form textarea[name=comment]", "音色明亮，节奏稳定")
    await page.wait_for_selector("#mark-status[data-kind=saved]")
    assert "已保存草稿" in await page.inner_text("#mark-status")
    await shots(page, "draft-saved", full_page=False)
    await page.reload()
    await page.wait_for_selector("#grading-page[data-state=ready]")
    assert "草稿" in await page.inner_text(f"#grading-table tr[data-code='{code}']")
    await page.click(f"button[data-play='{code}']")
    await page.wait_for_selector(f"#mark-form[data-code='{code}'][data-state=draft]")
    assert await page.input_value("#mark-form input[data-criterion=skill]") == "32.5"
    assert await page.input_value("#mark-form textarea[name=comment]") == "音色明亮，节奏稳定"

    # a mark over the maximum: the server's message beside the field, nothing saved
    await page.fill("#mark-form input[data-criterion=show]", "45")
    await page.wait_for_selector("#mark-form p.error")
    assert "0 到 40" in await page.inner_text("#mark-form p.error")
    await shots(page, "over-max", full_page=False)
    _, saved, _ = await services.take_marks.sheet(grader, code)
    assert saved.marks == {"skill": 32.5}

    # complete and submit: sealed
    await page.fill("#mark-form input[data-criterion=show]", "30")
    await page.fill("#mark-form input[data-criterion=look]", "16")
    assert await page.inner_text("#mark-total") == "78.5"
    await page.click("#mark-seal")
    await page.wait_for_selector("#mark-form[data-state=sealed]")
    assert await page.locator("#mark-form input[data-criterion=skill]").is_disabled()
    assert await page.locator("#mark-seal").count() == 0
    assert "已提交 · 78.5" in await page.inner_text(f"#grading-table tr[data-code='{code}']")
    await shots(page, "sealed", full_page=False)
    _, sealed, _ = await services.take_marks.sheet(grader, code)
    assert (sealed.state, sealed.total, sealed.comment) == ("sealed", 78.5, "音色明亮，节奏稳定")

    # the admin's progress per grader
    admin = await browsers(cameras["grace_hopper"], desktop=True)
    await admin.set_viewport_size(SCREEN)
    await staff_login(admin, live_server, world.staff["admin"].username, "/admin")
    await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
    await admin.click("#sittings-tab")
    row = f"#marking-progress tr[data-grader='{grader.id}']"
    await admin.wait_for_selector(row)
    cells = await admin.eval_on_selector_all(f"{row} td", "tds => tds.map((td) => td.textContent)")
    assert cells[1:] == ["2", "0", "1", "1"], cells
    await admin.locator("#marking-progress").scroll_into_view_if_needed()
    await shots(admin, "admin-progress", full_page=False)
    # the one refused draft (over the maximum) is the only 400 the browser logged; nothing else went wrong
    refused = [e for e in browsers.errors if "status of 400" in e]
    assert len(refused) == 1 and len(browsers.errors) == 1, browsers.errors
