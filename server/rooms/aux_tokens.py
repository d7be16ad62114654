"""Tokens for the auxiliary camera (双机位): signed, expiring, bound to the candidate's session,
and admitting at most a few devices per candidate.

The token names the exam, the candidate and a *generation* of the candidate's codes; it is signed
with a secret kept in Redis (shared by every server process, made once). ``aux:{exam}:{account}``
holds which session made the current codes and their generation: a code made by another session
(the candidate logged in again) starts a new generation, and so does the end of an interview
(done, removed, locked by the face check), so older codes admit nothing. A code of a session that
has ended (logout, account disabled) admits nothing either. However many codes are minted, at most
``max_devices`` different devices are admitted per candidate and exam in one admission
(``aux:{exam}:{account}:devices``, in ``aux_admit.lua``, so concurrent admits cannot pass it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace

from ..errors import UserError
from ..queue.entries import QueueChange
from ..store.base import Store
from ..store.models import is_id

ENDING_EVENTS = ("queue_done", "queue_removed", "face_locked")  # the interview (or the attempt) is over
REFUSALS = {"logged_out": "aux_token_logged_out", "replaced": "aux_token_replaced", "limit": "aux_device_limit"}


@dataclass(frozen=True)
class AuxToken:
    id: str
    exam_id: str
    account_id: str
    expires_at: float
    generation: int
    # "camera" (the aux camera), or "prompt": a second phone that only shows the question a take of
    # ``subject_id`` drew (004_* 视奏: "借助另一部移动终端设备"); not a device of the camera limit
    kind: str = "camera"
    subject_id: str = ""


@dataclass(frozen=True)
class AuxGrant:
    """An admitted device: what its socket is bound to (re-checked on every event)."""

    token: AuxToken
    device: str
    session: str  # key hash of the candidate's session the code belongs to


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuxTokens:
    def __init__(self, store: Store, ttl_s: int, max_devices: int) -> None:
        self.store = store
        self.keys = store.keys
        self.ttl_s = ttl_s
        self.max_devices = max_devices

    async def _secret(self) -> bytes:
        key = self.keys.aux_secret()
        await self.store.redis.set(key, secrets.token_hex(32), nx=True)
        return (await self.store.redis.get(key)).encode()

    async def issue(self, exam_id: str, account_id: str, session: str, prompt_subject: str = "") -> str:
        """A code for the candidate's QR, bound to their session (``session``: its key hash); with
        ``prompt_subject``, a code for the prompt viewer of that subject instead of a camera."""
        generation = await self.store.script("aux_issue")(
            keys=[self.keys.aux_record(exam_id, account_id)], args=[session, max(self.ttl_s, 1)]
        )
        body = {
            "t": secrets.token_hex(8),
            "e": exam_id,
            "a": account_id,
            "g": int(generation),
            "x": int(time.time() + self.ttl_s),
        }
        if prompt_subject:
            body |= {"k": "prompt", "s": prompt_subject}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        signature = _b64(hmac.new(await self._secret(), payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{signature}"

    async def verify(self, token: object) -> AuxToken:
        """The signature and the expiry (no state): a forged, truncated or expired code is refused."""
        if not isinstance(token, str) or len(token) > 400 or token.count(".") != 1 or not token.isascii():
            raise UserError("aux_token_invalid")  # a code is base64url: anything else is not one of ours
        payload, signature = token.split(".")
        expected = _b64(hmac.new(await self._secret(), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            raise UserError("aux_token_invalid")
        try:
            body = json.loads(_unb64(payload))
        except ValueError:
            raise UserError("aux_token_invalid") from None
        if not isinstance(body, dict) or not isinstance(body.get("g"), int) or not isinstance(body.get("x"), int):
            raise UserError("aux_token_invalid")
        if body["x"] < time.time() or not is_id(body.get("e")) or not is_id(body.get("a")):
            raise UserError("aux_token_invalid")
        kind = body.get("k", "camera")
        if kind not in ("camera", "prompt") or (kind == "prompt" and not is_id(body.get("s"))):
            raise UserError("aux_token_invalid")
        token = AuxToken(str(body.get("t", "")), body["e"], body["a"], float(body["x"]), body["g"], kind)
        return replace(token, subject_id=body["s"]) if kind == "prompt" else token

    async def usable(self, token: AuxToken) -> None:
        """Raise when the code is void: its session ended, or a newer code replaced it."""
        record, exists, disabled = await self._state(token)
        if record[0] is None or record[1] != str(token.generation):
            raise UserError("aux_token_replaced")
        if not exists or disabled == "1":
            raise UserError("aux_token_logged_out")

    async def _state(self, token: AuxToken):
        pipe = self.store.pipeline(transaction=False)
        pipe.hmget(self.keys.aux_record(token.exam_id, token.account_id), "session", "gen")
        pipe.hget(self.keys.account(token.account_id), "disabled")
        record, disabled = await pipe.execute()
        exists = bool(record[0]) and bool(await self.store.redis.exists(self.keys.session(record[0])))
        return record, exists, disabled

    async def admit_device(self, token: AuxToken, device: object) -> AuxGrant:
        """Admit a device with a valid code: up to ``max_devices`` different devices per candidate and
        exam in one admission; a device already admitted comes back."""
        if not isinstance(device, str) or not 8 <= len(device) <= 64 or not device.isalnum():
            raise UserError("aux_device_invalid")
        ok, detail = await self.store.script("aux_admit")(
            keys=[
                self.keys.aux_record(token.exam_id, token.account_id),
                self.keys.aux_devices(token.exam_id, token.account_id),
                self.keys.account(token.account_id),
            ],
            args=[device, self.max_devices, token.generation, max(self.ttl_s, 1), self.keys.session("")],
        )
        if not ok:
            raise UserError(REFUSALS.get(detail, "aux_token_replaced"), max=self.max_devices)
        return AuxGrant(token, device, detail)

    async def still_valid(self, grant: AuxGrant) -> bool:
        """Whether an admitted device's socket may still act (one round trip): same generation, same
        session, the session exists, the candidate is not disabled."""
        pipe = self.store.pipeline(transaction=False)
        pipe.hmget(self.keys.aux_record(grant.token.exam_id, grant.token.account_id), "session", "gen")
        pipe.exists(self.keys.session(grant.session))
        pipe.hget(self.keys.account(grant.token.account_id), "disabled")
        (session, gen), exists, disabled = await pipe.execute()
        return session == grant.session and gen == str(grant.token.generation) and bool(exists) and disabled != "1"

    async def queue_changed(self, change: QueueChange) -> None:
        """The interview (or the attempt) is over: the candidate's codes and devices are void; the
        next admission needs a fresh QR code (a queue listener, ``server/wiring.py``)."""
        if change.event not in ENDING_EVENTS or not change.account or not change.exam:
            return
        record = self.keys.aux_record(change.exam, change.account)
        async with self.store.pipeline() as pipe:
            pipe.hincrby(record, "gen", 1)
            pipe.expire(record, max(self.ttl_s, 1))
            pipe.delete(self.keys.aux_devices(change.exam, change.account))
            await pipe.execute()
