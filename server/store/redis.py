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


STALL_PING_S = 0.3  # Redis that does not answer a PING within this is taken as stalled (frozen, or gone)


class StallProbe:
    """Whether Redis answers at all, asked on a connection of its own: a pool whose every connection
    is lent to commands in flight is busy, not stalled. One PING at a time, shared by every caller
    (hundreds of stalled events ask at once); its verdict holds for ``fresh_s``."""

    def __init__(self, client: aioredis.Redis, fresh_s: float = 0.2) -> None:
        pool = client.connection_pool
        self.client = aioredis.Redis(
            connection_pool=aioredis.ConnectionPool(
                connection_class=pool.connection_class, max_connections=1, **pool.connection_kwargs
            )
        )
        self.fresh_s = fresh_s
        self.verdict = False
        self.checked_at = float("-inf")
        self.asking: asyncio.Future[bool] | None = None

    async def stalled(self) -> bool:
        if time.monotonic() - self.checked_at < self.fresh_s:
            return self.verdict
        if self.asking is None:
            self.asking = asyncio.ensure_future(self._ask())
        return await asyncio.shield(self.asking)

    async def _ask(self) -> bool:
        try:
            await ping(self.client, STALL_PING_S)
            self.verdict = False
        except RedisUnavailable:
            self.verdict = True
        self.checked_at = time.monotonic()
        self.asking = None
        return self.verdict

    async def aclose(self) -> None:
        if self.asking is not None:
            self.asking.cancel()
        await self.client.aclose()


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
