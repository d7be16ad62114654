"""This process as a node (docs/nodes.md): its registry beat with its load, its relay, where rooms
go, whether it is draining, and noticing dead nodes.

Every beat (``process_ttl_s / 3``) writes the node's entry and reads the others: a node found dead
(its relay subscription gone while this node's own has lasted, or its beat too old) that held rooms
is announced once (``nodelost:{process}``, one survivor) to the ``on_lost`` listeners, which tell the
participants of its rooms to reconnect: their next join re-homes the room on a live node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..tasks import cancelled
from .placement import Placement
from .registry import Load, NodeRegistry
from .relay import Relay

log = logging.getLogger("server.nodes")
LOST_NOTICE_TTL_S = 120  # a dead node's rooms are announced once within this
OWN_SUBSCRIPTION_SETTLE_S = 2.0  # another node's missing subscription counts once ours has lasted this long

LoadOf = Callable[[], Load]
Lost = Callable[[str, list[str]], Awaitable[None]]  # a dead node's process, the rooms it held
Changed = Callable[[bool], Awaitable[None]]  # draining now (True) or not


class Node:
    def __init__(
        self, registry: NodeRegistry, relay: Relay, placement: Placement, load: LoadOf, every_s: float
    ) -> None:
        self.registry = registry
        self.relay = relay
        self.placement = placement
        self.load = load
        self.every_s = every_s
        self.process = registry.process
        self.node_id = registry.node_id
        self.stopping = False  # SIGTERM: draining until the process exits
        self.asked = False  # an admin's drain request (nodedrain:{node})
        self.on_lost: list[Lost] = []
        self.on_draining: list[Changed] = []
        self.on_beat: list[Callable[[], Awaitable[None]]] = []  # after every beat (the draining node's rooms)
        self.beaten = asyncio.Event()  # the first beat reached Redis
        self._subscribed_at: float | None = None

    @property
    def draining(self) -> bool:
        return self.stopping or self.asked

    async def run(self) -> None:
        """Beat until cancelled; failures are logged once per run of failures and retried."""
        failing = False
        while True:
            try:
                await self.beat()
                failing = False
            except Exception as exc:
                if cancelled():
                    raise
                if not failing:
                    log.warning("node beat failed", extra={"error": str(exc) or type(exc).__name__})
                failing = True
            await asyncio.sleep(self.every_s if not failing else min(self.every_s, 0.5))

    async def beat(self) -> None:
        load = self.load()
        load.cpu_pct = self.registry.cpu.read()
        was = self.draining
        self.asked = await self.registry.beat(load, self.draining)
        if not self.beaten.is_set():
            self.beaten.set()
            log.info(
                "node registered",
                extra={"node": self.node_id, "process_id": self.process, "media_address": self.registry.media_address},
            )
        if self.draining != was:
            await self._changed()
        for listener in self.on_beat:
            await listener()
        await self._look_for_lost()

    async def _changed(self) -> None:
        log.warning("node draining" if self.draining else "node takes rooms again", extra={"node": self.node_id})
        await self.registry.beat(self.load(), self.draining)  # told at once, not at the next beat
        for listener in self.on_draining:
            await listener(self.draining)

    async def drain(self) -> None:
        """SIGTERM: take no new room from now on (until the process exits)."""
        if not self.stopping:
            self.stopping = True
            await self._changed()

    def _own_subscription_settled(self) -> bool:
        """Whether this node has listened without a break for a while: then another node's missing
        subscription means that node is gone, not that Redis just came back."""
        if not self.relay.subscribed.is_set():
            self._subscribed_at = None
            return False
        if self._subscribed_at is None:
            self._subscribed_at = time.monotonic()
        return time.monotonic() - self._subscribed_at >= OWN_SUBSCRIPTION_SETTLE_S

    async def _look_for_lost(self) -> None:
        settled = self._own_subscription_settled()
        for info in await self.registry.nodes():
            if info.alive or info.process == self.process or not info.room_ids:
                continue
            stale = time.time() - info.beat_at > self.registry.ttl_s
            if not (settled or stale):
                continue
            if not await self.registry.claim_lost(info.process, LOST_NOTICE_TTL_S):
                continue  # another survivor tells them
            log.warning(
                "node lost",
                extra={"node": info.node_id, "process_id": info.process, "rooms": len(info.room_ids)},
            )
            for listener in self.on_lost:
                try:
                    await listener(info.process, info.room_ids)
                except Exception:
                    log.exception("telling a lost node's rooms failed", extra={"process_id": info.process})

    async def leave(self) -> None:
        try:
            await self.registry.leave()
        except Exception as exc:  # the entry lapses by itself
            log.warning("node entry not removed", extra={"error": str(exc)})
