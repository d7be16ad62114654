"""The socket.io server's process tasks: the queue's clock, the presence heartbeat of the candidate
sockets this process holds, recovering recordings cut off by a crash. ``server/wiring.py`` builds the
server (namespaces, fan-out across processes through socket.io's Redis manager) and registers these."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import socketio
from aiohttp import web

from ..config import Settings
from ..queue import sweeper
from ..services import Services
from ..tasks import cancelled, stop
from .base import MAX_EVENT_BYTES
from .candidate import CandidateNamespace
from .fanout import CANDIDATE, Fanout
from .rooms import RoomSignals

log = logging.getLogger("server.signaling")
SIO = web.AppKey("socketio", socketio.AsyncServer)
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
            asyncio.create_task(_heartbeat(candidates, settings.presence_ttl_s)),
            asyncio.create_task(_recover_recordings(services, settings.room_claim_ttl_s / 3)),
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
