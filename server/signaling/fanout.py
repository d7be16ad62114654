"""Pushes every queue change to whoever sees it: each waiting candidate's position and wait, the
room's line to its examiners, the room to the exam's proctors. Computed once by the process that
made the change; socket.io's Redis manager carries it to the sockets on every process."""

from __future__ import annotations

import asyncio
import logging
import time

import socketio

from ..i18n import message
from ..queue.entries import CALLED, IN_LINE, SYSTEM_REASONS, QueueChange, QueueEntry
from ..queue.views import RoomView, room_view
from ..services import Services

log = logging.getLogger("server.signaling")
CANDIDATE, EXAMINER, PROCTOR, AUX = "/candidate", "/examiner", "/proctor", "/aux"


def candidate_room(account_id: str) -> str:
    return f"cand:{account_id}"


def examiner_room(room_id: str) -> str:
    return f"room:{room_id}"


def proctor_room(exam_id: str) -> str:
    return f"exam:{exam_id}"


def user_room(account_id: str) -> str:
    """Every socket of one staff account (server offers reach the examiner's page)."""
    return f"user:{account_id}"


def aux_room(name: str) -> str:
    """``aux:<participant>`` is one auxiliary camera; ``aux:of:<account>`` every camera of a candidate."""
    return f"aux:{name}"


def line_room(room_id: str) -> str:
    """Every candidate socket booked into the room listens here for the line's order."""
    return f"line:{room_id}"


def line_json(view: RoomView) -> dict:
    """The waiting line without names or accounts: arrival numbers (``n``), state and estimated wait.
    A candidate's position is the index of their own ``n`` (from their ``queue:state``) plus one."""
    return {
        "room_id": view.room,
        "at": view.now,
        "line": [
            {"n": e.seq, "state": e.state, "eta_s": round(view.remaining_current_s() + i * view.average_s)}
            for i, e in enumerate(view.line)
        ],
    }


def reason_message(reason: str, lang: str | None = None) -> dict | None:
    """A system reason has a message; an examiner's reason is their own words. Both languages
    unless ``lang`` is given."""
    if not reason:
        return None
    return {
        lg: message(f"queue_reason_{reason}", lg) if reason in SYSTEM_REASONS else reason
        for lg in ((lang,) if lang else ("zh", "en"))
    }


def candidate_state(view: RoomView, entry: QueueEntry, lang: str | None = None) -> dict:
    """What the candidate's page shows; ``reason_message`` in both languages unless ``lang`` is given."""
    out = {
        "room_id": entry.room,
        "room_name": view.name,
        "exam_id": entry.exam,
        "slot_id": entry.slot,
        "n": entry.seq,
        "state": entry.state,
        "reason": entry.reason or None,
        "slot_starts_at": entry.slot_start,
        "slot_ends_at": entry.slot_end,
        "face_status": view.face_status(entry),
        "position": None,
        "ahead": None,
        "eta_s": None,
        "at": view.now,
    }
    if entry.reason:
        out["reason_message"] = reason_message(entry.reason, lang)
    if entry.state in IN_LINE:
        out.update(view.position(entry.account) or {})
    return out


class Fanout:
    """One pusher per room: a change never waits for its push (the examiner's click is answered at
    once), and changes that arrive while a push runs are pushed together, once, right after it."""

    def __init__(self, sio: socketio.AsyncServer, services: Services) -> None:
        self.sio = sio
        self.services = services
        self.pending: dict[str, list[QueueChange]] = {}
        self.pushers: dict[str, asyncio.Task] = {}

    async def room_changed(self, change: QueueChange) -> None:
        self.pending.setdefault(change.room, []).append(change)
        if change.room not in self.pushers:
            self.pushers[change.room] = asyncio.create_task(self._drain(change.room))

    async def _drain(self, room_id: str) -> None:
        try:
            while changes := self.pending.pop(room_id, None):
                try:
                    await self._push(room_id, changes)
                except Exception:
                    log.exception("queue push failed", extra={"room": room_id})
        finally:
            self.pushers.pop(room_id, None)

    async def idle(self) -> None:
        """Wait until every change so far has been pushed (tests, shutdown)."""
        while self.pushers:
            await asyncio.gather(*list(self.pushers.values()), return_exceptions=True)

    async def _push(self, room_id: str, changes: list[QueueChange]) -> None:
        """One ``queue:line`` to every candidate booked in the room (each finds their own arrival
        number in it), a ``queue:state`` to the candidates the changes were about, the room to its
        examiners and proctors. One message per room, not one per waiting candidate."""
        started = time.perf_counter()
        view = await room_view(self.services.store, room_id)
        stamp = {"events": sorted({c.event for c in changes}), "at": round(min(c.at for c in changes), 4)}
        mentioned = {c.account for c in changes if c.account}
        sends = [
            ("queue:state", candidate_state(view, e) | {"change": stamp}, e.account)
            for e in view.line + ([view.current] if view.current else []) + view.recent
            if e.account in mentioned
        ]
        if view.current and view.current.state == CALLED and any(c.event == "queue_called" for c in changes):
            sends.append(
                (
                    "queue:called",
                    {"room_id": view.room, "room_name": view.name, "exam_id": view.exam},
                    view.current.account,
                )
            )
        sends += [("queue:next", {"room_id": view.room, "room_name": view.name}, c.remind) for c in changes if c.remind]
        # one after the other: socket.io's Redis manager publishes each on one connection, and on a
        # failed publish it reconnects (dropping its subscription), so bursts must not exhaust its pool
        await self.sio.emit(
            "queue:line", line_json(view) | {"change": stamp}, to=line_room(view.room), namespace=CANDIDATE
        )
        for event, data, account in sends:
            await self.sio.emit(event, data, to=candidate_room(account), namespace=CANDIDATE)
            if event == "queue:state":
                await self.sio.emit(
                    "aux:state",
                    {"state": data["state"], "room_id": data["room_id"]},
                    to=aux_room(f"of:{account}"),
                    namespace=AUX,
                )
        room = view.to_json()
        await self.sio.emit("queue:room", room, to=examiner_room(view.room), namespace=EXAMINER)
        await self.sio.emit("proctor:room", room, to=proctor_room(view.exam), namespace=PROCTOR)
        if any(c.event in ("face_locked", "review_resolved") for c in changes):
            await self.reviews_changed(view.exam)
        log.debug(
            "queue change pushed",
            extra={
                "room": room_id,
                "changes": len(changes),
                "sends": len(sends),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    async def reviews_changed(self, exam_id: str) -> None:
        await self.sio.emit(
            "proctor:reviews",
            {"reviews": await open_reviews(self.services, exam_id)},
            to=proctor_room(exam_id),
            namespace=PROCTOR,
        )


async def open_reviews(services: Services, exam_id: str) -> list[dict]:
    return [r.to_json() for r in await services.face_gate.open_reviews() if r.exam_id == exam_id]
