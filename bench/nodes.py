"""Several nodes (docs/nodes.md, issue 17): what relaying costs, how fast a dead node's room is back,
and how rooms spread.

Run: ``python -m bench.nodes [--trials 20] [--kills 3] [--rooms 12]``. Starts its own redis-server
(``REDIS_URL`` when set) and three ``interview-server run`` nodes (their own ports, node ids and
recordings folders) behind a round-robin TCP proxy; pages are aiortc peers publishing a small picture and
a tone (``bench/cluster.py``).

(a) ``relay``: one room whose media is on node 1, a candidate in it; the examiner has a socket on node 1
    (local) and one on node 2 (relayed). ``--trials`` times each, alternating: a new peer connection
    (``rtc:restart``, the same path as ``rtc:join``) through one socket; the time until its answer
    arrives (``*_join_ms``) and until the candidate's first video frame arrives on it
    (``*_first_frame_ms``). Also the relay's own round trip (``ping`` from this process to node 1).
(b) ``rehome``: ``--kills`` times, the node holding a room with an interview in it is SIGKILLed; the
    time until the examiner sees the candidate again and the candidate sees the examiner (both pages
    reconnect by themselves: ``rtc:reconnect`` from a live node, or a socket that lands on a live node,
    or their media stalling for 9 s), then the node is started again (as systemd does).
(c) ``spread``: ``--rooms`` rooms opened one after another by examiners whose sockets the proxy spreads
    over the nodes; the rooms each node holds under the balancing rule (``place_room.lua``).

Bounded: every wait has a limit and the run is cut off after ``RUN_LIMIT_S``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from .cluster import NodeProcess, Page, RoundRobinProxy
from .common import BENCH_ADMIN, FIT_DEVICE, bench_exam, bench_redis, bench_services, enrolled_candidates, machine

RUN_LIMIT_S = 420.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def until(check, limit_s: float, every_s: float = 0.02):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every_s)
    raise TimeoutError(f"not within {limit_s}s")


class Bench:
    def __init__(self, url: str, prefix: str, workdir: Path) -> None:
        self.url, self.prefix, self.workdir = url, prefix, workdir
        self.services = bench_services(url, prefix, workdir / "data")
        self.nodes: list[NodeProcess] = []
        self.proxy: RoundRobinProxy | None = None
        self.pages: list[Page] = []

    async def start(self) -> None:
        from server.store.embedded import free_port

        self.nodes = [
            NodeProcess(self.url, self.prefix, self.workdir / f"node-{i}", f"node-{i}", free_port()) for i in (1, 2, 3)
        ]
        await asyncio.gather(*(n.start() for n in self.nodes))
        self.proxy = RoundRobinProxy([n.port for n in self.nodes])
        await self.proxy.start()
        await until(self._registered, 20, 0.2)

    async def _registered(self) -> bool:
        live = {n.node_id for n in await self.services.cluster.registry.nodes() if n.alive}
        return {n.node_id for n in self.nodes} <= live

    async def holders(self, room_id: str) -> list[str]:
        return [n.node_id for n in await self.services.cluster.registry.nodes() if n.alive and room_id in n.room_ids]

    def page(self, url: str, namespace: str, token: str, **kwargs) -> Page:
        page = Page(url, namespace, token, **kwargs)
        self.pages.append(page)
        return page

    # --- seeding ----------------------------------------------------------------------------------
    async def seed(self, rooms: int, candidates: int) -> dict:
        s = self.services
        admin, exam, subject = await bench_exam(s, "多节点压测")
        now = time.time()
        examiner = await s.directory.create("examiner", "bench-pass-1", admin, name="考官", username="bench-examiner")
        made = []
        for i in range(rooms):
            room = await s.catalog.create_room(admin, exam.id, subject.id, f"考场{i}", [examiner.id])
            slot = await s.catalog.create_slot(admin, exam.id, room.id, now - 60, now + 3600, candidates)
            made.append((room, slot))
        password_hash = await s.passwords.hash("bench-pass-1")
        people = await enrolled_candidates(s, admin, exam.id, "声乐", candidates, password_hash)
        return {"exam": exam, "examiner": examiner, "rooms": made, "candidates": [a for a, _ in people]}

    async def in_room(self, seed: dict, room, slot, account, url: str) -> tuple[Page, Page]:
        """An examiner and a called candidate in the room's media, pages on ``url``: (examiner, candidate)."""
        from server.store.audit import Actor
        from server.store.models import new_id

        s = self.services
        token = await s.sessions.create(seed["examiner"].id, "examiner")
        examiner = self.page(url, "/examiner", token, auth={"room_id": room.id})
        await examiner.connect()
        assert (await examiner.join())["ok"]
        await s.bookings.book(account, seed["exam"].id, slot.id, now=slot.starts_at - 60)  # booked before it began
        candidate = self.page(url, "/candidate", await s.sessions.create(account.id, "candidate"))
        await candidate.connect()
        await candidate.wait_for("queue:snapshot")
        ack = await candidate.call("queue:join", {"exam_id": seed["exam"].id, "slot_id": slot.id, "device": FIT_DEVICE})
        assert ack["ok"], ack
        entry = (await s.enrolments.exam_for(account, seed["exam"].id)).entry
        await s.face_gate.record(
            seed["exam"].id,
            Actor(account.id, "candidate"),
            passed=True,
            reason="",
            distance=0.3,
            check={"check_id": new_id("check")},
            kind="queue",
            name=entry.name,
            id_number=entry.id_number,
            photo_sha256=entry.photo_sha256,
        )
        await until(lambda: _called(examiner), 15, 0.3)  # the candidate's presence may take a sweep
        await candidate.wait_for("queue:called", timeout=10)
        candidate.extra = {"room_id": room.id}
        assert (await candidate.join())["ok"]
        await until(lambda: examiner.received(account.id) > 10 and candidate.received(seed["examiner"].id) > 10, 30)
        return examiner, candidate

    # --- (a) the relay's cost ---------------------------------------------------------------------
    async def relay(self, seed: dict, trials: int) -> dict:
        from server.nodes.relay import Relay

        n1, n2, _ = self.nodes
        room, slot = seed["rooms"][0]
        account = seed["candidates"][0]
        registry = self.services.cluster.registry
        actor = _admin()
        for other in ("node-2", "node-3"):  # the room goes to node 1 (the only one taking rooms for now)
            await registry.set_draining(actor, other, True)
        await until(lambda: self._only_node1_takes(), 10, 0.2)
        examiner, _candidate = await self.in_room(seed, room, slot, account, n1.url)
        for other in ("node-2", "node-3"):
            await registry.set_draining(actor, other, False)
        assert await until(lambda: self.holders(room.id), 10, 0.2) == ["node-1"]
        # two sockets of one examiner (one participant, one connection: each trial replaces it); their
        # pages do not restart by themselves when the other took the connection over
        examiner.stall_s = relayed_stall = 3600.0
        relayed = self.page(n2.url, "/examiner", examiner.token, auth={"room_id": room.id}, stall_s=relayed_stall)
        await relayed.connect()
        figures: dict[str, list[float]] = {"local_join": [], "relay_join": [], "local_frame": [], "relay_frame": []}
        for i in range(trials * 2):
            page, kind = (examiner, "local") if i % 2 == 0 else (relayed, "relay")
            before = page.received(account.id)
            started = time.monotonic()
            await page.restart("bench", within_s=20)
            figures[f"{kind}_join"].append((time.monotonic() - started) * 1000)
            await until(lambda p=page, b=before: p.received(account.id) > b, 10, 0.005)
            figures[f"{kind}_frame"].append((time.monotonic() - started) * 1000)
        # the relay's own round trip, from this process (a relay of its own) to node 1
        target = next(n.process for n in await registry.nodes() if n.alive and n.node_id == "node-1")
        me = Relay(self.services.store, "bench-relay", self.services.cluster.signer)
        listening = asyncio.create_task(me.run())
        await asyncio.wait_for(me.subscribed.wait(), 5)
        pings = []
        for _ in range(50):
            started = time.monotonic()
            await me.request(target, "ping", {})
            pings.append((time.monotonic() - started) * 1000)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        return {
            "local_join_p50_ms": pct(figures["local_join"], 0.5),
            "local_join_p95_ms": pct(figures["local_join"], 0.95),
            "relay_join_p50_ms": pct(figures["relay_join"], 0.5),
            "relay_join_p95_ms": pct(figures["relay_join"], 0.95),
            "relay_added_join_p50_ms": _minus(pct(figures["relay_join"], 0.5), pct(figures["local_join"], 0.5)),
            "local_first_frame_p50_ms": pct(figures["local_frame"], 0.5),
            "relay_first_frame_p50_ms": pct(figures["relay_frame"], 0.5),
            "relay_first_frame_p95_ms": pct(figures["relay_frame"], 0.95),
            "relay_ping_p50_ms": pct(pings, 0.5),
            "relay_ping_p95_ms": pct(pings, 0.95),
            "join_trials": trials,
        }

    async def _only_node1_takes(self) -> bool:
        nodes = {n.node_id: n.draining for n in await self.services.cluster.registry.nodes() if n.alive}
        return nodes == {"node-1": False, "node-2": True, "node-3": True}

    # --- (b) re-homing after a kill -------------------------------------------------------------
    async def rehome(self, seed: dict, kills: int) -> dict:
        assert self.proxy is not None
        room, slot = seed["rooms"][1]
        examiner, candidate = await self.in_room(seed, room, slot, seed["candidates"][1], self.proxy.url)
        account, examiner_id = seed["candidates"][1], seed["examiner"].id
        times, failed = [], 0
        for _ in range(kills):
            (home,) = await until(lambda: self.holders(room.id), 15, 0.2)
            victim = next(n for n in self.nodes if n.node_id == home)
            seen = (examiner.received(account.id), candidate.received(examiner_id))
            victim.kill()
            killed = time.monotonic()
            try:
                await until(
                    lambda s=seen: (
                        examiner.received(account.id) > s[0] + 5 and candidate.received(examiner_id) > s[1] + 5
                    ),
                    60,
                )
                times.append(time.monotonic() - killed)
            except TimeoutError:
                failed += 1
            await victim.start()
            await until(self._registered, 20, 0.2)
            await asyncio.sleep(2)  # the media settles before the next kill
        return {
            "rehome_p50_s": round(statistics.median(times), 2) if times else None,
            "rehome_max_s": round(max(times), 2) if times else None,
            "rehome_trials": kills,
            "rehome_failed": failed,
        }

    # --- (c) rooms per node --------------------------------------------------------------------------
    async def spread(self, seed: dict, rooms: int) -> dict:
        assert self.proxy is not None
        token = await self.services.sessions.create(seed["examiner"].id, "examiner")
        opened = []
        for room, _slot in seed["rooms"][2 : 2 + rooms]:
            page = self.page(self.proxy.url, "/examiner", token, auth={"room_id": room.id}, audio=False)
            await page.connect()
            assert (await page.join())["ok"]
            opened.append(room.id)
        await asyncio.sleep(3)  # the nodes' next beats list their rooms
        counts: dict[str, int] = {n.node_id: 0 for n in self.nodes}
        totals: dict[str, int] = dict(counts)
        for info in await self.services.cluster.registry.nodes():
            if info.alive:
                counts[info.node_id] += len(set(info.room_ids) & set(opened))
                totals[info.node_id] += len(info.room_ids)
        return {
            "spread_rooms": rooms,
            "spread_rooms_per_node": counts,  # the rooms opened here
            "rooms_per_node": totals,  # with the rooms of (a) and (b), which the rule counted too
            "rooms_per_node_max_minus_min": max(totals.values()) - min(totals.values()),
        }

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.pages), return_exceptions=True)
        if self.proxy is not None:
            await self.proxy.close()
        for node in self.nodes:
            node.close()
        await self.services.store.redis.aclose()


