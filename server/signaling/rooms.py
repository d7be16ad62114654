"""Where the queue meets the media: a called candidate's join starts the recording and the face
check on room entry; ending or removing closes the candidate's media; the room's events
(server offers, participants, recorder state, face result) reach the right sockets."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import socketio

from ..errors import UserError
from ..facecheck.room_checks import CHECKING, FAILED, OVERRIDDEN, UNVERIFIED, VERIFIED, RoomCheck
from ..i18n import message
from ..queue.entries import CALLED, IN_ROOM, QueueChange, QueueEntry
from ..rooms.interviews import Interviews, Participant
from ..rooms.media import MediaError
from ..services import Services
from ..store.audit import Actor
from ..store.models import Account, is_id
from .fanout import AUX, CANDIDATE, EXAMINER, aux_room, candidate_room, examiner_room, reason_message, user_room

if TYPE_CHECKING:
    from .media_router import MediaRouter
    from .monitoring import RoomMonitors
    from .recorded import TakeSignals

log = logging.getLogger("server.signaling")
ROOM_CHECK_VIDEO_WAIT_S = 10.0  # the candidate's video must bring frames within this, or: unverified
ROOM_CHECK_TIMEOUT_S = 30.0  # the comparison itself (a full pool queues it), or: unverified
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
        self.monitors: RoomMonitors | None = None  # the candidate watched for the whole interview (server/wiring.py)

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
        if self.monitors is not None:
            self.monitors.start(account, entry)
        return answer

    async def room_face_check(self, account: Account, entry: QueueEntry) -> None:
        """The face check on entering the room. It fails closed (facecheck/room_checks.py): examiners
        see "verified" only after a pass; no video, a busy pool, a timeout leave it "unverified"
        with the reason, which they can retry or override."""
        checks = self.services.room_checks
        if not checks.enabled():  # the face check is turned off (facecheck_workers = 0)
            await self._tell_face(
                entry.room, {"account_id": account.id, "interview_id": entry.admission, "state": "off"}
            )
            return
        await checks.begin(entry.admission, entry.exam, entry.room, account.id)
        check = await checks.get(entry.admission)
        if check is not None:
            await self.run_room_check(account, check)

    async def run_room_check(self, account: Account, check: RoomCheck) -> None:
        """Frames decoded from the forwarded video, compared with the ID photo; the outcome is kept
        (``room_checks``) and sent as ``room:face``. A failure (another face) sends the candidate back
        to the face check and closes their media."""
        await self._tell_face(check.room_id, check.to_json())  # "checking": the examiners see it running
        interview = self.interviews.rooms.get(check.room_id)
        state, reason, distance = UNVERIFIED, "", None
        try:
            if interview is None:
                raise UserError("face_no_frames")
            try:
                frames = await interview.media.sample_frames(
                    account.id, count=self.face_frames, timeout=ROOM_CHECK_VIDEO_WAIT_S, interval=0.3
                )
            except MediaError:  # no video track at all
                frames = []
            if not frames:
                raise UserError("face_no_frames")
            async with asyncio.timeout(ROOM_CHECK_TIMEOUT_S):
                result = await self.services.face_checks.check_room_entry(account, check.exam_id, frames)
            state = VERIFIED if result.passed else FAILED
            reason, distance = result.reason, result.distance
        except UserError as err:
            reason = err.code
        except TimeoutError:
            reason = "room_check_timeout"
        except Exception:
            log.exception("room face check failed", extra={"room": check.room_id, "account": account.id})
            reason = "internal"
        check = await self.services.room_checks.finish(check, state, reason, distance)
        log.info(
            "room face check",
            extra={"room": check.room_id, "account": account.id, "state": state, "reason": reason or None},
        )
        await self._tell_face(check.room_id, check.to_json())
        if state == FAILED:  # back to the face check: the queue moved them; close the media
            await self.interviews.end_candidate(check.room_id, account.id)

    async def _tell_face(self, room_id: str, payload: dict) -> None:
        """``room:face`` to the room's examiners (every state) and, once decided, to the candidate
        (``passed``: True verified, False failed, None not verified; never who overrode)."""
        payload = self.face_payload(payload)
        await self.sio.emit("room:face", payload, to=examiner_room(room_id), namespace=EXAMINER)
        if payload["state"] in (VERIFIED, FAILED, UNVERIFIED):
            told = {k: payload[k] for k in ("account_id", "state", "passed", "reason", "message", "distance")}
            await self.sio.emit("room:face", told, to=candidate_room(payload["account_id"]), namespace=CANDIDATE)

    @staticmethod
    def face_payload(check: dict) -> dict:
        """A room check (``RoomCheck.to_json``) as ``room:face`` sends it."""
        code = check.get("reason")
        return {
            **check,
            "passed": {VERIFIED: True, FAILED: False, OVERRIDDEN: True}.get(check["state"]),
            "message": {lg: message(code, lg) for lg in ("zh", "en")} if code else None,
        }

    async def room_check_of(self, room_id: str, interview_id: str, in_room: bool = False) -> RoomCheck:
        """The room check of an interview of ``room_id`` (``room_check_not_found`` for another room's,
        a forged id); ``in_room``: only while its candidate is in the room (a retry needs their video)."""
        check = await self.services.room_checks.get(interview_id) if is_id(interview_id) else None
        if check is None or check.room_id != room_id:
            raise UserError("room_check_not_found", field="interview_id")
        if in_room:
            entry = await self.services.queue.entry(room_id, check.account_id)
            if entry is None or entry.state != IN_ROOM or entry.admission != interview_id:
                raise UserError("room_check_not_found", field="interview_id")
        return check

    async def retry_room_check(self, actor: Actor, room_id: str, interview_id: str) -> RoomCheck:
        """An examiner of the room runs the check again (rate-limited, audited), in the background."""
        check = await self.room_check_of(room_id, interview_id, in_room=True)
        account = await self.services.directory.get(check.account_id)
        if account is None:
            raise UserError("room_check_not_found", field="interview_id")
        await self.services.room_checks.retry(actor, check)
        check.state, check.reason, check.retries = CHECKING, "", check.retries + 1
        log.info("room face check retried", extra={"room": room_id, "interview": interview_id, "by": actor.account_id})
        self._spawn(self.run_room_check(account, check))
        return check

    async def override_room_check(self, actor: Actor, room_id: str, interview_id: str, reason: str) -> RoomCheck:
        """Also after the interview ended: its mark sheets wait for it."""
        check = await self.services.room_checks.override(actor, await self.room_check_of(room_id, interview_id), reason)
        log.info(
            "room face check overridden", extra={"room": room_id, "interview": interview_id, "by": actor.account_id}
        )
        await self._tell_face(room_id, check.to_json())
        return check

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
        if self.monitors is not None:
            await self.monitors.close()
        await self.interviews.close()
