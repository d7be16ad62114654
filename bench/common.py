"""What the benchmarks (and the multi-process test) share: a Redis under a private key prefix, the
services seeded through, enrolled candidates, and a real ``interview-server`` process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from server.store.base import Store
from server.store.redis import connect

PASSWORD = "bench-password-1"
FIT_DEVICE = {  # a device report the queue's device check accepts
    "camera": "granted",
    "microphone": "granted",
    "battery_level": 0.9,
    "charging": True,
    "browser": "Chrome",
    "browser_version": "124",
}


@contextlib.contextmanager
def bench_redis() -> Iterator[tuple[str, str]]:
    """(url, key prefix): ``REDIS_URL`` or a private redis-server; the prefix's keys are removed after."""
    from server.store.embedded import EmbeddedRedis

    url = os.environ.get("REDIS_URL")
    server = None
    if not url:
        server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="bench-redis-")), persist=False).start()
        url = server.url
    prefix = f"bench:{secrets.token_hex(4)}:"
    try:
        yield url, prefix
    finally:

        async def cleanup():
            client = connect(url)
            async for key in client.scan_iter(match=prefix + "*", count=1000):
                await client.delete(key)
            await client.aclose()

        asyncio.run(cleanup())
        if server is not None:
            server.stop()


def bench_services(redis_url: str, prefix: str, data_dir: Path):
    """The domain services on their own client (cheap password hashing); close ``services.store.redis``."""
    from server.config import load_settings
    from server.services import Services

    settings = load_settings(
        env={},
        redis_url=redis_url,
        redis_prefix=prefix,
        data_dir=data_dir,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    return Services.build(Store(connect(redis_url), prefix), settings)


BENCH_ADMIN = ("bench", "admin")  # the actor of everything a bench seeds


async def bench_exam(services, name: str, opens_before_s: float = 3600):
    """A bench's exam (booking open from ``opens_before_s`` ago for an hour, one interview subject 声乐 of
    10 minutes): (the admin actor, the exam, its subject)."""
    from server.store.audit import Actor

    admin = Actor(*BENCH_ADMIN)
    now = time.time()
    exam = await services.catalog.create_exam(
        admin,
        school="基准学院",
        name=name,
        booking_opens=now - opens_before_s,
        booking_closes=now + 3600,
        pledge="承诺",
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    return admin, exam, (await services.catalog.subjects(exam.id))[0]


async def enrolled_candidates(services, actor, exam_id: str, subject: str, count: int, password_hash: str):
    """``count`` candidates on the exam's roster (no photos), registered, verified, confirmed, notice read
    and pledge signed: [(account, ID number)]."""
    from server.roster import idcard
    from server.roster.photos import PhotoSource

    # idcard.make varies 3 sequence digits; the birth day varies past 1000 candidates
    numbers = [
        idcard.make("110101", f"2006{1 + i // 28000:02d}{1 + (i // 1000) % 28:02d}", i % 1000) for i in range(count)
    ]
    csv = "姓名,身份证号,报考科目\n" + "\n".join(f"考生{i},{n},{subject}" for i, n in enumerate(numbers))
    report = await services.importer.import_csv(actor, exam_id, csv.encode(), PhotoSource.empty())
    assert report.rejected == 0, report.to_json("en")["rows"][:3]
    out = []
    for i, number in enumerate(numbers):
        account = await services.directory.create(
            "candidate", "", actor, phone=f"137{i:08d}", password_hash=password_hash, contact_verified_at=1.0
        )
        account = await services.identity.verify(account, f"考生{i}", number)
        for step in (services.enrolments.confirm, services.enrolments.read_notice):
            await step(account, exam_id)
        await services.enrolments.sign_pledge(account, exam_id, True)
        out.append((account, number))
    return out


def start_server(
    redis_url: str,
    prefix: str,
    port: int,
    data_dir: Path,
    capture: bool = False,
    log: Path | None = None,
    **settings: str,
) -> subprocess.Popen:
    """``interview-server run`` on 127.0.0.1:``port`` with the given Redis and prefix, no face-check
    workers; ``settings`` become ``INTERVIEW_<NAME>`` variables. Its log goes to ``log`` (a file) when
    given, else to a pipe (``capture``) or this process's stderr."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "INTERVIEW_REDIS_PREFIX": prefix,
        "INTERVIEW_FACECHECK_WORKERS": "0",
        "INTERVIEW_LOG_LEVEL": "WARNING",
        **{f"INTERVIEW_{k.upper()}": v for k, v in settings.items()},
    }
    output: Any = log.open("ab") if log is not None else (subprocess.PIPE if capture else None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL if capture else None,
        stderr=output,
    )


async def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Until ``/healthz`` answers 200; a process that exits or stays down raises with its log's tail."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = proc.stderr.read().decode()[-2000:] if proc.stderr else "(see its log above)"
                raise RuntimeError(f"the server at {url} did not start: {tail}")
            await asyncio.sleep(0.2)


def machine(**more: str) -> dict:
    """Which machine a bench ran on (its figures are only comparable on the same kind)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **more,
    }
