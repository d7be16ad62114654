"""The face checks (docs/facecheck.md): at queue entry (live), on room entry, and the identity appeal's.

Queue entry (``live_ready``, ``open_live_challenge``, ``record_live``; the check itself is
``live_check.py``): the candidate's page publishes its camera to the server, which decodes the frames,
asks a random sequence of moves at moments it picks and judges identity and every move on its own
frames. No frames the page captured are judged.

The identity appeal (appeal.py) still takes a burst for a one-turn challenge (``issue_challenge``,
``judge_burst``): the frontal frame matching the ID photo, the others the same person, the head
turning the asked way (a flat photo cannot).

Abuse (docs/security.md, "Face check abuse"): every check a candidate asks for is counted
(``count_attempt``, one Redis counter per window, whatever the answer); a burst is refused whole on
its frames' headers before anything is decoded, queued or used up; and a candidate has one check
running at a time (a Redis lock), so their frames hold a small share of the worker pool at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import secrets
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..exams.enrolment import Enrolments
from ..i18n import message
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, is_id, new_id
from .engine import Observation
from .frames import FrameArchive
from .gate import FaceGate, FaceStatus
from .imaging import ImageRejected, check_frame
from .liveness import turned
from .pool import InferencePool
from .references import References

# Frames after the first may be turned, which costs the embedding some accuracy; they must still be
# this close to the reference (a multiple of the threshold), so nobody else can do the turn.
TURN_SLACK = 1.25
RECOMMENDED_FRAMES = 5
# A candidate's check in flight holds their lock (``facerunning:{account}``) until it ends; the expiry only frees
# the lock of a process that died mid-check. A check waits at most for a full pool, a few seconds.
RUNNING_TTL_S = 120


@dataclass
class CheckResult:
    check_id: str
    passed: bool
    reason: str  # "" when passed
    distance: float | None
    threshold: float
    strikes: int
    strikes_limit: int
    locked: bool
    direction: str = ""
    details: dict = field(default_factory=dict)

    def to_json(self, lang: str) -> dict:
        out = {
            "check_id": self.check_id,
            "passed": self.passed,
            "reason": self.reason or None,
            "distance": self.distance,
            "threshold": self.threshold,
            "strikes": self.strikes,
            "strikes_left": max(0, self.strikes_limit - self.strikes),
            "locked": self.locked,
        }
        if self.reason:
            direction = message(f"face_turn_{self.direction}", lang) if self.direction else ""
            out["message"] = message(self.reason, lang)
            out["advice"] = message("advice_" + self.reason, lang, direction=direction)
        if self.locked:
            out["locked_message"] = message("face_check_locked", lang, strikes=self.strikes_limit)
        return out


def _refuse_if_locked(status: FaceStatus, strikes_limit: int) -> None:
    if status.status == "locked":
        raise UserError("face_check_locked", strikes=strikes_limit)
    if status.status == "rejected":
        raise UserError("face_review_rejected")


class FaceChecks:
    def __init__(
        self,
        store: Store,
        pool: InferencePool | None,
        enrolments: Enrolments,
        gate: FaceGate,
        references: References,
        archive: FrameArchive,
        max_frames: int,
        challenge_ttl_s: int,
        pass_valid_s: float,
        max_frame_side: int = 1920,
        attempts_per_window: int = 10,
        attempt_window_s: int = 600,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.pool = pool
        self.enrolments = enrolments
        self.gate = gate
        self.references = references
        self.archive = archive
        self.max_frames = max_frames
        self.challenge_ttl_s = challenge_ttl_s
        self.pass_valid_s = pass_valid_s
        self.max_frame_side = max_frame_side
        self.attempts_per_window = attempts_per_window
        self.attempt_window_s = attempt_window_s

    def require_pool(self) -> InferencePool:
        if self.pool is None:
            raise UserError("facecheck_unavailable")
        return self.pool

    async def status(self, account: Account, exam_id: str) -> dict:
        await self.enrolments.exam_for(account, exam_id)
        state = await self.gate.status(exam_id, account.id)
        valid = state.valid(time.time(), self.pass_valid_s)
        # a pass older than the validity no longer clears the queue: the page must offer the check again
        status = "expired" if state.status == "passed" and not valid else state.status
        return {
            "status": status,
            "cleared": valid,
            "strikes": state.strikes,
            "valid_s": round(self.pass_valid_s),
            "strikes_left": max(0, self.gate.strikes_limit - state.strikes),
            "last_reason": state.last_reason or None,
            "review_id": state.review_id or None,
        }

    async def count_attempt(self, account: Account, kind: str) -> None:
        """Count one ``challenge`` or ``check`` of the candidate, whatever comes of it, before anything
        else is looked at; past ``attempts_per_window`` in the window: 429 with the minutes to wait.

        One Lua script (``rate_limit_hit.lua``: INCR, and the window's expiry on the first), so the
        count holds across processes. The HTTP edge counts a check before reading its body, so a
        refused burst counts too."""
        key = self.keys.rate_limit(f"facecheck-{kind}", account.id)
        count, ttl = await self.store.script("rate_limit_hit")(keys=[key], args=[self.attempt_window_s])
        if int(count) > self.attempts_per_window:
            wait = int(ttl) if int(ttl) > 0 else self.attempt_window_s
            raise UserError("facecheck_rate_limited", minutes=max(1, math.ceil(wait / 60)), seconds=wait)

    def check_frames(self, frames: list[bytes]) -> None:
        """The burst's size and every frame's header (type, width, height: ``imaging.check_frame``),
        in this process and before anything is decoded or queued: one bad frame refuses all."""
        if not frames:
            raise UserError("no_frames", field="frame")
        if len(frames) > self.max_frames:
            raise UserError("too_many_frames", field="frame", max=self.max_frames)
        for data in frames:
            try:
                check_frame(data, self.max_frame_side)
            except ImageRejected as exc:
                raise UserError(exc.code, field="frame") from None

    async def issue_challenge(self, account: Account, scope: str) -> dict:
        """A head-turn challenge for ``account``, bound to ``scope`` (what the identity appeal names its
        own: appeal.py); its burst is judged by ``judge_burst``. The queue-entry check has none: it runs
        live (``live_ready`` ... ``record_live``)."""
        direction = secrets.choice(("left", "right"))
        challenge_id = await self._store_challenge(account, scope, {"direction": direction})
        return {
            "challenge_id": challenge_id,
            "direction": direction,
            "frames": RECOMMENDED_FRAMES,
            "max_frames": self.max_frames,
            "expires_in": self.challenge_ttl_s,
        }

    async def challenge_of(self, challenge_id: str, account: Account) -> dict[str, str]:
        """The candidate's challenge (direction, scope), or ``challenge_expired``."""
        data = await self.store.redis.hgetall(self.keys.face_challenge(challenge_id)) if is_id(challenge_id) else {}
        if not data or data.get("account_id") != account.id:
            raise UserError("challenge_expired", field="challenge_id")
        return data

    async def hold_running(self, account: Account) -> str:
        """Take the candidate's one check in flight (across processes): ``facecheck_in_progress`` when
        one runs; the token to give back with ``release_running``."""
        key, token = self.keys.face_running(account.id), secrets.token_hex(8)
        if not await self.store.redis.set(key, token, nx=True, ex=RUNNING_TTL_S):
            raise UserError("facecheck_in_progress")
        return token

    async def release_running(self, account: Account, token: str) -> None:
        await self.store.script("lock_release")(keys=[self.keys.face_running(account.id)], args=[token])

    @contextlib.asynccontextmanager
    async def running(self, account: Account):
        """The candidate's one check in flight (across processes): a second gets ``facecheck_in_progress``."""
        token = await self.hold_running(account)
        try:
            yield
        finally:
            await self.release_running(account, token)

    # --- the live challenge (live_check.py): the server's own frames --------------------------
    async def live_ready(self, account: Account, exam_id: str):
        """Before a live check opens the candidate's publish: the attempt counted, the pool there, the
        candidate enrolled, not locked, with a usable ID photo. Returns (roster entry, reference)."""
        await self.count_attempt(account, "challenge")
        self.require_pool()
        entry = (await self.enrolments.exam_for(account, exam_id)).entry
        _refuse_if_locked(await self.gate.status(exam_id, account.id), self.gate.strikes_limit)
        if not entry.photo_sha256:
            raise UserError("no_reference_photo")
        return entry, await self.references.embedding(entry.photo_sha256)

    async def open_live_challenge(self, account: Account, exam_id: str, sequence: list) -> str:
        """The server-side record of a live challenge (its moves are never sent ahead): used once."""
        return await self._store_challenge(
            account, exam_id, {"live": "1", "sequence": ",".join(m.direction for m in sequence)}
        )

    async def _store_challenge(self, account: Account, scope: str, fields: dict[str, str]) -> str:
        """A new challenge of ``account`` bound to ``scope`` with ``fields``, for ``challenge_ttl_s``; its id."""
        challenge_id = new_id("chal")
        key = self.keys.face_challenge(challenge_id)
        mapping = {"account_id": account.id, "exam_id": scope, **fields, "created_at": f"{time.time():.3f}"}
        async with self.store.pipeline() as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self.challenge_ttl_s)
            await pipe.execute()
        return challenge_id

    async def record_live(
        self, account: Account, exam_id: str, challenge_id: str, entry, reason: str, distance, details, frames
    ) -> CheckResult:
        """A live check's outcome that counts (a pass or a strike). The challenge is used up here, once:
        a second outcome for it (another process, a replay of the call) is ``challenge_expired``."""
        if not await self.store.redis.delete(self.keys.face_challenge(challenge_id)):
            raise UserError("challenge_expired")
        return await self._record(account, exam_id, entry, frames, "queue", reason, distance, details)

    async def drop_live_challenge(self, challenge_id: str) -> bool:
        """A live check that ended without counting: its challenge is used up all the same."""
        return bool(await self.store.redis.delete(self.keys.face_challenge(challenge_id)))

    def uncounted(self, reason: str, strikes: int, lang: str) -> dict:
        """The answer to a live check that ended without a result that counts (no video at all)."""
        return {
            "passed": False,
            "counted": False,
            "reason": reason,
            "message": message(reason, lang),
            "advice": message("advice_" + reason, lang, direction=""),
            "strikes": strikes,
            "strikes_left": max(0, self.gate.strikes_limit - strikes),
            "locked": False,
        }

    async def judge_burst(
        self, pool: InferencePool, account: Account, reference, direction: str, frames: list[bytes]
    ) -> tuple[str, float | None, dict]:
        """Identity and the head turn on a burst: (reason or "", the frontal frame's distance, details)."""
        observations = await pool.observe_many(frames, owner=account.id, max_side=self.max_frame_side)
        first = observations[0]
        distances = [pool.distance(o.embedding, reference) if o.embedding is not None else None for o in observations]
        distance = distances[0]
        if first.reason:
            reason = first.reason
        elif (
            distance is None
            or distance > pool.threshold
            or any(d is not None and d > pool.threshold * TURN_SLACK for d in distances)
        ):
            reason = "face_mismatch"
        elif not await asyncio.to_thread(turned, observations, direction):
            reason = "face_liveness"
        else:
            reason = ""
        details = {
            "direction": direction,
            "distances": distances,
            "yaws": [o.yaw for o in observations],
            "reasons": [o.reason for o in observations],
        }
        return reason, distance, details

    async def check_room_entry(self, account: Account, exam_id: str, frames: list[np.ndarray]) -> CheckResult:
        """Identity only, on frames decoded from the live track; the best frame decides.

        Called by the interview room. A failure counts as a strike and clears the candidate's
        pass, so they go back to the queue-entry check (docs/facecheck.md)."""
        pool = self.require_pool()
        entry = (await self.enrolments.exam_for(account, exam_id)).entry
        await self.references.embedding(entry.photo_sha256)  # no usable ID photo: refused before any work
        # the sender picks the video's size: frames over the frames' cap are scaled down to it first
        frames = await asyncio.to_thread(lambda: [_fit(f, self.max_frame_side) for f in frames])
        observations, distances = await self.compare(entry.photo_sha256, frames)
        usable = [d for d in distances if d is not None]
        distance = min(usable) if usable else None
        if distance is None:
            reason = next((o.reason for o in observations if o.reason), "face_no_face")
        else:
            reason = "" if distance <= pool.threshold else "face_mismatch"
        jpegs = await asyncio.to_thread(lambda: [_jpeg(f) for f in frames])
        return await self._record(
            account,
            exam_id,
            entry,
            jpegs,
            "room",
            reason,
            distance,
            {"distances": distances, "reasons": [o.reason for o in observations]},
        )

    async def compare(
        self, photo_sha256: str, frames: list[np.ndarray]
    ) -> tuple[list[Observation], list[float | None]]:
        """Decoded frames (RGB, at most ``max_frame_side``) against the ID photo's reference, one frame
        after another in the pool: what each showed and its distance (None without one usable face).
        Records nothing: the room entry's check makes a gate result of it; a recorded take's identity
        check (``recorded/take_identity.py``) only a result on the take."""
        pool = self.require_pool()
        reference = await self.references.embedding(photo_sha256)
        observations = [await pool.observe_frame(f, liveness=False) for f in frames]
        distances = [pool.distance(o.embedding, reference) if o.embedding is not None else None for o in observations]
        return observations, distances

    async def watch_frame(self, photo_sha256: str, frame: np.ndarray) -> tuple[Observation, float | None, float]:
        """One frame sampled while the interview goes on (``facecheck/watch.py``), scaled down to the
        frames' cap, against the ID photo: what it showed, its distance, the threshold. Records nothing."""
        frame = await asyncio.to_thread(_fit, frame, self.max_frame_side)
        observations, distances = await self.compare(photo_sha256, [frame])
        return observations[0], distances[0], self.require_pool().threshold

    async def _record(
        self,
        account: Account,
        exam_id: str,
        entry,
        frames: list[bytes],
        kind: str,
        reason: str,
        distance: float | None,
        details: dict,
    ) -> CheckResult:
        pool = self.require_pool()
        check_id = new_id("check")
        await asyncio.to_thread(self.archive.save, exam_id, account.id, check_id, frames)
        record = {
            "check_id": check_id,
            "at": round(time.time(), 3),
            "kind": kind,
            "passed": not reason,
            "reason": reason or None,
            "distance": distance,
            "threshold": pool.threshold,
            "frames": len(frames),
            **details,
        }
        outcome, strikes = await self.gate.record(
            exam_id,
            Actor(account.id, account.role),
            passed=not reason,
            reason=reason,
            distance=distance,
            check=json.loads(json.dumps(record, default=float)),
            kind=kind,
            name=entry.name,
            id_number=entry.id_number,
            photo_sha256=entry.photo_sha256,
        )
        if outcome == "already_locked":
            _refuse_if_locked(await self.gate.status(exam_id, account.id), self.gate.strikes_limit)
        return CheckResult(
            check_id,
            not reason,
            reason,
            distance,
            pool.threshold,
            strikes,
            self.gate.strikes_limit,
            outcome == "locked",
            details.get("direction", ""),
            details,
        )


def _fit(frame: np.ndarray, max_side: int) -> np.ndarray:
    from PIL import Image

    height, width = frame.shape[:2]
    if max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def _jpeg(frame: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(frame).save(out, "JPEG", quality=90)
    return out.getvalue()
