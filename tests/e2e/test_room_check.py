"""The examiner's room page (desktop Chromium, 1280x900) when the room-entry face check cannot
decide: the candidate (an aiortc peer whose camera sends no frame) enters, the page shows
"未核验" with the reason and the way out; an override without a reason is refused on the page;
once the candidate's video flows, one click on "重新核验" verifies them. An interview that ended
unverified: "提交评分" is refused with the reason, the room card offers the override, and after it
the marks are submitted."""

from __future__ import annotations

import asyncio

from server.marking.rubrics import Rubric
from tests.conftest import ADMIN
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import running_world, staff_login, waiting_by_socket
from tests.e2e.test_marking import RUBRIC, type_marks
from tests.facecheck import faces
from tests.signaling.conftest import Peer
from tests.signaling.test_room_face import FaceClient
from tests.signaling.test_rooms import SocketRoom


async def unverified_in_room(live_server, services, browsers, cameras, candidate, flowing):
    """The examiner's page (1280x900) with the called candidate in the room, their camera silent,
    the room check "unverified". Returns (world, account, the examiner's page, the aiortc peer)."""
    world, account = await running_world(services)
    room = world.rooms[0]
    await services.rubrics.set(ADMIN, world.exam.id, room.subject_id, Rubric.from_json("", RUBRIC))
    await waiting_by_socket(candidate, live_server, services, world, account)

    examiner = await browsers(cameras["astronaut"], desktop=True)
    await examiner.set_viewport_size({"width": 1280, "height": 900})
    examiner.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # end? submit marks?
    await staff_login(examiner, live_server, "examiner-one", "/examiner")
    await examiner.goto(f"{live_server}/examiner/rooms/{room.id}")
    await examiner.wait_for_selector(f"#queue-table tr[data-account='{account.id}'][data-state=waiting]")
    await examiner.click("#call-next")
    await candidate.wait_for("queue:called", timeout=10)

    cam = FaceClient(
        SocketRoom(candidate, room.id), account.id, "candidate", image=faces.grace_hopper(), flowing=flowing
    )
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    await cam.join()
    await examiner.wait_for_selector("#face-badge[data-state=checking]", timeout=10_000)
    await examiner.wait_for_selector("#face-badge[data-state=unverified]", timeout=30_000)
    return world, account, examiner, cam


async def test_the_examiner_sees_unverified_with_the_reason_and_retries(
    live_server, services, browsers, cameras, shots
):
    candidate = Peer("/candidate")
    flowing = asyncio.Event()
    cam = None
    try:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            world, account, examiner, cam = await unverified_in_room(
                live_server, services, browsers, cameras, candidate, flowing
            )
            room = world.rooms[0]
            box = await examiner.inner_text("#face-check")
            assert "未核验：未收到考生的视频画面，无法进行人脸核验" in box, box
            assert "未核验前不能提交评分" in box
            assert await examiner.inner_text("#face-badge") == "人脸：未核验"
            assert await examiner.is_enabled("#face-retry")
            await shots(examiner, "room-check-unverified", full_page=False)

            await examiner.click("#face-override button[type=submit]")  # no reason given
            error = await examiner.wait_for_selector("#face-override .error")
            assert await error.inner_text() == "请填写原因"
            assert await examiner.get_attribute("#face-override input", "aria-invalid") == "true"
            assert (
                await services.room_checks.get((await services.queue.entry(room.id, account.id)).admission)
            ).state == ("unverified")
            await shots(examiner, "room-check-override-needs-a-reason", full_page=False)

            flowing.set()  # the camera comes back; one click checks again
            await examiner.click("#face-retry")
            await examiner.wait_for_selector("#face-badge[data-state=verified]", timeout=40_000)
            assert await examiner.is_hidden("#face-check")
            await shots(examiner, "room-check-verified-after-retry", full_page=False)
        assert not browsers.errors, browsers.errors
    finally:
        if cam is not None:
            await cam.close()
        await candidate.close()


async def test_an_interview_ended_unverified_is_marked_after_an_override(
    live_server, services, browsers, cameras, shots
):
    candidate = Peer("/candidate")
    cam = None
    try:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            world, account, examiner, cam = await unverified_in_room(
                live_server, services, browsers, cameras, candidate, asyncio.Event()
            )
            interview = (await services.queue.entry(world.rooms[0].id, account.id)).admission
            await examiner.click("#end")
            await candidate.wait_for("room:ended", timeout=10)
            await examiner.goto(f"{live_server}/examiner/rooms/{world.rooms[0].id}?interview={interview}")
            await examiner.wait_for_selector(f"#marking[data-interview='{interview}']")
            await type_marks(examiner, {"skill": 30, "show": 30, "look": 15})
            await examiner.click("#marking-seal")
            await examiner.wait_for_selector("#marking-status[data-kind=error]")
            assert "人脸核验尚未通过" in await examiner.inner_text("#marking-status")
            await examiner.wait_for_selector("#face-check:not([hidden]) #face-override:not([hidden])")
            assert "考生0：入场人脸核验未通过" in await examiner.inner_text("#face-detail")
            assert await examiner.is_hidden("#face-retry")  # no video any more: only the override
            await shots(examiner, "ended-unverified-seal-refused", full_page=False)

            await examiner.fill("#face-override input", "录像中核对了本人与证件照一致")
            await examiner.click("#face-override button[type=submit]")
            await examiner.wait_for_selector("#face-check", state="hidden")
            check = await services.room_checks.get(interview)
            assert check.state == "overridden" and check.override_reason == "录像中核对了本人与证件照一致"
            await examiner.click("#marking-seal")
            await examiner.wait_for_selector("#marking[data-state=sealed]")
            await shots(examiner, "ended-overridden-sealed", full_page=False)
        # the refused seal's answer is the only failed request (Chromium logs it as a console error)
        assert [e for e in browsers.errors if "status of 409" not in e] == [], browsers.errors
        assert len(browsers.errors) == 1, browsers.errors
    finally:
        if cam is not None:
            await cam.close()
        await candidate.close()
