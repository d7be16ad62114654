"""Watching the candidate for the whole interview (docs/facecheck.md "Watching the interview").

While a candidate is in a live room, the process holding the room's media decodes one frame of
their forwarded video every ``monitor_interval_s`` (``MediaRoom.sample_frames``, the room check's
own way of taking frames: decoded off the event loop, only when asked), runs it through the face
pool against the roster photo (``FaceChecks.watch_frame``) and lets a ``FaceWatch``
(``facecheck/watch.py``) say which flags that raises or clears. Each change of a flag goes:

- live to the room's examiners (``room:flag``: the flag, its state and time, for the badge on the
  candidate's video) and to the exam's proctors (``proctor:flag``, with the URL of a small JPEG of
  the frame that raised it);
- into the exam's audit stream (``monitor_flag_raised`` / ``monitor_flag_cleared``);
- onto the recording's timeline (``flags`` of its manifest, each with ``at_s``, the time into the
  recording, and its snapshot file beside the tracks: ``recorder.add_flag``).

The candidate is told only what helps them (``room:prompt``: "请保持正脸在画面中", to be spoken),
never which flag was raised or that it cleared. Nothing a page sends raises or clears a face flag:
only the server's own samples do. A busy face pool skips a sample (it is neither a face nor none).
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import socketio

from ..errors import UserError
from ..facecheck.watch import (
    BATTERY_LOW,
    CAMERA_OFF,
    FACE_MISMATCH,
    FACE_MISSING,
    FACE_MULTIPLE,
    MICROPHONE_OFF,
    NONE,
    PAGE_HIDDEN,
    Changes,
    FaceWatch,
    PageWatch,
    seen,
)
from ..i18n import LANGS, label
from ..queue.entries import QueueEntry
from ..rooms.interviews import Interview, Interviews
from ..rooms.media import MediaError
from ..store.models import Account, new_id
from .fanout import CANDIDATE, EXAMINER, PROCTOR, candidate_room, examiner_room, proctor_room

if TYPE_CHECKING:
    from ..config import Settings
    from ..services import Services

log = logging.getLogger("server.monitoring")
SAMPLE_WAIT_S = 2.0  # a sample waits this long at most for a frame of the video (a keyframe is asked for)
SNAPSHOT_SIDE = 320  # a flag's snapshot is at most this wide or high ...
SNAPSHOT_QUALITY = 70  # ... and a JPEG of this quality (a few KB)
# what the candidate is told when a flag is raised (``prompt_<kind>``; the seeds' app says the same, 002_* 三.5/8)
PROMPTS = {
    FACE_MISSING: "face",
    FACE_MULTIPLE: "face",
    FACE_MISMATCH: "face",
    PAGE_HIDDEN: "recording",
    CAMERA_OFF: "recording",
    MICROPHONE_OFF: "recording",
    BATTERY_LOW: "battery",
}


@dataclass
class Watched:
    """One candidate watched in one interview: who, where, the page's flags and every flag raised now."""

    account: Account
    entry: QueueEntry
    page: PageWatch
    raised: dict[str, dict] = field(default_factory=dict)  # flag -> the room:flag that raised it


