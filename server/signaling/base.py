"""What every role's namespace shares: the login session on connect, the role check, per-event
payload checks, flood control, and one shape for errors (an ack and an ``event_error`` event).

An event handler is ``async def on_<name>(self, sid, user, data)`` with a payload spec in
``EVENTS``; it returns the ack's body. A ``UserError`` it raises changes nothing and is answered
``{"ok": false, "error": {...}}`` plus an ``event_error`` event with the same body.

A socket lives only as long as its login session: every event first checks that the session still
exists and the account is neither disabled nor of another role (one Redis round trip); an "ended"
notice (``Sessions.end`` / ``end_account``, from any process) disconnects the matching sockets at
once (:meth:`RoleNamespace.ended`), and ``hub.py`` re-checks every socket it holds every
``SESSION_SWEEP_S`` in case a notice was missed. A cut socket first gets ``session:ended``.

Redis away: an event is answered ``storage_unavailable`` (the session check waits at most
``SESSION_CHECK_TIMEOUT_S``; an event whose own Redis work stalls, on a frozen Redis, is answered
after ``STALL_CHECK_S`` + ``store.redis.STALL_PING_S`` with ``pending: true``, its work going on in the
background), a connection is refused with the same code, and a socket that closes
forgets its local state first and leaves its Redis clean-up (presence) in ``pending`` for
:meth:`RoleNamespace.redis_back` (or the next session sweep) to retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import socketio

from ..accounts.sessions import COOKIE, REASONS, Ended
from ..config import Settings
from ..errors import UserError
from ..i18n import message, pick_lang
from ..logs import request_id
from ..payloads import Field, check
from ..services import Services
from ..store.models import Account
from ..store.redis import RedisUnavailable
from .limits import TokenBucket

if TYPE_CHECKING:
    from .media_router import MediaRouter
    from .rooms import RoomSignals

log = logging.getLogger("server.signaling")
MAX_EVENT_BYTES = 128 * 1024  # an SDP offer is the largest payload (64 KB at most)
RECENT_NOTICES_S = 10.0  # a socket whose connect raced an "ended" notice is still cut this long after it
ACK_GRACE_S = 0.1  # a refused event's ack goes out before its socket is cut
UNKNOWN = "ended"  # found over by a check, not told by a notice: the reason is not known
SESSION_CHECK_TIMEOUT_S = 0.9  # an event's session check on a stalled Redis: storage_unavailable after this
STALL_CHECK_S = 0.5  # an event or a connection not done by then: is Redis answering at all (Store.stalled)?
STORAGE_DOWN = (*RedisUnavailable, TimeoutError)


@dataclass
class User:
    """The account behind one socket, and what the connection is bound to."""

    account: Account
    lang: str
    bucket: TokenBucket
    scope: dict[str, str] = field(default_factory=dict)  # e.g. {"room_id": ...} for an examiner
    session: str = ""  # key hash of the login session the socket lives by (an aux camera: its candidate's)


class Refused(socketio.exceptions.ConnectionRefusedError):
    """A refused connection: the client's ``connect_error`` has ``message`` and ``data.code``."""

    def __init__(self, code: str, lang: str, **params: Any) -> None:
        super().__init__(message(code, lang, **params), {"code": code})


