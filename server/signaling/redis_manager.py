"""socket.io's fan-out across processes (python-socketio's ``AsyncRedisManager``), made to come back
at once after a Redis outage.

python-socketio's manager resubscribes on its own back-off (1, 2, 4 ... 60 s): after a 20 s outage a
process ignored every push of the others for up to 16 s after Redis was back. This one retries every
``RETRY_FIRST_S`` doubling up to ``RETRY_MAX_S`` (well under a second on loopback), and once it is
subscribed again it runs its ``on_back`` callbacks (``server/wiring.py``: every local socket gets a
fresh snapshot, since pushes published while this process was not subscribed are lost for good).

It also keeps one Redis client (one pool, the project's limits: ``wiring.redis_options``) for the
process's life instead of a new client per retry, publishes nothing for an emit to a socket this
process holds (the library publishes every emit, so an ``event_error`` to a local socket waited on a
dead Redis), and bounds a publish to ``PUBLISH_TIMEOUT_S``.

This is the one module that uses python-socketio's private names (listed in :data:`INTERNALS`);
:func:`check_internals` runs at start-up (``wiring.socketio_manager``) and refuses to start if one
moved, as ``server/rooms/passthrough.py`` does for aiortc.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager

from ..logs import request_id

log = logging.getLogger("server.signaling")
RETRY_FIRST_S = 0.05  # first retry of a lost subscription; doubles up to RETRY_MAX_S
RETRY_MAX_S = 0.25
PUBLISH_TIMEOUT_S = 1.0  # a push waits no longer than this on a dead Redis (it is then lost; see on_back)

# (owner, method, names its code must still refer to): what this module overrides or relies on
INTERNALS: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (socketio.AsyncRedisManager, "_redis_listen_with_retries", ("_redis_connect", "pubsub")),
    (socketio.AsyncRedisManager, "_listen", ("_redis_listen_with_retries", "channel")),
    (socketio.AsyncRedisManager, "_publish", ("redis", "channel", "json")),
    (socketio.AsyncRedisManager, "_redis_connect", ("redis_url", "redis_options", "pubsub", "connected")),
    (AsyncPubSubManager, "emit", ("_publish", "_handle_emit")),
    (AsyncPubSubManager, "initialize", ("_thread",)),
    (AsyncPubSubManager, "_thread", ("_listen",)),
)


class ManagerInternalsError(RuntimeError):
    """python-socketio no longer has what this module overrides: the server does not start."""


def check_internals() -> None:
    problems = []
    for owner, name, reads in INTERNALS:
        func = getattr(owner, name, None)
        code = getattr(func, "__code__", None)
        if code is None:
            problems.append(f"{owner.__name__}.{name} is gone")
            continue
        missing = [r for r in reads if r not in code.co_names]
        if missing:
            problems.append(f"{owner.__name__}.{name} no longer uses {', '.join(missing)}")
    if problems:
        raise ManagerInternalsError(
            f"python-socketio {getattr(socketio, '__version__', '?')}: server/signaling/redis_manager.py "
            "relies on internals that changed: " + "; ".join(problems)
        )


class RedisManager(socketio.AsyncRedisManager):
    redis: aioredis.Redis | None
    pubsub: Any

    def __init__(self, url: str, channel: str, redis_options: dict) -> None:
        super().__init__(url, channel=channel, redis_options=redis_options)
        self.on_back: list[Callable[[], Awaitable[Any]]] = []  # run once subscribed again after a loss
        self.lost_at: float | None = None  # time.monotonic() when the subscription was lost
        self.publish_failing = False  # logged once per outage, not per push
        self.back_count = 0

    def initialize(self) -> None:
        # called at the first connection, inside that request's context: the listening task would
        # carry the request's id in every log line for the process's life
        token = request_id.set("")
        try:
            super().initialize()
        finally:
            request_id.reset(token)

    def _client(self) -> aioredis.Redis:
        if self.redis is None:
            self.redis = aioredis.Redis.from_url(self.redis_url, **self.redis_options)
        return self.redis

    def _redis_connect(self) -> None:
        """One client for the process's life; a new subscription connection each time."""
        self.pubsub = self._client().pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        target = to or room
        if callback is None and isinstance(target, str) and self.is_connected(target, namespace or "/"):
            kwargs["ignore_queue"] = True  # a socket of this process: no other process needs the push
        return await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    async def _publish(self, data):
        payload = self.json.dumps(data)
        for attempt in (1, 2):  # a connection left from before an outage fails once, then a new one is made
            try:
                result = await asyncio.wait_for(self._client().publish(self.channel, payload), PUBLISH_TIMEOUT_S)
                if self.publish_failing:
                    self.publish_failing = False
                    log.warning("socket.io fan-out publishing again")
                return result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == 2:
                    if not self.publish_failing:
                        self.publish_failing = True
                        log.error(
                            "socket.io fan-out cannot publish: pushes to other processes are lost",
                            extra={"error": str(exc) or type(exc).__name__},
                        )
                    return None
        return None

    async def _redis_listen_with_retries(self):
        delay = RETRY_FIRST_S
        while True:
            try:
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                if self.lost_at is not None:
                    log.warning(
                        "socket.io fan-out subscribed again",
                        extra={"outage_s": round(time.monotonic() - self.lost_at, 3)},
                    )
                    self.lost_at = None
                    self.back_count += 1
                    self._run_on_back()
                delay = RETRY_FIRST_S
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.lost_at is None:
                    self.lost_at = time.monotonic()
                    log.error(
                        "socket.io fan-out lost its Redis subscription; retrying",
                        extra={"error": str(exc) or type(exc).__name__},
                    )
                with contextlib.suppress(Exception):
                    await self.pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _run_on_back(self) -> None:
        for callback in self.on_back:
            self.server.start_background_task(self._back, callback)

    async def _back(self, callback: Callable[[], Awaitable[Any]]) -> None:
        try:
            await callback()
        except Exception:
            log.exception("refreshing the sockets after the Redis outage failed")
