"""A node dies (SIGKILL) in the middle of an exam (docs/nodes.md "Node loss"): three nodes behind a
round-robin proxy (no sticky sessions), each with its own recordings folder, three interviews placed on
three different nodes by load, media flowing. The node holding one of them is killed: that interview goes
on, on a live node (its pages reconnect by themselves), the others never stop, the queue is untouched,
and once the killed node is back (systemd restarts it) its part of the recording is completed, so every
file of the interview is listed with its checksum and can be fetched from any node."""

from __future__ import annotations

import time

import aiohttp

from server.accounts.sessions import COOKIE
from server.queue.views import room_view

from .conftest import extra_rooms, held_by, interview, until, waiting_candidate


async def test_a_killed_nodes_interview_goes_on_elsewhere_and_nothing_is_lost(cluster, services, live, pages):
    nodes, proxy = await cluster(3)
    rooms = [(live.room, live.slot), *await extra_rooms(services, live, 2)]
    interviews = []  # (room, examiner page, candidate account, candidate page)
    for i, (room, slot) in enumerate(rooms):
        examiner, account, candidate = await interview(services, live, pages, proxy.url, index=i, room=room, slot=slot)
        interviews.append((room, examiner, account, candidate))
    waiting, _ = await waiting_candidate(services, live, 3, live.slot.id, proxy.url, pages)  # next in room 0

    homes = {room.id: await until(lambda r=room: held_by(services, r.id), 10) for room, *_ in interviews}
    assert sorted(h[0] for h in homes.values()) == ["node-1", "node-2", "node-3"], homes  # placed by load
    before = {room.id: await _queue(services, room.id) for room, *_ in interviews}

    room0, examiner0, account0, candidate0 = interviews[0]
    victim = next(n for n in nodes if n.node_id == homes[room0.id][0])
    admission = (await services.queue.entry(room0.id, account0.id)).admission
    await until(lambda: _recording_on(services, admission, victim.node_id), 10)
    seen = {id(p): p.received(account0.id if p is examiner0 else live.examiner.id) for p in (examiner0, candidate0)}
    victim.kill()
    killed = time.monotonic()

    # the killed node's interview goes on, on a live node, as soon as its pages reconnect
    await until(lambda: examiner0.received(account0.id) > seen[id(examiner0)] + 30, 40)
    await until(lambda: candidate0.received(live.examiner.id) > seen[id(candidate0)] + 30, 20)
    rehomed_s = time.monotonic() - killed
    for p in (examiner0, candidate0):
        print(
            "DBG",
            [(round(t - killed, 2), e) for t, e, _ in p.events if t > killed and e in ("rtc:reconnect", "rtc:offer")],
            p.restarts,
        )
    new_home = await until(lambda: held_by(services, room0.id), 10)
    assert new_home != [victim.node_id] and len(new_home) == 1
    # the other interviews never stopped
    for _room, examiner, account, _candidate in interviews[1:]:
        count = examiner.received(account.id)
        await until(lambda e=examiner, a=account, n=count: e.received(a.id) > n + 30, 20)
    # the queue is untouched: the same people, in the same states, in every room
    for room, *_ in interviews:
        after = await _queue(services, room.id)
        assert after == before[room.id], (room.id, before[room.id], after)
    assert (await services.queue.entry(live.room.id, waiting.id)).state == "waiting"

    # the interview ends on its new node; the recording goes on in the same interview
    assert (await examiner0.call("queue:end", {"account_id": account0.id}))["ok"]
    await candidate0.wait_for("room:ended", timeout=15)
    record = await until(lambda: _state(services, admission, "stopped"), 20)
    parts = {t["node"] for t in record["manifest"]["tracks"]}
    assert parts == {victim.node_id, new_home[0]}, record["manifest"]["tracks"]

    # systemd starts the killed node again: it completes its part of the recording from its own disk
    await victim.start()
    record = await until(lambda: _complete(services, admission), 30)
    files = record["manifest"]["tracks"]
    assert all(t["sha256"] for t in files) and len(files) >= 6, files
    assert {t["status"] for t in files if t["node"] == victim.node_id} <= {"recovered", "damaged"}
    # every file can be fetched through the balancer, whichever node answers
    token = await services.sessions.create(live.world.staff["admin"].id, "admin")
    async with aiohttp.ClientSession(cookies={COOKIE: token}) as http:
        for track in files:
            for _ in range(3):  # three connections: round robin over the nodes
                url = f"{proxy.url}/api/admin/recordings/{admission}/files/{track['file']}"
                async with http.get(url, headers={"Range": "bytes=0-99"}) as resp:
                    assert resp.status == 206, (track, resp.status, await resp.text())
                    assert len(await resp.read()) == min(100, track["size"])
    assert rehomed_s > 0  # measured by python -m bench.nodes (re-homing time, p50 / max)


async def _queue(services, room_id: str) -> tuple:
    """What the room's queue says: who is in the room, and the line in order with each one's state."""
    view = await room_view(services.store, room_id)
    current = (view.current.account, view.current.state) if view.current else None
    return current, [(e.account, e.state) for e in view.line]


async def _recording_on(services, interview_id: str, node_id: str):
    record = await services.recordings.get(interview_id)
    return record if record and record["node"] == node_id and record["state"] == "recording" else None


async def _state(services, interview_id: str, state: str):
    record = await services.recordings.get(interview_id)
    return record if record and record["state"] == state else None


async def _complete(services, interview_id: str):
    record = await services.recordings.get(interview_id)
    tracks = (record or {}).get("manifest", {}).get("tracks", [])
    return record if tracks and all(t.get("sha256") for t in tracks) else None
