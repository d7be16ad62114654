"""Where a candidate's take is being filmed (docs/nodes.md "Recorded takes"): the sitting whose booth
(media room) their auxiliary camera joins, from any node. Written by the node that films the take at
each join, with a TTL that outlasts the take (its longest length or deadline, plus the reconnect
grace); a stale entry is harmless: the booth's node answers ``aux_wait`` when no take is filmed there."""

from __future__ import annotations

import json
import time

from ..store.base import Store
from ..store.models import is_id

DEFAULT_TTL_S = 3600  # a take without a time limit: re-written at every (re)join anyway


class BoothIndex:
    def __init__(self, store: Store, grace_s: float) -> None:
        self.store = store
        self.grace_s = grace_s

    async def filming(self, exam_id: str, account_id: str, sitting_id: str, take_id: str, stop_at: float) -> None:
        ttl = int(stop_at - time.time() + self.grace_s + 60) if stop_at else DEFAULT_TTL_S
        body = json.dumps({"sitting_id": sitting_id, "take_id": take_id})
        await self.store.redis.set(self.store.keys.booth(exam_id, account_id), body, ex=max(60, ttl))

    async def of(self, exam_id: str, account_id: str) -> tuple[str, str] | None:
        """(sitting id, take id) of the candidate's take being filmed for the exam, if any."""
        if not (is_id(exam_id) and is_id(account_id)):
            return None
        raw = await self.store.redis.get(self.store.keys.booth(exam_id, account_id))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(body, dict) or not is_id(body.get("sitting_id")) or not is_id(body.get("take_id")):
            return None
        return body["sitting_id"], body["take_id"]
