"""Watching interviews: how many monitored rooms one core sustains, and how long a change in the
candidate's video takes to reach the examiner's socket as a flag (docs/facecheck.md "Watching the
interview").

Run: ``python -m bench.monitoring [--rooms 4] [--seconds 20] [--interval 2] [--switches 4]`` (about
2 minutes). Needs the model files (``python -m server.facecheck.fetch``) and the test extras (the
faces come from scikit-image, see tests/facecheck/faces.py). Uses a private redis-server unless
``REDIS_URL`` is set.

The server runs in this process with a face pool of ONE worker process; ``--rooms`` candidates (real
aiortc peers in this process, 640x480 VP8 at 10 fps showing the roster photo's face) sit in as many
rooms, each with its examiner's socket.io client. The CPU time of this process and the pool's worker
is read from /proc over two windows of ``--seconds``, in the same run: with every room sampled every
``--interval`` s, and then the same rooms with sampling stopped (the baseline: media, recording,
the peers' encoders). Figures (the last line is JSON):

- ``sample_cpu_ms``: CPU per sample (decode on demand, the pool's check, the bookkeeping), the two
  windows' difference over the samples taken;
- ``monitored_rooms_per_core``: rooms one core can sample every ``--interval`` s: interval /
  ``sample_cpu_ms``;
- ``flag_latency_p50_ms`` / ``flag_latency_p95_ms``: from switching a candidate's camera to two faces
  to the examiner's socket receiving ``room:flag`` (raised), ``--switches`` per room, all rooms at
  once, sampling every ``--interval`` s (so about half an interval is waiting for the next sample).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import av
from aiohttp import web

from bench.common import bench_redis, machine
from server.app import create_app
from server.config import load_settings
from server.facecheck.pool import InferencePool
from server.http.context import SERVICES
from server.signaling import hub
from tests.conftest import build_world
from tests.facecheck import faces
from tests.live import FIT_DEVICE, LiveWorld
from tests.signaling.conftest import Peer
from tests.signaling.test_room_monitoring import Camera, CameraClient, framed
from tests.signaling.test_rooms import SocketRoom

FPS = 10
TICKS = os.sysconf("SC_CLK_TCK")


class TenFpsCamera(Camera):
    """The test's switchable camera at 10 fps (the peers' encoders cost less; the server samples the
    same frames)."""

    async def recv(self) -> av.VideoFrame:
        if not hasattr(self, "_t0"):
            self._t0 = time.monotonic()
            self._n = 0
        self._n += 1
        await asyncio.sleep(max(0.0, self._t0 + self._n / FPS - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self.picture, format="rgb24")
        frame.pts = int((time.monotonic() - self._t0) * 90000)
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


async def seat(
    url: str, services, staff, index: int, photo: bytes, right
) -> tuple[Peer, TenFpsCamera, CameraClient, dict]:
    """One room with its candidate in it (media joined, recorded, watched) and its examiner's socket."""
    world = await build_world(
        services, roster_size=1, capacity=1, slot_in=-30, photos=[photo], staff=staff, first_roster_row=index * 10
    )
    live = LiveWorld(world, services)
    account = await world.candidate(0, phone=f"1380000{index:04d}")
    await services.bookings.book(account, live.exam.id, live.slot.id, now=live.slot.starts_at - 60)
    candidate = Peer("/candidate")
    await candidate.connect(url, await services.sessions.create(account.id, account.role))
    await candidate.wait_for("queue:snapshot")
    ack = await candidate.call("queue:join", {"exam_id": live.exam.id, "slot_id": live.slot.id, "device": FIT_DEVICE})
    assert ack["ok"], ack
    await live.pass_face(account)
    examiner = Peer("/examiner")
    await examiner.connect(
        url, await services.sessions.create(live.examiner.id, live.examiner.role), {"room_id": live.room.id}
    )
    await examiner.wait_for("queue:room")
    assert (await examiner.call("queue:call_next"))["ok"]
    await candidate.wait_for("queue:called", timeout=10)
    camera = TenFpsCamera(right)
    cam = CameraClient(SocketRoom(candidate, live.room.id), account.id, "candidate", camera=camera)
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    await cam.join()
    await examiner.wait_for("room:face", lambda d: d["state"] != "checking", timeout=60)
    return examiner, camera, cam, world.staff


