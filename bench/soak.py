"""The soak of issue 13: hundreds of socket.io clients on two server processes for minutes, examiners
admitting without pause, candidates dropping and reconnecting; does anything grow, does anyone miss
an update?

Run: ``python -m bench.soak [--clients 300] [--seconds 180] [--rooms 10]``.
Starts a private redis-server (never REDIS_URL: its memory and connections are measured) and two
``interview-server run`` processes on it; seeds one exam with ``--rooms`` rooms, a running slot and
an examiner each, and ``--clients`` booked candidates whose face check has passed. Every candidate
connects (alternately to each process), enters the queue and enters the room when called; one
examiner per room (alternately on each process) calls, waits the interview's length and ends,
continuously for ``--seconds``. The interview's length is chosen so that the lines last about that
long (each room admits its share of the candidates over the run). Every ``--churn-every-s`` a few
waiting candidates drop their connection and come back a second later (on the other process).

Sampled every 2 s: each server process's RSS (``/proc/<pid>/status``) and open descriptors
(``/proc/<pid>/fd``), Redis's ``used_memory`` and ``connected_clients`` (one of them is this bench's
own). At the end (admissions stopped, 3 s of quiet) each client's last pushed view (the candidate's
state and position, the examiner's line) is compared with Redis: those that differ are
``stale_clients``. Growth is the last sample minus the first taken once everyone is connected and in
the queue, summed over both processes (the reconnecting candidates move from one to the other);
``*_second_half`` is the last minus the one half-way (start-up allocations excluded).
The last line is JSON: ``rss_growth_mb``, ``fd_growth``, ``stale_clients``, ``redis_connections_max``
and more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import bench_services, wait_healthy
from .faults import Candidate, Examiner, Room, Truth, machine, seed, server_process, settle, until_ok

SAMPLE_EVERY_S = 2.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Samples:
    def __init__(self, procs: dict[str, subprocess.Popen], redis) -> None:
        self.procs, self.redis = procs, redis
        self.rows: list[dict[str, Any]] = []

    async def take(self) -> None:
        row: dict[str, Any] = {"t": time.monotonic()}
        for name, proc in self.procs.items():
            row[f"rss_{name}"] = rss_mb(proc.pid)
            row[f"fd_{name}"] = fds(proc.pid)
        with contextlib.suppress(Exception):
            info = await self.redis.info()
            row["redis_mb"] = info["used_memory"] / 2**20
            row["redis_clients"] = info["connected_clients"]
        self.rows.append(row)

    async def every(self, seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.take()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

    def growth(self, key: str, start: int) -> float:
        """The last sample minus the one at ``start``, summed over the server processes (the churn
        moves sockets from one to the other: each alone goes up and down by the sockets it gained)."""
        rows = self.rows[start:]
        return sum(rows[-1][f"{key}_{n}"] - rows[0][f"{key}_{n}"] for n in self.procs) if rows else 0.0


async def examine(room: Room, stop_at: float, interview_s: float, counts: dict) -> None:
    while time.monotonic() < stop_at:
        ack = await room.examiner.call("queue:call_next", timeout=30)
        if not ack or not ack.get("ok"):
            counts["refused"] += 1
            if ack and ack["error"]["code"] == "queue_empty":
                counts["empty_rooms"].add(room.id)
                counts["first_empty"] = min(counts["first_empty"], time.monotonic())
            await asyncio.sleep(0.5)
            continue
        counts["admissions"] += 1
        await asyncio.sleep(interview_s)
        ended, _ = await until_ok(
            lambda: room.examiner.call("queue:end", {"account_id": ack["account_id"]}),  # noqa: B023
            10,
            every_s=0.1,
        )
        if ended and ended.get("ok"):
            counts["ended"] += 1


async def churn(rooms: list[Room], urls: list[str], stop_at: float, every_s: float, count: int, counts: dict) -> None:
    """Every ``every_s``, ``count`` waiting candidates drop and reconnect a second later (other process)."""
    while time.monotonic() + every_s < stop_at:
        await asyncio.sleep(every_s)
        waiting = [c for room in rooms for c in room.candidates if c.state == "waiting" and c.client.connected]

        async def again(c: Candidate) -> None:
            await c.close()
            c.renew()
            await asyncio.sleep(1.0)
            other = urls[1] if c.url == urls[0] else urls[0]
            try:
                await c.connect(other)
                counts["reconnects"] += 1
            except Exception:
                counts["reconnect_failed"] += 1

        await asyncio.gather(*(again(c) for c in random.sample(waiting, min(count, len(waiting)))))


async def soak(args, redis_url: str, prefix: str, folder: Path) -> dict:
    services = bench_services(redis_url, prefix, folder / "seed")
    truth = Truth(services)
    procs: dict[str, subprocess.Popen] = {}
    clients: list = []
    try:
        per_room = [args.clients // args.rooms + (r < args.clients % args.rooms) for r in range(args.rooms)]
        print(f"seeding {args.clients} booked candidates over {args.rooms} rooms ...", flush=True)
        t0 = time.monotonic()
        made = await seed(services, args.rooms, per_room, booked_only=0)
        print(f"seeded in {time.monotonic() - t0:.1f} s; starting two server processes", flush=True)
        urls = []
        for name in ("A", "B"):
            url, procs[name] = server_process(
                redis_url, prefix, folder / name, log_level="WARNING", signal_rate_per_s="100"
            )
            urls.append(url)
        for name, url in zip(("A", "B"), urls, strict=True):
            await wait_healthy(url, procs[name])
        rooms = []
        for r, spec in enumerate(made["rooms"]):
            room = Room(spec["room"], spec["slot"], Examiner(f"examiner{r}", spec["examiner"], spec["room"]))
            for i, (account_id, token) in enumerate(spec["people"]):
                c = Candidate(f"r{r}c{i}", token, account_id, spec["room"], spec["slot"], made["exam"])
                c.enter_on_call = True
                room.candidates.append(c)
            rooms.append(room)
        candidates = [c for room in rooms for c in room.candidates]
        clients = [*candidates, *(room.examiner for room in rooms)]
        gate = asyncio.Semaphore(50)

        async def connect(i: int, c) -> None:
            async with gate:
                await c.connect(urls[i % 2])

        t0 = time.monotonic()
        await asyncio.gather(*(connect(i, c) for i, c in enumerate(clients)))

        async def join(c: Candidate) -> bool:
            async with gate:
                ack = await c.join()
            return bool(ack and ack.get("ok"))

        joined = sum(await asyncio.gather(*(join(c) for c in candidates)))
        print(f"{len(clients)} clients connected, {joined} candidates in the queue in {time.monotonic() - t0:.1f} s")
        samples = Samples(procs, services.store.redis)
        await asyncio.sleep(2.0)
        await samples.take()  # the baseline: everyone connected and in the queue
        # each room admits its share over the run: one admission per ``cycle`` (call, enter, end take ~0.25 s)
        cycle = args.seconds * args.rooms / max(1, args.clients)
        interview_s = max(0.5, cycle - 0.25)
        started = time.monotonic()
        stop_at = started + args.seconds
        counts: dict[str, Any] = {
            "admissions": 0,
            "ended": 0,
            "refused": 0,
            "reconnects": 0,
            "reconnect_failed": 0,
            "empty_rooms": set(),
            "first_empty": float("inf"),
        }
        print(
            f"admitting for {args.seconds:.0f} s in {args.rooms} rooms, interviews of {interview_s:.1f} s; "
            f"{args.churn} candidates reconnect every {args.churn_every_s:.0f} s",
            flush=True,
        )
        stop = asyncio.Event()
        sampler = asyncio.create_task(samples.every(SAMPLE_EVERY_S, stop))
        await asyncio.gather(
            *(examine(room, stop_at, interview_s, counts) for room in rooms),
            churn(rooms, urls, stop_at, args.churn_every_s, args.churn, counts),
        )
        admitting_s = time.monotonic() - started
        await asyncio.sleep(3.0)  # quiet: the last pushes arrive
        stop.set()
        await sampler
        await samples.take()
        views = await settle(truth, rooms, time.monotonic(), limit_s=5.0)
        rows = samples.rows
        half = next((i for i, r in enumerate(rows) if r["t"] >= started + admitting_s / 2), len(rows) - 1)
        first, last = rows[0], rows[-1]
        names = list(procs)
        figures: dict[str, Any] = {
            "clients": len(clients),
            "joined": joined,
            "admissions": counts["admissions"],
            "interviews_ended": counts["ended"],
            "admitting_s": round(admitting_s, 1),
            "interview_s": round(interview_s, 2),
            "rooms_emptied": len(counts["empty_rooms"]),  # their line ran out before the end
            "first_room_emptied_at_s": None
            if counts["first_empty"] == float("inf")
            else round(counts["first_empty"] - started, 1),
            "reconnects": counts["reconnects"],
            "reconnect_failed": counts["reconnect_failed"],
            "rss_growth_mb": round(samples.growth("rss", 0), 1),
            "rss_growth_second_half_mb": round(samples.growth("rss", half), 1),
            "rss_mb": {n: [round(first[f"rss_{n}"], 1), round(last[f"rss_{n}"], 1)] for n in names},
            "fd_growth": int(samples.growth("fd", 0)),
            "fds": {n: [first[f"fd_{n}"], last[f"fd_{n}"]] for n in names},
            "redis_used_memory_mb": [
                round(first.get("redis_mb", 0), 2),
                round(max(r.get("redis_mb", 0) for r in rows), 2),
                round(last.get("redis_mb", 0), 2),
            ],
            "redis_connections_max": max(r.get("redis_clients", 0) for r in rows),
            "stale_clients": views["views_wrong_at_end"],
            "stale": views["wrong"],
            "stale_pages": views["pages_wrong_at_end"],
            "views_compared": views["clients"],
            "samples": len(rows),
            "machine": machine(),
            "load": [round(x, 2) for x in os.getloadavg()],
        }
        return figures
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await services.store.redis.aclose()


def run(args) -> dict:
    from server.store.embedded import EmbeddedRedis

    folder = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    redis = EmbeddedRedis(folder / "redis", persist=False).start()
    try:
        return asyncio.run(
            asyncio.wait_for(
                soak(args, redis.url, f"soak:{secrets.token_hex(4)}:", folder), args.seconds + 60 + args.clients / 5
            )
        )
    finally:
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=300, help="candidates (plus one examiner per room)")
    p.add_argument("--seconds", type=float, default=180.0, help="how long examiners keep admitting")
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--churn", type=int, default=5, help="waiting candidates that reconnect each time")
    p.add_argument("--churn-every-s", type=float, default=10.0)
    return p


def main() -> None:
    args = parser().parse_args()
    figures = run(args)
    print(
        f"{figures['admissions']} admissions in {figures['admitting_s']} s; RSS growth {figures['rss_growth_mb']} MB "
        f"(second half {figures['rss_growth_second_half_mb']} MB), descriptors {figures['fd_growth']:+d}, Redis "
        f"connections at most {figures['redis_connections_max']}; {figures['stale_clients']} of "
        f"{figures['views_compared']} clients stale at the end"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
