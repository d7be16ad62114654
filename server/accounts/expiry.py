"""Candidate accounts that never verify an identity expire.

Registration is open to anyone with a phone; an account that never claims an identity costs keys
kept for ever and holds its phone number. After ``unverified_account_days`` such an account (and
its login names, so the phone can register again) is deleted, with an audit entry. A verification
racing the sweep wins: each deletion is a WATCH transaction over the account, redone if it changed.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import WatchError

from ..store import audit
from ..store.audit import Actor
from ..store.base import Store

log = logging.getLogger(__name__)


class UnverifiedAccounts:
    def __init__(self, store: Store, max_age_s: float) -> None:
        self.store = store
        self.keys = store.keys
        self.max_age_s = max_age_s

    async def expire(self, now: float | None = None, batch: int = 500) -> list[str]:
        """Delete up to ``batch`` candidate accounts unverified for longer than ``max_age_s``."""
        if self.max_age_s <= 0:
            return []
        now = time.time() if now is None else now
        due = await self.store.redis.zrangebyscore(
            self.keys.unverified_accounts(), "-inf", now - self.max_age_s, start=0, num=batch
        )
        removed = [account_id for account_id in due if await self._expire_one(account_id)]
        if removed:
            log.info("unverified accounts expired", extra={"accounts": len(removed), "days": self.max_age_s / 86400})
        return removed

    async def _expire_one(self, account_id: str) -> bool:
        k = self.keys
        for _ in range(3):
            async with self.store.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(k.account(account_id), k.account_sessions(account_id))
                    data = await pipe.hgetall(k.account(account_id))
                    if not data or data.get("role") != "candidate" or float(data.get("verified_at") or 0) > 0:
                        pipe.multi()
                        pipe.zrem(k.unverified_accounts(), account_id)  # verified meanwhile, or gone
                        await pipe.execute()
                        return False
                    sessions = await pipe.smembers(k.account_sessions(account_id))
                    pipe.multi()
                    for kind in ("phone", "email", "username"):
                        if data.get(kind):
                            pipe.delete(k.login(kind, data[kind]))
                    for key_hash in sessions:
                        pipe.delete(k.session(key_hash))
                    pipe.delete(k.account(account_id), k.account_sessions(account_id))
                    pipe.srem(k.accounts_by_role("candidate"), account_id)
                    pipe.zrem(k.unverified_accounts(), account_id)
                    audit.add(
                        pipe, k, None, "account_expired", Actor.system(), account_id, created_at=data.get("created_at")
                    )
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
        return False
