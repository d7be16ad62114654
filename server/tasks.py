"""Shutdown in bounded time: stopping a process's background loops for sure, and work that must not
hold the shutdown up.

A loop that catches ``Exception`` around a Redis call can swallow its cancellation: redis-py may turn
a command cancelled mid-flight into a ``ConnectionError``, the loop logs it and sleeps again, and an
``await task`` after one ``cancel()`` then waits forever (a test's app teardown hung that way). So
the loops re-raise when their task is being cancelled, and ``stop`` cancels again until every task
has ended, giving up (loudly) after ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger("server.tasks")


def cancelled() -> bool:
    """True inside a task that is being cancelled: a loop's ``except Exception`` re-raises then."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def every(seconds: float, work: Callable[[], Awaitable[object]], what: str, logger: logging.Logger) -> None:
    """Run ``work`` every ``seconds`` for ever. A failure (Redis away: /healthz says so) is logged once
    per run of failures, and once when it works again; the next pass tries again; cancellation goes
    through."""
    failing = False
    while True:
        try:
            await work()
            if failing:
                logger.info(f"{what} working again")
            failing = False
        except Exception as exc:
            if cancelled():
                raise
            if not failing:
                logger.warning(f"{what} failed", extra={"error": str(exc) or type(exc).__name__})
            failing = True
        await asyncio.sleep(seconds)


async def stop(tasks: Iterable[asyncio.Task | None], timeout_s: float = 5.0) -> None:
    pending = {t for t in tasks if t is not None and not t.done()}
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, max(0.01, deadline - time.monotonic())))
    if pending:
        log.error("background tasks did not stop", extra={"tasks": sorted(t.get_name() for t in pending)})


async def bounded(work: Awaitable[object], seconds: float, what: str, **context: object) -> None:
    """Run ``work`` for at most ``seconds`` (then cancel it without waiting for the cancellation to
    finish); a timeout or a failure is logged with ``context``, never raised."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.error(f"{what} did not finish", extra={**context, "seconds": seconds})
    elif task.exception() is not None:
        log.error(f"{what} failed", extra=context, exc_info=task.exception())
