"""Where the queue meets the media: a called candidate's join starts the recording and the face
check on room entry; ending or removing closes the candidate's media; the room's events
(server offers, participants, recorder state, face result) reach the right sockets."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import socketio

from ..errors import UserError
from ..i18n import message
from ..queue.entries import CALLED, IN_ROOM, QueueChange, QueueEntry
from ..rooms.interviews import Interviews, Participant
from ..rooms.media import MediaError
from ..services import Services
from ..store.models import Account
from .fanout import AUX, CANDIDATE, EXAMINER, aux_room, candidate_room, examiner_room, reason_message, user_room

if TYPE_CHECKING:
    from .media_router import MediaRouter
    from .recorded import TakeSignals

log = logging.getLogger("server.signaling")
ENDING_EVENTS = {"queue_done": "done", "queue_removed": "removed", "face_locked": "removed"}


def media_error(exc: MediaError) -> UserError:
    return UserError(exc.code, field="sdp", **getattr(exc, "params", {}))  # RoomFull: the limit


class RoomSignals:
    def __init__(self, sio: socketio.AsyncServer, services: Services, interviews: Interviews, face_frames: int) -> None:
        self.sio = sio
        self.services = services
        self.interviews = interviews
        self.face_frames = face_frames
        self.tasks: set[asyncio.Task] = set()
        self.booths: TakeSignals | None = None  # recorded takes' rooms (server/wiring.py)
        self.router: MediaRouter | None = None  # media events to the room's node (server/wiring.py)

    async def send_offer(self, room_id: str, participant_id: str, sdp: str) -> None:
        interview = self.interviews.rooms.get(room_id)
        participant = interview.participants.get(participant_id) if interview else None
        if participant is None:
            return
        namespace, room = {
            "candidate": (CANDIDATE, candidate_room(participant.account_id)),
            "examiner": (EXAMINER, user_room(participant.account_id)),
            "aux": (AUX, aux_room(participant.id)),
        }[participant.kind]
        await self.sio.emit("rtc:offer", {"room_id": room_id, "sdp": sdp}, to=room, namespace=namespace)

    async def room_event(self, room_id: str, event: str, payload: dict) -> None:
        if self.booths is not None and self.booths.owns(room_id):  # a recorded take's booth: no examiners
            await self.booths.room_event(room_id, event, payload)
            return
        await self.sio.emit(event, payload, to=examiner_room(room_id), namespace=EXAMINER)
        interview = self.interviews.rooms.get(room_id)
        if interview and interview.candidate_id and event != "room:phrase":
            await self.sio.emit(event, payload, to=candidate_room(interview.candidate_id), namespace=CANDIDATE)

    async def candidate_join(self, account: Account, room_id: str, sdp: str) -> str:
        """The called candidate joins the room's media: in the room from now, recorded, face-checked."""
        entry = await self.services.queue.entry(room_id, account.id)
        if entry is None or entry.state not in (CALLED, IN_ROOM):
            raise UserError("room_not_admitted", field="room_id")
        name = entry.name or account.name
        try:
            participant = Participant(account.id, "candidate", name, account.id)
            answer = await self.interviews.join(room_id, entry.exam, participant, sdp)
            await self.interviews.start_recording(room_id, entry.exam, account.id, entry.admission)
        except MediaError as exc:
            raise media_error(exc) from None
        if entry.state == CALLED:
            await self.services.queue.enter_room(account, room_id)
            self._spawn(self.room_face_check(account, entry))
        return answer

    async def room_face_check(self, account: Account, entry: QueueEntry) -> None:
        """Frames decoded from the forwarded video; examiners see "verified" only after a pass."""
        interview = self.interviews.rooms.get(entry.room)
        payload: dict = {"account_id": account.id, "passed": None, "reason": None, "distance": None}
        try:
            frames = (
                await interview.media.sample_frames(account.id, count=self.face_frames, timeout=10.0, interval=0.3)
                if interview
                else []
            )
            if not frames:
                raise UserError("face_no_frames")
            result = await self.services.face_checks.check_room_entry(account, entry.exam, frames)
            payload.update(passed=result.passed, reason=result.reason or None, distance=result.distance)
        except UserError as err:
            payload["reason"] = err.code
        except Exception:
            log.exception("room face check failed", extra={"room": entry.room, "account": account.id})
            payload["reason"] = "internal"
        code = payload["reason"]
        payload["message"] = {lg: message(code, lg) for lg in ("zh", "en")} if code else None
        log.info(
            "room face check",
            extra={"room": entry.room, "account": account.id, "passed": payload["passed"], "reason": code},
        )
        await self.room_event(entry.room, "room:face", payload)
        if payload["passed"] is False:  # back to the face check: the queue moved them; close the media
            await self.interviews.end_candidate(entry.room, account.id)

    async def queue_changed(self, change: QueueChange) -> None:
        """An interview ended or the candidate was removed: close their media, tell them and their aux."""
        state = ENDING_EVENTS.get(change.event)
        if state is None or change.room not in self.interviews.rooms:
            return
        await self.interviews.end_candidate(change.room, change.account)
        entry = await self.services.queue.entry(change.room, change.account)
        reason = entry.reason if entry else ""
        payload = {
            "room_id": change.room,
            "state": entry.state if entry else state,
            "reason": reason or None,
            "reason_message": reason_message(reason),
        }
        await self.sio.emit("room:ended", payload, to=candidate_room(change.account), namespace=CANDIDATE)
        await self.sio.emit("room:ended", payload, to=aux_room(f"of:{change.account}"), namespace=AUX)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.booths is not None:
            await self.booths.close()
        await self.interviews.close()
