"""The account attacks of issue 12, measured against the app over real HTTP on loopback with the
product's settings (argon2 at its real cost included), a private Redis, and many client addresses
(the app behind a trusted proxy on loopback, ``X-Forwarded-For``, as behind a real one).

- ``login``: 100 wrong passwords for one account at once from one address; then the owner's correct
  password from another address. Figures: ``login_evaluated`` (answers 401: passwords actually
  checked), ``login_refused`` (429), ``owner_logs_in`` (bool), ``login_seconds``.
- ``identity``: one account tries 50 ID numbers at once (walking the roster), then 12 fresh
  accounts guess the name of one rostered ID number. Figures: ``identity_evaluated`` (answers other
  than 429), ``identity_distinct_answers`` (how many different answers the 50 got: 1 means no
  oracle), ``idnum_guesses_evaluated`` (of the 12; the walk above already tried that number once).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.common import bench_redis


def _settings(url: str, prefix: str, tmp: str):
    from server.config import load_settings

    # the product's settings; only the proxy is trusted so that requests may come from many addresses
    return load_settings(
        env={},
        redis_url=url,
        redis_prefix=prefix,
        data_dir=Path(tmp) / "data",
        recordings_dir=Path(tmp) / "recordings",
        trusted_proxies=("127.0.0.1",),
        facecheck_workers=0,
    )


async def _run(url: str, prefix: str, what: str) -> dict:
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.http.context import SERVICES
    from server.roster import idcard
    from server.store.redis import connect
    from tests.conftest import PASSWORD, build_world

    with tempfile.TemporaryDirectory(prefix="bench-accounts-") as tmp:
        redis = connect(url)
        server = TestServer(create_app(_settings(url, prefix, tmp), redis), host="127.0.0.1")
        await server.start_server()
        base = f"http://127.0.0.1:{server.port}"
        jar = aiohttp.CookieJar(unsafe=True)
        figures: dict = {}
        try:
            world = await build_world(server.app[SERVICES], roster_size=2)
            async with aiohttp.ClientSession(cookie_jar=jar, headers={"Origin": base}) as client:

                async def post(path: str, body: dict, address: str) -> tuple[int, str]:
                    async with client.post(base + path, json=body, headers={"X-Forwarded-For": address}) as resp:
                        data = await resp.json()
                        return resp.status, (data.get("error") or {}).get("code", "")

                if what == "login":
                    started = time.perf_counter()
                    answers = await asyncio.gather(
                        *(
                            post(
                                "/api/auth/login",
                                {"login": "examiner-one", "password": f"guess-{i:04d}x"},
                                "203.0.113.9",
                            )
                            for i in range(100)
                        )
                    )
                    figures["login_seconds"] = round(time.perf_counter() - started, 2)
                    statuses = Counter(status for status, _ in answers)
                    figures["login_evaluated"] = statuses[401]
                    figures["login_refused"] = statuses[429]
                    status, _ = await post(
                        "/api/auth/login", {"login": "examiner-one", "password": PASSWORD}, "198.51.100.8"
                    )
                    figures["owner_logs_in"] = status == 200
                else:
                    account = await world.candidate(0, verified=False, phone="13900000001")
                    status, _ = await post(
                        "/api/auth/login", {"login": account.phone, "password": PASSWORD}, "203.0.113.9"
                    )
                    assert status == 200
                    numbers = [idcard.make("110101", "20060101", i) for i in range(50)]
                    answers = await asyncio.gather(
                        *(
                            post("/api/candidate/identity", {"name": "某人", "id_number": n}, "203.0.113.9")
                            for n in numbers
                        )
                    )
                    figures["identity_evaluated"] = sum(1 for status, _ in answers if status != 429)
                    figures["identity_distinct_answers"] = len({a for a in answers if a[0] != 429})
                    _, number, _ = world.roster[1]
                    evaluated = 0
                    for i in range(12):
                        jar.clear()
                        guesser = await world.candidate(1, verified=False, phone=f"1390000{i + 100:04d}")
                        await post("/api/auth/login", {"login": guesser.phone, "password": PASSWORD}, f"10.1.0.{i}")
                        status, _ = await post(
                            "/api/candidate/identity", {"name": f"猜名{i}", "id_number": number}, f"10.1.0.{i}"
                        )
                        evaluated += status != 429
                    figures["idnum_guesses_evaluated"] = evaluated
        finally:
            await server.close()
            await redis.aclose()
        return figures


def login_attack(args) -> dict:
    """100 concurrent wrong passwords for one account from one address."""
    with bench_redis() as (url, prefix):
        return asyncio.run(_run(url, prefix, "login"))


def identity_attack(args) -> dict:
    """Walking the roster through identity verification, from one account and from many."""
    with bench_redis() as (url, prefix):
        return asyncio.run(_run(url, prefix, "identity"))
