"""A recorded exam with more than one device, in real phone-sized Chromiums (fake cameras):

- the aux camera (双机位), a second phone opened from the candidate's QR code, joins each take by itself,
  says it is recorded with the take, says when the take is over and waits for the next one; its picture
  is in the take's folder while the take is filmed, and after submitting ``aux-<n>.webm`` is served and
  played beside the main camera on the candidate's page;
- a second device of the same account (another phone, fresh browser data) opening a sitting in progress
  is refused with the server's clear message and offers nothing that would start a take, while the
  first device records on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import log_in, pass_face_check
from tests.e2e.test_recorded import PLAYS_JS, open_recorded, record_take, recorded_world, take_ids, takes_of

OTHER_DEVICE = "本场考试正在另一台设备上进行"  # the start of the server's sitting_other_device message (zh)


async def to_ready(page, shots) -> None:
    """The device check, the face check, 进入考试: the exam code and 开始录制."""
    await page.click("#start")
    await page.wait_for_selector("#recorded-page[data-device=ok]")
    await pass_face_check(page, shots, "face-check")
    await page.click("#to-ready")
    await page.wait_for_selector("#recorded-page[data-stage=ready]")


async def aux_url(page, shots) -> str:
    """Open 双机位 on the candidate's page: the QR code shows; its link (``X-Aux-Url``, the code's text)."""
    async with page.expect_response(lambda r: r.url.endswith("/aux-qr")) as response:
        await page.click("#aux-card summary")
    answer = await response.value
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    await page.wait_for_function("() => document.getElementById('aux-qr').naturalWidth > 0")
    await page.eval_on_selector("#aux-card", "e => e.scrollIntoView()")
    await shots(page, "aux-qr", full_page=False)
    url = answer.headers["x-aux-url"]
    assert "/aux/" in url, url
    return url


def take_folder(settings, world, account, take_id: str) -> Path:
    return settings.recordings_dir / world.exam.id / account.id / take_id


async def aux_bytes_on_disk(folder: Path, timeout_s: float = 15) -> int:
    """Wait for the aux camera's video file in the take's folder to grow past a few KB; its size."""
    size = 0
    for _ in range(int(timeout_s * 4)):
        size = sum(f.stat().st_size for f in folder.glob("aux_*-video-*.webm"))
        if size > 4096:
            return size
        await asyncio.sleep(0.25)
    raise AssertionError(f"no aux camera file in {folder}: {sorted(p.name for p in folder.glob('*'))}")


async def aux_follows_take(aux, page, shots, step: str) -> str:
    """The candidate presses 开始录制; the aux page joins that take by itself; returns the take's id."""
    await page.click("#take-start")
    await page.wait_for_selector("#rec[data-state=recording]", timeout=30_000)
    take_id = await page.get_attribute("#recorded-page", "data-take-id")
    await aux.wait_for_selector(f"#aux-page[data-state=take_recording][data-take='{take_id}']")
    await aux.wait_for_selector("#aux-page[data-rtc=connected]", timeout=30_000)
    text = await aux.inner_text("#aux-state")
    assert "正在录制" in text and "一同录制" in text, text
    assert "已连接" in await aux.inner_text("#aux-media")
    assert await aux.is_visible("#aux-rec")  # ● 录制中 over the aux camera's picture
    # the candidate's phone says the second camera is recorded with the take (the server's recorder says so)
    await page.wait_for_selector("#recorded-page[data-aux='1']", timeout=15_000)
    assert "辅考手机已连接" in await page.inner_text("#take-aux")
    return take_id


async def stop_take(page, aux, shots, step: str) -> None:
    await page.click("#take-stop")
    await page.wait_for_selector("#recorded-page[data-stage=ready]", timeout=30_000)
    assert await page.get_attribute("#recorded-page", "data-last-end") == "complete:stopped"
    await aux.wait_for_selector("#aux-page[data-state=take_ended]")
    assert not await aux.is_visible("#aux-rec")
    text = await aux.inner_text("#aux-state")
    assert "录制已结束" in text and "等待" in text, text
    assert "自动连接" in await aux.inner_text("#aux-media")
    await shots(aux, f"{step}-aux-ended", full_page=False)


