"""The Redis connection: one client per process, a health probe and its latency metric."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

RedisUnavailable = (RedisConnectionError, RedisTimeoutError, OSError)


def connect(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client whose pool waits for a free connection (up to 10 s) instead of failing a burst of
    requests: thousands of sockets connecting at once must queue, not error. A new connection to
    an unreachable Redis gives up after 1 s (a refused one at once), so that a socket event or a
    request is told ``storage_unavailable`` within about a second instead of hanging."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        decode_responses=True,
        socket_connect_timeout=1,
        socket_timeout=5,
        health_check_interval=15,
        retry_on_timeout=False,
    )
    return aioredis.Redis.from_pool(pool)


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


async def ping(client: aioredis.Redis, timeout_s: float = 2.0) -> float:
    """Round-trip time of PING in seconds; raises one of ``RedisUnavailable``."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(client.ping(), timeout_s)
    except TimeoutError:
        raise RedisTimeoutError(f"no answer within {timeout_s} s") from None
    return time.perf_counter() - start


async def drop_idle(client: aioredis.Redis) -> None:
    """Close the pool's idle connections: after Redis went away they are dead, and each would fail
    its next command once ("Connection closed by server") even though Redis is back."""
    with contextlib.suppress(Exception):
        await client.connection_pool.disconnect(inuse_connections=False)


async def wait_until_reachable(client: aioredis.Redis, attempts: int = 10, delay_s: float = 0.5) -> None:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            await ping(client)
            return
        except RedisUnavailable as exc:
            last = exc
            await asyncio.sleep(delay_s)
    raise RedisConnectionError(str(last))
