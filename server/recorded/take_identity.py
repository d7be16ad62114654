"""Identity on every take (docs/recorded.md "Identity on every take"): a few frames of each submitted
take, decoded on demand from its playback file (``playable.webm``; an upload's may be MP4/H.264), compared with the roster photo; the result is
recorded on the take for the admins and graders to refer to (004_* 第六步). It never blocks anything:
the submission is final before the check starts, and the check touches neither the face gate nor
its strikes nor the queue (``FaceChecks.compare`` records nothing).

When: a formal sitting that ends ``submitted`` or ``auto_submitted`` puts its take in
``takes:identity`` (a zset scored by the next try) and this process checks it at once; a take
whose playback file is not written yet is tried again when it is (``Sittings.on_playable``), and
every process's loop (``run``) takes up what is due (a process that died mid-check, a busy pool).
One result per take: ``take_identity.lua`` gives one caller the claim and keeps the first result.

Cost: one take at a time per process; the frames are decoded in a thread (PyAV, one decoder
thread), seeking to the keyframe before each sample time when there is one ahead of the decoder,
else decoding on, at most ``MAX_DECODED_FRAMES``; then ``take_identity_frames`` images for the pool,
one after another, and only while the pool is less than half full (live checks come first).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np

from ..accounts.directory import Directory
from ..errors import UserError
from ..facecheck.checks import FaceChecks
from ..rooms.recordings import RecordingIndex
from ..rooms.remux import PLAYABLE
from ..roster.book import RosterBook
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Sitting, Take, from_hash, is_id
from ..tasks import every
from .take_files import main_name, take_folder

if TYPE_CHECKING:
    from .sittings import Sittings

log = logging.getLogger("server.recorded")

SUBMITTED = ("submitted", "auto_submitted")
CLAIM_TTL_S = 300  # a claim outlives any one check; a process that died mid-check frees it after this
NEAR_KEYFRAME_S = 0.5  # a sample may move this much later, onto a keyframe (at most a quarter of their spacing)
MAX_DECODED_FRAMES = 20_000  # ~11 min of 30 fps video with a single keyframe (~6 s of one core at 640x480)
LOOP_BATCH = 20  # due takes looked at per pass of the loop
# retried reasons, and how long after the first try the check gives up and records the reason
RETRIED = {
    "take_not_playable": 600,  # the playback file is made right after the take ends (seconds at most)
    "facecheck_busy": 3600,
    "facecheck_unavailable": 3600,  # no pool in this process (yet), or a worker died
    "check_failed": 3600,  # anything unexpected: logged
}


class Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreadable(Exception):
    """The playback file holds no decodable video."""


@dataclass
class Sample:
    frames: list[np.ndarray]  # RGB
    times: list[float]  # seconds into the take
    duration_s: float
    decoded: int  # frames decoded to get them


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2


def sample_frames(path: Path, count: int, max_side: int = 1920, max_decoded: int = MAX_DECODED_FRAMES) -> Sample:
    """``count`` frames spread over the video of ``path`` (at the middles of ``count`` equal parts),
    RGB, at most ``max_side`` on their longer side. Blocking: run it in a thread.

    The packets are read once without decoding (where the keyframes are); then, for each sample
    time, the decoder seeks to the keyframe before it if that is ahead of where it is, else decodes
    on to it. A WebRTC take may have one keyframe only (nothing asked for more): then it is one pass,
    cut at ``max_decoded`` frames (fewer samples). Two sample times on the same frame give one."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise Unreadable("no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        keys: list[int] = []
        first: int | None = None
        last = 0
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            last = max(last, packet.pts + (packet.duration or 0))
            if packet.is_keyframe:
                keys.append(packet.pts)
        if first is None or stream.time_base is None:
            raise Unreadable("no video packets")
        base = float(stream.time_base)
        span = max(0, last - first)
        targets = [first + int(span * (i + 0.5) / count) for i in range(max(1, count))]
        # a keyframe this little after a sample time is taken instead (one frame decoded, not a run)
        near = int(min(NEAR_KEYFRAME_S / base, span / max(1, count) / 4))
        frames: list[np.ndarray] = []
        times: list[float] = []
        decoded = 0
        cursor: int | None = None  # pts of the last frame decoded
        decoder = None
        for target in targets:
            key = max((k for k in keys if k <= target + near), default=first)
            if decoder is None or cursor is None or key > cursor:
                container.seek(key, stream=stream, backward=True, any_frame=False)
                decoder = container.decode(stream)
            chosen = None
            for frame in decoder:
                decoded += 1
                chosen = frame
                if frame.pts is not None:
                    cursor = frame.pts
                if frame.pts is None or frame.pts >= target or decoded >= max_decoded:
                    break
            else:
                decoder = None  # the end of the file
            if chosen is None:
                break
            at = round(((chosen.pts or first) - first) * base, 3)
            if not times or at != times[-1]:
                width, height = _fit(chosen.width, chosen.height, max_side)
                frames.append(chosen.to_ndarray(format="rgb24", width=width, height=height))
                times.append(at)
            if decoded >= max_decoded:
                break
        return Sample(frames, times, round(span * base, 3), decoded)


