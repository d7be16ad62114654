"""The media and signalling of recorded takes (docs/recorded.md): a take is filmed into a "booth", an
interview room's media (``rooms.interviews``) whose room id is the sitting id, with the candidate and
their auxiliary cameras only, recorded with the take id as the interview id. So a take's files are
``recordings/<exam>/<candidate>/<take>/`` with the interview recorder's manifest, sha256, index and
crash recovery, a reconnect is the next segment in the same folder, and a killed process's booth is
reopened on the process the candidate's page reaches next.

The booth's process keeps the take's clock: it stops the take at its ``stop_at`` (the subject's
longest take, or the sitting's deadline) and cuts it when no media came from the candidate's camera
for ``take_reconnect_grace_s``. A booth whose process died is the recovering process's: once the
recording is closed from its files (``RecordingIndex.on_recovered``) it waits the grace period for the
candidate to come back anywhere, and otherwise cuts the take. After a take ends its playback files
are remuxed in a thread (``rooms.remux``) and the candidate's pages are told (``take:playable``).

Longer than the ~400-line guide: one class whose methods all work on the same booths (joining,
their clock, ending, the dead process's takes); the parts with a job of their own are elsewhere
(``rooms.interviews`` the media, ``rooms.remux`` the files, ``recorded.sittings`` the states).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio

from ..errors import UserError
from ..i18n import message
from ..payloads import Field
from ..recorded.take_forms import write_take_part
from ..rooms.interviews import Interviews, Participant
from ..rooms.media import MAX_SDP_BYTES, MediaError
from ..rooms.remux import PLAYABLE, RemuxError, make_playable
from ..services import Services
from ..store.models import Account, Sitting, Take, is_id, public
from ..tasks import cancelled
from .fanout import AUX, CANDIDATE, aux_room, candidate_room
from .rooms import RoomSignals, media_error

if TYPE_CHECKING:
    from .base import User

log = logging.getLogger("server.signaling")

TAKE_ID = Field("str", max_len=40)
SDP = Field("str", max_len=MAX_SDP_BYTES)
TAKE_EVENTS: dict[str, dict[str, Field]] = {
    "take:join": {"take_id": TAKE_ID, "sdp": SDP},
    "take:restart": {"take_id": TAKE_ID, "sdp": SDP},
    "take:answer": {"take_id": TAKE_ID, "sdp": SDP},
    "take:stop": {"take_id": TAKE_ID},
}
WATCH_S = 0.5  # how often a booth checks its take's clock and media
LOST_AFTER_S = 3.0  # no media from the candidate's camera this long: the page is told the connection is lost
RECORDER_STATES = {"recording": "recording", "failed": "failed", "stopped": "saved"}
REASONS = ("stopped", "limit", "steps", "connection", "deadline")


@dataclass
class Booth:
    """A take being filmed into this process's media."""

    sitting_id: str
    take_id: str
    exam_id: str
    account: Account
    started_at: float  # the take's start (epoch)
    stop_at: float  # the take ends by then (epoch; 0: no limit)
    stop_reason: str  # limit | deadline: why it ends at stop_at
    heard_at: float = field(default_factory=time.time)  # the last join; media after it counts from its arrival
    lost: bool = False
    ending: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ended: Take | None = None
    watcher: asyncio.Task | None = None
    last: dict = field(default_factory=dict)  # the last recorder state pushed


def take_json(take: Take) -> dict:
    return public(take)


def stop_reason(take: Take, sitting: Sitting) -> str:
    """Why the take ends at its ``stop_at``: the subject's longest take (its answer's, for a drawn
    question), the end of a guided take's last step, or the sitting's deadline."""
    begun = take.answer_at or take.started_at
    if sitting.deadline and take.stop_at >= sitting.deadline - 0.001 and sitting.deadline < begun + sitting.take_max_s:
        return "deadline"
    return "steps" if take.form == "guided" else "limit"


