"""The queue's clock: every few seconds, presence and grace periods of each active room, and the
no-shows of slots that just ended. Every process runs it; the scripts make repeats harmless."""

from __future__ import annotations

import asyncio
import logging
import time

from ..exams.catalog import Catalog
from ..store.models import Slot
from ..tasks import cancelled
from .waiting import WaitingQueue

log = logging.getLogger("server.queue")
LOOKBACK_S = 24 * 3600  # slots that started this long ago are still checked for no-shows


async def sweep_once(queue: WaitingQueue, catalog: Catalog, now: float | None = None) -> None:
    now = time.time() if now is None else now
    redis, keys = queue.store.redis, queue.keys
    for room_id in await queue.watched(redis.smembers(keys.active_queues())):
        await queue.sweep(room_id, now)
    for exam_id in await redis.smembers(keys.exams()):
        slot_ids = await redis.zrangebyscore(keys.exam_slots(exam_id), now - LOOKBACK_S, now)
        for slot_id in slot_ids:
            if await redis.exists(keys.slot_closed(slot_id)):
                continue
            slot: Slot | None = await catalog.find_slot(slot_id)
            if slot is not None and slot.ends_at <= now:
                marked = await queue.close_slot(slot, now)
                if marked:
                    log.info("no-shows marked absent", extra={"slot": slot_id, "candidates": len(marked)})


async def run(queue: WaitingQueue, catalog: Catalog, every_s: float) -> None:
    while True:
        try:
            await sweep_once(queue, catalog)
        except Exception as exc:  # Redis away: /healthz says so; keep trying
            if cancelled():
                raise
            log.warning("queue sweep failed", extra={"error": str(exc)})
        await asyncio.sleep(every_s)
