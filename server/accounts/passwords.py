"""Password hashing with argon2id, run off the event loop."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import UserError

_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
T = TypeVar("T")


def check_strength(password: str, field: str = "password") -> None:
    if len(password) < 8 or len(password) > 128 or not _LETTER.search(password) or not _DIGIT.search(password):
        raise UserError("password_weak", field=field)


class Passwords:
    """argon2id off the event loop, at most ``concurrency`` hashes at once (each takes ~64 MiB and a
    core for a fraction of a second), and at most ``max_waiting`` waiting for one: a flood of
    registrations or logins cannot take the thread pool that everything else also runs on, and past
    the queue it is told to come back instead of waiting unboundedly."""

    def __init__(
        self,
        time_cost: int = 3,
        memory_kib: int = 65536,
        parallelism: int = 2,
        concurrency: int = 2,
        max_waiting: int = 64,
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified against when the account does not exist, so timing does not reveal it.
        self._dummy = self._hasher.hash("no-such-account-0")
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._max_waiting = max_waiting
        self._waiting = 0

    async def _run(self, work: Callable[[], T]) -> T:
        if self._waiting >= self._max_waiting:
            raise UserError("auth_busy")
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
            except (VerificationError, InvalidHashError):
                return False

        return await self._run(check)
