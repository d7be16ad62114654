"""The interview rooms whose media this process holds: one MediaRoom per room, claimed in Redis
(:mod:`server.rooms.claims`) so that a room's media lives on exactly one process, with its recording
and its participants' names.

The signaling layer gives the callbacks that reach browsers (server offers, room events); nothing
here knows about sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.redis import RedisUnavailable
from ..tasks import bounded
from .claims import PROCESS_ID, RoomClaims
from .ice import TurnMint, rtc_ice_servers
from .media import MediaError, MediaRoom
from .recorder import InterviewRecorder
from .recordings import RecordingIndex
from .sdp import announce_address, check_offer, own_addresses

log = logging.getLogger("server.rooms")
RESUME_WAIT_S = 60  # how long a resuming recorder waits for a recovery of its folder to finish
MAX_EXAMINERS = 3  # examiners in one room's media at once (a panel is one to three)
CLOSE_TIMEOUT_S = 10  # at shutdown, the longest one media room may take to close

Offer = Callable[[str, str, str], Awaitable[None]]  # room, participant, offer sdp
RoomEvent = Callable[[str, str, dict], Awaitable[None]]  # room, event, payload


@dataclass
class Participant:
    id: str
    kind: str  # candidate | examiner | aux
    name: str
    account_id: str  # the candidate an aux camera belongs to, else the participant's own account


class RoomFull(MediaError):
    """The room holds as many participants of this kind as it may (``params``: the limit)."""

    def __init__(self, code: str, limit: int) -> None:
        super().__init__(code, f"at most {limit}")
        self.params = {"max": limit}


@dataclass
class Interview:
    """A room's media in this process, and the interview being recorded in it."""

    room_id: str
    exam_id: str
    media: MediaRoom
    participants: dict[str, Participant] = field(default_factory=dict)
    interview_id: str = ""
    candidate_id: str = ""
    watcher: asyncio.Task | None = None
    joining: dict[str, str] = field(default_factory=dict)  # participant id -> kind, while its join runs


