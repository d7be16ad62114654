"""This process's liveness key, and what the queue knows of Redis being reachable.

A candidate's presence is ``<process id>|<socket id>`` in ``presence:{account}``; the Lua scripts
count a member only while ``process:{process id}`` exists. Every process keeps its own key with a
short TTL (``process_ttl_s``) and refreshes it every third of it, so the sockets of a killed process
stop counting a few seconds after the kill instead of when their presence expires. The process also
holds a subscription to the pub/sub channel named like its key (:class:`ProcessChannel`): Redis drops a
subscription the moment its connection closes, and a killed process's connections are closed by the
kernel at once, so the scripts (``PUBSUB NUMSUB``) stop counting its sockets within milliseconds of the
kill. The key's TTL still decides for a process that is frozen or cut off without its connections
closing (a host that lost power).

After Redis was unreachable, presence written before the outage may have lapsed although the
sockets are still there: the first beat that reaches Redis again refreshes the presence of every
socket this process holds (in the same round trip as its key), and the sweeps hold back for one
presence refresh period (``RedisWatch``) before they mark anyone disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..store.redis import RedisUnavailable
from ..tasks import cancelled

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .waiting import WaitingQueue

log = logging.getLogger("server.queue")
RETRY_S = 0.2  # a failed beat is tried again this soon


class RedisWatch:
    """Whether this process's queue calls reached Redis lately. ``holding()`` is true while Redis is
    failing and for ``settle_s`` after it came back: the sweeps then restore who is back but mark
    nobody disconnected (their sockets' presence may not be refreshed yet)."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self.down = False
        self.repair = False  # a call failed since presence was last refreshed in full (liveness beat)
        self.back_at = float("-inf")  # time.monotonic() when Redis answered again after failing

    def failed(self) -> None:
        if not self.down:
            log.warning("queue: Redis unreachable; sweeps mark nobody disconnected until it is back and settled")
        self.down = True
        self.repair = True

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            self.back_at = time.monotonic()
            log.info("queue: Redis reachable again", extra={"settle_s": self.settle_s})

    def holding(self) -> bool:
        return self.down or time.monotonic() - self.back_at < self.settle_s


class ProcessChannel:
    """This process's subscription to its own channel (named like its liveness key). Nothing is ever
    published on it: only that it has a subscriber counts. ``ensure`` subscribes when it is not;
    ``drop`` (the beat saw no subscriber: Redis restarted, or the connection broke; or the process
    stops) forgets the subscription, so that the next ``ensure`` makes it on a new connection."""

    def __init__(self, redis: aioredis.Redis, name: str) -> None:
        self.redis = redis
        self.name = name
        self.pubsub: Any = None

    async def ensure(self) -> None:
        if self.pubsub is not None:
            return
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.name)
        except BaseException:
            await _quietly_close(pubsub)
            raise
        self.pubsub = pubsub

    async def drop(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            await _quietly_close(pubsub)


async def _quietly_close(pubsub: Any) -> None:
    try:
        await asyncio.wait_for(pubsub.aclose(), 1.0)
    except (*RedisUnavailable, TimeoutError):  # its connection is dead already: nothing to tell Redis
        pass


async def run(queue: WaitingQueue) -> None:
    """Refresh this process's liveness key every ``process_ttl_s / 3``; after a failed beat (or when
    the key had lapsed) refresh the presence of every socket held too, in the same round trip. The
    process's channel is given up when the loop stops."""
    every_s = queue.process_ttl_s / 3
    failing = False
    try:
        while True:
            try:
                await queue.beat()
                pause, failing = every_s, False
            except Exception as exc:  # Redis away: the next beat that gets through repairs presence
                if cancelled():
                    raise
                if not failing:  # once per outage, not at every retry
                    log.warning("process liveness beat failed", extra={"error": str(exc)})
                failing = True
                # retried often, so that when Redis is back this process's sockets count again at once
                # (its key may have lapsed meanwhile) and call-next does not answer nobody_ready for them
                pause = min(every_s, RETRY_S)
            await asyncio.sleep(pause)
    finally:
        await queue.channel.drop()
