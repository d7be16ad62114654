"""Login attempt limits: failed attempts counted per account name and per client address."""

from __future__ import annotations

import math

from ..errors import UserError
from ..store.base import Store


class LoginLimits:
    def __init__(self, store: Store, per_account: int, per_address: int, window_s: int) -> None:
        self.store = store
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s

    def _keys(self, login: str, address: str) -> tuple[str, str]:
        return (
            self.store.keys.rate_limit("login-account", login),
            self.store.keys.rate_limit("login-address", address),
        )

    async def check(self, login: str, address: str) -> None:
        """Refuse before checking the password when either counter is at its limit."""
        account_key, address_key = self._keys(login, address)
        pipe = self.store.pipeline(transaction=False)
        pipe.get(account_key)
        pipe.ttl(account_key)
        pipe.get(address_key)
        pipe.ttl(address_key)
        a_count, a_ttl, ip_count, ip_ttl = await pipe.execute()
        wait = 0
        if int(a_count or 0) >= self.per_account:
            wait = max(wait, a_ttl)
        if int(ip_count or 0) >= self.per_address:
            wait = max(wait, ip_ttl)
        if wait:
            raise UserError("login_locked", minutes=max(1, math.ceil(wait / 60)))

    async def failed(self, login: str, address: str) -> None:
        hit = self.store.script("rate_limit_hit")
        for key in self._keys(login, address):
            await hit(keys=[key], args=[self.window_s])

    async def succeeded(self, login: str) -> None:
        await self.store.redis.delete(self._keys(login, "")[0])
