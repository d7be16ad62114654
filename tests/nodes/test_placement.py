"""Room placement (server/nodes/placement.py, ``place_room.lua``) on a real Redis with live nodes (a
registry entry that beats and a relay listening, as a server process has): rooms go to the least loaded
node, a burst spreads out, draining and full nodes take none, a room is placed once however many nodes
ask at once, and a room whose holder is dead, unknown or lost in a Redis failover is placed anew."""

from __future__ import annotations

import asyncio
import contextlib

from server.nodes.placement import Placement

from .live import live_node

TTL_S = 60.0  # the nodes here beat rarely: the placements' own counting is what is tested


def placement(services, asker: str) -> Placement:
    return Placement(services.store, TTL_S, 30, asker)


async def rooms_of(services, process: str) -> int:
    return int(await services.store.redis.hget(services.store.keys.node(process), "rooms") or 0)


async def test_rooms_go_to_the_least_loaded_node_and_a_burst_spreads(services):
    async with contextlib.AsyncExitStack() as nodes:
        for name, rooms in (("p1", 2), ("p2", 0), ("p3", 1)):
            await nodes.enter_async_context(live_node(services.store, name, name, TTL_S, rooms=rooms))
        first = await placement(services, "p1").place("room_000000000001")
        assert first.placed and first.process == "p2"  # the least loaded, not the one that asked
        # twelve more asked for at once, from every node: they even out (3 + 1 + 12 = 16 rooms: 5, 5 and 6)
        homes = await asyncio.gather(
            *(placement(services, f"p{1 + i % 3}").place(f"room_{i + 2:012x}") for i in range(12))
        )
        assert all(h.placed for h in homes)
        counts = [await rooms_of(services, p) for p in ("p1", "p2", "p3")]
        assert sum(counts) == 16 and max(counts) - min(counts) <= 1, counts


async def test_draining_full_and_hot_nodes_are_passed_over(services):
    async with contextlib.AsyncExitStack() as nodes:
        await nodes.enter_async_context(live_node(services.store, "drain", "d", TTL_S, draining=True))
        await nodes.enter_async_context(live_node(services.store, "full", "f", TTL_S, rooms=2, max_rooms=2))
        await nodes.enter_async_context(live_node(services.store, "hot", "h", TTL_S, rooms=0, cpu_pct=95))
        await nodes.enter_async_context(live_node(services.store, "calm", "c", TTL_S, rooms=4))
        assert (await placement(services, "drain").place("room_00000000000a")).process == "calm"
        async with live_node(services.store, "calm", "c", TTL_S, rooms=4, draining=True):
            # only the hot node is left: it takes the room rather than nobody
            assert (await placement(services, "full").place("room_00000000000b")).process == "hot"
    async with live_node(services.store, "drain2", "d", TTL_S, draining=True):
        home = await placement(services, "drain2").place("room_00000000000c")
        assert home.process == "" and not home.placed  # no node takes rooms: the page is told no_media_node


async def test_a_room_is_placed_once_when_nodes_race(services):
    async with contextlib.AsyncExitStack() as nodes:
        for name in ("r1", "r2", "r3"):
            await nodes.enter_async_context(live_node(services.store, name, name, TTL_S))
        homes = await asyncio.gather(
            *(placement(services, f"r{1 + i % 3}").place("room_0000000000ff") for i in range(30))
        )
        assert len({h.process for h in homes}) == 1 and sum(h.placed for h in homes) == 1
        assert sum([await rooms_of(services, p) for p in ("r1", "r2", "r3")]) == 1


async def test_a_room_whose_holder_is_dead_unknown_or_forgotten_is_placed_anew(services):
    claim = services.store.keys.media_owner("room_000000000abc")
    redis = services.store.redis
    async with live_node(services.store, "alive", "a", TTL_S):
        async with live_node(services.store, "doomed", "x", TTL_S):
            await redis.set(claim, "doomed", ex=30)
            assert (await placement(services, "alive").place("room_000000000abc")).process == "doomed"
        # the holder's relay stopped listening (a killed process: Redis drops its subscription at once)
        assert await placement(services, "alive").holder("room_000000000abc") == ""
        home = await placement(services, "alive").place("room_000000000abc")
        assert (home.process, home.placed, home.previous) == ("alive", True, "doomed")
        # a holder no node ever registered (a forged or stale claim)
        await redis.set(claim, "nobody:1:abc", ex=30)
        home = await placement(services, "alive").place("room_000000000abc")
        assert (home.process, home.previous) == ("alive", "nobody:1:abc")
        # a Redis failover lost the claim: the room is placed again, once
        await redis.delete(claim)
        homes = await asyncio.gather(*(placement(services, "alive").place("room_000000000abc") for _ in range(5)))
        assert sum(h.placed for h in homes) == 1 and {h.process for h in homes} == {"alive"}
