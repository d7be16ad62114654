"""Booking under contention: many candidates, several OS processes, a few slots.

Run: ``python -m bench.booking [--candidates 2000] [--processes 4] [--concurrency 50]``.
Starts a private redis-server (or uses REDIS_URL) under its own key prefix, seeds an
exam whose slots hold fewer places than there are candidates, then lets every
candidate try to book at once from several processes. Prints figures, and a last
line of JSON with ``bookings_per_s`` (successful bookings per second),
``attempts_per_s``, ``overbooked`` (places taken beyond capacity, must be 0) and
``double_booked`` (candidates with two bookings for one subject, must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections import Counter
from pathlib import Path

from server.booking.bookings import Bookings
from server.errors import UserError
from server.exams.catalog import Catalog
from server.store.base import Store
from server.store.models import Account
from server.store.redis import connect

from .common import PASSWORD, bench_exam, bench_redis, bench_services, enrolled_candidates

# --- the race itself (also used by tests/booking/test_concurrency.py) ---------------------------


async def _book_all(
    redis_url: str, prefix: str, exam_id: str, jobs: list[tuple[str, str, str]], concurrency: int
) -> list[tuple[str, str, str]]:
    client = connect(redis_url)
    store = Store(client, prefix)
    bookings = Bookings(store, Catalog(store))
    gate = asyncio.Semaphore(concurrency)

    async def one(account_id: str, id_number: str, slot_id: str) -> tuple[str, str, str]:
        account = Account(id=account_id, role="candidate", id_number=id_number, verified_at=1.0)
        async with gate:
            try:
                await bookings.book(account, exam_id, slot_id)
                return account_id, slot_id, "ok"
            except UserError as err:
                return account_id, slot_id, err.code

    try:
        return await asyncio.gather(*(one(*job) for job in jobs))
    finally:
        await client.aclose()


def _worker(args) -> list[tuple[str, str, str]]:
    return asyncio.run(_book_all(*args))


def race(
    redis_url: str, prefix: str, exam_id: str, jobs: list[tuple[str, str, str]], processes: int, concurrency: int
) -> tuple[list[tuple[str, str, str]], float]:
    """Run booking jobs (account id, ID number, slot id) split over ``processes`` OS processes.

    Returns every (account id, slot id, result code) and the wall time of the race.
    """
    shares = [jobs[i::processes] for i in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        # Start the workers before the clock: spawning interpreters is not booking.
        pool.map(abs, range(processes))
        start = time.perf_counter()
        parts = pool.map(_worker, [(redis_url, prefix, exam_id, share, concurrency) for share in shares])
        elapsed = time.perf_counter() - start
    return [r for part in parts for r in part], elapsed


async def overbooked(store: Store, slot_ids: list[str]) -> int:
    """Places taken beyond capacity, summed over slots (read straight from Redis)."""
    extra = 0
    for slot_id in slot_ids:
        capacity = int(await store.redis.hget(store.keys.slot(slot_id), "capacity"))
        extra += max(0, await store.redis.zcard(store.keys.slot_booked(slot_id)) - capacity)
    return extra


async def double_booked(store: Store, account_ids: list[str]) -> int:
    """Candidates holding more than one place for the same subject (across all slots)."""
    holders: Counter = Counter()
    slot_ids = await store.redis.keys(store.keys.slot("*"))
    subject_of = {}
    for key in slot_ids:
        if key.endswith(":booked"):
            continue
        slot_id = key.rsplit(":", 1)[1]
        subject_of[slot_id] = await store.redis.hget(key, "subject_id")
    for slot_id, subject in subject_of.items():
        for account_id in await store.redis.zrange(store.keys.slot_booked(slot_id), 0, -1):
            holders[(account_id, subject)] += 1
    return sum(1 for n in holders.values() if n > 1)


# --- the benchmark -------------------------------------------------------------------------------


async def _seed(redis_url: str, prefix: str, candidates: int, slots: int, capacity: int):
    services = bench_services(redis_url, prefix, Path(tempfile.mkdtemp(prefix="bench-booking-")))
    admin, exam, subject = await bench_exam(services, "预约压测", 60)
    now = time.time()
    room = await services.catalog.create_room(admin, exam.id, subject.id, "考场", [])
    slot_ids = [
        (
            await services.catalog.create_slot(
                admin, exam.id, room.id, now + 86400 + i * 3600, now + 86400 + (i + 1) * 3600, capacity
            )
        ).id
        for i in range(slots)
    ]
    password_hash = await services.passwords.hash(PASSWORD)
    people = await enrolled_candidates(services, admin, exam.id, "声乐", candidates, password_hash)
    await services.store.redis.aclose()
    return exam.id, slot_ids, [account for account, _ in people]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=50)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight per process")
    args = parser.parse_args()

    with bench_redis() as (url, prefix):
        print(
            f"seeding {args.candidates} verified candidates, {args.slots} slots x {args.capacity} places ...",
            flush=True,
        )
        t0 = time.perf_counter()
        exam_id, slot_ids, accounts = asyncio.run(_seed(url, prefix, args.candidates, args.slots, args.capacity))
        print(
            f"seeded in {time.perf_counter() - t0:.1f} s; racing with {args.processes} processes x "
            f"{args.concurrency} in flight ...",
            flush=True,
        )
        # every candidate goes for a slot at once; by default each slot is wanted by twice its places
        jobs = [(a.id, a.id_number, slot_ids[i % len(slot_ids)]) for i, a in enumerate(accounts)]
        results, elapsed = race(url, prefix, exam_id, jobs, args.processes, args.concurrency)
        codes = Counter(code for _, _, code in results)

        async def check():
            client = connect(url)
            store = Store(client, prefix)
            try:
                return await overbooked(store, slot_ids), await double_booked(store, [a.id for a in accounts])
            finally:
                await client.aclose()

        extra, doubles = asyncio.run(check())
        figures = {
            "candidates": args.candidates,
            "processes": args.processes,
            "concurrency_per_process": args.concurrency,
            "capacity_total": args.slots * args.capacity,
            "booked": codes["ok"],
            "refused_full": codes["slot_full"],
            "other_refusals": sum(codes.values()) - codes["ok"] - codes["slot_full"],
            "race_s": round(elapsed, 3),
            "bookings_per_s": round(codes["ok"] / elapsed, 1),
            "attempts_per_s": round(len(results) / elapsed, 1),
            "overbooked": extra,
            "double_booked": doubles,
        }
        print(
            f"{codes['ok']} booked, {codes['slot_full']} refused (slot full), other: "
            f"{dict((k, v) for k, v in codes.items() if k not in ('ok', 'slot_full'))}"
        )
        print(
            f"{figures['attempts_per_s']} attempts/s, {figures['bookings_per_s']} bookings/s, "
            f"over-booked places: {extra}, double bookings: {doubles}"
        )
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