def _admin():
    from server.store.audit import Actor

    return Actor(*BENCH_ADMIN)


async def _called(examiner: Page) -> bool:
    return bool((await examiner.call("queue:call_next", {})).get("ok"))


def _minus(a: float | None, b: float | None) -> float | None:
    return round(a - b, 1) if a is not None and b is not None else None


async def run(url: str, prefix: str, args) -> dict:
    from server.rooms import passthrough

    passthrough.install()  # the pages count encoded frames
    figures: dict = {}
    bench = Bench(url, prefix, Path(tempfile.mkdtemp(prefix="bench-nodes-")))
    try:
        await bench.start()
        seed = await bench.seed(rooms=2 + args.rooms, candidates=4)
        figures.update(await bench.relay(seed, args.trials))
        figures.update(await bench.rehome(seed, args.kills))
        figures.update(await bench.spread(seed, args.rooms))
    finally:
        await bench.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="new connections per kind (local, relayed)")
    parser.add_argument("--kills", type=int, default=3, help="nodes killed under a room, one after another")
    parser.add_argument("--rooms", type=int, default=12, help="rooms opened for the spread")
    args = parser.parse_args()
    started = time.monotonic()
    with bench_redis() as (url, prefix):
        figures = asyncio.run(asyncio.wait_for(run(url, prefix, args), RUN_LIMIT_S))
    figures["took_s"] = round(time.monotonic() - started, 1)
    figures["machine"] = machine()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