def snapshot_jpeg(frame: np.ndarray) -> bytes:
    """A small JPEG of a sampled frame (RGB), for the proctors' list of flags."""
    from PIL import Image

    image = Image.fromarray(frame)
    image.thumbnail((SNAPSHOT_SIDE, SNAPSHOT_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=SNAPSHOT_QUALITY)
    return out.getvalue()


def snapshot_url(interview_id: str, name: str) -> str:
    return f"/api/proctor/recordings/{interview_id}/flags/{name}"


def labels(code: str, **params: Any) -> dict[str, str]:
    return {lg: label(code, lg, **params) for lg in LANGS}


class RoomMonitors:
    """The watches of the candidates in this process's rooms, one per interview."""

    def __init__(self, sio: socketio.AsyncServer, services: Services, interviews: Interviews, settings: Settings):
        self.sio = sio
        self.services = services
        self.interviews = interviews
        self.interval_s = settings.monitor_interval_s
        self.no_face_s = settings.monitor_no_face_s
        self.mismatch_samples = settings.monitor_mismatch_samples
        self.min_battery_pct = settings.device_min_battery_pct
        self.watching: dict[str, asyncio.Task] = {}  # interview id -> its watch
        self.watched: dict[str, Watched] = {}  # room id -> the interview watched in it now
        self.max_interval_s = settings.monitor_max_interval_s
        self.samples = 0  # samples judged since the start (for the benchmark and the metrics)
        self.degraded = False  # sampling would have to be slower than max_interval_s (see pace)
        self.degraded_times = 0  # how often monitoring became degraded since the start
        self.busy_at = -1e9  # when a sample was last refused by a full pool (time.monotonic())
        self.tasks: set[asyncio.Task] = set()

    def pace(self) -> float:
        """The time until a room's next sample: ``interval_s`` while the face pool keeps up, longer as
        its queue deepens (``interval_s`` x the images waiting per worker), but never longer than
        ``max_interval_s``, the floor of the sampling rate. Where the load would need fewer samples
        than that (or a sample was refused by a full pool lately), monitoring is *degraded*: the
        proctors of the exams watched here get ``proctor:alarm`` instead of silently fewer samples."""
        pool = self.services.face_checks.pool
        if pool is None:
            return self.interval_s
        wanted = self.interval_s * max(1.0, pool.pending / pool.workers)
        busy = time.monotonic() - self.busy_at < self.max_interval_s
        self._set_degraded(wanted > self.max_interval_s or busy, pool.pending, wanted)
        return min(wanted, self.max_interval_s)

    def _set_degraded(self, degraded: bool, pending: int, wanted: float) -> None:
        if degraded == self.degraded:
            return
        self.degraded = degraded
        self.degraded_times += degraded
        state = "raised" if degraded else "cleared"
        alarm = {
            "kind": "monitoring_degraded",
            "state": state,
            "node": self.interviews.claims.owner,
            "pending": pending,
            "interval_s": round(min(wanted, self.max_interval_s), 2),
            "wanted_interval_s": round(wanted, 2),
            "at": round(time.time(), 3),
            "message": labels(f"alarm_monitoring_degraded_{state}"),
        }
        (log.warning if degraded else log.info)(
            "monitoring degraded" if degraded else "monitoring recovered",
            extra={"pending": pending, "wanted_interval_s": alarm["wanted_interval_s"]},
        )
        for exam_id in {w.entry.exam for w in self.watched.values()}:
            task = asyncio.ensure_future(
                self.sio.emit("proctor:alarm", alarm, to=proctor_room(exam_id), namespace=PROCTOR)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def enabled(self) -> bool:
        return self.services.face_checks.pool is not None

    def start(self, account: Account, entry: QueueEntry) -> None:
        """Watch the candidate of ``entry`` while they are in its room (idempotent: a reconnect keeps
        the watch that runs)."""
        if not entry.admission:
            return
        running = self.watching.get(entry.admission)
        if running is not None and not running.done():
            return
        watched = Watched(account, entry, PageWatch(self.min_battery_pct))
        self.watched[entry.room] = watched
        task = asyncio.create_task(self._watch(watched))
        self.watching[entry.admission] = task
        task.add_done_callback(lambda t: self._done(watched, t))

    def _done(self, watched: Watched, task: asyncio.Task) -> None:
        if self.watching.get(watched.entry.admission) is task:
            del self.watching[watched.entry.admission]
        if self.watched.get(watched.entry.room) is watched:
            del self.watched[watched.entry.room]

    def current(self, room_id: str) -> list[dict]:
        """The flags raised now in the interview watched in a room (an examiner's page opened later
        gets them on connecting)."""
        watched = self.watched.get(room_id)
        return list(watched.raised.values()) if watched else []

    def _in_room(self, entry: QueueEntry, account_id: str) -> Interview | None:
        interview = self.interviews.rooms.get(entry.room)
        if interview and interview.candidate_id == account_id and interview.interview_id == entry.admission:
            return interview
        return None

    async def page_event(self, account_id: str, room_id: str, event: str, level: Any, charging: Any) -> None:
        """What the candidate's page reported (``room:device``, checked and rate-limited by the candidate's
        namespace): only the page flags of the interview they are watched in, in this room
        (``room_not_admitted`` otherwise: another room's candidate reaches nothing here)."""
        watched = self.watched.get(room_id)
        if watched is None or watched.account.id != account_id or self._in_room(watched.entry, account_id) is None:
            raise UserError("room_not_admitted", field="room_id")
        changes = watched.page.judge(event, level, charging)
        if changes:
            await self._publish(watched, changes, None)

    async def _watch(self, watched: Watched) -> None:
        """Every ``interval_s`` while the candidate is in the room: one sample through the face pool (none
        with the face check turned off: the page's flags still count)."""
        account, entry = watched.account, watched.entry
        photo = ""
        if self.enabled():
            try:
                photo = (await self.services.enrolments.exam_for(account, entry.exam)).entry.photo_sha256
            except UserError as err:
                log.warning("face not watched", extra={"room": entry.room, "account": account.id, "reason": err.code})
        watch = FaceWatch(self.no_face_s, self.mismatch_samples, time.monotonic())
        while (interview := self._in_room(entry, account.id)) is not None:
            began = time.monotonic()
            if not photo:
                await asyncio.sleep(self.interval_s)
                continue
            try:
                what, frame = await self._sample(interview, account.id, photo)
            except UserError as err:  # a busy pool, the pool gone: this sample is skipped
                if err.code == "facecheck_busy":
                    self.busy_at = time.monotonic()
                log.info("monitoring sample skipped", extra={"room": entry.room, "reason": err.code})
            except Exception:
                log.exception("monitoring sample failed", extra={"room": entry.room, "account": account.id})
            else:
                self.samples += 1
                changes = watch.judge(what, began)
                if changes and self._in_room(entry, account.id) is not None:
                    await self._publish(watched, changes, frame)
            await asyncio.sleep(max(0.0, self.pace() - (time.monotonic() - began)))

    async def _sample(self, interview: Interview, account_id: str, photo: str) -> tuple[str, np.ndarray | None]:
        try:
            frames = await interview.media.sample_frames(account_id, count=1, timeout=SAMPLE_WAIT_S)
        except MediaError:  # no video track (not yet, or not any more)
            frames = []
        if not frames:
            return NONE, None
        observation, distance, threshold = await self.services.face_checks.watch_frame(photo, frames[0])
        return seen(observation, distance, threshold), frames[0]

    async def _publish(self, watched: Watched, changes: Changes, frame: np.ndarray | None) -> None:
        account, entry = watched.account, watched.entry
        snapshot = await asyncio.to_thread(snapshot_jpeg, frame) if frame is not None and changes.raised else None
        for state, kinds in (("raised", changes.raised), ("cleared", changes.cleared)):
            for kind in kinds:
                try:
                    await self.flag(watched, kind, state, snapshot if state == "raised" else None)
                except Exception:
                    log.exception("flag not delivered", extra={"room": entry.room, "flag": kind, "state": state})
        for prompt_kind in dict.fromkeys(PROMPTS[k] for k in changes.raised):
            prompt = {
                "room_id": entry.room,
                "kind": prompt_kind,
                "message": labels(f"prompt_{prompt_kind}"),
                "speak": True,
            }
            await self.sio.emit("room:prompt", prompt, to=candidate_room(account.id), namespace=CANDIDATE)

    async def flag(self, watched: Watched, kind: str, state: str, snapshot: bytes | None) -> dict:
        """One flag raised or cleared: the recording's timeline and the audit, the examiners, the proctors."""
        account, entry, raised = watched.account, watched.entry, watched.raised
        opened = raised.get(kind)
        flag_id = opened["flag_id"] if opened and state == "cleared" else new_id("flag")
        base = {"flag_id": flag_id, "kind": kind, "state": state, "at": round(time.time(), 3)}
        timeline = await self.interviews.add_flag(entry.room, entry.admission, entry.exam, account.id, base, snapshot)
        payload = {
            **timeline,
            "room_id": entry.room,
            "interview_id": entry.admission,
            "account_id": account.id,
            "name": entry.name or account.name,
            "label": labels(f"flag_{kind}"),
            "message": {lg: label(f"flag_{state}", lg, flag=label(f"flag_{kind}", lg)) for lg in LANGS},
        }
        payload.pop("snapshot", None)
        if state == "raised":
            raised[kind] = payload
        else:
            raised.pop(kind, None)
        await self.sio.emit("room:flag", payload, to=examiner_room(entry.room), namespace=EXAMINER)
        name = timeline.get("snapshot")
        to_proctors = {
            **payload,
            "exam_id": entry.exam,
            "snapshot_url": snapshot_url(entry.admission, name) if name else None,
        }
        await self.sio.emit("proctor:flag", to_proctors, to=proctor_room(entry.exam), namespace=PROCTOR)
        log.info(
            "monitoring flag",
            extra={
                "room": entry.room,
                "account": account.id,
                "flag": kind,
                "state": state,
                "at_s": timeline.get("at_s"),
            },
        )
        return payload

    async def close(self) -> None:
        tasks = list(self.watching.values()) + list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
