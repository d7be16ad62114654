"""Server-side sessions: the cookie holds a random token, Redis holds sha256(token) -> session.

A session can be revoked at once (logout, account disabled, admin action) because
nothing about it lives in the cookie. Ending a session also ends every socket opened with it, on
every server process: :meth:`Sessions.end` (one session) and :meth:`Sessions.end_account` (every
session of an account) delete the sessions and publish an "ended" notice on the channel
``<prefix>sessions:ended`` in the same MULTI; each process's signaling layer listens to it
(:meth:`Sessions.watch_ended`) and disconnects the matching sockets, and checks every socket event
against :meth:`Sessions.still_valid` (one round trip) so that a notice lost while Redis was away
cannot leave a socket working.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..store.base import Store
from ..store.redis import RedisUnavailable
from ..tasks import cancelled

COOKIE = "iv_session"
log = logging.getLogger("server.accounts")

# why a session ended (the code of the message a socket gets, ``session_ended_<reason>``)
LOGOUT = "logout"
DISABLED = "account_disabled"
REVOKED = "revoked"
ROLE_CHANGED = "role_changed"
IDENTITY_MOVED = "identity_moved"
EXPIRED = "expired"
REASONS = (LOGOUT, DISABLED, REVOKED, ROLE_CHANGED, IDENTITY_MOVED, EXPIRED)


@dataclass(frozen=True)
class Session:
    key_hash: str
    account_id: str
    role: str
    created_at: float


@dataclass(frozen=True)
class Ended:
    """An "ended" notice: these sessions (by key hash) are over, or every session of ``account_id``."""

    sessions: tuple[str, ...]
    account_id: str
    reason: str

    def matches(self, key_hash: str, account_id: str, by_account: bool = True) -> bool:
        """Whether a socket bound to this session (of this account) is over; ``by_account=False``
        for a socket that connected after the notice (a new login of the account goes on)."""
        if key_hash in self.sessions:
            return True
        return by_account and bool(self.account_id) and account_id == self.account_id


OnEnded = Callable[[Ended | None], Awaitable[None]]  # None: notices may have been missed (resubscribed)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, ttl_s: int) -> None:
        self.store = store
        self.keys = store.keys
        self.ttl_s = ttl_s

    async def create(self, account_id: str, role: str, address: str = "", user_agent: str = "") -> str:
        token = secrets.token_urlsafe(32)
        key_hash = _hash(token)
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.session(key_hash),
                mapping={
                    "account_id": account_id,
                    "role": role,
                    "created_at": f"{time.time():.3f}",
                    "address": address,
                    "user_agent": user_agent[:200],
                },
            )
            pipe.expire(self.keys.session(key_hash), self.ttl_s)
            pipe.sadd(self.keys.account_sessions(account_id), key_hash)
            pipe.expire(self.keys.account_sessions(account_id), self.ttl_s)
            await pipe.execute()
        return token

    @staticmethod
    def hash_of(token: str) -> str:
        """The key hash of a session token (what sockets and aux tokens are bound to)."""
        return _hash(token)

    async def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        key_hash = _hash(token)
        data = await self.store.redis.hgetall(self.keys.session(key_hash))
        if not data:
            return None
        return Session(key_hash, data["account_id"], data["role"], float(data["created_at"]))

    # --- ending sessions: the one entry point for logout, disabling, revoking, identity moves --------

    def _publish(self, pipe, sessions: list[str], account_id: str, reason: str) -> None:
        notice = {"sessions": sessions, "account_id": account_id, "reason": reason, "at": round(time.time(), 3)}
        pipe.publish(self.keys.sessions_ended, json.dumps(notice, separators=(",", ":")))

    async def end(self, session: Session, reason: str = LOGOUT) -> None:
        """End one session (logout): its key goes, and every socket opened with it is disconnected
        on every process."""
        async with self.store.pipeline() as pipe:
            pipe.delete(self.keys.session(session.key_hash))
            pipe.srem(self.keys.account_sessions(session.account_id), session.key_hash)
            self._publish(pipe, [session.key_hash], "", reason)
            await pipe.execute()

    async def end_account(self, account_id: str, reason: str = REVOKED) -> int:
        """End every session of an account (disabled, role changed, revoked by an admin, its ID
        number moved to another account by an appeal): the keys go, and every socket of the account
        (its auxiliary cameras too) is disconnected on every process within a second. Returns how
        many sessions there were."""
        hashes = sorted(await self.store.redis.smembers(self.keys.account_sessions(account_id)))
        async with self.store.pipeline() as pipe:
            for key_hash in hashes:
                pipe.delete(self.keys.session(key_hash))
            pipe.delete(self.keys.account_sessions(account_id))
            self._publish(pipe, hashes, account_id, reason)
            await pipe.execute()
        return len(hashes)

    async def revoke(self, session: Session) -> None:
        """Same as :meth:`end` (logout)."""
        await self.end(session, LOGOUT)

    async def revoke_all(self, account_id: str) -> int:
        """Same as :meth:`end_account` with reason ``revoked``."""
        return await self.end_account(account_id, REVOKED)

    async def still_valid(self, key_hash: str, account_id: str, role: str) -> bool:
        """Whether a socket bound to this session may still act: the session key exists and the
        account is not disabled and still has ``role``. One round trip."""
        pipe = self.store.pipeline(transaction=False)
        pipe.exists(self.keys.session(key_hash))
        pipe.hmget(self.keys.account(account_id), "disabled", "role")
        exists, (disabled, current_role) = await pipe.execute()
        return bool(exists) and disabled != "1" and current_role == role

    async def ended_among(self, bound: list[tuple[str, str, str]]) -> list[bool]:
        """:meth:`still_valid` negated for many (key hash, account, role), in one round trip."""
        if not bound:
            return []
        pipe = self.store.pipeline(transaction=False)
        for key_hash, account_id, _ in bound:
            pipe.exists(self.keys.session(key_hash))
            pipe.hmget(self.keys.account(account_id), "disabled", "role")
        found = await pipe.execute()
        out = []
        for i, (_, _, role) in enumerate(bound):
            exists, (disabled, current_role) = found[2 * i], found[2 * i + 1]
            out.append(not exists or disabled == "1" or current_role != role)
        return out

    async def watch_ended(self, on_ended: OnEnded, retry_s: float = 1.0) -> None:
        """Call ``on_ended`` with every "ended" notice published by any process, until cancelled.
        When the subscription had to be made again (Redis was away), ``on_ended(None)`` says that
        notices may have been missed, so the caller checks its sockets itself."""
        channel = self.keys.sessions_ended
        failing = False
        while True:
            pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if failing:
                    log.info("session notices subscribed again")
                    failing = False
                    await on_ended(None)
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    notice = _parse(msg.get("data"))
                    if notice is not None:
                        await on_ended(notice)
            except RedisUnavailable as exc:
                if cancelled():
                    raise
                if not failing:
                    log.warning("session notices: redis unavailable", extra={"error": str(exc)})
                failing = True
            except Exception:
                if cancelled():
                    raise
                log.exception("session notices failed")
                failing = True
            finally:
                with contextlib.suppress(Exception):  # closing a broken connection
                    await pubsub.aclose()
            await asyncio.sleep(retry_s)


def _parse(data: object) -> Ended | None:
    try:
        body = json.loads(data) if isinstance(data, (str, bytes)) else None
        if not isinstance(body, dict):
            return None
        sessions = tuple(str(h) for h in body.get("sessions") or ())
        return Ended(sessions, str(body.get("account_id") or ""), str(body.get("reason") or REVOKED))
    except ValueError:
        return None
