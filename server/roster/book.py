"""Reading and writing roster entries in Redis."""

from __future__ import annotations

import unicodedata

from ..store.base import Store
from ..store.models import RosterEntry, from_hash, to_hash


def same_name(a: str, b: str) -> bool:
    """Names compare equal ignoring width, case and spaces (全角/半角, 'Li  Lei' vs 'li lei')."""

    def norm(s: str) -> str:
        return "".join(unicodedata.normalize("NFKC", s).split()).casefold()

    return norm(a) == norm(b) and bool(norm(a))


class RosterBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    async def entry(self, exam_id: str, id_number: str) -> RosterEntry | None:
        data = await self.store.redis.hgetall(self.keys.roster_entry(exam_id, id_number))
        return from_hash(RosterEntry, data) if data else None

    async def exams_of(self, id_number: str) -> list[str]:
        """The exams whose roster holds this ID number."""
        return sorted(await self.store.redis.smembers(self.keys.rostered(id_number)))

    async def entries_for(self, id_number: str) -> list[RosterEntry]:
        """Every exam's roster entry for one ID number."""
        exam_ids = sorted(await self.store.redis.smembers(self.keys.rostered(id_number)))
        found = [await self.entry(exam_id, id_number) for exam_id in exam_ids]
        return [e for e in found if e]

    async def entries(self, exam_id: str) -> list[RosterEntry]:
        numbers = sorted(await self.store.redis.smembers(self.keys.roster(exam_id)))
        pipe = self.store.pipeline(transaction=False)
        for number in numbers:
            pipe.hgetall(self.keys.roster_entry(exam_id, number))
        return [from_hash(RosterEntry, d) for d in await pipe.execute() if d]

    def queue_put(self, pipe, entry: RosterEntry) -> None:
        """Queue the writes of one entry on a MULTI pipeline (insert or update, never a duplicate)."""
        key = self.keys.roster_entry(entry.exam_id, entry.id_number)
        pipe.delete(key)
        pipe.hset(key, mapping=to_hash(entry))
        pipe.sadd(self.keys.roster(entry.exam_id), entry.id_number)
        pipe.sadd(self.keys.rostered(entry.id_number), entry.exam_id)
