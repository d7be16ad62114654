"""The audit trail: one Redis Stream per exam (and one for system events).

Writers add the entry inside the same MULTI as the change it records, so a
change and its audit entry land together or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .keys import Keys


@dataclass(frozen=True)
class Actor:
    account_id: str
    role: str

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "system")


def entry(event: str, actor: Actor, subject: str = "", **data: Any) -> dict[str, str]:
    return {
        "event": event,
        "actor": actor.account_id,
        "actor_role": actor.role,
        "subject": subject,
        "at": f"{time.time():.3f}",
        "data": json.dumps(data, ensure_ascii=False, default=str),
    }


def flat_entry(event: str, actor: Actor, subject: str = "", **data: Any) -> list[str]:
    """The entry as a flat field/value list, for Lua scripts that XADD it themselves."""
    return [item for pair in entry(event, actor, subject, **data).items() for item in pair]


def base_fields(actor: Actor, subject: str = "") -> list[str]:
    """The entry's fields without ``event`` and ``data``, flat, for a Lua script that adds those
    itself (it knows which event happened, and can fill in the subject)."""
    fields = entry("", actor, subject)
    fields.pop("event"), fields.pop("data")
    return [item for pair in fields.items() for item in pair]


# The system stream (accounts, identities, appeals) grows with registrations, which outsiders drive;
# it keeps about its newest SYSTEM_MAXLEN entries (~300 bytes each). An exam's stream is bounded by
# the exam itself (its roster, slots and interviews) and is kept whole.
SYSTEM_MAXLEN = 1_000_000


def add(pipe: Any, keys: Keys, exam_id: str | None, event: str, actor: Actor, subject: str = "", **data: Any) -> Any:
    """Queue an audit entry on a pipeline (or run it on a client: the caller awaits)."""
    if exam_id is None:
        return pipe.xadd(keys.audit(None), entry(event, actor, subject, **data), maxlen=SYSTEM_MAXLEN, approximate=True)
    return pipe.xadd(keys.audit(exam_id), entry(event, actor, subject, **data))


def trim_system(redis: Any, keys: Keys) -> Any:
    """Cap the system stream after a Lua script added to it (scripts XADD without a cap)."""
    return redis.xtrim(keys.audit(None), maxlen=SYSTEM_MAXLEN, approximate=True)


async def read(
    redis: Any, keys: Keys, exam_id: str | None, count: int = 200, before: str = "+", subject: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; ``subject`` keeps the entries about one account."""
    out: list[dict[str, Any]] = []
    cursor = before
    while len(out) < count:
        batch = await redis.xrevrange(keys.audit(exam_id), max=cursor, count=500)
        if cursor != "+" and batch and batch[0][0] == cursor:
            batch = batch[1:]
        if not batch:
            break
        for entry_id, fields in batch:
            if subject and fields.get("subject") != subject and fields.get("actor") != subject:
                continue
            out.append(
                {
                    "id": entry_id,
                    "event": fields.get("event"),
                    "actor": fields.get("actor"),
                    "actor_role": fields.get("actor_role"),
                    "subject": fields.get("subject") or None,
                    "at": float(fields.get("at", 0)),
                    "data": json.loads(fields.get("data") or "{}"),
                }
            )
            if len(out) >= count:
                break
        cursor = batch[-1][0]
    return out


class Audit:
    """The audit streams for callers that hold no pipeline: add one entry, read newest first, or
    walk a whole stream oldest first in pages."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def add(self, exam_id: str | None, event: str, actor: Actor, subject: str = "", **data: Any) -> None:
        await add(self.redis, self.keys, exam_id, event, actor, subject, **data)

    async def read(
        self, exam_id: str | None, count: int = 200, before: str = "+", subject: str | None = None
    ) -> list[dict[str, Any]]:
        return await read(self.redis, self.keys, exam_id, count, before=before, subject=subject)

    async def iter_range(self, exam_id: str | None, page: int = 1000) -> AsyncIterator[list[tuple[str, dict]]]:
        """The stream oldest first, ``page`` raw entries (id, fields) at a time, never all in memory."""
        cursor = "-"
        while True:
            batch = await self.redis.xrange(self.keys.audit(exam_id), min=cursor, count=page)
            if cursor != "-" and batch and batch[0][0] == cursor:
                batch = batch[1:]
            if not batch:
                return
            yield batch
            cursor = batch[-1][0]
