"""This process's liveness key, and what the queue knows of Redis being reachable.

A candidate's presence is ``<process id>|<socket id>`` in ``presence:{account}``; the Lua scripts
count a member only while ``process:{process id}`` exists. Every process keeps its own key with a
short TTL (``process_ttl_s``) and refreshes it every third of it, so the sockets of a killed process
stop counting a few seconds after the kill instead of when their presence expires.

After Redis was unreachable, presence written before the outage may have lapsed although the
sockets are still there: the first beat that reaches Redis again refreshes the presence of every
socket this process holds (in the same round trip as its key), and the sweeps hold back for one
presence refresh period (``RedisWatch``) before they mark anyone disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..tasks import cancelled

if TYPE_CHECKING:
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


async def run(queue: WaitingQueue) -> None:
    """Refresh this process's liveness key every ``process_ttl_s / 3``; after a failed beat (or when
    the key had lapsed) refresh the presence of every socket held too, in the same round trip."""
    every_s = queue.process_ttl_s / 3
    failing = False
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
