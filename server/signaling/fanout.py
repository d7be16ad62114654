"""Pushes every queue change to whoever sees it: each waiting candidate's position and wait, the
room's line to its examiners, the room to the exam's proctors. Computed once by the process that
made the change; socket.io's Redis manager carries it to the sockets on every process."""

from __future__ import annotations

import logging
import time

import socketio

from ..i18n import message
from ..http.facecheck_api import review_json
from ..queue.entries import CALLED, IN_LINE, SYSTEM_REASONS, QueueChange, QueueEntry
from ..queue.views import RoomView, room_view
from ..services import Services

log = logging.getLogger("server.signaling")
CANDIDATE, EXAMINER, PROCTOR = "/candidate", "/examiner", "/proctor"


def candidate_room(account_id: str) -> str:
    return f"cand:{account_id}"


def examiner_room(room_id: str) -> str:
    return f"room:{room_id}"


def proctor_room(exam_id: str) -> str:
    return f"exam:{exam_id}"


def candidate_state(view: RoomView, entry: QueueEntry, lang: str | None = None) -> dict:
    """What the candidate's page shows; ``reason_message`` in both languages unless ``lang`` is given."""
    out = {"room_id": entry.room, "room_name": view.name, "exam_id": entry.exam, "slot_id": entry.slot,
           "state": entry.state, "reason": entry.reason or None, "slot_ends_at": entry.slot_end,
           "face_status": view.face.get(entry.account, "none"), "position": None, "ahead": None, "eta_s": None,
           "at": view.now}
    if entry.reason:  # a system reason has a message; an examiner's reason is their own words
        langs = (lang,) if lang else ("zh", "en")
        out["reason_message"] = {
            lg: message(f"queue_reason_{entry.reason}", lg) if entry.reason in SYSTEM_REASONS else entry.reason
            for lg in langs}
    if entry.state in IN_LINE:
        out.update(view.position(entry.account) or {})
    return out


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, services: Services) -> None:
        self.sio = sio
        self.services = services

    async def room_changed(self, change: QueueChange) -> None:
        started = time.perf_counter()
        view = await room_view(self.services.store, change.room)
        told = {e.account for e in view.line}
        for entry in view.line:
            await self.sio.emit("queue:state", candidate_state(view, entry), to=candidate_room(entry.account),
                                namespace=CANDIDATE)
        affected = [view.current] if view.current else []
        affected += [e for e in view.recent if e.account == change.account]
        for entry in affected:
            if entry.account not in told:
                await self.sio.emit("queue:state", candidate_state(view, entry), to=candidate_room(entry.account),
                                    namespace=CANDIDATE)
        if change.event == "queue_called" and view.current and view.current.state == CALLED:
            await self.sio.emit("queue:called", {"room_id": view.room, "room_name": view.name,
                                                 "exam_id": view.exam},
                                to=candidate_room(view.current.account), namespace=CANDIDATE)
        if change.remind:
            await self.sio.emit("queue:next", {"room_id": view.room, "room_name": view.name},
                                to=candidate_room(change.remind), namespace=CANDIDATE)
        room = view.to_json()
        await self.sio.emit("queue:room", room, to=examiner_room(view.room), namespace=EXAMINER)
        await self.sio.emit("proctor:room", room, to=proctor_room(view.exam), namespace=PROCTOR)
        if change.event in ("face_locked", "review_resolved"):
            await self.reviews_changed(view.exam)
        log.debug("queue change pushed", extra={"room": change.room, "event": change.event,
                                                "candidates": len(told), "ms": round((time.perf_counter() - started) * 1000, 1)})

    async def reviews_changed(self, exam_id: str) -> None:
        await self.sio.emit("proctor:reviews", {"reviews": await open_reviews(self.services, exam_id)},
                            to=proctor_room(exam_id), namespace=PROCTOR)


async def open_reviews(services: Services, exam_id: str) -> list[dict]:
    return [review_json(r) for r in await services.face_gate.open_reviews() if r.exam_id == exam_id]
