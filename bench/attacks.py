"""Attacks on the server, measured: what one abusive user costs everybody else.

Run: ``python -m bench.attacks [--attack facecheck] [--models-dir models] [--checks 8]``. Each attack
is one function ``<name>_attack(args) -> dict`` registered in ``ATTACKS``; ``__main__`` runs the one
asked for (``facecheck`` by default) and ends with one line of JSON, units in the keys. ``login`` and
``identity`` are in ``bench/attacks_accounts.py`` (their figures are described there).

``facecheck`` (docs/security.md, "Face check abuse"; about 1-3 minutes on 2 cores): the real app
over real HTTP on loopback, the real worker pool (the product's defaults: 2 workers, 32 pending) and
a private Redis. Candidate B does ordinary queue-entry checks (a simulated head turn of a photo
that ships in a package) one after another, first alone, then while candidate A sends, 4 at a time
and without pause, the reported burst: seven 4400x4400 JPEGs of ~300 KB and one frame that is not
an image. Each of B's figures is the time from sending the burst to its answer; a 503
``facecheck_busy`` is retried after 1 s with a new challenge, as the page lets a candidate do, and
the retries are part of the time (``b_busy_answers`` counts them). B's checks are spread over
several accounts so that B's own attempt limit (``facecheck_attempts_per_window``) never applies.

Figures: ``b_alone_p50_ms`` / ``b_alone_max_ms`` and ``b_attacked_p50_ms`` / ``b_attacked_max_ms``;
``a_answers`` (A's answers by status and code), ``pool_pending_max`` (the most images the pool held
while A attacked), ``a_images_queued`` (images of A's that reached the workers; null where the
pool does not count them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import numpy as np

from bench.attacks_accounts import identity_attack, login_attack

ROOT = Path(__file__).resolve().parents[1]


# --- facecheck --------------------------------------------------------------------------------------


def _big_jpeg() -> bytes:
    """4400x4400 pixels in ~300 KB (smooth shades), under the 512 KB byte limit."""
    from PIL import Image

    y, x = np.mgrid[0:4400, 0:4400]
    pixels = np.stack([(x * 255 // 4400), (y * 255 // 4400), ((x + y) * 255 // 8800)], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=60)
    return out.getvalue()


def _turning_bursts(models_dir: Path) -> dict[str, list[bytes]]:
    """A frontal frame then a head turning 10-35 degrees, each way, as tests/facecheck does."""
    from server.facecheck.engine import FaceEngine
    from tests.facecheck import faces

    engine = FaceEngine.load(models_dir)
    try:
        photo = faces.grace_hopper()
        start = faces.sensor(photo, seed=1)
        base = engine.observe(start, embed=False)
        bursts = {}
        for direction, sign in (("left", 1), ("right", -1)):
            frames = [faces.encode(start)]
            for i, degrees in enumerate((10, 20, 30, 35)):
                turned = faces.turn_head(photo, base.box, base.keypoints, sign * degrees)
                frames.append(faces.encode(faces.sensor(turned, seed=10 + i)))
            bursts[direction] = frames
        return bursts
    finally:
        engine.close()


def _form(challenge_id: str, frames: list[bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("challenge_id", challenge_id)
    for i, data in enumerate(frames):
        form.add_field("frame", data, filename=f"{i}.jpg", content_type="image/jpeg")
    return form


async def _login(base: str, phone: str, password: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/api/auth/login", json={"login": phone, "password": password}) as resp:
        assert resp.status == 200, await resp.text()
    return session


async def _b_check(services, account, exam: str, bursts: dict, busy: Counter) -> float:
    """Seconds to a judged burst of candidate B in the server's own pool (the queue-entry check is live
    now, over the socket: the burst is the identity appeal's judging, ``judge_burst``); a 503 is
    retried after 1 s, counted in ``busy``."""
    from server.errors import UserError

    checks = services.face_checks
    entry = (await services.enrolments.exam_for(account, exam)).entry
    reference = await checks.references.embedding(entry.photo_sha256)
    start = time.perf_counter()
    while True:
        try:
            reason, _, _ = await checks.judge_burst(checks.pool, account, reference, "left", bursts["left"])
        except UserError as err:
            busy[err.code] += 1
            await asyncio.sleep(1.0)
            continue
        assert not reason, reason
        return time.perf_counter() - start


async def _a_attack(session: aiohttp.ClientSession, exam: str, burst: list[bytes], answers: Counter, stop) -> None:
    """Candidate A: the bad burst to the one endpoint that takes frames (the identity appeal's), again
    and again (refused on the frames' headers, before its challenge is looked up)."""
    while not stop.is_set():
        async with session.post("/api/candidate/identity/appeal", data=_form("chal_000000000000", burst)) as resp:
            body = await resp.json()
            answers[f"{resp.status} {body.get('error', {}).get('code', 'result')}"] += 1


def _attacker(base: str, phone: str, password: str, exam: str, started, stop, results) -> None:
    """Candidate A, in a process of its own: its client's work (building 2 MB forms) is not the server's."""

    class Stop:  # the parent's multiprocessing event, as _a_attack asks it
        @staticmethod
        def is_set() -> bool:
            return stop.is_set()

    async def run() -> None:
        burst = [_big_jpeg()] * 7 + [b"this is not an image"]
        answers: Counter = Counter()
        async with await _login(base, phone, password) as session:
            started.set()
            await asyncio.gather(*(_a_attack(session, exam, burst, answers, Stop) for _ in range(4)))
        results.put(dict(answers))

    asyncio.run(run())


def _ms(values: list[float]) -> tuple[float, float]:
    return round(statistics.median(values) * 1000, 1), round(max(values) * 1000, 1)


async def _facecheck(url: str, prefix: str, models_dir: Path, checks: int) -> dict:
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.config import load_settings
    from server.facecheck.pool import InferencePool
    from server.http.context import SERVICES
    from server.store.redis import connect
    from tests.conftest import PASSWORD, build_world
    from tests.facecheck import faces

    bursts = _turning_bursts(models_dir)
    per_account = 4  # checks per B account, well under the attempt limit
    b_accounts = 2 * -(-checks // per_account)
    with tempfile.TemporaryDirectory(prefix="bench-attacks-") as tmp:
        # the product's settings, but cheap password hashing (logins are not what is measured) and
        # no pool of the app's own: the bench starts it with the same defaults to read its counters
        settings = load_settings(
            env={},
            redis_url=url,
            redis_prefix=prefix,
            data_dir=Path(tmp) / "data",
            recordings_dir=Path(tmp) / "recordings",
            models_dir=models_dir,
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            argon2_parallelism=1,
        )
        s = settings
        pool = InferencePool(
            models_dir,
            s.facecheck_model,
            s.facecheck_threshold,
            workers=s.facecheck_workers,
            max_pending=s.facecheck_max_pending,
            max_pixels=s.facecheck_max_pixels,
        )
        redis = connect(url)
        server = TestServer(create_app(settings, redis, face_pool=pool), host="127.0.0.1")
        sessions: list[aiohttp.ClientSession] = []
        try:
            await pool.warm_up()
            await server.start_server()
            services = server.app[SERVICES]
            photo = faces.encode(faces.grace_hopper())
            world = await build_world(services, roster_size=1 + b_accounts, photos=[photo] * (1 + b_accounts))
            base = f"http://127.0.0.1:{server.port}"
            attacker = await world.candidate(0)
            others = [await world.candidate(i) for i in range(1, 1 + b_accounts)]
            exam = world.exam.id
            busy_alone: Counter = Counter()
            busy_attacked: Counter = Counter()
            alone = [
                await _b_check(services, others[i // per_account], exam, bursts, busy_alone) for i in range(checks)
            ]
            mp = multiprocessing.get_context("spawn")
            started, stop, results = mp.Event(), mp.Event(), mp.Queue()
            attack = mp.Process(
                target=_attacker, args=(base, attacker.phone, PASSWORD, exam, started, stop, results), daemon=True
            )
            attack.start()
            if not await asyncio.to_thread(started.wait, 120):
                raise RuntimeError("the attacker did not start")
            submitted = getattr(pool, "submitted", None)
            most = 0

            async def probe() -> None:
                nonlocal most
                while not stop.is_set():
                    most = max(most, pool.pending)
                    await asyncio.sleep(0.005)

            probing = asyncio.create_task(probe())
            await asyncio.sleep(1.0)  # the attack under way
            b_submitted = 0
            attacked = []
            for i in range(checks):
                attacked.append(
                    await _b_check(services, others[b_accounts // 2 + i // per_account], exam, bursts, busy_attacked)
                )
                b_submitted += len(bursts["left"])
            stop.set()
            await probing
            answers = Counter(await asyncio.to_thread(results.get, True, 120))
            await asyncio.to_thread(attack.join, 30)
            queued = None if submitted is None else pool.submitted - submitted - b_submitted
        finally:
            for session in sessions:
                await session.close()
            await server.close()
            pool.close()
            with contextlib.suppress(Exception):
                await redis.aclose()
    alone_p50, alone_max = _ms(alone)
    attacked_p50, attacked_max = _ms(attacked)
    return {
        "attack": "facecheck",
        "checks": checks,
        "b_alone_p50_ms": alone_p50,
        "b_alone_max_ms": alone_max,
        "b_attacked_p50_ms": attacked_p50,
        "b_attacked_max_ms": attacked_max,
        "b_busy_answers": sum(busy_attacked.values()),
        "a_answers": dict(sorted(answers.items())),
        "pool_pending_max": most,
        "a_images_queued": queued,
    }


def facecheck_attack(args: argparse.Namespace) -> dict:
    """Another candidate's face-check latency while one candidate floods the check with bad bursts."""
    from bench.common import bench_redis

    with bench_redis() as (url, prefix):
        return asyncio.run(_facecheck(url, prefix, Path(args.models_dir).absolute(), args.checks))


ATTACKS = {"facecheck": facecheck_attack, "login": login_attack, "identity": identity_attack}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", choices=sorted(ATTACKS), default="facecheck")
    parser.add_argument("--models-dir", default=os.environ.get("INTERVIEW_MODELS_DIR") or str(ROOT / "models"))
    parser.add_argument("--checks", type=int, default=8, help="checks of candidate B per phase")
    args = parser.parse_args()
    from server.facecheck import pool

    print(f"server code: {Path(pool.__file__).parents[1]}", flush=True)  # which tree is measured
    figures = ATTACKS[args.attack](args)
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