def summarise(observations: list, distances: list[float | None], threshold: float) -> dict[str, Any]:
    """The take's result from each frame's observation and distance: passed when the median distance
    of the frames with one usable face is within the engine's threshold (most frames show the roster
    person), with the best and median distance and the frames with no face, several faces, a face
    unusable (too small, dark, blurred) and a face over the threshold."""
    usable = [d for d in distances if d is not None]
    no_face = sum(1 for o in observations if o.reason and o.quality.get("faces", 1) == 0)
    several = sum(1 for o in observations if o.reason == "face_multiple")
    unusable = sum(1 for o, d in zip(observations, distances, strict=True) if d is None) - no_face - several
    best = min(usable) if usable else None
    median = statistics.median(usable) if usable else None
    passed = median is not None and median <= threshold
    if passed:
        reason = None
    elif median is not None:
        reason = "face_mismatch"
    else:
        reason = "face_multiple" if several and several >= no_face else "face_no_face"
    return {
        "status": "passed" if passed else "failed",
        "passed": passed,
        "reason": reason,
        "frames": len(observations),
        "compared": len(usable),
        "best": round(best, 4) if best is not None else None,
        "median": round(median, 4) if median is not None else None,
        "threshold": threshold,
        "no_face": no_face,
        "several": several,
        "unusable": unusable,
        "mismatched": sum(1 for d in usable if d > threshold),
        "distances": [round(d, 4) if d is not None else None for d in distances],
        "reasons": [o.reason for o in observations],
    }


def error_result(reason: str) -> dict[str, Any]:
    return {"status": "error", "passed": None, "reason": reason, "frames": 0, "compared": 0, "best": None,
            "median": None, "threshold": None, "no_face": 0, "several": 0, "unusable": 0, "mismatched": 0}  # fmt: skip


def identity_view(fields: dict[str, str | None]) -> dict[str, Any]:
    """What staff see of a submitted take's check, from the take's ``identity`` / ``identity_pending``
    fields: the result, or ``{"status": "pending", ...}`` (with the reason of the last retry, if any)."""
    if fields.get("identity"):
        return json.loads(fields["identity"] or "{}")
    pending = json.loads(fields.get("identity_pending") or "{}")
    return {
        "status": "pending",
        "passed": None,
        "reason": pending.get("reason"),
        "attempts": int(pending.get("attempts") or 0),
        "since": pending.get("since"),
    }


async def read_identity(store: Store, take_id: str) -> dict[str, Any] | None:
    """The identity check of a submitted take as ``identity_view`` shows it (None: no such take)."""
    if not is_id(take_id):
        return None
    values = await store.redis.hmget(store.keys.take(take_id), ["id", "identity", "identity_pending"])
    if not values[0]:
        return None
    return identity_view({"identity": values[1], "identity_pending": values[2]})


