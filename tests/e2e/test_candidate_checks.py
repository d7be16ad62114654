"""A candidate in a real phone-sized Chromium with a fake camera showing a real face:
logs in, books a slot, opens the check page (practice preview, device check, face check) and passes
the face check; a candidate whose camera shows someone else is refused with the reason."""

from __future__ import annotations

import asyncio
import time

from server.queue.device import DevicePolicy
from server.signaling.candidate import device_report
from tests.conftest import PASSWORD, build_world
from tests.e2e import fakecam
from tests.e2e.conftest import FIGURES, TEST_TIMEOUT_S, TURNS, page_weight
from tests.facecheck import faces


async def face_world(services):
    """One rostered candidate whose ID photo is grace_hopper; verified, exam confirmed, pledge signed."""
    world = await build_world(services, roster_size=1, photos=[faces.encode(faces.grace_hopper())])
    return world, await world.candidate(0)


async def log_in(page, base: str, account, shots) -> None:
    await page.goto(f"{base}/login")
    await shots(page, "login")
    await page.fill("input[name=login]", account.phone)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/candidate")


async def start_device_check(page, shots) -> None:
    await page.click("#start")
    await page.wait_for_selector("#check-page[data-device]")
    await page.wait_for_selector("#check-page[data-camera=live]")
    await shots(page, "device-check")
    statuses = dict(
        await page.eval_on_selector_all(".check-item", "items => items.map(i => [i.dataset.item, i.dataset.status])")
    )
    assert statuses["camera"] == "ok" and statuses["secure"] == "ok", statuses
    assert statuses["mic"] in ("ok", "warn") and statuses["network"] == "ok", statuses
    assert await page.eval_on_selector("#video", "v => v.videoWidth") == fakecam.WIDTH
    # the facts the queue's device rules judge (queue:join's `device`): accepted, and this browser is fit
    report = await page.eval_on_selector("#check-page", "p => p.deviceReport")
    assert (report["camera"], report["microphone"], report["in_app"]) == ("granted", "granted", None), report
    assert DevicePolicy.parse(20, "chrome:90,safari:14").problems(device_report(report)) == [], report


async def drive_camera(page) -> None:
    """From now on the page's camera shows the candidate's face turning the way the page asks
    (fakecam.DRIVEN_CAMERA_JS): what a candidate in front of the camera does."""
    await page.evaluate("(pngs) => window.__faceCam.load(pngs)", fakecam.driven_camera_pngs(TURNS))


async def face_check(page, shots, step: str) -> dict:
    """Press the face-check button and follow it to its answer: the result box's state, reason and
    text. The moves are the server's (face:move); whether the camera follows them is the caller's
    choice (``drive_camera``); the y4m alone plays its loop, as a replayed recording would."""
    started = time.monotonic()
    await page.click("#face-start")
    first = await page.wait_for_selector("#prompt.turn, .face-result", timeout=30_000)
    if await first.get_attribute("id") == "prompt":
        await asyncio.sleep(0.3)
        await shots(page, f"{step}-move-prompt", full_page=False)  # what the phone's screen shows
    result = await page.wait_for_selector(".face-result", timeout=60_000)
    seconds = time.monotonic() - started
    await shots(page, f"{step}-result")
    out = {
        "state": await result.get_attribute("data-state"),
        "reason": await result.get_attribute("data-reason"),
        "text": await result.inner_text(),
    }
    moves = await page.evaluate("() => window.__faceCam ? window.__faceCam.moves.length : 0")
    FIGURES.append(
        f"face check {step}: {out['state']} {out['reason'] or ''} {seconds:.1f} s from the tap to the "
        f"answer (live challenge; moves followed by the camera so far: {moves}); nothing uploaded"
    )
    return out


async def pass_face_check(page, shots, step: str) -> dict:
    """Up to 3 tries, as a candidate would (a failure names its reason); the last one passes and
    is returned."""
    await drive_camera(page)
    tries = []
    for attempt in range(3):
        result = await face_check(page, shots, f"{step}-{attempt + 1}")
        tries.append(result)
        if result["state"] != "failed":
            break
        print(f"{step} try {attempt + 1} failed: {result}")
    assert tries[-1]["state"] == "passed", tries
    return tries[-1]


