"""The live interview in real browsers: a candidate on a phone-sized Chromium (fake camera: their own
face) opens the interview page in their running slot, passes the device check, turns on sound and
joins the queue, passes the face check while waiting; an examiner in a second, desktop Chromium
opens the room page and calls next; both see each other's video through the server; the examiner
ends the interview; the candidate sees the end screen; the recording's files decode. On the way
the candidate's phone switches networks and its page reconnects by itself.
A candidate whose camera shows someone else is refused in the queue with the reason."""

from __future__ import annotations

import asyncio
import time

import av

from tests.conftest import PASSWORD, build_world
from tests.e2e.conftest import FIGURES, TEST_TIMEOUT_S, page_weight
from tests.e2e.test_candidate_checks import face_check, log_in, pass_face_check
from tests.facecheck import faces
from tests.live import FIT_DEVICE, LiveWorld

VIDEO_PLAYS_JS = """async (selector) => {
  const v = document.querySelector(selector);
  if (!v || !v.srcObject || !v.videoWidth) return false;
  const t0 = v.currentTime;
  await new Promise((r) => setTimeout(r, 400));
  return v.videoWidth > 0 && v.currentTime > t0;
}"""


async def running_world(services):
    """One rostered candidate (ID photo: grace_hopper) booked into a slot that started 30 s ago."""
    world = await build_world(
        services, roster_size=1, capacity=2, slot_in=-30, photos=[faces.encode(faces.grace_hopper())]
    )
    account = await world.candidate(0)
    slot = world.slots[0]  # room 0, subject 声乐: the candidate's only subject
    await services.bookings.book(account, world.exam.id, slot.id, now=slot.starts_at - 60)
    return world, account


async def waiting_by_socket(candidate, base: str, services, world, account) -> None:
    """``account`` in the line of its booked slot with its face check passed, through ``candidate``, a
    python-socketio ``Peer`` (not a browser: the tests that use it drive the candidate's camera themselves)."""
    await candidate.connect(base, await services.sessions.create(account.id, account.role))
    await candidate.wait_for("queue:snapshot")
    ack = await candidate.call(
        "queue:join", {"exam_id": world.exam.id, "slot_id": world.slots[0].id, "device": FIT_DEVICE}
    )
    assert ack["ok"], ack
    await LiveWorld(world, services).pass_face(account)


async def video_plays(page, selector: str, timeout_s: float = 30) -> dict:
    """Wait until the <video> shows frames (videoWidth > 0) and its currentTime advances."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await page.evaluate(VIDEO_PLAYS_JS, selector):
            return await page.eval_on_selector(selector, "v => ({w: v.videoWidth, h: v.videoHeight, t: v.currentTime})")
        await asyncio.sleep(0.1)
    state = await page.evaluate(
        """(s) => { const v = document.querySelector(s); const p = document.querySelector('[data-rtc]');
      return v ? {w: v.videoWidth, t: v.currentTime, src: Boolean(v.srcObject), rtc: p && p.dataset.rtc} : null; }""",
        selector,
    )
    raise AssertionError(f"{selector} never played: {state}")


async def open_interview(page, base, world, account, shots) -> float:
    """From the candidate's home to "in queue"; returns the seconds it took from opening the page."""
    await log_in(page, base, account, shots)
    link = f"a[href='/candidate/exams/{world.exam.id}/interview']"
    await page.wait_for_selector(link)
    await shots(page, "home-start-interview")
    opened = time.monotonic()
    await page.click(link)
    await page.wait_for_url(f"**/candidate/exams/{world.exam.id}/interview")
    await page.wait_for_selector("#interview-page[data-device=ok]")
    await page.wait_for_selector("#join:not([disabled])")
    await shots(page, "device-check")
    await page.click("#join")
    await page.wait_for_selector("#interview-page[data-stage=queue]")
    in_queue = time.monotonic() - opened
    assert await page.get_attribute("#interview-page", "data-sound") == "on"  # the AudioContext runs
    return in_queue


