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
from ..payloads import Field, check
from ..services import Services
from ..store.models import Account
from .limits import TokenBucket

if TYPE_CHECKING:
    from .rooms import RoomSignals

log = logging.getLogger("server.signaling")
MAX_EVENT_BYTES = 128 * 1024  # an SDP offer is the largest payload (64 KB at most)
RECENT_NOTICES_S = 10.0  # a socket whose connect raced an "ended" notice is still cut this long after it
ACK_GRACE_S = 0.1  # a refused event's ack goes out before its socket is cut
UNKNOWN = "ended"  # found over by a check, not told by a notice: the reason is not known


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

    async def on_connect(self, sid: str, environ: dict, auth: Any) -> None:
        request = environ.get("aiohttp.request")
        lang = pick_lang(
            request.cookies.get("lang") if request else None,
            request.headers.get("Accept-Language") if request else None,
            self.settings.default_lang,
        )
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
        user = self.users.pop(sid, None)
        if user is not None:
            log.info(
                "socket disconnected",
                extra={"namespace": self.namespace, "account": user.account.id, "sid": sid, "reason": str(reason)},
            )
            await self.gone(sid, user)

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
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, payload = args[0], (args[1] if len(args) > 1 else None)
        user = self.users.get(sid)
        if user is None:
            return None
        try:
            if not user.bucket.take():
                raise UserError("rate_limited")
            if sid in self.cutting or not await self.still_valid(sid, user):
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
        except UserError as err:
            body = error_body(err, user.lang)
            log.info(
                "socket event refused",
                extra={"namespace": self.namespace, "event": event[:60], "account": user.account.id, "code": err.code},
            )
            await self.emit("event_error", {"event": event[:60], **body}, to=sid)
            return {"ok": False, "error": body}


def error_body(err: UserError, lang: str) -> dict:
    body: dict[str, Any] = {"code": err.code, "message": err.message(lang)}
    if err.field:
        body["field"] = err.field
    problems = err.params.get("problems")
    if problems:
        body["problems"] = [
            {**p, "message": message(p["code"], lang, **{k: v for k, v in p.items() if k != "code"})} for p in problems
        ]
    for key in ("why", "blocked"):  # call-next's refusal: which condition holds, for whom
        if key in err.params:
            body[key] = err.params[key]
    return body
