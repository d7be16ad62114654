"""What people meet when trust is at stake, in real Chromium under the real CSP: the real candidate
whose identity a stand-in took first recovers it with a face check, the proctor approves beside the
roster photo, and the stand-in's open page is told at once that their login is over. Screenshots
(390x844 candidate, 1280x900 proctor) go to test-artifacts/e2e/<test>/."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import PASSWORD, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_staff_pages import STAFF_VIEW, login
from tests.facecheck import faces


async def test_a_squatted_identity_is_recovered_with_a_face_check(live_server, services, browsers, cameras, shots):
    world = await build_world(services, roster_size=1, photos=[faces.encode(faces.grace_hopper())])
    name, number, _ = world.roster[0]
    squatter = await world.candidate(0, phone="13800000011")  # a stand-in verified her identity first
    await world.candidate(0, verified=False, phone="13800000012")
    async with asyncio.timeout(TEST_TIMEOUT_S):
        stand_in = await browsers(cameras["astronaut"])
        await login(stand_in, live_server, "13800000011", "/candidate")

        victim = await browsers(cameras["grace_hopper"])
        await login(victim, live_server, "13800000012", "/candidate")
        await victim.fill("#identity-form input[name=name]", name)
        await victim.fill("#identity-form input[name=id_number]", number)
        await victim.click("#identity-form button[type=submit]")
        await victim.wait_for_selector("#appeal-start")
        assert "已被其他账号认证" in await victim.inner_text("#step-identity")
        await shots(victim, "claimed-offers-appeal")
        await victim.click("#appeal-start")
        await victim.wait_for_selector("[data-state=appeal-open]", timeout=90_000)  # the pool may be cold
        assert "申诉已提交" in await victim.inner_text("#appeal-box")
        await shots(victim, "appeal-filed")
        await victim.reload()  # the page says where the appeal stands after a reload too
        await victim.wait_for_selector("#appeal-box [data-state=appeal-open]")
        assert await victim.is_hidden("#identity-form")

        proctor = await browsers(cameras["astronaut"], desktop=True)
        await proctor.set_viewport_size(STAFF_VIEW)
        await login(proctor, live_server, "proctor-one", "/proctor")
        row = proctor.locator("#appeal-table tbody tr").first
        await row.locator(".appeal-evidence img").first.wait_for()
        assert await row.locator(".frames img").count() >= 2  # the appellant's frames beside the photo
        assert "申诉人人脸比对通过" in await row.inner_text()
        await shots(proctor, "appeal-with-evidence")
        await row.locator("textarea, input[name=comment]").first.fill("人脸与证件照一致，本人")
        proctor.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await row.locator("button", has_text="通过").first.click()
        await proctor.wait_for_selector("#appeal-table td.empty")

        # the victim is verified now; the stand-in's open page is told their login is over
        await victim.reload()
        await victim.wait_for_selector("#step-identity[data-state=done]")
        assert number[-4:] in await victim.inner_text("#identity-done")
        await shots(victim, "verified-after-appeal")
        assert (await services.directory.get(squatter.id)).id_number == ""
        await stand_in.goto(f"{live_server}/candidate")
        assert "/login" in stand_in.url
    assert PASSWORD


async def test_an_examiner_disabled_meanwhile_is_told_on_the_open_room_page(
    live_server, services, browsers, cameras, shots
):
    world = await build_world(services, roster_size=1, photos=[faces.encode(faces.grace_hopper())])
    examiner = world.staff["examiner"]
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["astronaut"], desktop=True)
        await page.set_viewport_size(STAFF_VIEW)
        await login(page, live_server, "examiner-one", "/examiner")
        await page.goto(f"{live_server}/examiner/rooms/{world.rooms[0].id}")
        await page.wait_for_function("document.body.innerText.includes('考场0')")
        await asyncio.sleep(1)  # the room's socket is connected
        async with aiohttp.ClientSession(
            headers={"Origin": live_server}, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as admin:
            resp = await admin.post(f"{live_server}/api/auth/login", json={"login": "admin-one", "password": PASSWORD})
            assert resp.status == 200
            resp = await admin.patch(f"{live_server}/api/admin/users/{examiner.id}", json={"disabled": True})
            assert resp.status == 200, await resp.text()
        await page.wait_for_selector("#session-ended[data-reason=account_disabled]", timeout=5_000)
        text = await page.inner_text("#session-ended")
        assert "重新登录" in text
        await shots(page, "examiner-told-disabled")