async def staff_login(page, base: str, username: str, home: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{home}")


async def test_candidate_is_called_interviewed_and_recorded(live_server, services, browsers, cameras, shots):
    world, account = await running_world(services)
    candidate = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        in_queue_s = await open_interview(candidate, live_server, world, account, shots)
        await page_weight(candidate, "/candidate/exams/{exam}/interview (queue)")
        await shots(candidate, "in-queue")
        assert await candidate.inner_text("#q-position") == "第 1 位"
        assert await candidate.inner_text("#q-ahead") == "0 人"
        assert await candidate.get_attribute("#interview-page", "data-queue-state") == "waiting_face_check"
        assert ":" in await candidate.inner_text("#q-countdown")

        await pass_face_check(candidate, shots, "queue-face-check")
        await candidate.wait_for_selector("#interview-page[data-queue-state=waiting]")
        await shots(candidate, "waiting-face-passed")

        # the examiner, on a desktop, in a second browser
        examiner = await browsers(cameras["astronaut"], desktop=True)
        examiner.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "end the interview?"
        await staff_login(examiner, live_server, "examiner-one", "/examiner")
        await examiner.click(f"a[href='/examiner/rooms/{world.rooms[0].id}']")
        await examiner.wait_for_selector(f"#queue-table tr[data-account='{account.id}'][data-state=waiting]")
        await examiner.wait_for_selector("#room-page[data-rtc=connected]")
        await video_plays(examiner, "#self-video")
        await shots(examiner, "examiner-queue")
        assert "已通过" in await examiner.inner_text(f"#queue-table tr[data-account='{account.id}']")

        # the school's admin watches the exam live on the proctor dashboard (a third browser)
        admin = await browsers(cameras["astronaut"], desktop=True)
        await staff_login(admin, live_server, "admin-one", "/admin")
        await admin.goto(f"{live_server}/proctor")
        await admin.select_option("#live-exam", world.exam.id)
        tile = f"#rooms-grid [data-room='{world.rooms[0].id}']"
        await admin.wait_for_selector(f"{tile}[data-idle=true]")
        assert await admin.inner_text(f"{tile} .waiting") == "1"
        await admin.wait_for_selector(f"#cand-table tr[data-account='{account.id}'][data-state=waiting]")

        called = time.monotonic()
        await examiner.click("#call-next")
        examiner_sees = asyncio.ensure_future(video_plays(examiner, "#cand-video"))
        candidate_sees = await video_plays(candidate, "#remote video")
        candidate_video_s = time.monotonic() - called
        examiner_view = await examiner_sees
        both_s = time.monotonic() - called
        assert candidate_sees["w"] > 0 and examiner_view["w"] > 0
        await shots(candidate, "candidate-in-room", full_page=False)
        await candidate.wait_for_selector("#rec[data-state=recording]")
        await examiner.wait_for_selector("#rec[data-state=recording]")
        await examiner.wait_for_selector("#room-page[data-current-state=in_room]")
        assert await candidate.eval_on_selector("#self-video", "v => v.muted && v.playsInline")

        # a quick phrase reaches the examiners; the room's face check result reaches both
        await candidate.click("[data-phrase=cant_hear]")
        await examiner.wait_for_selector("#phrases li[data-phrase=cant_hear]")
        await candidate.wait_for_selector("#room-face[data-passed]", timeout=30_000)
        assert await candidate.get_attribute("#room-face", "data-passed") == "true", await candidate.inner_text(
            "#room-face"
        )
        await examiner.wait_for_selector("#face-badge[data-state=verified]")
        await asyncio.sleep(2)  # some recorded media

        # the phone switches networks (Wi-Fi -> 4G): the page makes a new connection by itself
        # (rtc:restart); nobody clicks anything and the examiner's view comes back
        await candidate.evaluate("window.dispatchEvent(new Event('online'))")
        assert await candidate.get_attribute("#interview-page", "data-rtc") == "restarting"
        await shots(candidate, "network-switch")
        await candidate.wait_for_selector("#interview-page[data-rtc=connected]", timeout=20_000)
        await video_plays(candidate, "#remote video")
        await video_plays(examiner, "#cand-video")
        await asyncio.sleep(1)  # recorded after the switch
        await video_plays(candidate, "#remote video")
        await video_plays(examiner, "#cand-video")
        await shots(examiner, "examiner-interview")
        await admin.wait_for_selector(f"{tile}[data-idle=false]")  # pushed, no reload
        assert "考生0" in await admin.inner_text(f"{tile} .current")
        await admin.select_option("#state-filter", "room")
        await admin.wait_for_selector(f"#cand-table tr[data-account='{account.id}'][data-state=in_room]")
        await shots(admin, "proctor-live")

        await examiner.click("#end")
        await candidate.wait_for_selector("#interview-page[data-end=done]")
        await shots(candidate, "end-screen")
        assert "面试已结束" in await candidate.inner_text("#stage-end")
        assert await candidate.is_hidden("#reenter")
        await examiner.wait_for_selector("#room-page[data-current='']")
        await shots(examiner, "examiner-after")

        # the proctor sees it end, and the candidate's timeline from the audit stream
        await admin.select_option("#state-filter", "done")
        await admin.wait_for_selector(f"#cand-table tr[data-account='{account.id}'][data-state=done]")
        await admin.click(f"#cand-table tr[data-account='{account.id}'] button")
        await admin.wait_for_selector(f"#timeline .timeline[data-account='{account.id}'] li[data-event=queue_called]")
        await shots(admin, "proctor-timeline")

        # the recording: indexed in Redis, every file of its manifest decodes
        deadline = time.monotonic() + 20
        while True:
            records = await services.recordings.of_exam(world.exam.id)
            if records and records[0]["state"] != "recording" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        (record,) = records
        assert record["state"] == "stopped" and record["account_id"] == account.id, record
        tracks = record["manifest"]["tracks"]
        kinds = {(t["participant_id"], t["kind"]) for t in tracks}
        assert {(account.id, "video"), (account.id, "audio")} <= kinds, kinds
        # before and after the network switch: two segments in the same interview folder
        segments = [t for t in tracks if t["participant_id"] == account.id and t["kind"] == "video"]
        assert len(segments) == 2, segments
        decoded = {}
        for track in tracks:
            path = services.recordings.file(record, track["file"])
            assert path is not None, track
            with av.open(str(path)) as container:
                stream = container.streams[0]
                frames = sum(1 for _ in container.decode(stream))
            decoded[track["file"]] = frames
            assert frames > (10 if track["kind"] == "video" else 50), (track, frames)
        # ... and plays in the admin's browser, from the recordings list
        await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
        await admin.click("[data-panel=panel-recordings]")
        video_file = next(t["file"] for t in tracks if t["participant_id"] == account.id and t["kind"] == "video")
        await admin.click(f"#recordings-table li[data-file='{video_file}'] button")
        await admin.wait_for_function(
            "() => { const v = document.querySelector('#player video'); return v && v.videoWidth > 0; }"
        )
        assert await admin.get_attribute("#audit-csv", "href") == f"/api/admin/exams/{world.exam.id}/audit.csv"
        await shots(admin, "admin-recording-playback")
        FIGURES.append(
            f"recording {record['interview_id']}: " + ", ".join(f"{f} {n} frames" for f, n in decoded.items())
        )
        FIGURES.append(f"candidate: interview page opened -> in queue {in_queue_s:.2f} s (device check + one tap)")
        FIGURES.append(
            f"call next -> candidate sees the examiner {candidate_video_s:.2f} s, both sides playing {both_s:.2f} s"
        )
        print("\n".join(FIGURES[-3:]))
        assert not browsers.errors, browsers.errors


async def test_someone_else_in_the_queue_is_refused_with_the_reason(live_server, services, browsers, cameras, shots):
    world, account = await running_world(services)
    page = await browsers(cameras["astronaut"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await open_interview(page, live_server, world, account, shots)
        result = await face_check(page, shots, "queue-face-check-other-person")
        assert (result["state"], result["reason"]) == ("failed", "face_mismatch"), result
        assert "人脸比对未通过" in result["text"] and "还有 2 次机会" in result["text"], result
        assert await page.get_attribute("#interview-page", "data-queue-state") == "waiting_face_check"
        await page.reload()  # the place and the refusal survive a reload
        await page.wait_for_selector("#interview-page[data-stage=queue]")
        await page.wait_for_selector("#face-box .warn")
        assert "还有 2 次机会" in await page.inner_text("#face-box")
        await shots(page, "reloaded-still-in-queue")
        view = await services.queue.entries_of(account.id)
        assert [e.state for e in view] == ["waiting_face_check"]
        assert not browsers.errors, browsers.errors


async def test_removed_candidate_sees_the_reason_and_enters_again(live_server, services, browsers, cameras, shots):
    """Called before the page opens (a reload while called): the page joins the room by itself; the
    examiner removes the candidate with a reason; the end screen shows it and offers re-entry."""
    from server.store.audit import Actor
    from tests.live import FIT_DEVICE, LiveWorld

    world, account = await running_world(services)
    live = LiveWorld(world, services)
    await services.queue.join(account, world.exam.id, world.slots[0].id, FIT_DEVICE)
    await live.pass_face(account)
    await live.present(account)
    examiner = Actor(world.staff["examiner"].id, "examiner")
    await services.queue.call_next(examiner, world.rooms[0].id)

    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(page, live_server, account, shots)
        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/interview")
        await page.wait_for_selector("#interview-page[data-in-room='1']")
        await page.wait_for_selector("#interview-page[data-queue-state=in_room]")
        await shots(page, "in-room-after-reload", full_page=False)

        reason = "请调整机位，让面部完整出现在画面中"
        await services.queue.remove(examiner, world.rooms[0].id, account.id, reason)
        await page.wait_for_selector("#interview-page[data-end=removed]")
        await shots(page, "removed")
        text = await page.inner_text("#stage-end")
        assert "您已被退出面试" in text and reason in text and "调整后再次进入" in text, text
        assert await page.is_visible("#reenter")

        await page.click("#reenter")
        await page.wait_for_selector("#interview-page[data-stage=queue]")
        await page.wait_for_selector("#interview-page[data-queue-state=waiting]")  # the face pass still holds
        await shots(page, "back-in-queue")
        (entry,) = await services.queue.entries_of(account.id)
        assert entry.state == "waiting", entry
        assert not browsers.errors, browsers.errors


async def test_aux_camera_page_follows_the_candidate_into_the_room(live_server, services, browsers, cameras, shots):
    """The second phone opened from the QR code: shows the candidate's state, and streams its rear
    camera into the room once the candidate is in it."""
    from server.store.audit import Actor
    from tests.live import FIT_DEVICE, LiveWorld

    world, account = await running_world(services)
    live = LiveWorld(world, services)
    await services.queue.join(account, world.exam.id, world.slots[0].id, FIT_DEVICE)
    await live.pass_face(account)
    await live.present(account)
    session = await services.sessions.create(account.id, "candidate")  # the phone's login the QR code belongs to
    token = await services.aux_tokens.issue(world.exam.id, account.id, services.sessions.hash_of(session))
    page = await browsers(cameras["astronaut"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await page.goto(f"{live_server}/aux/{token}")
        await page.wait_for_selector("#aux-page[data-state=waiting]")
        await page.wait_for_selector("#aux-page[data-camera=live]")
        await page.wait_for_function("() => document.getElementById('aux-video').videoWidth > 0")
        assert await page.eval_on_selector("#aux-video", "v => v.muted && v.playsInline")
        await shots(page, "aux-waiting")
        await services.queue.call_next(Actor(world.staff["examiner"].id, "examiner"), world.rooms[0].id)
        await services.queue.enter_room(account, world.rooms[0].id)
        await page.wait_for_selector("#aux-page[data-state=in_room]")
        await page.wait_for_selector("#aux-page[data-rtc=connected]", timeout=30_000)
        await shots(page, "aux-streaming")

        await page.goto(f"{live_server}/aux/not-a-token")
        await shots(page, "aux-bad-token")
        assert "二维码" in await page.inner_text("main") or await page.query_selector("[data-code=aux_token_invalid]")
        assert not [e for e in browsers.errors if "not-a-token" not in e], browsers.errors
