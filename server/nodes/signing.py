"""The nodes' shared secret and HMAC-SHA256 signatures (relay messages, internal requests).

The key is ``node_secret`` when set, else a random one made once in Redis (``secret:nodes``, ``SET NX``:
every node reads the same one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ..store.base import Store


class Signer:
    def __init__(self, store: Store, configured: str = "") -> None:
        self.store = store
        self._key: bytes | None = configured.encode() if configured else None

    async def key(self) -> bytes:
        if self._key is None:
            name = self.store.keys.node_secret()
            await self.store.redis.set(name, secrets.token_hex(32), nx=True)
            self._key = (await self.store.redis.get(name)).encode()
        return self._key

    async def sign(self, text: str) -> str:
        return hmac.new(await self.key(), text.encode(), hashlib.sha256).hexdigest()

    async def valid(self, text: str, signature: object) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(await self.sign(text), signature)
