"""Attempt limits: fixed-window counters in Redis, taken before the attempt is evaluated.

An attempt is counted *before* it is evaluated (``limit_take.lua``), in one script for every
counter it belongs to, so N concurrent attempts evaluate at most the limit and no counter is
charged when another already refuses. A successful attempt may be given back (``refund``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Store


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    window_s: int


async def take(store: Store, counters: list[Counter]) -> int:
    """Count one attempt against every counter, or none; returns 0, or the seconds to wait."""
    args: list[int] = []
    for c in counters:
        args += [c.limit, c.window_s]
    refused = await store.script("limit_take")(keys=[c.key for c in counters], args=args)
    return max(1, int(refused[1])) if refused else 0


async def refund(store: Store, counters: list[Counter]) -> None:
    await store.script("attempt_refund")(keys=[c.key for c in counters], args=[])