class RoleNamespace(socketio.AsyncNamespace):
    ROLES: tuple[str, ...] = ()
    EVENTS: dict[str, dict[str, Field]] = {}
    ENDED_CODE = "session_ended"  # the refusal of an event on a socket whose session is over

    def __init__(
        self, namespace: str, services: Services, settings: Settings, rooms: RoomSignals | None = None
    ) -> None:
        super().__init__(namespace)
        self.services = services
        self.settings = settings
        self.rooms = rooms  # the room signals every namespace shares (server/wiring.py)
        self.users: dict[str, User] = {}  # sid -> user, for sockets held by this process
        self.recent: deque[tuple[float, Ended]] = deque()  # "ended" notices of the last RECENT_NOTICES_S
        self.cutting: set[str] = set()  # sids being disconnected
        self.pending: dict[str, User] = {}  # closed sockets whose Redis clean-up failed: retried when Redis is back

    def lang_of(self, environ: dict) -> str:
        request = environ.get("aiohttp.request")
        return pick_lang(
            request.cookies.get("lang") if request else None,
            request.headers.get("Accept-Language") if request else None,
            self.settings.default_lang,
        )

    async def on_connect(self, sid: str, environ: dict, auth: Any) -> None:
        request = environ.get("aiohttp.request")
        lang = self.lang_of(environ)
        session = await self.services.sessions.get(request.cookies.get(COOKIE) if request else None)
        if session is None:
            raise Refused("login_required", lang)
        account = await self.services.directory.get(session.account_id)
        if account is None or account.disabled or account.role not in self.ROLES:
            raise Refused("forbidden", lang)
        user = User(
            account,
            lang,
            TokenBucket(self.settings.signal_rate_per_s, self.settings.signal_burst),
            session=session.key_hash,
        )
        try:
            await self.admit(sid, user, auth if isinstance(auth, dict) else {})
        except UserError as err:
            raise Refused(err.code, lang, **err.params) from None
        self.users[sid] = user
        self.recheck(sid, user)
        log.info(
            "socket connected", extra={"namespace": self.namespace, "account": account.id, "sid": sid, **user.scope}
        )
        self.server.start_background_task(self._welcome, sid, user)

    def _router(self) -> MediaRouter:
        """Where media events go: the room's node (server/signaling/media_router.py)."""
        router = self.rooms.router if self.rooms is not None else None
        assert router is not None, "server/wiring.py gives the room signals their router"
        return router

    async def on_rtc_config(self, sid: str, user: User, data: dict) -> dict:
        """STUN/TURN servers for the browser's peer connection (in namespaces whose EVENTS list
        ``rtc:config``)."""
        rooms = self.rooms
        assert rooms is not None, "server/wiring.py gives every namespace the room signals"
        return {"ice_servers": rooms.interviews.ice_servers_for(f"{user.account.id}-{sid[:8]}")}

    async def _welcome(self, sid: str, user: User) -> None:
        try:
            await self.welcome(sid, user)
        except Exception:
            log.exception("socket welcome failed", extra={"namespace": self.namespace, "sid": sid})

    async def admit(self, sid: str, user: User, auth: dict) -> None:
        """Check what the connection asks to be bound to (raise UserError to refuse); join its rooms."""

    async def welcome(self, sid: str, user: User) -> None:
        """Send the first snapshot after the connection is accepted."""

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Cannot fail halfway: the local state goes first; python-socketio removes the socket from
        its rooms only if this returns, so the Redis work is guarded (and retried if Redis is away)."""
        user = self.users.pop(sid, None)
        if user is None:
            return
        log.info(
            "socket disconnected",
            extra={"namespace": self.namespace, "account": user.account.id, "sid": sid, "reason": str(reason)},
        )
        await self._gone(sid, user)

    async def _gone(self, sid: str, user: User) -> bool:
        try:
            await self.gone(sid, user)
        except STORAGE_DOWN as exc:
            self.pending[sid] = user
            log.warning(
                "socket clean-up waits for redis",
                extra={"namespace": self.namespace, "account": user.account.id, "sid": sid, "error": str(exc)},
            )
            return False
        except Exception:
            log.exception("socket clean-up failed", extra={"namespace": self.namespace, "sid": sid})
        self.pending.pop(sid, None)
        return True

    async def retry_pending(self) -> int:
        """The Redis clean-up of sockets closed while Redis was away; returns how many are done."""
        done = 0
        for sid, user in list(self.pending.items()):
            if not await self._gone(sid, user):
                break  # still away: the rest waits for the next try
            done += 1
        if done:
            log.info("socket clean-up done after redis outage", extra={"namespace": self.namespace, "count": done})
        return done

    async def redis_back(self) -> None:
        """Redis is back (this process's socket.io subscription is made again): the clean-up left
        over, then every local socket's snapshot again (the pushes missed in the outage are lost)."""
        await self.retry_pending()
        held = list(self.users.items())
        for start in range(0, len(held), 32):  # a bounded number of snapshots in flight
            await asyncio.gather(*(self._welcome(sid, user) for sid, user in held[start : start + 32]))

    async def gone(self, sid: str, user: User) -> None:
        """The socket is closed."""

    async def still_valid(self, sid: str, user: User) -> bool:
        """Whether the socket may still act (one round trip; checked before every event)."""
        return await self.services.sessions.still_valid(user.session, user.account.id, user.account.role)

    def recheck(self, sid: str, user: User) -> None:
        """A socket just accepted: cut it if an "ended" notice for it arrived while it connected."""
        for _, notice in self.recent:
            if notice.matches(user.session, user.account.id, by_account=False):
                self.server.start_background_task(self.cut, sid, notice.reason)
                return

    async def ended(self, notice: Ended) -> int:
        """An "ended" notice from any process: cut this process's sockets of those sessions."""
        now = time.monotonic()
        self.recent.append((now, notice))
        while self.recent and self.recent[0][0] < now - RECENT_NOTICES_S:
            self.recent.popleft()
        found = [sid for sid, user in list(self.users.items()) if notice.matches(user.session, user.account.id)]
        await asyncio.gather(*(self.cut(sid, notice.reason) for sid in found))
        return len(found)

    async def cut(self, sid: str, reason: str, delay_s: float = 0.0) -> None:
        """Tell the socket why (``session:ended``) and disconnect it."""
        user = self.users.get(sid)
        if user is None or sid in self.cutting:
            return
        self.cutting.add(sid)
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            code = self.ended_message(reason)
            body = {"reason": reason, "code": code, "message": message(code, user.lang)}
            try:
                await self.emit("session:ended", body, to=sid)
            except Exception:  # the socket may be gone already; it is disconnected below anyway
                log.debug("session:ended not sent", extra={"namespace": self.namespace, "sid": sid})
            log.info(
                "socket cut: session ended",
                extra={"namespace": self.namespace, "account": user.account.id, "sid": sid, "reason": reason},
            )
            await self.disconnect(sid)
        finally:
            self.cutting.discard(sid)

    def ended_message(self, reason: str) -> str:
        """The message code a cut socket is told."""
        return f"session_ended_{reason}" if reason in REASONS else "session_ended"

    async def trigger_event(self, event: str, *args: Any) -> Any:
        request_id.set("")  # this task's copy of the context: not the id of the request that opened the socket
        if event == "connect":
            connecting = asyncio.ensure_future(super().trigger_event(event, *args))
            try:
                done, _ = await asyncio.wait({connecting}, timeout=STALL_CHECK_S)
                if not done and await self.services.store.stalled():
                    connecting.cancel()  # refused: nothing of it may land later (the page connects again)
                    raise TimeoutError("redis stalled")
                return await connecting
            except asyncio.CancelledError:
                connecting.cancel()
                raise
            except STORAGE_DOWN as exc:
                log.warning("socket refused: redis unavailable", extra={"namespace": self.namespace, "error": str(exc)})
                raise Refused("storage_unavailable", self.lang_of(args[1] if len(args) > 1 else {})) from None
        if event == "disconnect":
            return await super().trigger_event(event, *args)
        sid, payload = args[0], (args[1] if len(args) > 1 else None)
        user = self.users.get(sid)
        if user is None:
            return None
        try:
            try:
                return await self._answer(sid, user, event, payload)
            except STORAGE_DOWN as exc:
                log.warning(
                    "socket event failed: redis unavailable",
                    extra={"namespace": self.namespace, "event": event[:60], "error": str(exc) or type(exc).__name__},
                )
                raise UserError("storage_unavailable") from None
        except UserError as err:
            body = error_body(err, user.lang)
            log.info(
                "socket event refused",
                extra={"namespace": self.namespace, "event": event[:60], "account": user.account.id, "code": err.code},
            )
            await self.emit("event_error", {"event": event[:60], **body}, to=sid)
            return {"ok": False, "error": body}

    async def _answer(self, sid: str, user: User, event: str, payload: Any) -> dict:
        """The event's answer. If it is not done after ``STALL_CHECK_S`` and Redis does not answer a
        PING either (frozen: commands already sent wait for the client's 5 s read timeout), the page
        is told ``storage_unavailable`` with ``pending: true`` within a second, and the work goes on:
        it may still take effect when Redis resumes (every transition is one Lua script, so a retry
        cannot apply it twice), and the page learns the outcome from the pushes and the snapshot
        that follow."""
        work = asyncio.ensure_future(self._run(sid, user, event, payload))
        try:
            done, _ = await asyncio.wait({work}, timeout=STALL_CHECK_S)
            if done or not await self.services.store.stalled():
                return await work
        except asyncio.CancelledError:
            work.cancel()
            raise
        work.add_done_callback(lambda task: self._finished_late(task, event, user))
        log.warning(
            "socket event answered before its work finished: redis stalled",
            extra={"namespace": self.namespace, "event": event[:60], "account": user.account.id},
        )
        raise UserError("storage_unavailable", pending=True)

    def _finished_late(self, task: asyncio.Future, event: str, user: User) -> None:
        error = None if task.cancelled() else task.exception()
        outcome = "cancelled" if task.cancelled() else ("failed" if error else "done")
        log.info(
            "socket event finished after its answer",
            extra={
                "namespace": self.namespace,
                "event": event[:60],
                "account": user.account.id,
                "outcome": outcome,
                "error": (str(error) or type(error).__name__) if error else "",
            },
        )

    async def _run(self, sid: str, user: User, event: str, payload: Any) -> dict:
        if not user.bucket.take():
            raise UserError("rate_limited")
        if sid in self.cutting or not await asyncio.wait_for(self.still_valid(sid, user), SESSION_CHECK_TIMEOUT_S):
            self.server.start_background_task(self.cut, sid, UNKNOWN, ACK_GRACE_S)
            raise UserError(self.ENDED_CODE)
        spec = self.EVENTS.get(event)
        handler = getattr(self, "on_" + event.replace(":", "_"), None)
        if spec is None or handler is None:
            raise UserError("event_unknown", name=event[:60])
        if payload is None:
            payload = {}
        if not isinstance(payload, dict) or len(str(payload)) > MAX_EVENT_BYTES:
            raise UserError("bad_json")
        result = await handler(sid, user, check(payload, spec, self.settings.timezone))
        return {"ok": True, **(result or {})}


def error_body(err: UserError, lang: str) -> dict:
    body: dict[str, Any] = {"code": err.code, "message": err.message(lang)}
    if err.field:
        body["field"] = err.field
    problems = err.params.get("problems")
    if problems:
        body["problems"] = [
            {**p, "message": message(p["code"], lang, **{k: v for k, v in p.items() if k != "code"})} for p in problems
        ]
    for key in ("why", "blocked", "pending"):  # call-next's refusal: which condition holds, for whom; a stalled event
        if key in err.params:
            body[key] = err.params[key]
    return body
