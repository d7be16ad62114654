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
from ..queue import sweeper
from ..services import Services
from ..tasks import cancelled, stop
from .base import MAX_EVENT_BYTES, UNKNOWN, RoleNamespace
from .candidate import CandidateNamespace
from .fanout import CANDIDATE, Fanout
from .rooms import RoomSignals

log = logging.getLogger("server.signaling")
SIO = web.AppKey("socketio", socketio.AsyncServer)
SESSION_SWEEP_S = 10.0  # every socket's session is re-checked this often (a notice missed, a TTL ran out)
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
        for sid in list(candidates.users):  # leaving cleanly: the others see these candidates go at once
            with contextlib.suppress(Exception):
                await sio.disconnect(sid, namespace=CANDIDATE)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fanout.idle(), 5)
        await rooms.close()

    return run


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