async def switches(examiner: Peer, camera: TenFpsCamera, right, two, count: int, interval: float) -> list[float]:
    took = []
    for _ in range(count):
        await asyncio.sleep(random.uniform(0, interval))
        seen = len(examiner.seen("room:flag"))
        camera.picture, start = two, time.monotonic()
        await examiner.wait_for(
            "room:flag",
            lambda d, n=seen: len(examiner.seen("room:flag")) > n and d["state"] == "raised",
            timeout=30,
        )
        took.append((time.monotonic() - start) * 1000)
        camera.picture = right
        await examiner.wait_for(
            "room:flag",
            lambda d, n=seen: len(examiner.seen("room:flag")) > n + 1 and d["state"] == "cleared",
            timeout=30,
        )
    return took


async def run(args, redis_url: str, prefix: str) -> dict:
    models = Path(args.models_dir).absolute()
    pool = InferencePool(models, "Dlib", workers=1, max_pending=32)
    await pool.warm_up()
    right, two = framed(faces.grace_hopper()), framed(faces.side_by_side(faces.grace_hopper(), faces.grace_hopper()))
    photo = faces.encode(faces.grace_hopper())
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        settings = load_settings(
            env={},
            redis_url=redis_url,
            redis_prefix=prefix,
            data_dir=Path(tmp) / "data",
            recordings_dir=Path(tmp) / "recordings",
            facecheck_workers=0,
            monitor_interval_s=args.interval,
            monitor_max_interval_s=max(args.interval, 6.0),
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            argon2_parallelism=1,
            log_level="WARNING",
        )
        app = create_app(settings, face_pool=pool)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = "http://{}:{}".format(*runner.addresses[0][:2])
        services = app[SERVICES]
        monitors = app[hub.SIO].namespace_handlers["/candidate"].rooms.monitors
        seats = []
        try:
            staff = None
            for i in range(args.rooms):
                examiner, camera, cam, staff = await seat(url, services, staff, i, photo, right)
                seats.append((examiner, camera, cam))
            pids = [os.getpid()] + [p.pid for p in multiprocessing.active_children()]
            await asyncio.sleep(3)  # settled: the room checks done, every room sampled
            samples0, cpu0, t0 = monitors.samples, cpu_s(pids), time.monotonic()
            await asyncio.sleep(args.seconds)
            samples1, cpu1, t1 = monitors.samples, cpu_s(pids), time.monotonic()
            watched_cores = (cpu1 - cpu0) / (t1 - t0)
            samples = samples1 - samples0
            # the flag latency, with sampling on
            latencies = [
                ms
                for got in await asyncio.gather(
                    *(switches(ex, camera, right, two, args.switches, args.interval) for ex, camera, _ in seats)
                )
                for ms in got
            ]
            # the baseline: the same rooms, sampling stopped (each watch sleeps after its current wait)
            monitors.interval_s = monitors.max_interval_s = 3600
            await asyncio.sleep(args.interval + 4)
            quiet0, cpu2, t2 = monitors.samples, cpu_s(pids), time.monotonic()
            await asyncio.sleep(args.seconds)
            quiet1, cpu3, t3 = monitors.samples, cpu_s(pids), time.monotonic()
            base_cores = (cpu3 - cpu2) / (t3 - t2)
        finally:
            for examiner, _, cam in seats:
                await cam.close()
                await examiner.close()
            await runner.cleanup()
            pool.close()
    sample_cpu_ms = max(0.001, (watched_cores - base_cores) * (t1 - t0) / max(1, samples) * 1000)
    latencies.sort()
    return {
        "rooms": args.rooms,
        "interval_s": args.interval,
        "samples_per_s": round(samples / (t1 - t0), 2),
        "samples_in_baseline": quiet1 - quiet0,
        "cpu_cores_watched": round(watched_cores, 3),
        "cpu_cores_baseline": round(base_cores, 3),
        "sample_cpu_ms": round(sample_cpu_ms, 1),
        "monitored_rooms_per_core": round(args.interval * 1000 / sample_cpu_ms, 1),
        "flag_latency_p50_ms": round(statistics.median(latencies)),
        "flag_latency_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]),
        "flag_switches": len(latencies),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        **machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=os.environ.get("INTERVIEW_MODELS_DIR") or "models")
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--switches", type=int, default=4)
    args = parser.parse_args()
    with bench_redis() as (redis_url, prefix):
        result = asyncio.run(run(args, redis_url, prefix))
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