async def test_candidate_books_checks_devices_and_passes_the_face_check(
    live_server, services, browsers, cameras, shots
):
    world, account = await face_world(services)
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the booking's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)

        # book the slot (a booking cannot be changed afterwards: 预约完成后不可修改)
        await page.wait_for_selector(".slot-option")
        await page_weight(page, "/candidate")
        await page.click(".slot-option")
        await shots(page, "booking-choose")
        await page.click("#step-booking button[type=submit]")
        await page.wait_for_selector("#step-booking[data-state=done]")
        await shots(page, "booked")
        assert await services.store.redis.hgetall(services.store.keys.bookings(account.id))

        # the check page, from the link the booked summary shows
        await page.click(f"a[href='/candidate/exams/{world.exam.id}/check']")
        await page.wait_for_url(f"**/candidate/exams/{world.exam.id}/check")
        await page.wait_for_selector("#booking-info:not([hidden])")
        await shots(page, "check-page")
        weight = await page_weight(page, "/candidate/exams/{exam}/check")
        assert weight["static_bytes"] < 80 * 1024, weight["files"]  # no frameworks: small ES modules
        assert await page.is_hidden("#in-app") and await page.is_hidden("#camera-blocked")

        await start_device_check(page, shots)
        await page.wait_for_function("() => parseFloat(document.getElementById('mic-level').style.width) > 0")
        await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")  # the preview out of view
        await asyncio.sleep(5)  # longer than the 4 s a frozen picture takes to raise the alarm
        await page.evaluate("() => window.scrollTo(0, 0)")
        await asyncio.sleep(1)
        assert await page.is_hidden("#camera-dead"), await page.inner_text("#camera-dead")

        # a dead camera is noticed and recovered
        await page.evaluate("() => document.getElementById('video').srcObject.getVideoTracks()[0].stop()")
        await page.wait_for_selector("#camera-dead:not([hidden])")
        await shots(page, "camera-dead")
        await page.click("#camera-restart")
        await page.wait_for_selector("#check-page[data-camera=live]")
        await page.wait_for_selector("#camera-dead", state="hidden")
        assert await page.eval_on_selector("#video", "v => v.srcObject.getVideoTracks()[0].readyState") == "live"

        passed = await pass_face_check(page, shots, "face-check")
        await page_weight(page, "/candidate/exams/{exam}/check, everything loaded after the face check")
        assert "人脸比对通过" in passed["text"]
        assert await services.face_gate.cleared(world.exam.id, account.id)
        assert await page.get_attribute("#check-page", "data-face") == "passed"
        assert not browsers.errors, browsers.errors


async def test_someone_else_on_camera_is_refused_with_the_reason(live_server, services, browsers, cameras, shots):
    world, account = await face_world(services)
    page = await browsers(cameras["astronaut"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        # practice first (no examiner, no face check): preview, framing oval, microphone meter
        await page.click("a[href='/candidate/practice']")
        await page.wait_for_url("**/candidate/practice")
        await page_weight(page, "/candidate/practice")
        await start_device_check(page, shots)
        await page.wait_for_function("() => parseFloat(document.getElementById('mic-level').style.width) > 0")
        assert await page.query_selector("#face-card") is None

        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/check")
        await start_device_check(page, shots)

        result = await face_check(page, shots, "face-check-zh")
        assert (result["state"], result["reason"]) == ("failed", "face_mismatch"), result
        assert "人脸比对未通过" in result["text"] and "美瞳" in result["text"] and "还有 2 次机会" in result["text"]
        assert await page.is_visible("#face-start")  # may try again

        # the same refusal in English after switching the language
        await page.click("a[href^='/lang/en']")
        await page.wait_for_selector("html[lang=en]")
        await start_device_check(page, shots)
        result = await face_check(page, shots, "face-check-en")
        assert result["reason"] == "face_mismatch", result
        assert "Face does not match the ID photo" in result["text"] and "1 try left" in result["text"], result

        state = await services.face_gate.status(world.exam.id, account.id)
        assert (state.status, state.strikes, state.cleared) == ("failed", 2, False)
        assert not browsers.errors, browsers.errors


WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2219A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160027 MMWEBSDK/20231202 MMWEBID/2247 "
    "MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


async def test_in_app_browser_denied_camera_and_insecure_page_are_told_clearly(
    live_server, services, browsers, cameras, shots
):
    world, account = await face_world(services)
    check = f"/candidate/exams/{world.exam.id}/check"
    async with asyncio.timeout(TEST_TIMEOUT_S):
        # WeChat's in-app browser: told to open the system browser before anything else
        page = await browsers(cameras["grace_hopper"], user_agent=WECHAT_UA)
        await log_in(page, live_server, account, shots)
        await page.goto(live_server + check)
        await page.wait_for_selector("#in-app:not([hidden])")
        assert "微信" in await page.inner_text("#in-app") and "在浏览器中打开" in await page.inner_text("#in-app")
        await page.click("#start")
        await page.wait_for_selector("#check-page[data-device=fail]")
        await shots(page, "wechat")
        assert await page.get_attribute("[data-item=browser]", "data-status") == "fail"
        assert "在浏览器中打开" in await page.inner_text("[data-item=browser]")

        # camera permission denied: the reason and where to allow it. --use-fake-ui-for-media-stream
        # accepts every prompt (and overrides a permission set to "denied"), so the browser's answer
        # to a candidate who tapped "deny" is played back here: getUserMedia rejects NotAllowedError.
        page = await browsers(cameras["grace_hopper"])
        await page.add_init_script("""navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));""")
        await log_in(page, live_server, account, shots)
        await page.goto(live_server + check)
        await page.click("#start")
        await page.wait_for_selector("#check-page[data-device]")
        await shots(page, "camera-denied")
        assert await page.get_attribute("#check-page", "data-device") == "fail"
        blocked = await page.inner_text("#camera-blocked")
        assert "摄像头或麦克风权限被拒绝" in blocked and "允许本网站使用摄像头和麦克风" in blocked, blocked
        assert await page.get_attribute("[data-item=camera]", "data-status") == "fail"
        assert await page.is_hidden("#face-start")  # no face check without a camera

        # not a secure context (plain HTTP on a name other than localhost): said before any tap
        cookies = await page.context.cookies(live_server)
        await page.context.add_cookies(
            [{**c, "domain": "exam.test", "path": "/"} for c in cookies if c["name"] == "iv_session"]
        )

        async def via_live_server(route):
            url = live_server + route.request.url.split("exam.test", 1)[1]
            await route.fulfill(response=await route.fetch(url=url))

        await page.route("http://exam.test/**", via_live_server)
        await page.goto("http://exam.test" + check)
        assert await page.evaluate("() => window.isSecureContext") is False
        await page.wait_for_selector("#camera-blocked:not([hidden])")
        await shots(page, "insecure")
        assert "不是安全连接" in await page.inner_text("#camera-blocked")
        await page.click("#start")
        await page.wait_for_selector("#check-page[data-device=fail]")
        assert await page.get_attribute("[data-item=secure]", "data-status") == "fail"
        assert not [e for e in browsers.errors if "exam.test" not in e], browsers.errors


# user agent -> (in-app id or None, browser name, os) as device.js should see them
USER_AGENTS = [
    (WECHAT_UA, "wechat", "Chrome", "Android"),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
        "MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN",
        "wechat",
        None,
        "iOS",
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; PEHM00 Build/SKQ1.210216.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/89.0.4389.72 MQQBrowser/6.2 TBS/046247 Mobile Safari/537.36 V1_AND_SQ_8.9.38_4218_YYB_D "
        "QQ/8.9.38.10545 NetType/WIFI WebP/0.3.0",
        "qq",
        "QQ Browser",
        "Android",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
        "Weibo (iPhone14,2__weibo__13.8.1__iphone__os16.6)",
        "weibo",
        None,
        "iOS",
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 11; zh-CN; M2012K11AC Build/RKQ1.200826.002) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.33 Mobile Safari/537.36 AliApp(DingTalk/6.5.50) "
        "com.alibaba.android.rimet/28489469 Channel/227200 language/zh-CN",
        "dingtalk",
        "Chrome",
        "Android",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; 22081212C) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
        "Chrome/109.0.5414.86 Mobile Safari/537.36 AlipayChannelId/5136 AlipayClient/10.5.36.7100 Language/zh-Hans",
        "alipay",
        "Chrome",
        "Android",
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 13; zh-cn; 22081212C Build/TKQ1.220829.002) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Version/4.0 Chrome/109.0.5414.86 MQQBrowser/14.2 Mobile Safari/537.36 COVC/046511",
        None,
        "QQ Browser",
        "Android",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1",
        None,
        "Safari",
        "iOS",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
        "Safari/537.36",
        None,
        "Chrome",
        "Android",
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
        None,
        "Huawei Browser",
        "HarmonyOS",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 "
        "Mobile/15E148 Safari/604.1",
        None,
        "Chrome",
        "iOS",
    ),
]


