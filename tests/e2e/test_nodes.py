"""Three nodes behind a round-robin proxy, real browsers (docs/nodes.md): a candidate on a phone-sized
Chromium and an examiner on a desktop one are interviewed through whichever nodes their connections
reach; the node holding the room's media is SIGKILLed mid-interview; both pages reconnect by
themselves, nobody clicks anything, and they see each other again through a live node."""

from __future__ import annotations

import asyncio
import time

from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import log_in
from tests.e2e.test_interview import running_world, staff_login, video_plays
from tests.nodes.conftest import cluster, held_by, until  # noqa: F401 (cluster: a fixture)
from tests.recorded.conftest import pass_face


async def test_a_killed_media_node_the_pages_reconnect_by_themselves(cluster, services, browsers, cameras, shots):  # noqa: F811
    nodes, proxy = await cluster(3)
    base = proxy.url
    world, account = await running_world(services)
    await pass_face(services, world.exam.id, account)  # the queue's face check passed (the nodes run no face workers)
    candidate = await browsers(cameras["grace_hopper"])
    examiner = await browsers(cameras["astronaut"], desktop=True)
    examiner.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await log_in(candidate, base, account, shots)
        await candidate.click(f"a[href='/candidate/exams/{world.exam.id}/interview']")
        await candidate.wait_for_selector("#join:not([disabled])")
        await candidate.click("#join")
        await candidate.wait_for_selector("#interview-page[data-queue-state=waiting]")
        await staff_login(examiner, base, "examiner-one", "/examiner")
        await examiner.click(f"a[href='/examiner/rooms/{world.rooms[0].id}']")
        await examiner.wait_for_selector("#room-page[data-rtc=connected]")
        await examiner.wait_for_selector(f"#queue-table tr[data-account='{account.id}'][data-state=waiting]")
        await examiner.click("#call-next")
        await video_plays(candidate, "#remote video")
        await video_plays(examiner, "#cand-video")
        await shots(candidate, "in-room-before", full_page=False)
        await shots(examiner, "examiner-before")

        (home,) = await until(lambda: held_by(services, world.rooms[0].id), 10)
        victim = next(n for n in nodes if n.node_id == home)
        victim.kill()
        killed = time.monotonic()
        await asyncio.sleep(0.3)
        await shots(candidate, "node-killed", full_page=False)
        await shots(examiner, "examiner-node-killed")

        # both pages find the room on a live node by themselves
        await until(lambda: _moved(services, world.rooms[0].id, home), 30)
        await video_plays(candidate, "#remote video", timeout_s=40)
        await video_plays(examiner, "#cand-video", timeout_s=40)
        back_s = time.monotonic() - killed
        await candidate.wait_for_selector("#interview-page[data-rtc=connected]", timeout=20_000)
        await shots(candidate, "in-room-after", full_page=False)
        await shots(examiner, "examiner-after")
        entry = await services.queue.entry(world.rooms[0].id, account.id)
        assert entry.state == "in_room"
        print(f"a killed media node: both browsers see each other again {back_s:.1f} s after the kill")

        await examiner.click("#end")
        await candidate.wait_for_selector("#interview-page[data-end=done]")
        await shots(candidate, "end-screen")


async def _moved(services, room_id: str, dead: str) -> bool:
    holders = await held_by(services, room_id)
    return bool(holders) and holders != [dead]