def recorded_seconds(manifest: dict | None, account_id: str) -> float:
    """How long the candidate's camera was recorded (every segment), from the manifest's times."""
    tracks = [t for t in (manifest or {}).get("tracks", []) if t.get("participant_id") == account_id]
    for kind in ("video", "audio"):
        total = 0.0
        for track in tracks:
            if track.get("kind") != kind or not track.get("packets", 1):
                continue
            if track.get("duration_s"):
                total += float(track["duration_s"])
            elif track.get("started_at") and track.get("ended_at"):
                total += max(0.0, float(track["ended_at"]) - float(track["started_at"]))
        if total:
            return round(total, 3)
    return 0.0


def ended_message(reason: str) -> dict:
    code = f"take_ended_{reason}"
    return {lg: message(code, lg) for lg in ("zh", "en")}


class TakeSignals:
    """The booths of this process, their clocks, and the pushes of take events to the candidate's
    pages (any process: socket.io's Redis manager carries them)."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        services: Services,
        interviews: Interviews,
        grace_s: float,
        watch_s: float = WATCH_S,
    ) -> None:
        self.sio = sio
        self.services = services
        self.interviews = interviews
        self.grace_s = grace_s
        self.lost_after_s = min(LOST_AFTER_S, grace_s / 2)
        self.watch_s = watch_s
        self.booths: dict[str, Booth] = {}  # sitting id -> the take filmed here
        self.orphans: dict[str, asyncio.Task] = {}  # take id -> waiting for the candidate after a crash
        self.tasks: set[asyncio.Task] = set()
        self.closing = False
        # whether a live node other than this one films the sitting's booth (server/signaling/media_router.py)
        self.held_elsewhere: Callable[[str], Awaitable[bool]] = self._claimed

    async def _claimed(self, room_id: str) -> bool:
        return bool(await self.interviews.claims.holder(room_id))

    # --- what the candidate's socket asks ----------------------------------------------
    async def recording_take(self, account: Account, take_id: str) -> Take:
        """The candidate's own take, while it is being recorded (else ``take_not_found`` / ``take_over``)."""
        return await self._recording_take(account, take_id)

    async def _recording_take(self, account: Account, take_id: str) -> Take:
        if not is_id(take_id):
            raise UserError("take_not_found", field="take_id")
        take = await self.services.sittings.take_of(account, take_id)
        if take.state != "recording":
            raise UserError("take_over", field="take_id")
        return take

    async def join(self, account: Account, take_id: str, sdp: str) -> str:
        """The candidate's camera joins the take's booth (a first join, or a reconnect: the next
        segment); recording starts at once. After the process that held the booth died this
        reopens it here, in the same folder."""
        take = await self._recording_take(account, take_id)
        sitting = await self.services.sittings.sitting_of(account, take.sitting_id)
        if take.stop_at and time.time() >= take.stop_at:
            booth = self.booths.get(sitting.id)
            if booth is not None and booth.take_id == take.id:
                await self.end(booth, "complete", booth.stop_reason)
            raise UserError("take_over", field="take_id")
        take = await self.services.sittings.begin_answer(take)  # a drawn question's or guided take's clock
        booth = self.booths.get(sitting.id)
        if booth is not None and (booth.ending or booth.take_id != take.id):
            await booth.done.wait()  # this take ending right now, or the sitting's previous take closing
            if booth.take_id == take.id:
                raise UserError("take_over", field="take_id")
            booth = self.booths.get(sitting.id)
        created = booth is None
        if booth is None:
            begun = take.answer_at or take.started_at  # after a drawn question's preparation
            booth = Booth(sitting.id, take.id, take.exam_id, account, begun, take.stop_at, stop_reason(take, sitting))
            self.booths[sitting.id] = booth
        try:
            participant = Participant(account.id, "candidate", account.name, account.id)
            answer = await self.interviews.join(sitting.id, take.exam_id, participant, sdp)
            await self.interviews.start_recording(sitting.id, take.exam_id, account.id, take.id)
        except MediaError as exc:
            if created and sitting.id not in self.interviews.rooms:
                self.booths.pop(sitting.id, None)  # nothing opened here (e.g. held by another process)
                if exc.code != "room_on_other_server" and await self.services.recordings.get(take.id) is None:
                    # the offer itself was refused (no usable codec ...) and nothing was ever recorded:
                    # the take failed (it does not count), so the candidate can start another at once
                    await self.services.sittings.take_ended(take.id, "failed", 0.0)
            elif booth.watcher is None:  # the booth is open here: its clock runs (no media: cut after the grace)
                booth.heard_at = time.time()
                booth.watcher = asyncio.create_task(self._watch(booth))
            raise media_error(exc) from None
        except BaseException:
            if created:
                await self._drop(booth)
            raise
        booth.heard_at = time.time()
        if booth.ending:  # ended while this join ran (the limit, a stop from another tab)
            raise UserError("take_over", field="take_id")
        if booth.watcher is None:
            booth.watcher = asyncio.create_task(self._watch(booth))
        orphan = self.orphans.pop(take.id, None)
        if orphan is not None:
            orphan.cancel()
        if created:  # the candidate's aux cameras may join now
            await self.sio.emit("aux:state", self.aux_state(booth), to=aux_room(f"of:{account.id}"), namespace=AUX)
        log.info(
            "take joined",
            extra={"take": take.id, "sitting": sitting.id, "account": account.id, "reconnect": not created},
        )
        return answer

    async def answer(self, account: Account, take_id: str, sdp: str) -> None:
        take = await self._recording_take(account, take_id)
        try:
            await self.interviews.answer(take.sitting_id, account.id, sdp)
        except MediaError as exc:
            raise media_error(exc) from None

    async def stop(self, account: Account, take_id: str) -> Take:
        """The candidate stops the take: ``complete``. Its booth may be on this process, or nowhere
        (its process died and the candidate did not come back): it is ended from here then."""
        take = await self._recording_take(account, take_id)
        booth = self.booths.get(take.sitting_id)
        if booth is not None and booth.take_id == take.id:
            return await self.end(booth, "complete", "stopped")
        if await self.held_elsewhere(take.sitting_id):
            raise UserError("room_on_other_server", field="take_id")
        record = await self.services.recordings.get(take.id)
        if record is not None and record["state"] == "recording":
            await self.services.recordings.recover()  # its process died: closed from its files now
            record = await self.services.recordings.get(take.id)
        return await self._finish(account, take, record, "complete", "stopped")

    @staticmethod
    def aux_state(booth: Booth) -> dict:
        """What the candidate's aux cameras are told while a take of theirs is filmed here."""
        return {"state": "take_recording", "room_id": booth.sitting_id, "take_id": booth.take_id}

    def booth_of(self, account_id: str, exam_id: str) -> Booth | None:
        """The candidate's take being filmed here for that exam (where their aux camera goes)."""
        for booth in self.booths.values():
            if booth.account.id == account_id and booth.exam_id == exam_id and not booth.ending:
                return booth
        return None

    async def aux_join(self, booth: Booth, participant: Participant, sdp: str) -> str:
        """An auxiliary camera joins the take's booth: recorded with the take."""
        try:
            answer = await self.interviews.join(booth.sitting_id, booth.exam_id, participant, sdp)
        except MediaError as exc:
            raise media_error(exc) from None
        log.info("aux camera joined a take", extra={"take": booth.take_id, "participant": participant.id})
        return answer

    async def aux_leave(self, account_id: str, exam_id: str, participant_id: str) -> None:
        booth = self.booth_of(account_id, exam_id)
        if booth is not None:
            await self.interviews.leave(booth.sitting_id, participant_id)

    # --- the booth's clock --------------------------------------------------------------
    def _last_media(self, booth: Booth) -> float:
        """When media from the candidate's camera last arrived (or the last join, if later)."""
        last = booth.heard_at
        interview = self.interviews.rooms.get(booth.sitting_id)
        state = interview.media.recording_state() if interview else None
        for track in (state or {}).get("tracks", []):
            if track.get("participant_id") == booth.account.id and track.get("last_write_at"):
                last = max(last, track["last_write_at"])
        return last

    async def _watch(self, booth: Booth) -> None:
        while not booth.ending:
            await asyncio.sleep(self.watch_s)
            if self.closing:  # a stopping process leaves its takes to another one (see close)
                return
            try:
                now = time.time()
                if booth.stop_at and now >= booth.stop_at:
                    await self.end(booth, "complete", booth.stop_reason)
                    return
                silent = now - self._last_media(booth)
                if silent > self.grace_s:
                    await self.end(booth, "cut", "connection")
                    return
                lost = silent > self.lost_after_s
                if lost != booth.lost:  # the page shows it at once, not at the next 2 s beat
                    booth.lost = lost
                    log.info("take connection " + ("lost" if lost else "back"), extra={"take": booth.take_id})
                    interview = self.interviews.rooms.get(booth.sitting_id)
                    if interview is not None:
                        await self.room_event(
                            booth.sitting_id, "room:recording", self.interviews.recording_state(interview)
                        )
            except Exception:
                if cancelled():
                    raise
                log.exception("take watch failed", extra={"take": booth.take_id})

    def _aux_live(self, room_id: str, now: float) -> int:
        """How many aux cameras' pictures are being written into the take right now (the page says so)."""
        interview = self.interviews.rooms.get(room_id)
        state = interview.media.recording_state() if interview else None
        live = {
            track["participant_id"]
            for track in (state or {}).get("tracks", [])
            if str(track.get("participant_id", "")).startswith("aux_")
            and track.get("last_write_at")
            and now - track["last_write_at"] < self.lost_after_s
        }
        return len(live)

    def owns(self, room_id: str) -> bool:
        return room_id in self.booths

    def abandoned(self, room_id: str) -> None:
        """The booth's media was given up here (another node holds the room now): the take goes on
        there, so nothing of it is ended here."""
        booth = self.booths.pop(room_id, None)
        if booth is not None:
            booth.ending = True
            if booth.watcher is not None:
                booth.watcher.cancel()
            booth.done.set()

    async def room_event(self, room_id: str, event: str, payload: dict) -> None:
        """A booth's room event (``Interviews.on_event``): the recorder's real state reaches the
        candidate's pages as ``take:recording``; the rest is nobody's business."""
        booth = self.booths.get(room_id)
        if booth is None or event != "room:recording":
            return
        now = time.time()
        state = RECORDER_STATES.get(payload.get("state") or "", payload.get("state"))
        if payload.get("state") != "stopped":
            booth.last = payload
        body: dict[str, Any] = {
            "take_id": booth.take_id,
            "state": state,
            "tracks": payload.get("tracks", booth.last.get("tracks", 0)),
            "bytes": payload.get("bytes", booth.last.get("bytes", 0)),
            "elapsed_s": round(max(0.0, min(now, booth.stop_at or now) - booth.started_at), 1),
            "remaining_s": round(max(0.0, booth.stop_at - now), 1) if booth.stop_at else None,
            "connection": "lost" if booth.lost else "ok",
            "aux": self._aux_live(booth.sitting_id, now),
            "error": payload.get("error"),
            "at": now,
        }
        await self.sio.emit("take:recording", body, to=candidate_room(booth.account.id), namespace=CANDIDATE)

    # --- ending a take -------------------------------------------------------------------
    async def end(self, booth: Booth, state: str, reason: str) -> Take:
        """End the booth's take (once: a second call waits for the first and gets its result)."""
        if booth.ending:
            await booth.done.wait()
            if booth.ended is None:
                raise UserError("take_over", field="take_id")
            return booth.ended
        booth.ending = True
        try:
            if booth.watcher is not None and booth.watcher is not asyncio.current_task():
                booth.watcher.cancel()
            try:
                manifest = await self.interviews.end_candidate(booth.sitting_id, booth.account.id)
            finally:  # whatever failed, the booth's media goes (its files are closed first when they can be)
                try:
                    await self.interviews.close_room(booth.sitting_id)
                finally:
                    self.booths.pop(booth.sitting_id, None)
            take = await self.services.sittings.take_of(booth.account, booth.take_id)
            record = await self.services.recordings.get(booth.take_id)
            if record is not None and manifest is not None:
                record["manifest"] = manifest
            booth.ended = await self._finish(booth.account, take, record, state, reason)
            return booth.ended
        finally:
            booth.done.set()

    async def _drop(self, booth: Booth) -> None:
        """A booth whose first join failed: nothing of it stays."""
        booth.ending = True
        self.booths.pop(booth.sitting_id, None)
        if booth.sitting_id in self.interviews.rooms:
            await self.interviews.close_room(booth.sitting_id)
        booth.done.set()

    async def _finish(self, account: Account, take: Take, record: dict | None, state: str, reason: str) -> Take:
        """Report the take's end to the domain, tell the pages, and make its playback files."""
        manifest = (record or {}).get("manifest")
        duration = recorded_seconds(manifest, account.id)
        if duration <= 0:
            state = "failed"  # nothing of the candidate's camera was recorded
        if take.state == "recording":
            try:
                take = await self.services.sittings.take_ended(take.id, state, duration)
            except UserError as err:
                log.warning("take end refused", extra={"take": take.id, "code": err.code})
                take = await self.services.sittings.take_of(account, take.id)
        log.info(
            "take ended",
            extra={
                "take": take.id,
                "state": take.state,
                "reason": reason,
                "duration_s": duration,
                "account": account.id,
            },
        )
        body = {
            "take_id": take.id,
            "sitting_id": take.sitting_id,
            "state": take.state,
            "reason": reason,
            "message": ended_message(reason),
            "take": take_json(take),
        }
        await self.sio.emit("take:ended", body, to=candidate_room(account.id), namespace=CANDIDATE)
        await self.sio.emit("take:ended", body, to=aux_room(f"of:{account.id}"), namespace=AUX)
        if record is not None and manifest and take.form != "performance":  # the question or the steps, with the files
            try:
                await asyncio.to_thread(write_take_part, Path(record["folder"]), take)
            except (OSError, ValueError):
                log.exception("the take's question or steps not written to its manifest", extra={"take": take.id})
        if take.state in ("complete", "cut") and record is not None and manifest:
            folder = self.services.recordings.local_folder(record)
            self._spawn(self.make_playable(account, take.id, folder, manifest))
        return take

    async def make_playable(self, account: Account, take_id: str, folder: Path, manifest: dict) -> dict | None:
        """Remux the take's playback files (in a thread), record them in the take, tell the pages."""
        started = time.monotonic()
        try:
            folder = await self.services.recordings.gather(take_id, folder, manifest)
            files = await asyncio.to_thread(make_playable, folder, manifest, account.id)
            await self.services.recordings.files_made(take_id)
        except RemuxError as exc:
            log.warning("take not playable", extra={"take": take_id, "error": str(exc)})
            return None
        except Exception:
            log.exception("making the take playable failed", extra={"take": take_id})
            return None
        await self.services.sittings.take_playable(take_id, files)
        main = files[PLAYABLE]
        took_ms = round((time.monotonic() - started) * 1000, 1)
        log.info(
            "take playable",
            extra={"take": take_id, "duration_s": main["duration_s"], "files": len(files), "took_ms": took_ms},
        )
        body = {
            "take_id": take_id,
            "duration_s": main["duration_s"],
            "sha256": main["sha256"],
            "size": main["size"],
            "aux": [
                {"n": f["n"], "duration_s": f["duration_s"], "offset_s": f["offset_s"]}
                for f in files.values()
                if f["kind"] == "aux"
            ],
        }
        await self.sio.emit("take:playable", body, to=candidate_room(account.id), namespace=CANDIDATE)
        return files

    # --- a booth whose process died -------------------------------------------------------
    async def recording_recovered(self, record: dict) -> None:
        """A take's recording was closed from the files of a dead process (``RecordingIndex``): wait
        ``take_reconnect_grace_s`` for the candidate to come back (any process), else cut the take."""
        take_id = record.get("interview_id") or ""
        if not take_id.startswith("take_") or take_id in self.orphans or self.closing:
            return
        task = asyncio.create_task(self._orphan(take_id))
        self.orphans[take_id] = task
        task.add_done_callback(lambda _: self.orphans.pop(take_id, None) if self.orphans.get(take_id) is task else None)

    async def _orphan(self, take_id: str) -> None:
        try:
            take = await self.services.sittings.find_take(take_id)
            if take is None or take.state != "recording":
                return
            until = time.time() + self.grace_s
            if take.stop_at:
                until = min(until, take.stop_at)
            await asyncio.sleep(max(0.0, until - time.time()))
            take = await self.services.sittings.find_take(take_id)
            if take is None or take.state != "recording" or take.sitting_id in self.booths:
                return
            if await self.held_elsewhere(take.sitting_id):
                return  # the candidate came back: that process films the take on
            record = await self.services.recordings.get(take_id)
            if record is None or record["state"] == "recording":
                return
            account = await self.services.directory.get(take.account_id)
            if account is None:
                return
            if take.stop_at and time.time() >= take.stop_at:
                sitting = await self.services.sittings.sitting_of(account, take.sitting_id)
                await self._finish(account, take, record, "complete", stop_reason(take, sitting))
            else:
                await self._finish(account, take, record, "cut", "connection")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ending a take left by a dead process failed", extra={"take": take_id})

    # --- the sittings' ends, the process's life ------------------------------------------------
    async def sitting_ended(self, sitting: Sitting) -> None:
        """``Sittings.on_ended``: the candidate's pages learn how the sitting ended."""
        submission = (
            {"take_id": sitting.submitted_take, "submitted_at": sitting.submitted_at}
            if sitting.submitted_take
            else None
        )
        body = {"sitting_id": sitting.id, "state": sitting.state, "submission": submission, "sitting": public(sitting)}
        await self.sio.emit("sitting:ended", body, to=candidate_room(sitting.account_id), namespace=CANDIDATE)
        aux = {"sitting_id": sitting.id, "state": sitting.state}  # the aux cameras' page says the sitting is over
        await self.sio.emit("sitting:ended", aux, to=aux_room(f"of:{sitting.account_id}"), namespace=AUX)
        booth = self.booths.get(sitting.id)
        if booth is not None and sitting.state != "in_progress":  # reset, or past the deadline
            self._spawn(
                self.end(booth, "complete", "deadline" if sitting.state in ("auto_submitted", "absent") else "stopped")
            )

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def idle(self) -> None:
        """Until every take's ending and playback file in flight is done (tests, the benchmark)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def stopping(self) -> None:
        """The process is stopping (aiohttp's shutdown signal, before the sockets close): no take is
        ended here from now on, whatever its media does meanwhile."""
        self.closing = True

    async def close(self) -> None:
        """Shutdown: each booth's files are closed, but its take stays open in the index, as after a
        crash: the candidate's page continues it on another process, or the process that closes the
        recording there cuts it after the grace period."""
        self.closing = True
        for task in list(self.orphans.values()):
            task.cancel()
        for booth in list(self.booths.values()):
            booth.ending = True
            if booth.watcher is not None:
                booth.watcher.cancel()
            interview = self.interviews.rooms.get(booth.sitting_id)
            if interview is not None and interview.interview_id:
                try:
                    await interview.media.stop_recording()
                except Exception:
                    log.exception("closing a take's files at shutdown failed", extra={"take": booth.take_id})
                interview.interview_id = interview.candidate_id = ""  # left open in the index
            await self.interviews.close_room(booth.sitting_id)
            booth.done.set()
        self.booths.clear()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=10)


class TakeEvents:
    """The candidate's take events (``CandidateNamespace`` mixes them in; ``TAKE_EVENTS`` their payloads)."""

    rooms: RoomSignals

    async def on_take_join(self, sid: str, user: User, data: dict) -> dict:
        router = self.rooms.router
        assert router is not None, "server/wiring.py gives the room signals their router"
        sitting_id, answer = await router.take_join(user.account, data["take_id"], data["sdp"])  # the booth's node
        await router.joined(sid, CANDIDATE, sitting_id)
        return {"sdp": answer}

    async def on_take_restart(self, sid: str, user: User, data: dict) -> dict:
        return await self.on_take_join(sid, user, data)  # a new connection continues the take: the next segment

    async def on_take_answer(self, sid: str, user: User, data: dict) -> dict:
        router = self.rooms.router
        assert router is not None, "server/wiring.py gives the room signals their router"
        await router.take_answer(user.account, data["take_id"], data["sdp"])
        return {}

    async def on_take_stop(self, sid: str, user: User, data: dict) -> dict:
        router = self.rooms.router
        assert router is not None, "server/wiring.py gives the room signals their router"
        return await router.take_stop(user.account, data["take_id"])