async def test_browser_and_in_app_detection(live_server, browsers, cameras):
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(60):
        await page.goto(f"{live_server}/login")
        seen = await page.evaluate(
            """async (uas) => {
          const m = await import('/static/js/device.js');
          return uas.map((ua) => { const app = m.inAppBrowser(ua), info = m.browserInfo(ua);
                                   return [app && app.id, info.name, info.os, info.mobile]; });
        }""",
            [ua for ua, *_ in USER_AGENTS],
        )
    for (ua, app, browser, os_name), (got_app, got_browser, got_os, mobile) in zip(USER_AGENTS, seen, strict=False):
        assert got_app == app and got_os == os_name and mobile, (ua, seen)
        if browser:
            assert got_browser == browser, (ua, got_browser)


MOVE_REASONS = ("face_move_early", "face_move_wrong", "face_move_late", "face_liveness", "face_not_frontal")


async def test_a_recording_of_the_candidate_turning_fails_the_live_challenge(
    live_server, services, browsers, cameras, shots
):
    """The y4m of the candidate's own face turning left, then right, played as the camera (not
    driven): it cannot know the server's moves nor their moments, and the page ends with a clear
    failure and a strike (tests/facecheck/test_live_challenge.py measures 40 such replays)."""
    world, account = await face_world(services)
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/check")
        await start_device_check(page, shots)
        result = await face_check(page, shots, "face-check-replay")
        assert (result["state"], result["reason"] in MOVE_REASONS) == ("failed", True), result
        assert "还有 2 次机会" in result["text"], result
        state = await services.face_gate.status(world.exam.id, account.id)
        assert (state.strikes, state.cleared) == (1, False)
        [check] = await services.face_gate.history(world.exam.id, account.id)
        assert check["live"] is True and check["moves"], check
        assert not browsers.errors, browsers.errors