class TakeIdentity:
    def __init__(
        self,
        store: Store,
        sittings: Sittings,
        face_checks: FaceChecks,
        directory: Directory,
        roster: RosterBook,
        recordings: RecordingIndex,
        frames: int = 6,
        retry_s: float = 30.0,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.sittings = sittings
        self.face_checks = face_checks
        self.directory = directory
        self.roster = roster
        self.recordings = recordings
        self.frames = max(1, frames)
        self.retry_s = retry_s
        self._slot = asyncio.Semaphore(1)  # one take's check at a time in this process
        self._tasks: set[asyncio.Task] = set()
        self.took_ms: list[float] = []  # the last checks' times, for the logs and the benchmark

    # the triggers
    async def sitting_ended(self, sitting: Sitting) -> None:
        """``Sittings.on_ended``: a formal sitting submitted (by the candidate or at its deadline) has its
        take checked, right away in the background; the answer to the submit does not wait for it."""
        if sitting.mode != "formal" or sitting.state not in SUBMITTED or not sitting.submitted_take:
            return
        await self.redis.zadd(self.keys.take_identity_due(), {sitting.submitted_take: time.time()}, nx=True)
        self.spawn(sitting.submitted_take)

    async def take_playable(self, take: Take) -> None:
        """``Sittings.on_playable``: a submitted take waiting for its playback file is checked now."""
        if await self.redis.zscore(self.keys.take_identity_due(), take.id) is not None:
            self.spawn(take.id)

    def spawn(self, take_id: str) -> None:
        task = asyncio.create_task(self._check_logged(take_id), name=f"take-identity-{take_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check_logged(self, take_id: str) -> None:
        try:
            await self.check(take_id)
        except Exception:
            log.exception("take identity check failed", extra={"take": take_id})

    async def run(self, every_s: float | None = None) -> None:
        """Every process's loop: the due takes (retries, and those whose process died mid-check)."""
        await every(every_s or max(1.0, min(5.0, self.retry_s)), self.check_due, "take identity loop", log)

    async def check_due(self, now: float | None = None) -> int:
        """Check the takes due by ``now``; returns how many results were recorded."""
        now = time.time() if now is None else now
        due = await self.redis.zrangebyscore(self.keys.take_identity_due(), "-inf", now, start=0, num=LOOP_BATCH)
        done = 0
        for take_id in due:
            done += await self.check(take_id) is not None
        return done

    async def close(self) -> None:
        from ..tasks import stop

        await stop(list(self._tasks))

    # the check
    async def check(self, take_id: str) -> dict[str, Any] | None:
        """Check one submitted take and record its result; None when nothing was recorded now (not a
        submission, already checked, being checked elsewhere, or to be tried again later)."""
        due = self.keys.take_identity_due()
        async with self._slot:  # waiting here holds nothing in Redis: the take is read and claimed after
            take = await self.sittings.find_take(take_id)
            sitting = await self._sitting(take.sitting_id) if take else None
            if (
                take is None
                or sitting is None
                or sitting.state not in SUBMITTED
                or sitting.submitted_take != take.id
                or take.state == "discarded"
            ):
                await self.redis.zrem(due, take_id)  # not (or no longer) a submission: nothing to check
                return None
            token = secrets.token_hex(8)
            keys = [self.keys.take(take.id), due, self.keys.audit(take.exam_id)]
            claim = ["claim", f"{time.time():.3f}", token, CLAIM_TTL_S]
            if await self.store.script("take_identity")(keys=keys, args=claim) != "ok":
                return None
            take = await self.sittings.find_take(take_id) or take  # as it is now that it is ours
            started = time.perf_counter()
            try:
                result = await self._examine(take)
            except Retry as retry:
                return await self._retry(take, token, retry.reason)
            except Exception:
                log.exception("take identity check failed", extra={"take": take.id})
                return await self._retry(take, token, "check_failed")
            took_ms = round((time.perf_counter() - started) * 1000, 1)
            return await self._record(take, token, result | {"took_ms": took_ms})

    async def _sitting(self, sitting_id: str) -> Sitting | None:
        data = await self.redis.hgetall(self.keys.sitting(sitting_id)) if is_id(sitting_id) else {}
        return from_hash(Sitting, data) if data else None

    async def _examine(self, take: Take) -> dict[str, Any]:
        """The result of the take's frames against the roster photo, or an ``error`` result for what no
        retry mends (no roster photo, no file, nothing decodable); ``Retry`` for what may mend."""
        pool = self.face_checks.pool
        if pool is None:
            raise Retry("facecheck_unavailable")
        if pool.pending >= max(1, pool.max_pending // 2):
            raise Retry("facecheck_busy")
        account = await self.directory.get(take.account_id)
        entry = await self.roster.entry(take.exam_id, account.id_number) if account and account.id_number else None
        if entry is None or not entry.photo_sha256:
            return error_result("no_reference_photo")
        if not take.playable_at:
            raise Retry("take_not_playable")
        path = await self._playable_path(take)
        if not await asyncio.to_thread(path.is_file):
            return error_result("take_file_missing")
        try:
            sample = await asyncio.to_thread(sample_frames, path, self.frames, self.face_checks.max_frame_side)
        except (Unreadable, av.error.FFmpegError, OSError) as exc:
            log.warning("take not decodable for its identity check", extra={"take": take.id, "error": str(exc)})
            return error_result("take_decode_failed")
        if not sample.frames:
            return error_result("take_decode_failed")
        try:
            observations, distances = await self.face_checks.compare(entry.photo_sha256, sample.frames)
        except UserError as err:
            if err.code in RETRIED:
                raise Retry(err.code) from None
            return error_result(err.code)  # no_reference_photo, reference_unusable
        return summarise(observations, distances, pool.threshold) | {
            "times": sample.times,
            "duration_s": sample.duration_s,
            "decoded": sample.decoded,
            "model": pool.model_name,
        }

    async def _playable_path(self, take: Take) -> Path:
        name = main_name(take.files) or PLAYABLE
        record = await self.recordings.get(take.id)
        if record is None:  # an upload take: its files are in the usual layout on the node that received it
            return await take_folder(self.recordings, take) / name
        try:
            return await self.recordings.local_copy(record, name)  # fetched when another node wrote it
        except UserError:  # that node is offline now (docs/nodes.md): tried again later
            raise Retry("take_not_playable") from None

    async def _retry(self, take: Take, token: str, reason: str) -> dict[str, Any] | None:
        """Try again in ``retry_s``, or past the reason's patience record it as the result."""
        now = time.time()
        raw = await self.redis.hget(self.keys.take(take.id), "identity_pending")
        pending = json.loads(raw or "{}")
        since = float(pending.get("since") or now)
        if now - since >= RETRIED.get(reason, 3600):
            log.warning("take identity check given up", extra={"take": take.id, "reason": reason})
            return await self._record(take, token, error_result(reason))
        attempts = int(pending.get("attempts") or 0) + 1
        body = json.dumps({"reason": reason, "attempts": attempts, "since": round(since, 3)})
        keys = [self.keys.take(take.id), self.keys.take_identity_due(), self.keys.audit(take.exam_id)]
        next_at = now + self.retry_s
        if reason == "take_not_playable" and await self.redis.hget(self.keys.take(take.id), "playable_at"):
            next_at = now  # written meanwhile (its trigger found this check's claim): the next loop pass
        await self.store.script("take_identity")(keys=keys, args=["retry", f"{now:.3f}", token, f"{next_at:.3f}", body])
        return None

    async def _record(self, take: Take, token: str, result: dict[str, Any]) -> dict[str, Any] | None:
        now = time.time()
        result = {**result, "take_id": take.id, "checked_at": round(now, 3)}
        data = {
            "take_id": take.id,
            "sitting_id": take.sitting_id,
            **{k: result.get(k) for k in ("status", "passed", "reason", "frames", "best", "median", "threshold")},
            **{k: result.get(k) for k in ("no_face", "several")},
        }
        keys = [self.keys.take(take.id), self.keys.take_identity_due(), self.keys.audit(take.exam_id)]
        outcome = await self.store.script("take_identity")(
            keys=keys,
            args=[
                "record",
                f"{now:.3f}",
                token,
                json.dumps(result, ensure_ascii=False),
                json.dumps(data, ensure_ascii=False),
                *audit.base_fields(Actor.system(), take.account_id),
            ],
        )
        if outcome != "ok":
            return None
        if "took_ms" in result:
            self.took_ms = [*self.took_ms[-99:], result["took_ms"]]
        log.info(
            "take identity checked",
            extra={k: result.get(k) for k in ("take_id", "status", "best", "median", "frames", "took_ms")},
        )
        return result
