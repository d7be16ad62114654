"""A node as Redis sees it, in this test process: a registry entry that beats and a relay listening on
its channel (the real classes, under a process id of the test's choosing)."""

from __future__ import annotations

import asyncio
import contextlib

from server.nodes.registry import Load, NodeRegistry
from server.nodes.relay import Relay
from server.nodes.signing import Signer


@contextlib.asynccontextmanager
async def live_node(
    store,
    process: str,
    node_id: str = "test-node",
    ttl_s: float = 6.0,
    rooms: int = 0,
    draining: bool = False,
    max_rooms: int = 0,
    cpu_pct: float = 0.0,
):
    """While inside, ``process`` is a live node (beating every ``ttl_s / 3``, listening on its relay)."""
    registry = NodeRegistry(store, process, node_id, "", "http://127.0.0.1:1", ttl_s, max_rooms)
    relay = Relay(store, process, Signer(store))

    async def beat():
        while True:
            await registry.beat(Load([f"room_{i:012x}" for i in range(rooms)], 0, cpu_pct), draining)
            await asyncio.sleep(ttl_s / 3)

    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(beat())]
    await asyncio.wait_for(relay.subscribed.wait(), 5)
    while not await registry.alive(process):
        await asyncio.sleep(0.01)
    try:
        yield registry, relay
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await registry.leave()
