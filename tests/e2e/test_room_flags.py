"""The examiner's room page (desktop Chromium, 1280x900) while the interview is watched: the
candidate (an aiortc peer whose camera the test switches) shows a second face; the page shows the
flag as a badge on the candidate's video, with its time; the exam's proctor page lists it with the
frame that raised it; once the right face is back the badge goes and the proctor's entry says
cleared. A face pool kept busy by other rooms shows the proctor that monitoring is degraded, until it
keeps up again."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import running_world, staff_login, waiting_by_socket
from tests.facecheck import faces
from tests.signaling.conftest import Peer
from tests.signaling.test_room_monitoring import Camera, CameraClient, framed
from tests.signaling.test_rooms import SocketRoom


async def test_the_examiner_sees_a_flag_on_the_video_and_the_proctor_its_frame(
    live_server, services, browsers, cameras, shots
):
    candidate = Peer("/candidate")
    cam = None
    try:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            world, account = await running_world(services)
            room = world.rooms[0]
            await waiting_by_socket(candidate, live_server, services, world, account)

            proctor = await browsers(cameras["astronaut"], desktop=True)
            await proctor.set_viewport_size({"width": 1280, "height": 900})
            await staff_login(proctor, live_server, "proctor-one", "/proctor")
            await proctor.select_option("#live-exam", world.exam.id)
            await proctor.wait_for_selector("#proctor-page[data-live=up]")

            examiner = await browsers(cameras["astronaut"], desktop=True)
            await examiner.set_viewport_size({"width": 1280, "height": 900})
            await staff_login(examiner, live_server, "examiner-one", "/examiner")
            await examiner.goto(f"{live_server}/examiner/rooms/{room.id}")
            await examiner.wait_for_selector(f"#queue-table tr[data-account='{account.id}'][data-state=waiting]")
            await examiner.click("#call-next")
            await candidate.wait_for("queue:called", timeout=10)

            camera = Camera(framed(faces.grace_hopper()))
            cam = CameraClient(SocketRoom(candidate, room.id), account.id, "candidate", camera=camera)
            candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
            await cam.join()
            await examiner.wait_for_selector("#face-badge[data-state=verified]", timeout=40_000)
            assert await examiner.is_hidden("#flags")

            camera.picture = framed(faces.side_by_side(faces.grace_hopper(), faces.grace_hopper()))
            badge = await examiner.wait_for_selector("#flags .flag[data-kind=face_multiple]", timeout=20_000)
            text = await badge.inner_text()
            assert "画面中有多张人脸" in text and ":" in text, text  # the flag and its time
            await shots(examiner, "room-flag-badge", full_page=False)
            item = await proctor.wait_for_selector("#flag-list li[data-kind=face_multiple][data-state=raised]")
            assert "画面中有多张人脸" in await item.inner_text()
            await proctor.wait_for_function(
                "() => { const i = document.querySelector('#flag-list .flag-snapshot'); return i && i.naturalWidth > 0; }"
            )
            await proctor.eval_on_selector("#flag-list", "e => e.previousElementSibling.scrollIntoView()")
            await shots(proctor, "proctor-flag-list", full_page=False)

            camera.picture = framed(faces.grace_hopper())
            await examiner.wait_for_selector("#flags", state="hidden", timeout=20_000)
            await proctor.wait_for_selector("#flag-list li[data-kind=face_multiple][data-state=cleared]")

            # other rooms keep the face pool's queue deep: the proctor is told monitoring is degraded,
            # and the notice goes once the pool keeps up again
            await proctor.wait_for_selector("#monitor-alarm", state="hidden")
            pool, frame, busy = services.face_checks.pool, framed(faces.astronaut()), asyncio.Event()

            async def load() -> None:
                while not busy.is_set():
                    if pool.pending < 16:
                        asyncio.ensure_future(pool.observe_frame(frame, liveness=False))
                    await asyncio.sleep(0.005)

            loader = asyncio.ensure_future(load())
            try:
                alarm = await proctor.wait_for_selector("#monitor-alarm:not([hidden])", timeout=30_000)
                assert "监考抽帧降级" in await alarm.inner_text()
                await shots(proctor, "proctor-monitoring-degraded", full_page=False)
            finally:
                busy.set()
                await loader
            await proctor.wait_for_selector("#monitor-alarm", state="hidden", timeout=40_000)
        assert not browsers.errors, browsers.errors
    finally:
        if cam is not None:
            await cam.close()
        await candidate.close()
