"""The waiting queue under load: many candidates waiting over many rooms, examiners admitting without pause.

Run: ``python -m bench.queue [--candidates 2000] [--rooms 50] [--seconds 30]``.
Starts a private redis-server (or uses REDIS_URL) under its own key prefix and a real
``interview-server`` process on a free loopback port; seeds one exam with a running slot per room
and booked candidates whose face check has passed; then connects every candidate with a real
socket.io client (split over client processes), has them all enter the queue, and lets one
examiner per room call, admit and end interviews continuously for ``--seconds`` (each interview
lasting ``--interview-s``: real ones last minutes, so this admits far faster than any exam does).

Reports queue operations per second (join, call, enter, end) and the delay from each admission
(the moment its Redis script committed, stamped by the server) to each waiting candidate of that
room receiving the new position. The last line is JSON with ``queue_ops_per_s``,
``position_update_p50_ms``, ``position_update_p95_ms`` and more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import socketio

from .common import (
    FIT_DEVICE,
    PASSWORD,
    bench_exam,
    bench_redis,
    bench_services,
    enrolled_candidates,
    start_server,
    wait_healthy,
)


async def _seed(url: str, prefix: str, candidates: int, rooms: int, data_dir: Path) -> dict:
    from server.store.audit import Actor

    services = bench_services(url, prefix, data_dir)
    admin, exam, subject = await bench_exam(services, "候考压测")
    now = time.time()
    password_hash = await services.passwords.hash(PASSWORD)
    examiners, slots = [], []
    per_room = -(-candidates // rooms)
    for r in range(rooms):
        examiner = await services.directory.create(
            "examiner", "", admin, username=f"bench-examiner-{r}", password_hash=password_hash
        )
        room = await services.catalog.create_room(admin, exam.id, subject.id, f"考场{r}", [examiner.id])
        slot = await services.catalog.create_slot(admin, exam.id, room.id, now + 30, now + 3600, per_room)
        examiners.append((await services.sessions.create(examiner.id, "examiner"), room.id))
        slots.append(slot)
    people = []
    enrolled = await enrolled_candidates(services, admin, exam.id, "声乐", candidates, password_hash)
    for i, (account, number) in enumerate(enrolled):
        slot = slots[i % rooms]
        await services.bookings.book(account, exam.id, slot.id, now=now)
        # the face check itself is measured by bench.facecheck; here every candidate has passed it
        await services.face_gate.record(
            exam.id,
            Actor(account.id, "candidate"),
            passed=True,
            reason="",
            distance=0.3,
            check={"check_id": f"check_{i:012x}"},
            kind="queue",
            name=f"考生{i}",
            id_number=number,
            photo_sha256="",
        )
        people.append((await services.sessions.create(account.id, "candidate"), slot.id))
    # the slots start now: move them back 30 s (bookings close when a slot starts)
    for slot in slots:
        await services.store.redis.hset(services.store.keys.slot(slot.id), "starts_at", now - 30)
    await services.store.redis.aclose()
    return {"exam": exam.id, "examiners": examiners, "people": people}


def _cookie(token: str) -> dict:
    from server.accounts.sessions import COOKIE

    return {"Cookie": f"{COOKIE}={token}"}


async def _candidates(url: str, exam_id: str, people: list, start_at: float, stop_at: float) -> dict:
    """Connect, enter the queue, enter the room when called; record position-update delays."""
    delays: list[float] = []
    joins = 0
    clients = []
    gate = asyncio.Semaphore(50)

    async def one(token: str, slot_id: str) -> None:
        nonlocal joins
        client = socketio.AsyncClient(reconnection=False)
        clients.append(client)
        mine = {"n": None}

        @client.on("queue:line", namespace="/candidate")
        async def line(data):
            change = data.get("change") or {}  # a push after several changes: timed from the oldest
            if "queue_called" in change.get("events", ()) and any(i["n"] == mine["n"] for i in data["line"]):
                delays.append(time.time() - change["at"])

        @client.on("queue:called", namespace="/candidate")
        async def called(data):
            await client.emit("room:enter", {"room_id": data["room_id"]}, namespace="/candidate")

        async with gate:
            await client.connect(
                url, headers=_cookie(token), namespaces=["/candidate"], transports=["websocket"], wait_timeout=30
            )
        await asyncio.sleep(max(0.0, start_at - time.time()))
        async with gate:
            ack = await client.call(
                "queue:join",
                {"exam_id": exam_id, "slot_id": slot_id, "device": FIT_DEVICE},
                namespace="/candidate",
                timeout=60,
            )
        if ack.get("ok"):
            joins += 1
            mine["n"] = ack["entry"]["n"]

    await asyncio.gather(*(one(t, s) for t, s in people))
    await asyncio.sleep(max(0.0, stop_at - time.time()))
    for client in clients:
        await client.disconnect()
    return {"delays": delays, "joins": joins}


async def _examiners(url: str, examiners: list, start_at: float, stop_at: float, interview_s: float) -> dict:
    counts = {"calls": 0, "ends": 0, "refused": 0}
    call_ms: list[float] = []

    async def one(token: str, room_id: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            url,
            headers=_cookie(token),
            namespaces=["/examiner"],
            auth={"room_id": room_id},
            transports=["websocket"],
            wait_timeout=30,
        )
        # examiners do not all click at the same instant: each starts somewhere within one interview
        await asyncio.sleep(max(0.0, start_at - time.time()) + random.uniform(0, interview_s))
        while time.time() < stop_at:
            sent = time.perf_counter()
            ack = await client.call("queue:call_next", {}, namespace="/examiner", timeout=30)
            if not ack.get("ok"):
                counts["refused"] += 1
                await asyncio.sleep(0.2)
                continue
            call_ms.append((time.perf_counter() - sent) * 1000)
            counts["calls"] += 1
            await asyncio.sleep(interview_s)
            while time.time() < stop_at:  # end once the candidate is in the room
                end = await client.call(
                    "queue:end", {"account_id": ack["account_id"]}, namespace="/examiner", timeout=30
                )
                if end.get("ok"):
                    counts["ends"] += 1
                    break
                await asyncio.sleep(0.05)
        await client.disconnect()

    await asyncio.gather(*(one(t, r) for t, r in examiners))
    return {**counts, "call_ms": call_ms}


def _run_candidates(args) -> dict:
    return asyncio.run(_candidates(*args))


def _run_examiners(args) -> dict:
    return asyncio.run(_examiners(*args))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long examiners keep admitting")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--interview-s", type=float, default=3.0, help="length of each simulated interview (real ones last 10 min)"
    )
    args = parser.parse_args()

    from server.store.embedded import free_port

    with bench_redis() as (redis_url, prefix):
        _run(args, redis_url, prefix, free_port())


def _run(args, redis_url: str, prefix: str, port: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    url = f"http://127.0.0.1:{port}"
    server = None
    try:
        print(f"seeding {args.candidates} booked candidates over {args.rooms} rooms ...", flush=True)
        t0 = time.perf_counter()
        seeded = asyncio.run(_seed(redis_url, prefix, args.candidates, args.rooms, data_dir))
        print(f"seeded in {time.perf_counter() - t0:.1f} s; starting the server on {url} ...", flush=True)
        server = start_server(redis_url, prefix, port, data_dir, signal_rate_per_s="100")
        asyncio.run(wait_healthy(url, server))

        n = args.client_processes
        shares = [seeded["people"][i::n] for i in range(n)]
        connect_s = max(20.0, args.candidates / 40)
        start_at = time.time() + connect_s
        stop_at = start_at + connect_s / 2 + args.seconds
        print(
            f"connecting {args.candidates} socket.io candidates from {n} processes; all enter the queue at "
            f"+{connect_s:.0f} s; examiners admit for {args.seconds:.0f} s after that ...",
            flush=True,
        )
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(n + 1) as pool:
            cand = pool.map_async(
                _run_candidates, [(url, seeded["exam"], share, start_at, stop_at) for share in shares]
            )
            exam = pool.apply_async(
                _run_examiners, ((url, seeded["examiners"], start_at + connect_s / 2, stop_at, args.interview_s),)
            )
            admit_from = start_at + connect_s / 2
            time.sleep(max(0.0, admit_from - time.time()))
            cpu_start = _cpu_s(server.pid)
            time.sleep(max(0.0, stop_at - time.time()))
            server_cpu_pct = 100 * (_cpu_s(server.pid) - cpu_start) / args.seconds
            cand_results = cand.get(timeout=stop_at - time.time() + 120)
            exam_result = exam.get(timeout=60)
        delays = [d * 1000 for r in cand_results for d in r["delays"]]
        joins = sum(r["joins"] for r in cand_results)
        ops = exam_result["calls"] * 2 + exam_result["ends"]  # call, the candidate's room entry, end
        figures = {
            "candidates": args.candidates,
            "rooms": args.rooms,
            "joined": joins,
            "admissions": exam_result["calls"],
            "interviews_ended": exam_result["ends"],
            "admitting_s": args.seconds,
            "queue_ops_per_s": round(ops / args.seconds, 1),
            "position_updates": len(delays),
            "position_update_p50_ms": round(_pct(delays, 0.5), 1),
            "position_update_p95_ms": round(_pct(delays, 0.95), 1),
            "position_update_max_ms": round(max(delays), 1) if delays else None,
            "call_next_p50_ms": round(statistics.median(exam_result["call_ms"]), 1) if exam_result["call_ms"] else None,
            "interview_s": args.interview_s,
            "server_cpu_pct": round(server_cpu_pct, 1),
        }
        print(
            f"{joins} of {args.candidates} candidates entered the queue; {exam_result['calls']} admissions and "
            f"{exam_result['ends']} interviews ended in {args.seconds:.0f} s -> {figures['queue_ops_per_s']} queue ops/s"
        )
        print(f"server process CPU while admitting: {figures['server_cpu_pct']} % of one core")
        print(
            f"{len(delays)} position updates after admissions: p50 {figures['position_update_p50_ms']} ms, "
            f"p95 {figures['position_update_p95_ms']} ms, max {figures['position_update_max_ms']} ms"
        )
        print(json.dumps(figures))
    finally:
        if server is not None:
            server.terminate()  # it first lets every socket go (each drop is a presence change)
            try:
                server.wait(90)
            except subprocess.TimeoutExpired:
                server.kill()
                print("the server did not stop within 90 s of SIGTERM: killed", flush=True)


if __name__ == "__main__":
    main()
