"""An upload take in a real phone-sized Chromium (390x844): a subject that takes files filmed offline; the
candidate enters, passes the device and face checks, sees the exam-code reminder on the upload card,
chooses a video file (set_input_files: an H.264/AAC MP4 made with PyAV), and watches it go up in tus
chunks with the percentage, the speed and the time left; half-way the phone loses the network and the
upload resumes from the server's offset by itself. The server checks the file, the take becomes
playable (the page's <video> plays it from the server), and the candidate submits it. A file that is
not a video is refused with the reason, and does not count."""

from __future__ import annotations

import asyncio
import hashlib
import re

from server.store.audit import Actor
from tests.e2e.conftest import FIGURES, TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import log_in, pass_face_check
from tests.e2e.test_recorded import PLAYS_JS, recorded_world, takes_of
from tests.recorded.clips import make_clip

THROTTLE_BYTES_S = 1_000_000  # the phone's uplink: ~8 Mbit/s, so the upload takes a few seconds to watch


async def test_candidate_uploads_a_video_filmed_offline_and_submits_it(
    live_server, services, settings, browsers, cameras, shots, tmp_path
):
    world, account, subject = await recorded_world(services)
    subject = await services.catalog.update_subject(
        Actor.system(), world.exam.id, subject.id, uploads_allowed=True, upload_max_mb=50, take_max_s=60
    )
    video = make_clip(tmp_path / "IMG_0001.mp4", seconds=2.5, fps=25, noise=True)  # ~8 MB, incompressible
    data = video.read_bytes()
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the upload's and submit's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 90):
        await log_in(page, live_server, account, shots)
        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/recorded/{subject.id}?mode=formal")
        await page.wait_for_selector("#recorded-page[data-stage=rules]")
        rules = await page.inner_text("#rules")
        assert "上传视频文件" in rules and "50 MB" in rules and "报出考试码" in rules, rules
        await page.click("#enter")
        await page.wait_for_selector("#recorded-page[data-stage=check]")
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")

        # the upload card: the limits, and the exam code to say in the video
        await page.wait_for_selector("#upload-card:not([hidden])")
        code = (await page.inner_text("#exam-code")).strip()
        card = await page.inner_text("#upload-card")
        assert f"报出考试码 {code}" in card and "50 MB" in card and "1分" in card, card
        await page.eval_on_selector("#upload-card", "e => e.scrollIntoView()")
        await shots(page, "upload-card", full_page=False)

        # a file that is not a video: refused by the server with the reason; it does not count
        fake = tmp_path / "VID_2024.mp4"
        fake.write_bytes(b"\x00\x00\x00\x18notavideo" * 2000)
        await page.set_input_files("#upload-file", str(fake))
        await page.click("#upload-start")
        await page.wait_for_selector("#recorded-page[data-upload=failed]", timeout=30_000)
        assert "不是视频" in await page.inner_text("#upload-error")
        await page.eval_on_selector("#upload-card", "e => e.scrollIntoView()")
        await shots(page, "not-a-video", full_page=False)
        assert "3 次" in await page.inner_text("#takes-left")

        # the real file, over a slow uplink; offline for a moment at ~40 %
        cdp = await page.context.new_cdp_session(page)
        slow = {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": THROTTLE_BYTES_S}
        await cdp.send("Network.emulateNetworkConditions", slow)
        await page.set_input_files("#upload-file", str(video))
        assert "IMG_0001.mp4" in await page.inner_text("#upload-chosen")
        await page.click("#upload-start")
        await page.wait_for_selector("#upload-progress:not([hidden])")
        await page.wait_for_function("() => Number(document.getElementById('recorded-page').dataset.uploadPct) >= 40")
        await page.wait_for_function("() => document.getElementById('upload-speed').textContent.includes('剩余约')")
        figures = await page.inner_text("#upload-progress")
        assert "已上传" in figures and "%" in figures and re.search(r"速度 [\d.]+ [KM]B/s", figures), figures
        await shots(page, "uploading", full_page=False)
        await cdp.send("Network.emulateNetworkConditions", {**slow, "offline": True})
        await page.wait_for_function(
            "() => Number(document.getElementById('recorded-page').dataset.uploadRetries || 0) >= 1", timeout=30_000
        )
        await shots(page, "offline", full_page=False)
        await asyncio.sleep(1.5)
        await cdp.send("Network.emulateNetworkConditions", slow)
        await page.wait_for_selector("#recorded-page[data-upload=complete]", timeout=60_000)
        await cdp.send("Network.emulateNetworkConditions", {**slow, "uploadThroughput": -1})
        take_id = await page.get_attribute("#recorded-page", "data-upload-take")
        player = f"[data-take='{take_id}'] video.take-player"
        await page.wait_for_selector(player, timeout=30_000)
        assert "本地上传：IMG_0001.mp4" in await page.inner_text(f"[data-take='{take_id}']")
        await page.eval_on_selector(player, "v => v.scrollIntoView({block: 'center'})")
        played = await page.evaluate(PLAYS_JS, player)
        assert played and played["t1"] > played["t0"] + 0.5 and played["w"] == 320, played
        await shots(page, "playable", full_page=False)

        take = (await takes_of(services, sitting_id))[take_id]
        assert take.state == "complete" and take.source == "upload"
        assert take.upload["sha256"] == hashlib.sha256(data).hexdigest() and take.upload["video"] == "copied"
        FIGURES.append(f"upload take {take_id}: {len(data)} bytes through tus at ~1 MB/s with a drop, copied")

        await page.click(f"[data-take='{take_id}'] input[name=pick]")
        await page.click("#submit")
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        done = await page.inner_text("#stage-done")
        assert "已提交" in done and "上传的视频已完整保存" in done, done
        assert (await page.inner_text("#done-sha")).strip() == take.sha256
        await shots(page, "submitted")
        sitting = await services.sittings.sitting_of(account, sitting_id)
        assert (sitting.state, sitting.submitted_take) == ("submitted", take_id)
        # expected console lines: the refused file's 4xx, and the socket failing while the phone was offline
        expected = ("410", "409", "ERR_INTERNET_DISCONNECTED")
        assert not [e for e in browsers.errors if not any(x in e for x in expected)], browsers.errors
