"""Login attempt limits, taken atomically before the password is checked.

Three counters, as the usual guidance for online guessing suggests (OWASP's authentication
cheat sheet; NIST SP 800-63B 5.2.2 caps consecutive failures at 100):

- per (account, address): a handful of tries, then that address waits for the window. A stranger
  guessing ``examiner1`` from elsewhere does not lock the examiner out;
- per account, whatever the address: a slower, larger limit that bounds distributed guessing;
- per address, whatever the account: bounds one address trying many accounts.

Every attempt takes one from all three before the password is verified; a correct password
gives its attempt back (and clears the pair), so only failures accumulate.
"""

from __future__ import annotations

import math

from ..errors import UserError
from ..store.base import Store
from ..store.limits import Counter, refund, take


class LoginLimits:
    def __init__(
        self,
        store: Store,
        per_pair: int,
        per_account: int,
        per_address: int,
        window_s: int,
        account_window_s: int,
    ) -> None:
        self.store = store
        self.per_pair, self.per_account, self.per_address = per_pair, per_account, per_address
        self.window_s, self.account_window_s = window_s, account_window_s

    def _counters(self, login: str, address: str) -> list[Counter]:
        k = self.store.keys
        return [
            Counter(k.rate_limit("login-pair", f"{login}|{address}"), self.per_pair, self.window_s),
            Counter(k.rate_limit("login-account", login), self.per_account, self.account_window_s),
            Counter(k.rate_limit("login-address", address), self.per_address, self.window_s),
        ]

    async def take(self, login: str, address: str) -> None:
        """Count this attempt, or refuse it (before the password is checked) with the wait."""
        wait = await take(self.store, self._counters(login, address))
        if wait:
            raise UserError("login_locked", minutes=max(1, math.ceil(wait / 60)))

    async def succeeded(self, login: str, address: str) -> None:
        pair, *others = self._counters(login, address)
        await refund(self.store, others)
        await self.store.redis.delete(pair.key)
