"""Password hashing with argon2id, run off the event loop."""

from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import UserError

_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")


def check_strength(password: str, field: str = "password") -> None:
    if len(password) < 8 or len(password) > 128 or not _LETTER.search(password) or not _DIGIT.search(password):
        raise UserError("password_weak", field=field)


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified against when the account does not exist, so timing does not reveal it.
        self._dummy = self._hasher.hash("no-such-account-0")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)
