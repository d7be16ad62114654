"""Draining (docs/nodes.md "Signals"): SIGTERM makes a node take no new room while the interview in
progress on it goes on undisturbed; once that interview ends, the node gives its room up (the examiner's
page reconnects to the room on another node by itself) and exits on its own, well before
``node_drain_s`` (the default, 600 s, as systemd's stop timeout is set for it)."""

from __future__ import annotations

import asyncio
import time

from .conftest import held_by, interview, until, waiting_candidate


async def test_sigterm_finishes_the_interview_in_progress_then_the_node_exits(cluster, services, live, pages):
    (n1, n2), proxy = await cluster(2)
    examiner, account, candidate = await interview(services, live, pages, proxy.url)
    (home,) = await until(lambda: held_by(services, live.room.id), 10)
    draining, other = (n1, n2) if home == "node-1" else (n2, n1)

    draining.terminate()  # systemctl stop
    await until(lambda: _draining(services, draining.node_id), 10)
    # a new room asked for through the draining node goes to the other one
    token2 = await services.sessions.create(live.examiner.id, "examiner")
    elsewhere = pages(draining.url, "/examiner", token2, auth={"room_id": live.world.rooms[1].id})
    await elsewhere.connect()
    assert (await elsewhere.join())["ok"]
    assert await until(lambda: held_by(services, live.world.rooms[1].id), 10) == [other.node_id]
    # the interview goes on where it is, for as long as it lasts
    for _ in range(3):
        seen = examiner.received(account.id)
        await asyncio.sleep(1.5)
        assert examiner.received(account.id) > seen + 20 and draining.alive()
    assert await held_by(services, live.room.id) == [draining.node_id]

    # it ends: the room is given up, the examiner's page follows it to the other node, the node exits (the
    # pages' sockets on it reconnect through the balancer to the other node)
    assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
    ended = time.monotonic()
    await candidate.wait_for("room:ended", timeout=10)
    await until(lambda: not draining.alive(), 30)
    assert draining.proc.returncode == 0 and time.monotonic() - ended < 30
    assert await until(lambda: held_by(services, live.room.id), 20) == [other.node_id]
    # the examiner (still in the room, now on the other node) sees the next candidate in it
    nxt, nxt_page = await waiting_candidate(services, live, 1, live.slot.id, proxy.url, pages)
    assert (await examiner.call("queue:call_next", {}))["ok"]
    await nxt_page.wait_for("queue:called")
    nxt_page.extra = {"room_id": live.room.id}
    assert (await nxt_page.join())["ok"]
    await until(lambda: examiner.received(nxt.id) > 30, 20)


async def _draining(services, node_id: str) -> bool:
    return any(n.draining and n.node_id == node_id for n in await services.cluster.registry.nodes() if n.alive)
