"""Tokens for the auxiliary camera (双机位): signed, expiring, and admitting at most a few devices.

The token names the exam and the candidate; it is signed with a secret kept in Redis (shared by
every server process, made once), so no server-side state is needed until a device uses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from ..errors import UserError
from ..store.base import Store
from ..store.models import is_id


@dataclass(frozen=True)
class AuxToken:
    id: str
    exam_id: str
    account_id: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuxTokens:
    def __init__(self, store: Store, ttl_s: int, max_devices: int) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_devices = max_devices

    async def _secret(self) -> bytes:
        key = self.store.keys.aux_secret()
        await self.store.redis.set(key, secrets.token_hex(32), nx=True)
        return (await self.store.redis.get(key)).encode()

    async def issue(self, exam_id: str, account_id: str) -> str:
        body = {"t": secrets.token_hex(8), "e": exam_id, "a": account_id, "x": int(time.time() + self.ttl_s)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        signature = _b64(hmac.new(await self._secret(), payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{signature}"

    async def verify(self, token: object) -> AuxToken:
        if not isinstance(token, str) or len(token) > 400 or token.count(".") != 1:
            raise UserError("aux_token_invalid")
        payload, signature = token.split(".")
        expected = _b64(hmac.new(await self._secret(), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            raise UserError("aux_token_invalid")
        try:
            body = json.loads(_unb64(payload))
        except ValueError:
            raise UserError("aux_token_invalid") from None
        if body.get("x", 0) < time.time() or not is_id(body.get("e")) or not is_id(body.get("a")):
            raise UserError("aux_token_invalid")
        return AuxToken(body["t"], body["e"], body["a"], float(body["x"]))

    async def admit_device(self, token: AuxToken, device: object) -> None:
        """Up to ``max_devices`` different devices per token; a device already admitted comes back."""
        if not isinstance(device, str) or not 8 <= len(device) <= 64 or not device.isalnum():
            raise UserError("aux_device_invalid")
        key = self.store.keys.aux_devices(token.id)
        admitted = await self.store.script("aux_admit")(
            keys=[key], args=[device, self.max_devices, max(1, int(token.expires_at - time.time()))]
        )
        if not admitted:
            raise UserError("aux_device_limit", max=self.max_devices)