async def test_the_aux_camera_follows_each_take_and_is_played_beside_it(
    live_server, services, settings, browsers, cameras, shots
):
    world, account, subject = await recorded_world(services)
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # submit's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 60):
        await open_recorded(page, live_server, world, account, subject, shots, "formal")
        await to_ready(page, shots)
        url = await aux_url(page, shots)

        # the second phone opens the code's link: its rear camera shows, it waits for a take
        aux = await browsers(cameras["astronaut"])
        await aux.goto(url)
        await aux.wait_for_selector("#aux-page[data-camera=live]")
        await aux.wait_for_function("() => document.getElementById('aux-video').videoWidth > 0")
        await aux.wait_for_selector("#aux-page[data-state]:not([data-state=connecting])")
        waiting = await aux.inner_text("#aux-state")
        assert "等待主考手机" in waiting and "none" not in waiting, waiting
        assert not await aux.is_visible("#aux-rec")
        await shots(aux, "aux-waiting", full_page=False)

        # take 1: the aux camera joins it by itself and is written into the take's folder as it is filmed
        first = await aux_follows_take(aux, page, shots, "take-1")
        assert await aux_bytes_on_disk(take_folder(settings, world, account, first)) > 4096
        await shots(aux, "take-1-aux-recording", full_page=False)
        await shots(page, "take-1-recording", full_page=False)
        await stop_take(page, aux, shots, "take-1")
        manifest = json.loads((take_folder(settings, world, account, first) / "manifest.json").read_text())
        tracks = [t for t in manifest["tracks"] if t["participant_id"].startswith("aux_")]
        assert tracks and all(t["kind"] == "video" and t["label"] == "aux" for t in tracks), tracks
        assert sum(t["size"] for t in tracks) > 4096 and all(t["packets"] > 10 and t["sha256"] for t in tracks), tracks

        # take 2: the aux camera joins again by itself
        second = await aux_follows_take(aux, page, shots, "take-2")
        assert second != first
        await aux_bytes_on_disk(take_folder(settings, world, account, second))
        await asyncio.sleep(2)
        await shots(aux, "take-2-aux-recording", full_page=False)
        await stop_take(page, aux, shots, "take-2")
        assert await take_ids(page) == [first, second]

        # the playback: the aux camera beside the main one, both from the server
        await page.wait_for_selector(f"[data-take='{second}'] video.aux-player", timeout=30_000)
        item = f"[data-take='{second}']"
        captions = await page.eval_on_selector_all(f"{item} figcaption", "cs => cs.map((c) => c.textContent)")
        assert captions == ["主机位", "辅机位"], captions
        boxes = await page.eval_on_selector_all(
            f"{item} video", "vs => vs.map((v) => { const r = v.getBoundingClientRect(); return [r.left, r.top]; })"
        )
        assert len(boxes) == 2 and boxes[1][0] > boxes[0][0] and abs(boxes[1][1] - boxes[0][1]) < 40, boxes  # beside
        await page.eval_on_selector(item, "e => e.scrollIntoView({block: 'center'})")
        played = await page.evaluate(PLAYS_JS, f"{item} video.aux-player")
        assert played and played["t1"] > played["t0"] + 0.5 and played["w"] > 0, played
        await shots(page, "playback-with-aux", full_page=False)

        # submit the second take: its aux camera's file is kept with it and served to the candidate
        await page.click(f"{item} input[name=pick]")
        await page.click("#submit")
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        chosen = (await takes_of(services, sitting_id))[second]
        aux_files = sorted(name for name in chosen.files if name.startswith("aux-"))
        assert aux_files == ["aux-1.webm"], chosen.files
        on_disk = take_folder(settings, world, account, second) / "aux-1.webm"
        assert on_disk.is_file() and on_disk.stat().st_size == chosen.files["aux-1.webm"]["size"] > 4096
        served = await page.evaluate(
            """async (take) => { const r = await fetch(`/api/candidate/takes/${take}/aux/1`);
              return {status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength}; }""",
            second,
        )
        assert served == {"status": 200, "type": "video/webm", "size": on_disk.stat().st_size}, served
        await page.wait_for_selector(f"{item} video.aux-player")  # shown after submitting too
        await page.wait_for_function(
            "(sel) => [...document.querySelectorAll(sel)].every((v) => v.readyState >= 2)", arg=f"{item} video"
        )
        await shots(page, "submitted")
        # the aux page says the subject's exam is over (nothing more is recorded)
        await aux.wait_for_selector("#aux-page[data-state=sitting_over]")
        assert "考试已结束" in await aux.inner_text("#aux-state")
        assert "可以关闭本页面" in await aux.inner_text("#aux-media")
        await shots(aux, "aux-after-submit", full_page=False)
        assert not browsers.errors, browsers.errors


