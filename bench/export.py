"""Exports of a large exam (issue 16 item 5): rows/s of every export as CSV and XLSX, and the server's peak
memory, which must not grow with the number of rows.

Run: ``python -m bench.export [--sizes 2000,20000]``. Starts a private redis-server (never REDIS_URL or
127.0.0.1:6379), seeds one exam per size with that many candidates (accounts, booked places, queue entries
marked done, interviews with a sealed two-criterion mark sheet: written in pipelines through the store's
key builders; each on the roster, so ``results`` has a row per candidate), then for each size starts a fresh ``interview-server run`` process, logs in as the admin and
downloads ``marks`` / ``attendance`` / ``bookings`` / ``results`` as CSV and XLSX (every file checked: its row count, the
XLSX opened with openpyxl). The server's peak RSS (VmHWM of its process) is read after the downloads of
each size. Prints figures, and a last line of JSON with ``rows_per_s`` per size, kind and format,
``peak_rss_mb`` per size (the process's VmHWM), ``rss_growth_mb`` (largest size minus smallest) and
``rss_export_growth_mb`` per size (the most resident memory sampled every 10 ms during the downloads,
minus before them: the peak of the start-up alone could hide what an export adds), and apart
``rss_streamed_added_mb`` (marks, attendance, bookings: read from Redis in pages) and
``rss_results_added_mb`` (results: ``Results.pages`` of server/marking/results.py computes a page of
candidates at a time, one script per page; kept apart because it is the one that computes as it reads).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from server.marking.rubrics import Rubric
from server.store.audit import Actor
from server.store.embedded import EmbeddedRedis, free_port
from server.store.models import Account, RosterEntry, new_id, to_hash

from .common import PASSWORD, bench_services, machine, start_server, wait_healthy

KINDS = ("bookings", "attendance", "marks", "results")
FORMATS = ("csv", "xlsx")
PER_SLOT = 100
CRITERIA = 2  # marks rows per candidate (one examiner)
TIME_LIMIT_S = 170


def proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


async def seed(services, admin_id: str, count: int, label: str) -> dict:
    """An exam of ``count`` candidates, every one booked, interviewed (done) and marked by the examiner."""
    actor = Actor(admin_id, "admin")
    now = time.time()
    exam = await services.catalog.create_exam(
        actor,
        school="基准学院",
        name=f"导出压测{label}",
        booking_opens=now - 7200,
        booking_closes=now - 3600,
        pledge="承诺",
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    subject = (await services.catalog.subjects(exam.id))[0]
    examiner = await services.directory.create(
        "examiner", PASSWORD, actor, name=f"考官{label}", username=f"bench-examiner-{label}"
    )
    room = await services.catalog.create_room(actor, exam.id, subject.id, "第一考场", [examiner.id])
    rubric = {"criteria": [{"id": "skill", "name": "技巧", "max": 60}, {"id": "show", "name": "表现", "max": 40}]}
    await services.rubrics.set(actor, exam.id, subject.id, Rubric.from_json(subject.id, rubric))
    slots = []
    for i in range((count + PER_SLOT - 1) // PER_SLOT):
        start = now - 86400 + i * 600
        slots.append(await services.catalog.create_slot(actor, exam.id, room.id, start, start + 600, PER_SLOT))
    keys, redis = services.store.keys, services.store.redis
    for first in range(0, count, 1000):
        pipe = redis.pipeline(transaction=False)
        for i in range(first, min(first + 1000, count)):
            slot = slots[i // PER_SLOT]
            account = Account(
                id=new_id("acc"), role="candidate", name=f"考生{i}", id_number=f"11010120060101{i:04d}"[-18:]
            )
            called = slot.starts_at + (i % PER_SLOT) * 5
            admission = new_id("adm")
            pipe.hset(keys.account(account.id), mapping=to_hash(account))
            entry = RosterEntry(exam.id, account.id_number, account.name, subjects=[subject.id], updated_at=now)
            pipe.hset(keys.roster_entry(exam.id, account.id_number), mapping=to_hash(entry))
            pipe.sadd(keys.roster(exam.id), account.id_number)
            pipe.set(keys.id_claim(account.id_number), account.id)
            pipe.zadd(keys.slot_booked(slot.id), {account.id: slot.starts_at - 86400 + i})
            pipe.hset(keys.bookings(account.id), subject.id, slot.id)
            pipe.hset(
                keys.queue_entry(room.id, account.id),
                mapping={
                    "room": room.id,
                    "account": account.id,
                    "slot": slot.id,
                    "exam": exam.id,
                    "name": account.name,
                    "state": "done" if i % 10 else ("removed" if i % 20 else "absent"),
                    "reason": "" if i % 10 else ("网络中断" if i % 20 else "no_show"),
                    "state_at": f"{called + 60:.3f}",
                    "done_at": f"{called + 60:.3f}",
                },
            )
            pipe.hset(
                keys.interview(admission),
                mapping={
                    "interview_id": admission,
                    "exam_id": exam.id,
                    "subject_id": subject.id,
                    "room_id": room.id,
                    "account_id": account.id,
                    "name": account.name,
                    "panel": json.dumps([examiner.id]),
                    "called_at": f"{called:.3f}",
                    "ended_at": f"{called + 60:.3f}",
                    "state": "done",
                },
            )
            marks = {"skill": 30 + i % 30, "show": 20 + i % 20}
            sheet = {"marks": marks, "comment": "=SUM(A1)" if i % 100 == 0 else "音准好", "saved_at": called + 50}
            sheet["total"] = sum(marks.values())
            pipe.hset(
                keys.interview_marks(admission),
                mapping={
                    f"sheet:{examiner.id}": json.dumps(sheet, ensure_ascii=False),
                    f"state:{examiner.id}": "sealed",
                    f"sealed_at:{examiner.id}": f"{called + 55:.3f}",
                },
            )
            pipe.zadd(keys.room_interviews(room.id), {admission: called})
            pipe.zadd(keys.candidate_interviews(account.id), {admission: called})
        await pipe.execute()
    return {
        "exam_id": exam.id,
        "rows": {"bookings": count, "attendance": count, "marks": count * CRITERIA, "results": count},
    }


async def download(session: aiohttp.ClientSession, url: str, fmt: str) -> tuple[int, int, float]:
    """(data rows, bytes, seconds) of one export, the file checked."""
    start = time.perf_counter()
    async with session.get(url) as resp:
        assert resp.status == 200, (resp.status, await resp.text())
        if fmt == "csv":
            size, lines, head = 0, 0, b""
            async for chunk in resp.content.iter_chunked(256 * 1024):
                head = head or chunk[:3]
                size += len(chunk)
                lines += chunk.count(b"\r\n")
            elapsed = time.perf_counter() - start
            assert head == "\ufeff".encode()
            return lines - 1, size, elapsed
        body = await resp.read()
    elapsed = time.perf_counter() - start
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
    book.close()
    return rows, len(body), elapsed


async def measure(url: str, pid: int, exam: dict) -> dict:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120), cookie_jar=jar) as session:
        async with session.post(url + "/api/auth/login", json={"login": "bench-admin", "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
        baseline_kb = proc_kb(pid, "VmHWM")
        before_kb = proc_kb(pid, "VmRSS")
        sampled = [before_kb]
        done = asyncio.Event()

        async def sample() -> None:  # the process's resident memory every 10 ms while it exports
            while not done.is_set():
                sampled.append(proc_kb(pid, "VmRSS"))
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        out: dict = {"exports": {}}
        for kind in KINDS:
            for fmt in FORMATS:
                if (
                    kind == "results" and fmt == FORMATS[0]
                ):  # computed as it is read (server/marking/results.py): measured apart
                    out["peak_rss_streamed_mb"] = round(proc_kb(pid, "VmHWM") / 1024, 1)
                first = len(sampled)
                rows, size, elapsed = await download(
                    session, f"{url}/api/admin/exams/{exam['exam_id']}/exports/{kind}.{fmt}", fmt
                )
                assert rows == exam["rows"][kind], (kind, fmt, rows, exam["rows"][kind])
                out["exports"][f"{kind}.{fmt}"] = {
                    "rows": rows,
                    "bytes": size,
                    "s": round(elapsed, 3),
                    "rows_per_s": round(rows / elapsed),
                    # the most resident memory sampled during this download, above the level before any
                    "rss_added_mb": round((max(sampled[first:] or [before_kb]) - before_kb) / 1024, 1),
                }
        done.set()
        await sampler
        out["baseline_rss_mb"] = round(baseline_kb / 1024, 1)
        out["rss_before_mb"] = round(before_kb / 1024, 1)
        out["rss_during_max_mb"] = round(max(sampled) / 1024, 1)
        out["rss_samples"] = len(sampled)
        out["peak_rss_mb"] = round(proc_kb(pid, "VmHWM") / 1024, 1)
        return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2000,20000", help="candidates per exam, comma-separated")
    return p


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    redis_server = EmbeddedRedis(folder / "redis", persist=False).start()
    prefix = "bench:export:"
    figures: dict = {"machine": machine(), "sizes": {}}
    try:

        async def seed_all():
            services = bench_services(redis_server.url, prefix, folder / "data")
            try:
                await services.directory.create(
                    "admin", PASSWORD, Actor.system(), name="管理员", username="bench-admin"
                )
                admin_id = await services.store.redis.get(services.store.keys.login("username", "bench-admin"))
                return [await seed(services, admin_id, n, str(n)) for n in sizes]
            finally:
                await services.store.redis.aclose()

        t0 = time.perf_counter()
        exams = asyncio.run(seed_all())
        print(f"seeded {sum(sizes)} candidates in {time.perf_counter() - t0:.1f} s", flush=True)
        for n, exam in zip(sizes, exams, strict=True):
            port = free_port()
            proc = start_server(redis_server.url, prefix, port, folder / "data", capture=True)
            try:
                url = f"http://127.0.0.1:{port}"
                asyncio.run(wait_healthy(url, proc))
                result = asyncio.run(measure(url, proc.pid, exam))
            finally:
                proc.terminate()
                proc.wait(timeout=20)
            figures["sizes"][str(n)] = result
            for name, e in result["exports"].items():
                print(
                    f"{n:>6} candidates  {name:<16} {e['rows']:>6} rows  {e['s']:>6.2f} s  {e['rows_per_s']:>7} rows/s"
                    f"  server RSS +{e['rss_added_mb']} MB"
                )
            print(
                f"{n:>6} candidates  server RSS: {result['rss_before_mb']} MB before, at most "
                f"{result['rss_during_max_mb']} MB while exporting ({result['rss_samples']} samples); "
                f"peak (VmHWM) {result['peak_rss_mb']} MB, {result['baseline_rss_mb']} MB after start and login"
            )
            if time.perf_counter() - started > TIME_LIMIT_S:
                raise RuntimeError(f"over the time limit ({TIME_LIMIT_S} s)")
    finally:
        redis_server.stop()
    peaks = [figures["sizes"][str(n)]["peak_rss_mb"] for n in sizes]
    figures["rss_growth_mb"] = round(peaks[-1] - peaks[0], 1)
    during = {n: v["rss_during_max_mb"] - v["rss_before_mb"] for n, v in figures["sizes"].items()}
    figures["rss_export_growth_mb"] = {n: round(g, 1) for n, g in during.items()}
    # the exports read as they are (marks, attendance, bookings) apart from results (computed page by page)
    figures["rss_streamed_added_mb"] = {
        n: max(e["rss_added_mb"] for k, e in v["exports"].items() if not k.startswith("results."))
        for n, v in figures["sizes"].items()
    }
    figures["rss_results_added_mb"] = {
        n: max(e["rss_added_mb"] for k, e in v["exports"].items() if k.startswith("results."))
        for n, v in figures["sizes"].items()
    }
    figures["peak_rss_streamed_mb"] = {n: v["peak_rss_streamed_mb"] for n, v in figures["sizes"].items()}
    figures["rows_per_s"] = {
        n: {k: e["rows_per_s"] for k, e in v["exports"].items()} for n, v in figures["sizes"].items()
    }
    figures["peak_rss_mb"] = {n: v["peak_rss_mb"] for n, v in figures["sizes"].items()}
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    figures = run(parser().parse_args())
    print(
        f"peak RSS {figures['peak_rss_mb']} MB: growth {figures['rss_growth_mb']} MB from the smallest to the largest; "
        f"resident memory added by the streamed exports {figures['rss_streamed_added_mb']} MB, "
        f"by results {figures['rss_results_added_mb']} MB"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
