"""Room claims: which server process holds a room's media (docs/rooms.md, "One process per room").

A room's media lives in exactly one process. The first participant to join claims
``mediaroom:{room}`` (``Keys.media_owner``) with the process's owner token and a TTL; the
holder refreshes it while the room lives and releases it when it closes the room. A process
that dies stops refreshing, the claim expires, and the next join takes the room on a live
process. Every write is atomic and checks the token, so a process never takes over or deletes
a claim another one holds:

- acquire: ``SET key token NX EX ttl GET`` (Redis >= 7): take it if free, and learn the holder.
- refresh: ``claim_refresh.lua``: extend it if it is ours (or free again: a holder that stalled
  past the TTL retakes a claim nobody else took), else leave it and return the holder.
- release: ``lock_release.lua``: delete it only if it still holds our token.

These raise what the Redis client raises (``server.store.redis.RedisUnavailable`` when Redis
is away); callers decide what a failure means for them.
"""

from __future__ import annotations

import os
import secrets
import socket

from ..store.base import Store

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"  # unique per start


class RoomClaims:
    """Claims of rooms by one owner (``owner``: this process's token, :data:`PROCESS_ID`)."""

    def __init__(self, store: Store, owner: str = PROCESS_ID, ttl_s: int = 30) -> None:
        self.store = store
        self.owner = owner
        self.ttl_s = ttl_s

    def _key(self, room_id: str) -> str:
        return self.store.keys.media_owner(room_id)

    async def acquire(self, room_id: str) -> str:
        """Claim the room if nobody holds it; returns the holder afterwards (``self.owner``
        when the room is ours, now or already). An existing claim of ours is not extended here:
        the refresh does that."""
        previous = await self.store.redis.set(self._key(room_id), self.owner, nx=True, ex=self.ttl_s, get=True)
        return self.owner if previous is None else previous

    async def refresh(self, room_id: str) -> str:
        """Extend our claim by the TTL; returns the holder (another owner's token when the
        claim is no longer ours: then it is left alone)."""
        return await self.store.script("claim_refresh")(keys=[self._key(room_id)], args=[self.owner, self.ttl_s])

    async def release(self, room_id: str) -> bool:
        """Give the room up if we hold it; True if our claim was deleted."""
        return bool(await self.store.script("lock_release")(keys=[self._key(room_id)], args=[self.owner]))

    async def holder(self, room_id: str) -> str | None:
        """Who holds the room now (None: nobody)."""
        return await self.store.redis.get(self._key(room_id))
