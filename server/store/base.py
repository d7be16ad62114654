"""What every service needs from the store: the client, the key schema and the Lua scripts."""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from .keys import Keys
from .redis import StallProbe


class Store:
    def __init__(self, redis: aioredis.Redis, prefix: str = "iv:") -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._scripts: dict[str, Any] = {}
        self._probe: StallProbe | None = None

    def script(self, name: str):
        """A registered Lua script from ``server/store/lua/<name>.lua`` (EVALSHA with fallback)."""
        if name not in self._scripts:
            source = resources.files("server.store").joinpath("lua", f"{name}.lua").read_text()
            self._scripts[name] = self.redis.register_script(source)
        return self._scripts[name]

    async def stalled(self) -> bool:
        """Whether Redis fails to answer a PING within ``redis.STALL_PING_S`` (``StallProbe``)."""
        if self._probe is None:
            self._probe = StallProbe(self.redis)
        return await self._probe.stalled()

    async def close(self) -> None:
        """Close what the store opened itself (the stall probe's connection), not the client it was given."""
        if self._probe is not None:
            await self._probe.aclose()
            self._probe = None

    def pipeline(self, transaction: bool = True):
        return self.redis.pipeline(transaction=transaction)
