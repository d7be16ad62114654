"""Server-side sessions: the cookie holds a random token, Redis holds sha256(token) -> session.

A session can be revoked at once (logout, account disabled, admin action) because
nothing about it lives in the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from ..store.base import Store

COOKIE = "iv_session"


@dataclass(frozen=True)
class Session:
    key_hash: str
    account_id: str
    role: str
    created_at: float


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, ttl_s: int) -> None:
        self.store = store
        self.keys = store.keys
        self.ttl_s = ttl_s

    async def create(self, account_id: str, role: str, address: str = "", user_agent: str = "") -> str:
        token = secrets.token_urlsafe(32)
        key_hash = _hash(token)
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.session(key_hash),
                mapping={
                    "account_id": account_id,
                    "role": role,
                    "created_at": f"{time.time():.3f}",
                    "address": address,
                    "user_agent": user_agent[:200],
                },
            )
            pipe.expire(self.keys.session(key_hash), self.ttl_s)
            pipe.sadd(self.keys.account_sessions(account_id), key_hash)
            pipe.expire(self.keys.account_sessions(account_id), self.ttl_s)
            await pipe.execute()
        return token

    async def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        key_hash = _hash(token)
        data = await self.store.redis.hgetall(self.keys.session(key_hash))
        if not data:
            return None
        return Session(key_hash, data["account_id"], data["role"], float(data["created_at"]))

    async def revoke(self, session: Session) -> None:
        async with self.store.pipeline() as pipe:
            pipe.delete(self.keys.session(session.key_hash))
            pipe.srem(self.keys.account_sessions(session.account_id), session.key_hash)
            await pipe.execute()

    async def revoke_all(self, account_id: str) -> int:
        hashes = await self.store.redis.smembers(self.keys.account_sessions(account_id))
        async with self.store.pipeline() as pipe:
            for key_hash in hashes:
                pipe.delete(self.keys.session(key_hash))
            pipe.delete(self.keys.account_sessions(account_id))
            await pipe.execute()
        return len(hashes)
