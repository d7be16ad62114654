"""The recorded exams' clock: every ``recorded_sweep_s`` (about a second) each process ends the
sittings past their deadline (auto-submitted or absent, ``Sittings.expire_due``) and deletes old
practice takes. Every process runs it; the scripts make repeats and races harmless, and a pass is
bounded (``EXPIRE_BATCH`` sittings, ``PURGE_BATCH`` takes), so a backlog drains over a few passes."""

from __future__ import annotations

import logging
import time

from ..tasks import every
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
    """The loop (``tasks.every``: a failed pass is logged once, not every second); the deadlines
    missed while Redis was away are handled when it is back."""
    last_purge = 0.0

    async def one_pass() -> None:
        nonlocal last_purge
        purge = time.monotonic() - last_purge >= PURGE_EVERY_S
        await sweep_once(sittings, purge=purge)
        if purge:
            last_purge = time.monotonic()

    await every(every_s, one_pass, "recorded sweep", log)
