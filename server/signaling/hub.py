"""The socket.io server's process tasks: the queue's clock, the presence heartbeat of the candidate
sockets this process holds, recovering recordings cut off by a crash, cutting the sockets of ended
sessions (the "ended" notices of every process, and a re-check of every socket held every
``SESSION_SWEEP_S``). ``server/wiring.py`` builds the server (namespaces, fan-out across processes
through socket.io's Redis manager) and registers these."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import socketio
from aiohttp import web

from ..accounts.sessions import Ended
from ..config import Settings
from ..i18n import message
from ..queue import sweeper
from ..services import Services
from ..tasks import bounded, cancelled, stop
from .base import MAX_EVENT_BYTES, UNKNOWN, RoleNamespace
from .candidate import CandidateNamespace
from .fanout import CANDIDATE, Fanout
from .rooms import RoomSignals

log = logging.getLogger("server.signaling")
SIO = web.AppKey("socketio", socketio.AsyncServer)
SESSION_SWEEP_S = 10.0  # every socket's session is re-checked this often (a notice missed, a TTL ran out)
RESTART_CLOSE_S = 5.0  # at shutdown, telling and closing every socket of the process takes at most this
RESTART_RETRY_MS = (1000, 4000)  # the pages reconnect after a random delay in this range (spread the load)
__all__ = ["SIO", "MAX_EVENT_BYTES", "lifecycle"]


def lifecycle(
    sio: socketio.AsyncServer,
    services: Services,
    settings: Settings,
    candidates: CandidateNamespace,
    fanout: Fanout,
    rooms: RoomSignals,
):
    """The process's socket tasks (the queue's clock, the presence heartbeat, recovering recordings)
    and a clean leave, as an aiohttp cleanup context (``wiring.build_process`` registers it)."""

    async def run(app: web.Application):
        tasks = [
            asyncio.create_task(sweeper.run(services.queue, services.catalog, settings.queue_sweep_s)),
            asyncio.create_task(services.queue.keep_alive()),  # the process's liveness key (queue/liveness.py)
            asyncio.create_task(_heartbeat(candidates, settings.presence_ttl_s)),
            asyncio.create_task(_recover_recordings(services, settings.room_claim_ttl_s / 3)),
            asyncio.create_task(services.sessions.watch_ended(lambda notice: sessions_ended(sio, notice))),
            asyncio.create_task(_sweep_sessions(sio, SESSION_SWEEP_S)),
        ]
        yield
        await stop(tasks)
        # leaving cleanly: the others see these candidates go at once (``restarting`` closed them already,
        # unless the app is stopped without aiohttp's shutdown signal, as some tests do)
        await bounded(
            asyncio.gather(
                *(sio.disconnect(sid, namespace=CANDIDATE) for sid in list(candidates.users)), return_exceptions=True
            ),
            RESTART_CLOSE_S,
            "closing candidate sockets",
        )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fanout.idle(), 5)
        await rooms.close()

    return run


async def restarting(sio: socketio.AsyncServer, within_s: float = RESTART_CLOSE_S) -> int:
    """The process is stopping (SIGTERM) and accepts no new connection: tell every socket it holds to
    reconnect (``server:restarting``; the pages do, to another process or to this one restarted), then
    close them all at once: each namespace's disconnect work (presence, rooms) runs in parallel, and
    the transports are closed so that aiohttp need not wait for their handlers. Bounded by ``within_s``."""
    started = time.monotonic()
    held = [(ns, sid, user) for ns in role_namespaces(sio) for sid, user in list(ns.users.items())]

    async def close(ns: RoleNamespace, sid: str, lang: str) -> None:
        body = {
            "code": "server_restarting",
            "message": message("server_restarting", lang),
            "retry_ms": list(RESTART_RETRY_MS),
        }
        with contextlib.suppress(Exception):  # the socket may be gone already
            await ns.emit("server:restarting", body, to=sid, ignore_queue=True)  # this process's socket only
        try:
            await sio.disconnect(sid, namespace=ns.namespace, ignore_queue=True)
        except Exception:
            log.exception("closing a socket at shutdown failed", extra={"namespace": ns.namespace, "sid": sid})

    deadline = started + within_s
    await bounded(
        asyncio.gather(*(close(ns, sid, user.lang) for ns, sid, user in held)),
        within_s,
        "telling sockets to reconnect",
        count=len(held),
    )
    # the engine.io connections (those of any namespace, and any not yet in one): their handlers return
    if sio.eio.sockets:
        await bounded(sio.eio.disconnect(), max(0.5, deadline - time.monotonic()), "closing socket transports")
    log.info(
        "sockets told to reconnect and closed",
        extra={"count": len(held), "took_s": round(time.monotonic() - started, 3)},
    )
    return len(held)


def role_namespaces(sio: socketio.AsyncServer) -> list[RoleNamespace]:
    return [ns for ns in sio.namespace_handlers.values() if isinstance(ns, RoleNamespace)]


async def sessions_ended(sio: socketio.AsyncServer, notice: Ended | None) -> None:
    """An "ended" notice (from any process): cut this process's sockets of those sessions. ``None``:
    the subscription was made again and notices may have been missed, so check every socket now."""
    if notice is None:
        await sweep_sessions(sio)
        return
    cut = 0
    for namespace in role_namespaces(sio):
        try:
            cut += await namespace.ended(notice)
        except Exception:  # one namespace's failure must not keep the others' sockets open
            log.exception("cutting the sockets of ended sessions failed", extra={"namespace": namespace.namespace})
    if cut:
        log.info("sockets of ended sessions cut", extra={"count": cut, "reason": notice.reason})


async def sweep_sessions(sio: socketio.AsyncServer) -> int:
    """Cut every socket of this process whose session is over (one round trip for all of them)."""
    held = [(ns, sid, user) for ns in role_namespaces(sio) for sid, user in list(ns.users.items())]
    if not held:
        return 0
    ended = await held[0][0].services.sessions.ended_among(
        [(user.session, user.account.id, user.account.role) for _, _, user in held]
    )
    gone = [(ns, sid) for (ns, sid, _), over in zip(held, ended, strict=True) if over]
    await asyncio.gather(*(ns.cut(sid, UNKNOWN) for ns, sid in gone))
    return len(gone)


async def redis_back(sio: socketio.AsyncServer) -> None:
    """Redis is back and this process's socket.io subscription is made again (``redis_manager``):
    each namespace finishes the clean-up of sockets closed in the outage and sends every local socket
    its snapshot again (queue line and state, room view, proctor view), since the pushes published
    while this process was not subscribed are lost."""
    started = time.monotonic()
    for namespace in role_namespaces(sio):
        try:
            await namespace.redis_back()
        except Exception:  # one namespace's failure must not keep the others' sockets stale
            log.exception("refreshing sockets after redis outage failed", extra={"namespace": namespace.namespace})
    log.info(
        "sockets refreshed after redis outage",
        extra={
            "count": sum(len(ns.users) for ns in role_namespaces(sio)),
            "took_s": round(time.monotonic() - started, 3),
        },
    )


async def _sweep_sessions(sio: socketio.AsyncServer, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            for namespace in role_namespaces(sio):
                await namespace.retry_pending()  # clean-up left by an outage, if the refresh missed it
            await sweep_sessions(sio)
        except Exception as exc:
            if cancelled():
                raise
            log.warning("session sweep failed", extra={"error": str(exc)})


async def _recover_recordings(services: Services, every_s: float) -> None:
    """At start and then every ``every_s``: close the recordings of rooms whose process died
    (their claim expires after ``room_claim_ttl_s``), from the files it left."""
    while True:
        try:
            recovered = await services.recordings.recover()
            if recovered:
                log.warning("recordings cut off by a crash were closed from their files", extra={"count": recovered})
        except Exception as exc:
            if cancelled():
                raise
            log.warning("recovering recordings failed", extra={"error": str(exc)})
        await asyncio.sleep(every_s)


async def _heartbeat(candidates: CandidateNamespace, ttl_s: float) -> None:
    """Refresh the presence of this process's candidate sockets; a crashed process's expire."""
    while True:
        await asyncio.sleep(ttl_s / 3)
        by_account: dict[str, list[str]] = {}
        for sid, user in list(candidates.users.items()):
            by_account.setdefault(user.account.id, []).append(sid)
        try:
            await candidates.services.queue.touch(by_account, ttl_s)
        except Exception as exc:
            if cancelled():
                raise
            log.warning("presence heartbeat failed", extra={"error": str(exc)})
