"""The socket.io server on the aiohttp app: one namespace per role, fan-out across processes through
Redis (socket.io's Redis manager, channel under the key prefix), the queue's clock and the presence
heartbeat of the candidate sockets this process holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import socketio
from aiohttp import web

from ..config import Settings
from ..queue import sweeper
from ..services import Services
from ..rooms import passthrough
from ..rooms.ice import parse_ice_servers
from ..rooms.interviews import Interviews
from .aux import AuxNamespace
from .base import MAX_EVENT_BYTES
from .candidate import CandidateNamespace
from .examiner import ExaminerNamespace
from .fanout import AUX, CANDIDATE, EXAMINER, PROCTOR, Fanout
from .rooms import RoomSignals
from .proctor import ProctorNamespace

log = logging.getLogger("server.signaling")
SIO = web.AppKey("socketio", socketio.AsyncServer)


def attach(app: web.Application, services: Services, settings: Settings) -> socketio.AsyncServer:
    passthrough.check_internals()  # aiortc/aioice as pinned, with the private names the media uses, or no start
    manager = (socketio.AsyncRedisManager(settings.redis_url, channel=settings.redis_prefix + "socketio")
               if settings.redis_url else socketio.AsyncManager())
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager,
                               max_http_buffer_size=2 * MAX_EVENT_BYTES, logger=False, engineio_logger=False)
    interviews = Interviews(services.store, services.recordings, parse_ice_servers(settings.ice_servers),
                            settings.room_claim_ttl_s)
    rooms = RoomSignals(sio, services, interviews, settings.room_face_frames)
    candidates = CandidateNamespace(CANDIDATE, services, settings)
    for namespace in (candidates, ExaminerNamespace(EXAMINER, services, settings),
                      ProctorNamespace(PROCTOR, services, settings), AuxNamespace(AUX, services, settings)):
        namespace.rooms = rooms
        sio.register_namespace(namespace)
    sio.attach(app)
    app[SIO] = sio
    fanout = Fanout(sio, services)
    services.queue.listeners.append(fanout.room_changed)
    services.queue.listeners.append(rooms.queue_changed)

    async def lifecycle(app: web.Application):
        tasks = [asyncio.create_task(sweeper.run(services.queue, services.catalog, settings.queue_sweep_s)),
                 asyncio.create_task(_heartbeat(candidates, settings.presence_ttl_s)),
                 asyncio.create_task(_recover_recordings(services, settings.room_claim_ttl_s / 3))]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sid in list(candidates.users):  # leaving cleanly: the others see these candidates go at once
            with contextlib.suppress(Exception):
                await sio.disconnect(sid, namespace=CANDIDATE)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fanout.idle(), 5)
        await rooms.close()

    app.cleanup_ctx.append(lifecycle)
    return sio


async def _recover_recordings(services: Services, every_s: float) -> None:
    """At start and then every ``every_s``: close the recordings of rooms whose process died
    (their claim expires after ``room_claim_ttl_s``), from the files it left."""
    while True:
        try:
            recovered = await services.recordings.recover()
            if recovered:
                log.warning("recordings cut off by a crash were closed from their files",
                            extra={"count": recovered})
        except Exception as exc:
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
            log.warning("presence heartbeat failed", extra={"error": str(exc)})
