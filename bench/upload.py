"""Upload takes (docs/recorded.md "Upload takes"): throughput of chunked tus uploads on loopback with 20
at once, and what they cost the server.

Run: ``python -m bench.upload [--uploads 20] [--mb 24] [--chunk-mb 5]``. Starts its own redis-server (never
REDIS_URL), seeds an exam whose recorded subject takes uploads and 20 enrolled candidates in practice
sittings (no face check: the upload path is the same), makes one H.264/AAC MP4 with PyAV (noise, so it
does not compress: ``--mb`` megabytes), starts a real ``interview-server run`` process, and has every
candidate upload the file at once as the page does (tus creation, then PATCHes of ``--chunk-mb``). The
server's CPU seconds are read from ``/proc/<pid>/stat`` before the first byte and after the last
(everything the process did meanwhile: HTTP, Redis, disk writes, and the files already complete being
probed and copied); then it waits until every take is complete (probed, copied into ``playable.mp4``,
hashed). Bounded: ``TIME_LIMIT_S``. Prints figures, and a last line of JSON: ``throughput_mb_per_s``
(all uploads' bytes over the wall time of the upload phase), ``server_cpu_s_per_mb``,
``per_upload_mb_per_s_p50``, ``all_playable_s`` (from the first byte until every take was complete).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import av

from server.accounts.sessions import COOKIE
from server.store.audit import Actor
from server.store.embedded import EmbeddedRedis, free_port

from .common import PASSWORD, bench_services, enrolled_candidates, machine, start_server, wait_healthy
from .forwarding import cpu_seconds

TIME_LIMIT_S = 240
MB = 1024 * 1024
DEVICE = "bench-phone-{}"


def make_video(path: Path, megabytes: float) -> Path:
    """An H.264/AAC MP4 of noise (it does not compress) of about ``megabytes``."""
    from tests.recorded.clips import make_clip

    frames = max(10, int(megabytes * MB / 170_000))  # a lossless 320x240 frame of noise: ~170 KB
    return make_clip(path, seconds=frames / 30, fps=30, noise=True)


async def seed(services, count: int) -> list[dict]:
    admin = Actor("bench", "admin")
    now = time.time()
    exam = await services.catalog.create_exam(
        admin,
        school="基准学院",
        name="上传压测",
        booking_opens=now - 3600,
        booking_closes=now + 3600,
        pledge="承诺",
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    subject = (await services.catalog.subjects(exam.id))[0]
    await services.catalog.update_subject(
        admin,
        exam.id,
        subject.id,
        kind="recorded",
        take_max_s=3600,
        window_opens=now - 600,
        window_closes=now + 3 * 3600,
        uploads_allowed=True,
        upload_max_mb=4096,
    )
    password_hash = await services.passwords.hash(PASSWORD)
    people = []
    for i, (account, _) in enumerate(await enrolled_candidates(services, admin, exam.id, "声乐", count, password_hash)):
        sitting = await services.sittings.enter(account, exam.id, subject.id, "practice", DEVICE.format(i))
        token = await services.sessions.create(account.id, "candidate")
        people.append({"sitting": sitting.id, "device": DEVICE.format(i), "token": token})
    return people


async def upload_one(url: str, person: dict, data: bytes, chunk: int) -> dict:
    """One phone: tus creation, then PATCHes of ``chunk`` bytes; (seconds, take id)."""
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"filename": "IMG_0001.mp4", "filetype": "video/mp4", "device": person["device"]}.items()
    )
    tus = {"Tus-Resumable": "1.0.0"}
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar, cookies={COOKIE: person["token"]}) as session:
        headers = {**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta}
        async with session.post(f"{url}/api/candidate/sittings/{person['sitting']}/uploads", headers=headers) as r:
            assert r.status == 201, await r.text()
            location = r.headers["Location"]
        started = time.monotonic()
        offset = 0
        while offset < len(data):
            headers = {**tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
            async with session.patch(url + location, data=data[offset : offset + chunk], headers=headers) as r:
                assert r.status == 204, await r.text()
                offset = int(r.headers["Upload-Offset"])
        return {"s": time.monotonic() - started, "take": location.rsplit("/", 1)[1]}


async def measure(url: str, pid: int, services, people: list[dict], data: bytes, chunk: int) -> dict:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    done = await asyncio.gather(*(upload_one(url, p, data, chunk) for p in people))
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    pending = {d["take"] for d in done}
    while pending and time.monotonic() - t0 < TIME_LIMIT_S / 2:
        for take_id in list(pending):
            take = await services.sittings.find_take(take_id)
            if take is not None and take.state in ("complete", "failed"):
                assert take.state == "complete", take.upload
                pending.discard(take_id)
        await asyncio.sleep(0.1)
    playable_s = time.monotonic() - t0
    total_mb = len(data) * len(people) / MB
    return {
        "uploads": len(people),
        "file_mb": round(len(data) / MB, 2),
        "chunk_mb": round(chunk / MB, 2),
        "total_mb": round(total_mb, 1),
        "upload_wall_s": round(t1 - t0, 2),
        "throughput_mb_per_s": round(total_mb / (t1 - t0), 1),
        "per_upload_mb_per_s_p50": round(statistics.median(len(data) / MB / d["s"] for d in done), 2),
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "server_cpu_s_per_mb": round((cpu1 - cpu0) / total_mb, 4),
        "all_playable_s": round(playable_s, 2) if not pending else None,
        "not_playable": len(pending),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=float, default=24.0, help="size of the uploaded file")
    parser.add_argument("--chunk-mb", type=float, default=5.0, help="bytes per PATCH, as the page sends them")
    args = parser.parse_args()
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    redis_server = EmbeddedRedis(folder / "redis", persist=False).start()
    prefix = "bench:upload:"
    try:
        data = make_video(folder / "IMG_0001.mp4", args.mb).read_bytes()
        print(f"file: {len(data) / MB:.1f} MB H.264/AAC MP4, made in {time.monotonic() - started:.1f} s", flush=True)

        async def run() -> dict:
            services = bench_services(redis_server.url, prefix, folder / "data")
            try:
                people = await seed(services, args.uploads)
                port = free_port()
                proc = start_server(
                    redis_server.url,
                    prefix,
                    port,
                    folder / "server-data",
                    capture=True,
                    recordings_dir=str(folder / "rec"),
                )
                try:
                    url = f"http://127.0.0.1:{port}"
                    await wait_healthy(url, proc)
                    async with asyncio.timeout(TIME_LIMIT_S):
                        return await measure(url, proc.pid, services, people, data, int(args.chunk_mb * MB))
                finally:
                    proc.terminate()
                    proc.wait(timeout=20)
            finally:
                await services.store.redis.aclose()

        figures = asyncio.run(run())
    finally:
        redis_server.stop()
    figures["machine"] = machine(av=av.__version__)
    figures["wall_s"] = round(time.monotonic() - started, 1)
    print(
        f"{figures['uploads']} uploads of {figures['file_mb']} MB in {figures['chunk_mb']} MB chunks: "
        f"{figures['throughput_mb_per_s']} MB/s in total ({figures['per_upload_mb_per_s_p50']} MB/s each, median), "
        f"server {figures['server_cpu_s']} CPU s = {figures['server_cpu_s_per_mb']} CPU s per MB; "
        f"all playable {figures['all_playable_s']} s after the first byte"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
