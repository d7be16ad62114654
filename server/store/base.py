"""What every service needs from the store: the client, the key schema and the Lua scripts."""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from .keys import Keys


class Store:
    def __init__(self, redis: aioredis.Redis, prefix: str = "iv:") -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._scripts: dict[str, Any] = {}

    def script(self, name: str):
        """A registered Lua script from ``server/store/lua/<name>.lua`` (EVALSHA with fallback)."""
        if name not in self._scripts:
            source = resources.files("server.store").joinpath("lua", f"{name}.lua").read_text()
            self._scripts[name] = self.redis.register_script(source)
        return self._scripts[name]

    def pipeline(self, transaction: bool = True):
        return self.redis.pipeline(transaction=transaction)
