"""The node registry (docs/nodes.md "Registry"): every server process registers itself in Redis with
its node id, the address its media is reachable at, its internal URL and its load, and beats every
``process_ttl_s / 3``; a node whose beat is older than ``process_ttl_s``, or whose relay channel has
no subscriber (Redis drops a killed process's subscription at once), is dead.

Entries are keyed by the *process* (``PROCESS_ID``: unique per start, the owner token of its room
claims and the name of its relay channel); the node id is a field, stable across restarts (a node's
recordings are fetched by it). The admin's drain request is kept by node id (``nodedrain:{node}``), so
that it survives a restart of the node.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field

from ..store import audit
from ..store.audit import Actor
from ..store.base import Store

log = logging.getLogger("server.nodes")
HASH_TTL_FACTOR = 10  # the entry outlives the last beat this many TTLs: a dead node's rooms can still be read


@dataclass
class Load:
    """What a node carries now."""

    rooms: list[str] = field(default_factory=list)  # media rooms held (room or sitting ids)
    participants: int = 0  # media connections
    cpu_pct: float = 0.0  # the process's CPU over the last beat, % of one core


@dataclass
class NodeInfo:
    process: str
    node_id: str
    media_address: str
    url: str
    rooms: int
    room_ids: list[str]
    participants: int
    cpu_pct: float
    draining: bool
    max_rooms: int
    started_at: float
    beat_at: float
    alive: bool

    def to_json(self) -> dict:
        return {
            "node_id": self.node_id,
            "process": self.process,
            "media_address": self.media_address,
            "internal_url": self.url,
            "rooms": self.rooms,
            "participants": self.participants,
            "cpu_pct": self.cpu_pct,
            "draining": self.draining,
            "max_rooms": self.max_rooms,
            "started_at": self.started_at,
            "beat_at": self.beat_at,
            "alive": self.alive,
        }


class CpuMeter:
    """This process's CPU time over wall time, in % of one core, smoothed over the last readings
    (``SMOOTHING`` of each new one): a node is "hot" for placement only under sustained load (about
    10 s at 100 %), not for the burst of its own start, which the first reading leaves out."""

    SMOOTHING = 0.3

    def __init__(self) -> None:
        self._cpu, self._wall = time.process_time(), time.monotonic()
        self.value: float | None = None

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        used = (cpu - self._cpu) / max(1e-6, wall - self._wall) * 100
        self._cpu, self._wall = cpu, wall
        if self.value is None:
            self.value = 0.0  # the start itself is no load
        else:
            self.value += self.SMOOTHING * (used - self.value)
        return round(self.value, 1)


class NodeRegistry:
    def __init__(
        self,
        store: Store,
        process: str,
        node_id: str,
        media_address: str,
        url: str,
        ttl_s: float,
        max_rooms: int = 0,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.process = process
        self.node_id = node_id
        self.media_address = media_address
        self.url = url
        self.ttl_s = ttl_s
        self.max_rooms = max_rooms
        self.started_at = time.time()
        self.cpu = CpuMeter()

    def _alive(self, fields: dict, subscribers: int, now: float) -> bool:
        beat = float(fields.get("beat_at") or 0)
        return now - beat <= self.ttl_s and subscribers > 0

    async def beat(self, load: Load, draining: bool) -> bool:
        """Write this node's entry (one round trip); returns whether an admin asked it to drain."""
        key = self.keys.node(self.process)
        now = time.time()
        async with self.store.pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "node_id": self.node_id,
                    "media_address": self.media_address,
                    "url": self.url,
                    "pid": os.getpid(),
                    "rooms": len(load.rooms),
                    "room_ids": json.dumps(load.rooms),
                    "participants": load.participants,
                    "cpu_pct": load.cpu_pct,
                    "draining": "1" if draining else "0",
                    "max_rooms": self.max_rooms,
                    "started_at": f"{self.started_at:.3f}",
                    "beat_at": f"{now:.3f}",
                },
            )
            pipe.expire(key, int(self.ttl_s * HASH_TTL_FACTOR))
            pipe.sadd(self.keys.nodes(), self.process)
            pipe.exists(self.keys.node_drain(self.node_id))
            *_, asked = await pipe.execute()
        return bool(asked)

    async def leave(self) -> None:
        """A clean stop: the entry goes at once (the others need not wait for it to lapse)."""
        async with self.store.pipeline() as pipe:
            pipe.delete(self.keys.node(self.process))
            pipe.srem(self.keys.nodes(), self.process)
            await pipe.execute()

    async def nodes(self) -> list[NodeInfo]:
        """Every registered node (dead ones included while their entry lasts), by node id; entries
        that lapsed are removed from the set."""
        processes = sorted(await self.store.redis.smembers(self.keys.nodes()))
        if not processes:
            return []
        async with self.store.pipeline(transaction=False) as pipe:
            for process in processes:
                pipe.hgetall(self.keys.node(process))
            for process in processes:
                pipe.pubsub_numsub(self.keys.relay(process))
            results = await pipe.execute()
        entries, numsub = results[: len(processes)], results[len(processes) :]
        now = time.time()
        out, gone = [], []
        for process, fields, subs in zip(processes, entries, numsub, strict=True):
            if not fields:
                gone.append(process)
                continue
            out.append(self._info(process, fields, int(subs[0][1]) if subs else 0, now))
        if gone:
            await self.store.redis.srem(self.keys.nodes(), *gone)
        return sorted(out, key=lambda n: (n.node_id, -n.started_at))

    def _info(self, process: str, f: dict, subscribers: int, now: float) -> NodeInfo:
        try:
            room_ids = json.loads(f.get("room_ids") or "[]")
        except ValueError:
            room_ids = []
        return NodeInfo(
            process=process,
            node_id=f.get("node_id", ""),
            media_address=f.get("media_address", ""),
            url=f.get("url", ""),
            rooms=int(f.get("rooms") or 0),
            room_ids=[r for r in room_ids if isinstance(r, str)],
            participants=int(f.get("participants") or 0),
            cpu_pct=float(f.get("cpu_pct") or 0),
            draining=f.get("draining") == "1",
            max_rooms=int(f.get("max_rooms") or 0),
            started_at=float(f.get("started_at") or 0),
            beat_at=float(f.get("beat_at") or 0),
            alive=self._alive(f, subscribers, now),
        )

    async def alive(self, process: str) -> bool:
        """Whether the process is a live node (fresh beat, listening on its relay channel)."""
        if not process:
            return False
        async with self.store.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.node(process), "beat_at")
            pipe.pubsub_numsub(self.keys.relay(process))
            beat, subs = await pipe.execute()
        return beat is not None and time.time() - float(beat) <= self.ttl_s and bool(subs and int(subs[0][1]) > 0)

    async def live_node(self, node_id: str) -> NodeInfo | None:
        """The running process of a node id (the newest, if a restart left the old entry behind)."""
        for info in await self.nodes():
            if info.node_id == node_id and info.alive:
                return info
        return None

    async def set_draining(self, actor: Actor, node_id: str, draining: bool) -> None:
        """An admin's drain request (kept by node id, read by the node at its next beat), audited."""
        async with self.store.pipeline() as pipe:
            if draining:
                pipe.set(self.keys.node_drain(node_id), f"{time.time():.3f}")
            else:
                pipe.delete(self.keys.node_drain(node_id))
            audit.add(
                pipe,
                self.keys,
                None,
                "node_drain" if draining else "node_undrain",
                actor,
                node_id,
                node_id=node_id,
            )
            await pipe.execute()
        log.info("node drain " + ("asked" if draining else "lifted"), extra={"node": node_id, "by": actor.account_id})

    async def claim_lost(self, process: str, ttl_s: float) -> bool:
        """Whether this node is the one to tell a dead node's rooms (taken once, for ``ttl_s``)."""
        return bool(await self.store.redis.set(self.keys.node_lost(process), self.process, nx=True, ex=int(ttl_s)))