async def test_a_second_device_is_refused_and_the_first_records_on(live_server, services, browsers, cameras, shots):
    world, account, subject = await recorded_world(services)
    first = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S + 60):
        await open_recorded(first, live_server, world, account, subject, shots, "formal")
        sitting_id = await first.get_attribute("#recorded-page", "data-sitting-id")

        # another phone, the same account: the page says why it cannot sit here and offers no take
        other = await browsers(cameras["grace_hopper"])
        await log_in(other, live_server, account, shots)
        await other.goto(f"{live_server}/candidate/exams/{world.exam.id}/recorded/{subject.id}?mode=formal")
        await other.wait_for_selector("#recorded-page[data-stage=elsewhere]")
        assert await other.get_attribute("#recorded-page", "data-refused") == "sitting_other_device"
        text = await other.inner_text("#stage-elsewhere")
        assert OTHER_DEVICE in text and "原设备" in text, text
        await shots(other, "other-device-refused", full_page=False)
        for button in ("#enter", "#start", "#take-start", "#take-resume", "#submit", "#reset", "#to-ready"):
            assert not await other.is_visible(button), button
        visible = await other.eval_on_selector_all(
            "main button", "bs => bs.filter((b) => b.offsetParent !== null).map((b) => b.id)"
        )
        assert visible == ["elsewhere-again"], visible
        # the server refuses its take too, whatever a page would send
        device = await other.evaluate("localStorage.getItem('recorded-device')")
        refused = await other.evaluate(
            """async ([id, device]) => { const { api } = await import('/static/js/common.js');
              try { await api('POST', `/api/candidate/sittings/${id}/takes`, {device, camera: 'front', orientation: 'portrait'});
                return null; } catch (err) { return err; } }""",
            [sitting_id, device],
        )
        assert refused and refused["code"] == "sitting_other_device", refused

        # the first phone records a take as usual
        await to_ready(first, shots)
        take = await record_take(first, shots, "first-device-take", stop_after_s=2)
        assert (await takes_of(services, sitting_id))[take].state == "complete"

        # the other phone checks again: still refused (the take it saw pushed changed nothing there)
        await other.click("#elsewhere-again")
        await other.wait_for_selector("#recorded-page[data-stage=elsewhere]")
        assert OTHER_DEVICE in await other.inner_text("#elsewhere-text")
        assert not await other.is_visible("#take-start") and not await other.is_visible("#takes-card")
        await shots(other, "other-device-still-refused", full_page=False)
        # the refused entries and take (409) are logged by the browser as console errors: expected here
        browsers.errors[:] = [e for e in browsers.errors if "409" not in e]
        assert not browsers.errors, browsers.errors
