"""Never two media rooms for one interview (docs/nodes.md "Placement", "Failure cases"), with real nodes:
two examiners' tabs joining a new room through two different nodes at the same moment end in one media
room; and when a Redis failover loses a room's claim while its node still carries it, and another node
opens the room for someone who joins meanwhile, the first node gives the room up within a claim refresh,
its participants reconnect by themselves and everyone ends in the one room, the recording going on."""

from __future__ import annotations

import asyncio

from ..conftest import ADMIN
from .conftest import held_by, interview, log_lines, until


async def test_racing_joins_meet_in_one_room_and_a_room_whose_claim_was_lost_is_given_up(
    cluster, services, live, pages
):
    (n1, n2, n3), _ = await cluster(3)
    token = await services.sessions.create(live.examiner.id, "examiner")

    # a panel of two examiners, on two nodes, joining a room that has no media yet, at once
    colleague = await services.directory.create("examiner", "pass-word-1", ADMIN, name="考官二", username="ex-two")
    other = await services.catalog.create_room(
        ADMIN, live.exam.id, live.world.subjects[0].id, "双考官考场", [live.examiner.id, colleague.id]
    )
    tokens = [token, await services.sessions.create(colleague.id, "examiner")]
    tabs = [
        pages(node.url, "/examiner", t, auth={"room_id": other.id}) for node, t in zip((n2, n3), tokens, strict=True)
    ]
    await asyncio.gather(*(tab.connect() for tab in tabs))
    acks = await asyncio.gather(*(tab.join() for tab in tabs))
    assert all(a["ok"] for a in acks), acks
    assert len(await until(lambda: held_by(services, other.id), 10)) == 1
    await until(lambda: tabs[0].received(colleague.id) > 10 and tabs[1].received(live.examiner.id) > 10, 20)
    for tab in tabs:
        await tab.close()

    # an interview, its sockets on node 1
    examiner, account, candidate = await interview(services, live, pages, n1.url)
    (home,) = await until(lambda: held_by(services, live.room.id), 10)
    first = next(n for n in (n1, n2, n3) if n.node_id == home)
    admission = (await services.queue.entry(live.room.id, account.id)).admission

    # a Redis failover lost the room's claim; meanwhile the examiner opens a second tab on another node,
    # whose join places the room anew (on a node holding nothing: not the first one)
    await services.store.redis.delete(services.store.keys.media_owner(live.room.id))
    second = pages(
        next(n for n in (n1, n2, n3) if n is not first).url, "/examiner", token, auth={"room_id": live.room.id}
    )
    await second.connect()
    assert (await second.join())["ok"]
    # the first node sees at its next claim refresh that another node holds the room, gives its media up
    # and tells the pages; they reconnect there
    await until(lambda: log_lines(first, "media room given up: another node holds it"), 10)
    (now,) = await until(lambda: _one_other(services, live.room.id, home), 10)
    seen = examiner.received(account.id)
    await until(lambda: examiner.received(account.id) > seen + 30, 20)
    await until(lambda: second.received(account.id) > 30, 20)
    record = await services.recordings.get(admission)
    assert record["state"] == "recording" and record["node"] == now
    assert record["parts"][home].get("status") == "closed"  # the first node's files closed, the interview going on


async def _one_other(services, room_id: str, not_this: str):
    holders = await held_by(services, room_id)
    return holders if len(holders) == 1 and holders != [not_this] else None
