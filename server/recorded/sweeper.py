"""The recorded exams' clock: every ``recorded_sweep_s`` (about a second) each process ends the
sittings past their deadline (auto-submitted or absent, ``Sittings.expire_due``) and deletes old
practice takes. Every process runs it; the scripts make repeats and races harmless, and a pass is
bounded (``EXPIRE_BATCH`` sittings, ``PURGE_BATCH`` takes), so a backlog drains over a few passes."""

from __future__ import annotations

import asyncio
import logging
import time

from ..tasks import cancelled
from .sittings import Sittings

log = logging.getLogger("server.recorded")
PURGE_EVERY_S = 60.0  # old practice takes are looked for once a minute, not every pass


async def sweep_once(sittings: Sittings, now: float | None = None, purge: bool = True) -> int:
    """One pass; returns how many sittings it ended."""
    ended = await sittings.expire_due(now)
    for sitting in ended:
        log.info(
            "sitting ended at its deadline",
            extra={"sitting": sitting.id, "exam": sitting.exam_id, "state": sitting.state, "mode": sitting.mode},
        )
    if purge:
        await sittings.purge_practice(now)
    return len(ended)


async def run(sittings: Sittings, every_s: float) -> None:
    """The loop: a failed pass (Redis away: /healthz says so) is logged once, not every second,
    and the next pass tries again; the deadlines missed meanwhile are handled when Redis is back."""
    last_purge = 0.0
    failing = False
    while True:
        try:
            purge = time.monotonic() - last_purge >= PURGE_EVERY_S
            await sweep_once(sittings, purge=purge)
            if purge:
                last_purge = time.monotonic()
            if failing:
                log.info("recorded sweep working again")
            failing = False
        except Exception as exc:
            if cancelled():
                raise
            if not failing:
                log.warning("recorded sweep failed", extra={"error": str(exc) or type(exc).__name__})
            failing = True
        await asyncio.sleep(every_s)