class Interviews:
    def __init__(
        self,
        store: Store,
        recordings: RecordingIndex,
        ice_servers: list[dict],
        claim_ttl_s: int = 30,
        owner: str = PROCESS_ID,
        max_aux: int = 3,
        max_examiners: int = MAX_EXAMINERS,
        turn: TurnMint | None = None,
        on_offer: Offer | None = None,
        on_event: RoomEvent | None = None,
        media_address: str = "",
    ) -> None:
        """``owner``: the token this process claims rooms and records interviews with (tests give
        two ``Interviews`` on one Redis different owners, as two processes would have).
        ``max_aux``, ``max_examiners``: how many auxiliary cameras and examiners a room's media takes
        at once (besides one candidate). ``media_address``: the address browsers send this node's
        media to (``node_media_address``, docs/nodes.md); empty: every address of the machine."""
        self.store = store
        self.keys = store.keys
        self.recordings = recordings
        self.ice_servers = ice_servers
        self.turn = turn or TurnMint()
        self.claim_ttl_s = claim_ttl_s
        self.claims = RoomClaims(store, owner, claim_ttl_s)
        self.max_aux = max_aux
        self.max_examiners = max_examiners
        self.rooms: dict[str, Interview] = {}
        self.on_offer = on_offer  # a server offer for a participant -> the signaling layer sends it
        self.on_event = on_event  # a room event (recording state, participants) -> the signaling layer
        self._claim_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task] = set()
        self.media_address = media_address
        self._own_addresses = own_addresses() if media_address else set()

    def _background(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def announced(self, sdp: str) -> str:
        """The server's SDP with its host candidates as browsers must see them (``media_address``)."""
        return announce_address(sdp, self.media_address, self._own_addresses) if self.media_address else sdp

    def load(self) -> tuple[list[str], int]:
        """The rooms held here and their media connections (the node registry's load)."""
        return list(self.rooms), sum(len(i.media.participants) for i in self.rooms.values())

    def ice_servers_for(self, who: str) -> list[dict]:
        """STUN/TURN servers for one participant (or the server's own peer of a room), with
        time-limited TURN credentials of their own when ``turn_secret`` is set."""
        return self.turn.servers_for(self.ice_servers, who)

    async def room(self, room_id: str, exam_id: str) -> Interview:
        """This process's media for the room; claims the room in Redis (one process holds it)."""
        async with self._claim_lock:
            found = self.rooms.get(room_id)
            if found is not None:
                return found
            holder = await self.claims.acquire(room_id)
            if holder != self.claims.owner:
                raise MediaError("room_on_other_server", holder)

            async def renegotiate(participant_id: str, sdp: str) -> None:
                if self.on_offer:
                    await self.on_offer(room_id, participant_id, self.announced(sdp))

            interview = Interview(
                room_id,
                exam_id,
                MediaRoom(room_id, renegotiate, lambda: rtc_ice_servers(self.ice_servers_for(f"server-{room_id}"))),
            )
            interview.watcher = asyncio.create_task(self._watch(interview))
            self.rooms[room_id] = interview
            log.info("media room opened", extra={"room": room_id, "process_id": self.claims.owner})
            return interview

    async def _watch(self, interview: Interview) -> None:
        """Keep the room claimed, and tell the room what the recorder really does, every 2 s.
        Failures are logged once per run of failures (Redis away for a minute is one line, and
        ``server.app`` logs the outage itself); the loop goes on."""
        room_id = interview.room_id
        lost = failing = False
        while True:
            try:
                holder = await self.claims.refresh(room_id)
                if holder != self.claims.owner and not lost:
                    # e.g. this process stalled past the claim's TTL, or a Redis failover lost the claim, and
                    # another node opened the room: never two media rooms for one interview, this one goes
                    lost = True
                    log.error("room claimed by another process", extra={"room": room_id, "holder": holder})
                    self._background(self.abandon(room_id))
                    return
                if interview.interview_id:
                    await self._emit(interview, "room:recording", self.recording_state(interview))
                failing = False
            except RedisUnavailable as exc:
                if not failing:
                    log.warning(
                        "room claim not refreshed: redis unavailable", extra={"room": room_id, "error": str(exc)}
                    )
                failing = True
            except Exception:
                if not failing:
                    log.exception("room claim refresh or recording state failed", extra={"room": room_id})
                failing = True
            await asyncio.sleep(min(2.0, self.claim_ttl_s / 3))

    def recording_state(self, interview: Interview) -> dict:
        state = interview.media.recording_state()
        if state is None:
            return {"state": "stopped", "interview_id": interview.interview_id or None}
        return {
            "state": state.get("status", "recording"),
            "interview_id": interview.interview_id,
            "tracks": len(state.get("tracks", [])),
            "bytes": state.get("bytes", 0),
            "error": state.get("error"),
        }

    async def _emit(self, interview: Interview, event: str, payload: dict) -> None:
        if self.on_event:
            await self.on_event(interview.room_id, event, payload)

    def participants_json(self, interview: Interview) -> dict:
        return {
            "room_id": interview.room_id,
            "participants": [
                {"id": p.id, "kind": p.kind, "name": p.name, "stream_id": p.id, "account_id": p.account_id}
                for p in interview.participants.values()
            ],
        }

    async def join(self, room_id: str, exam_id: str, participant: Participant, sdp: str) -> str:
        """Connect a participant, or replace their connection (a reconnect: ``rtc:restart`` or a
        second ``rtc:join``). After the process that held the room died, this reopens it here."""
        check_offer(sdp, participant.kind)  # a bad offer claims nothing
        interview = await self.room(room_id, exam_id)
        if participant.id in interview.media.participants:  # a second join is a reconnect
            answer = await interview.media.restart(participant.id, sdp)
        else:
            self._check_cap(interview, participant)  # and reserve the place: no await in between
            interview.joining[participant.id] = participant.kind
            try:
                answer = await interview.media.join(participant.id, participant.kind, sdp)
            finally:
                interview.joining.pop(participant.id, None)
        interview.participants[participant.id] = participant
        await self._emit(interview, "room:participants", self.participants_json(interview))
        return self.announced(answer)

    def _check_cap(self, interview: Interview, participant: Participant) -> None:
        """One candidate, ``max_aux`` auxiliary cameras (of that candidate), ``max_examiners``
        examiners: the room's media takes nobody else. Counts joins still running, so that
        concurrent joins cannot pass it (the room's media lives in this process only)."""
        present = {**interview.media.participants, **interview.joining}
        present.pop(participant.id, None)
        kinds = list(present.values())
        if participant.kind == "candidate" and kinds.count("candidate") >= 1:
            raise RoomFull("room_full_candidate", 1)
        if participant.kind == "aux":
            others = {
                p.account_id
                for pid, p in interview.participants.items()
                if pid in present and p.kind in ("candidate", "aux") and p.account_id != participant.account_id
            }
            if others or kinds.count("aux") >= self.max_aux:
                raise RoomFull("room_full_aux", self.max_aux)
        if participant.kind == "examiner" and kinds.count("examiner") >= self.max_examiners:
            raise RoomFull("room_full_examiners", self.max_examiners)

    async def answer(self, room_id: str, participant_id: str, sdp: str) -> None:
        await self._held(room_id).media.answer(participant_id, sdp)

    def _held(self, room_id: str) -> Interview:
        interview = self.rooms.get(room_id)
        if interview is None:
            raise MediaError("unknown_participant", room_id)
        return interview

    async def start_recording(self, room_id: str, exam_id: str, candidate_id: str, interview_id: str) -> None:
        """Record every track of the room from now, in the candidate's interview folder (idempotent:
        a reconnect of the same admission keeps writing into the same folder)."""
        interview = await self.room(room_id, exam_id)
        if interview.interview_id == interview_id:
            return
        if interview.interview_id:
            await self.stop_recording(room_id)
        async with self.recordings.locked(interview_id, wait_s=RESUME_WAIT_S) as alone:
            if not alone:
                log.warning("recording folder busy, recording anyway", extra={"interview": interview_id})
            folder = await self.recordings.started(exam_id, room_id, candidate_id, interview_id, self.claims.owner)
            folder.mkdir(parents=True, exist_ok=True)
            elsewhere = await self.recordings.elsewhere(interview_id)
            recorder = await asyncio.to_thread(
                InterviewRecorder, folder, interview_id, self.recordings.node_id, elsewhere
            )
            recorder.on_saved = self.recordings.mirror(interview_id)
        await self.recordings.part_saved(interview_id, recorder.manifest())  # the other nodes know this part now
        interview.media.set_recorder(recorder)
        interview.interview_id, interview.candidate_id = interview_id, candidate_id
        await self._emit(interview, "room:recording", self.recording_state(interview))
        log.info("recording started", extra={"room": room_id, "interview": interview_id, "folder": str(folder)})

    async def add_flag(
        self, room_id: str, interview_id: str, exam_id: str, account_id: str, entry: dict, snapshot: bytes | None
    ) -> dict:
        """A flag raised or cleared (``entry``: ``flag_id``, ``kind``, ``state``, ``at``) onto the timeline
        of the interview's recording (``recorder.add_flag``: the entry gets ``at_s``, the time into the
        recording, and its ``snapshot`` file; as given when the interview is not recorded here any more)
        and into the exam's audit stream."""
        interview = self.rooms.get(room_id)
        recorder = interview.media.recorder if interview and interview.interview_id == interview_id else None
        if recorder is not None and not recorder.closed:
            entry = await asyncio.to_thread(recorder.add_flag, entry, snapshot)
        await audit.add(
            self.store.redis,
            self.keys,
            exam_id,
            "monitor_flag_raised" if entry["state"] == "raised" else "monitor_flag_cleared",
            Actor.system(),
            account_id,
            kind=entry["kind"],
            room_id=room_id,
            interview_id=interview_id,
            at_s=entry.get("at_s"),
        )
        return entry

    async def stop_recording(self, room_id: str) -> dict | None:
        interview = self.rooms.get(room_id)
        if interview is None or not interview.interview_id:
            return None
        manifest = await interview.media.stop_recording()
        await self.recordings.stopped(interview.interview_id, manifest)
        log.info(
            "recording stopped",
            extra={"room": room_id, "interview": interview.interview_id, "status": (manifest or {}).get("status")},
        )
        await self._emit(interview, "room:recording", {"state": "stopped", "interview_id": interview.interview_id})
        interview.interview_id = interview.candidate_id = ""
        return manifest

    async def leave(self, room_id: str, participant_id: str) -> None:
        interview = self.rooms.get(room_id)
        if interview is None:
            return
        await interview.media.leave(participant_id)
        interview.participants.pop(participant_id, None)
        await self._emit(interview, "room:participants", self.participants_json(interview))
        if not interview.media.participants and not interview.joining and not interview.interview_id:
            # the last one left and nothing is recorded: the room's next first participant places it anew,
            # on whichever node is least loaded then (docs/nodes.md)
            await self.close_room(room_id)

    async def end_candidate(self, room_id: str, candidate_id: str) -> dict | None:
        """The interview is over (or the candidate leaves it): close the candidate's and their
        auxiliary cameras' connections and the recording."""
        interview = self.rooms.get(room_id)
        if interview is None:
            return None
        for p in list(interview.participants.values()):
            if p.account_id == candidate_id and p.kind in ("candidate", "aux"):
                await self.leave(room_id, p.id)
        if interview.candidate_id == candidate_id:
            return await self.stop_recording(room_id)
        return None

    async def abandon(self, room_id: str) -> None:
        """Another node holds the room now: its media here is closed without touching the claim (not
        ours) or the interview's index (it goes on there, in the same interview); the recording's files
        are closed and this node's part of it is written to the index. The participants are told to
        reconnect (``rtc:reconnect``): their next join reaches the room's node."""
        interview = self.rooms.pop(room_id, None)
        if interview is None:
            return
        if interview.watcher and interview.watcher is not asyncio.current_task():
            interview.watcher.cancel()
        if interview.interview_id:
            try:
                manifest = await interview.media.stop_recording()
                await self.recordings.part_closed(interview.interview_id, manifest)
            except Exception:
                log.exception("closing the recording of a room given up failed", extra={"room": room_id})
        await bounded(interview.media.close(), CLOSE_TIMEOUT_S, "closing a media room given up", room=room_id)
        log.warning("media room given up: another node holds it", extra={"room": room_id})
        await self._emit(interview, "rtc:reconnect", {"room_id": room_id, "reason": "room_moved"})

    async def close_room(self, room_id: str) -> dict | None:
        """Close one room's media here and give up its claim (a recorded take's booth once the take
        is over: the next take of the sitting opens it again, on whichever process it reaches).
        Returns the manifest of the recording it was still making, if any."""
        interview = self.rooms.get(room_id)
        if interview is None:
            return None
        manifest = await self.stop_recording(room_id)
        self.rooms.pop(room_id, None)
        if interview.watcher:
            interview.watcher.cancel()
        await bounded(interview.media.close(), CLOSE_TIMEOUT_S, "closing a media room", room=room_id)
        try:
            await self.claims.release(room_id)
        except RedisUnavailable as exc:  # the claim expires after its TTL
            log.warning("room claim not released: redis unavailable", extra={"room": room_id, "error": str(exc)})
        log.info("media room closed", extra={"room": room_id, "process_id": self.claims.owner})
        return manifest

    async def close(self) -> None:
        """Close every room of this process (shutdown): recordings, media, then the claims (a
        claim left behind by a failure expires after its TTL)."""
        for room_id, interview in list(self.rooms.items()):
            try:
                await self.stop_recording(room_id)
            except Exception:
                log.exception("stopping the recording at shutdown failed", extra={"room": room_id})
            if interview.watcher:
                interview.watcher.cancel()
            # a peer connection that never finishes closing must not hold up the process's shutdown
            # (the recording's files are already closed and playable by then)
            await bounded(interview.media.close(), CLOSE_TIMEOUT_S, "closing the media room at shutdown", room=room_id)
            try:
                await self.claims.release(room_id)
            except RedisUnavailable as exc:
                log.warning("room claim not released: redis unavailable", extra={"room": room_id, "error": str(exc)})
            except Exception:
                log.exception("releasing the room claim failed", extra={"room": room_id})
        self.rooms.clear()
