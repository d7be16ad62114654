"""The candidate's page in the interview (Chromium, phone-sized) reports on itself: switched away,
it raises "page_hidden" for the examiners and tells the candidate, shown and spoken, only
"录制中断，请尽快恢复"; back, the flag clears. The battery report of a charging device raises nothing."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import open_interview, running_world
from tests.live import LiveWorld
from tests.signaling.conftest import Peer

SWITCH = """(hidden) => {
  Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
  Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


async def test_the_page_switched_away_is_flagged_and_the_candidate_told(
    live_server, services, browsers, cameras, shots
):
    examiner = Peer("/examiner")
    try:
        async with asyncio.timeout(TEST_TIMEOUT_S):
            world, account = await running_world(services)
            room = world.rooms[0]
            await LiveWorld(world, services).pass_face(account)  # a recent pass: straight into the line
            candidate = await browsers(cameras["grace_hopper"])
            await open_interview(candidate, live_server, world, account, shots)
            staff = world.staff["examiner"]
            await examiner.connect(
                live_server, await services.sessions.create(staff.id, staff.role), {"room_id": room.id}
            )
            await examiner.wait_for("queue:room", lambda d: d["line"] and d["line"][0]["state"] == "waiting")
            assert (await examiner.call("queue:call_next"))["ok"]
            await candidate.wait_for_selector("#interview-page[data-in-room='1']", timeout=30_000)
            await examiner.wait_for("room:face", lambda d: d["state"] != "checking", timeout=40)

            await candidate.evaluate(SWITCH, True)  # the candidate switched to another app
            flag = await examiner.wait_for("room:flag", timeout=10)
            assert flag["kind"] == "page_hidden" and flag["state"] == "raised" and flag["account_id"] == account.id
            await candidate.wait_for_selector("#room-prompt:not([hidden])")
            assert await candidate.inner_text("#room-prompt") == "录制中断，请尽快恢复"
            assert await candidate.get_attribute("#interview-page", "data-prompted") in ("speech", "none")
            await shots(candidate, "room-prompt-recording-interrupted", full_page=False)

            await candidate.evaluate(SWITCH, False)  # and back
            cleared = await examiner.wait_for("room:flag", lambda d: d["state"] == "cleared", timeout=10)
            assert cleared["flag_id"] == flag["flag_id"]
            await asyncio.sleep(1)
            kinds = {d["kind"] for d in examiner.seen("room:flag")}
            assert kinds == {"page_hidden"}, kinds  # the (charging) battery and the live camera raised nothing
        assert not browsers.errors, browsers.errors
    finally:
        await examiner.close()
