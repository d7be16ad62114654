"""How far a running roster import is, for the admin's page to poll (one small hash per import,
kept for an hour)."""

from __future__ import annotations

from ..store.base import Store

TTL_S = 3600


class ImportProgress:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    async def put(self, import_id: str, exam_id: str, stage: str, done: int, total: int) -> None:
        key = self.keys.import_progress(import_id)
        async with self.store.pipeline() as pipe:
            pipe.hset(key, mapping={"stage": stage, "done": done, "total": total, "exam_id": exam_id})
            pipe.expire(key, TTL_S)
            await pipe.execute()

    async def get(self, import_id: str) -> dict | None:
        """``stage``, ``done``, ``total``, ``exam_id``; None for an import not begun (or long over)."""
        data = await self.store.redis.hgetall(self.keys.import_progress(import_id))
        if not data:
            return None
        return {
            "stage": data["stage"],
            "done": int(data["done"]),
            "total": int(data["total"]),
            "exam_id": data["exam_id"],
        }
