"""The queue-entry face check on the server's own frames: a live challenge (docs/facecheck.md).

The candidate's page publishes its camera to the server (``rooms/face_publish.py``). This module
reads the decoded frames, samples a few per second into the face pool, and runs the check:

1. **Video**: the first frame within ``NO_VIDEO_WAIT_S``, else ``face_no_video``.
2. **Frontal baseline and identity**: frames in a row with one usable face facing the camera
   (|yaw| <= ``FRONT_MAX_YAW``), holding still for ``BASELINE_HOLD_S`` (at least ``BASELINE_FRAMES``),
   within ``BASELINE_WAIT_S`` (else the last frame's quality reason);
   the best of them within the threshold of the ID photo, every one within ``TURN_SLACK`` x it
   (else ``face_mismatch``). Nothing about the moves has been said yet.
3. **Moves**: for each move of the server's random sequence (``moves.draw_sequence``): the head
   faces the camera again (within ``RETURN_WAIT_S``, else ``face_not_frontal``), the server waits
   the move's random gap, then asks (``face:move``) and judges the move on the frames that arrive
   (``moves.judge_move``): done (``face:progress``) or failed with the move's reason.
4. **Identity over the whole check**: every frame with a face within ``TURN_SLACK`` x the threshold.

Throughout, once frames flow: a change of the video's size after the first move was asked is
``face_resolution_changed``; no frame for ``STALL_S`` (a frozen sender) is ``face_video_lost``. A
camera that keeps sending one still picture fails its first move as ``face_move_late``: through VP8 a
still picture and a still face differ by encoder noise alone (measured: consecutive 160x120 grey
frames differ by 0.01-1.8 in both), so it is not told apart as "frozen". Every outcome says whether
it is a strike (``LiveOutcome.strike``): whatever the candidate's picture shows is; no video at all
before anything was asked is not (a network that never connected); once a move has been asked,
losing the video is a strike too, or a replay could drop out of every move it cannot do for free.

Pure asyncio over an async iterator of frames and the pool: no aiortc here, no Redis
(``checks.FaceChecks`` records the outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Observation
from .liveness import MAX_START_YAW
from .moves import AWAY_YAW, MOVE_DEADLINE_S, Move, Seen, judge_move
from .pool import InferencePool

NO_VIDEO_WAIT_S = 10.0
BASELINE_WAIT_S = 8.0
BASELINE_FRAMES = 3
RETURN_WAIT_S = 4.0
RETURN_HOLD_S = 0.4  # the head faces the camera for this long (3 frames or more) before the next wait starts
SETTLE_YAW = 0.04  # ... within this of its frontal yaw at the check's start
# The frontal position at the start: |yaw| at most this (liveness.MAX_START_YAW; the tests' portraits
# measure -0.05 (grace_hopper) and -0.20 (astronaut, a slightly turned pose)), held still for
# BASELINE_HOLD_S: a head still turning back from something else is not the reference the moves are
# judged from.
FRONT_MAX_YAW = MAX_START_YAW
BASELINE_HOLD_S = 1.0
SETTLE_WINDOW_S = 0.6  # a move's baseline: the median yaw of the frames this long before its prompt
SAMPLE_INTERVAL_S = 0.1  # at most ~10 frames a second go to the pool (fewer when it is busy)
STALL_S = 2.0
KEEP_FRAMES = 40  # recent decoded frames kept (RGB) to archive the ones that decided
TURN_SLACK = 1.25  # as checks.TURN_SLACK
TICK_S = 0.1

Tell = Callable[[str, dict], Awaitable[None]]


@dataclass
class LiveOutcome:
    reason: str  # "" passed
    strike: bool  # counted in the face gate (a pass is recorded too)
    distance: float | None = None
    details: dict = field(default_factory=dict)
    frames: list[bytes] = field(default_factory=list)  # JPEGs of the frames that decided, for the archive


class Failed(Exception):
    def __init__(self, reason: str, strike: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.strike = reason, strike


def _prepare(frame: Any, max_side: int) -> np.ndarray:
    """RGB, at most ``max_side`` (in a thread)."""
    from PIL import Image

    rgb = frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    if max(height, width) > max_side:
        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    return rgb


def _jpeg(frame: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(frame).save(out, "JPEG", quality=90)
    return out.getvalue()


class LiveCheck:
    def __init__(
        self,
        pool: InferencePool,
        reference: Any,
        frames: AsyncIterator[tuple[float, Any]],
        sequence: list[Move],
        tell: Tell,
        max_side: int = 1920,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool, self.reference, self.source = pool, reference, frames
        self.sequence, self.tell, self.max_side, self.clock = sequence, tell, max_side, clock
        self.threshold = pool.threshold
        self.seen: list[Seen] = []
        self.distances: list[float | None] = []
        self.kept: OrderedDict[float, np.ndarray] = OrderedDict()
        self.decided: dict[float, np.ndarray] = {}  # the frames to archive, by arrival time
        self.changed = asyncio.Event()
        self.first_frame = asyncio.Event()
        self.last_arrival = 0.0
        self.size: tuple[int, int] | None = None
        self.sizes: list[list[int]] = []  # every change of the video's size
        self.asked = False  # a move has been asked: from now on the picture must not change size or drop out
        self.failure: Failed | None = None
        self.latest: tuple[float, Any] | None = None
        self.latest_ready = asyncio.Event()
        self.moves: list[dict] = []
        self.front = 0.0  # the frontal yaw at the check's start

    # --- frames ----------------------------------------------------------------------------
    def _fail(self, reason: str, strike: bool = True) -> None:
        if self.failure is None:
            self.failure = Failed(reason, strike)
        self.changed.set()

    async def _read(self) -> None:
        last_sampled = -1e9
        async for arrived, frame in self.source:
            size = (frame.width, frame.height)
            if self.size is None:
                self.size = size
            elif size != self.size:
                self.sizes.append(list(size))
                if self.asked:
                    self._fail("face_resolution_changed")
                    return
                self.size = size  # before the challenge: the camera settles on its size
            self.last_arrival = arrived
            self.first_frame.set()
            if arrived - last_sampled >= SAMPLE_INTERVAL_S:
                last_sampled = arrived
                self.latest = (arrived, frame)  # the observer takes the newest; older ones are dropped
                self.latest_ready.set()
        if self.first_frame.is_set():
            self._fail("face_video_lost", strike=self.asked)
        else:
            self._fail("face_no_video", strike=False)  # the publish closed before any frame

    async def _observe(self) -> None:
        while True:
            await self.latest_ready.wait()
            self.latest_ready.clear()
            assert self.latest is not None
            arrived, frame = self.latest
            rgb = await asyncio.to_thread(_prepare, frame, self.max_side)
            observation: Observation = await self.pool.observe_frame(rgb, embed=True, liveness=True)
            distance = (
                self.pool.distance(observation.embedding, self.reference) if observation.embedding is not None else None
            )
            self.kept[arrived] = rgb
            while len(self.kept) > KEEP_FRAMES:
                self.kept.popitem(last=False)

            self.seen.append(Seen(arrived, observation))
            self.distances.append(distance)
            self.changed.set()

    async def _wait(self, timeout: float) -> None:
        """Until a new frame was observed (or ``timeout``); raises the failure the frames showed."""
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self.first_frame.is_set() and self.clock() - self.last_arrival > STALL_S:
            raise Failed("face_video_lost", strike=self.asked)

    def _keep(self, at: float) -> None:
        if at in self.kept and at not in self.decided:
            self.decided[at] = self.kept[at]

    # --- the check ---------------------------------------------------------------------------
    async def run(self) -> LiveOutcome:
        reader = asyncio.create_task(self._read())
        observer = asyncio.create_task(self._observe())
        try:
            reason, strike, distance = "", True, None
            try:
                distance = await self._check()
            except Failed as failed:
                reason, strike = failed.reason, failed.strike
            usable = [d for d in self.distances if d is not None]
            best = min(usable) if usable else None
            if distance is None:
                distance = best
            if not self.decided and self.kept:  # something to show the reviewer
                self._keep(next(reversed(self.kept)))
            frames = await asyncio.to_thread(lambda: [_jpeg(rgb) for rgb in self.decided.values()])
            details = {
                "live": True,
                "moves": self.moves,
                "sequence": [m.direction for m in self.sequence],
                "frames_observed": len(self.seen),
                "distances": [None if d is None else round(d, 4) for d in self.distances],
                "yaws": [None if s.observation.yaw is None else round(s.observation.yaw, 4) for s in self.seen],
                "reasons": [s.observation.reason for s in self.seen],
                "size": list(self.size) if self.size else None,
                "size_changes": self.sizes,
            }
            if self.moves and not reason:
                details["direction"] = ""
            elif self.moves:
                details["direction"] = self.moves[-1]["direction"]
            return LiveOutcome(reason, strike, distance, details, frames)
        finally:
            for task in (reader, observer):
                task.cancel()
            await asyncio.gather(reader, observer, return_exceptions=True)

    async def _check(self) -> float:
        # 1. video at all
        deadline = self.clock() + NO_VIDEO_WAIT_S
        while not self.first_frame.is_set():
            if self.clock() > deadline:
                raise Failed("face_no_video", strike=False)
            await self._wait(TICK_S)
        # 2. a frontal baseline, and the identity on it
        deadline = self.clock() + BASELINE_WAIT_S
        while True:
            run = self._frontal_run()
            if len(run) >= BASELINE_FRAMES and self.seen[run[-1]].at - self.seen[run[0]].at >= BASELINE_HOLD_S:
                break
            if self.clock() > deadline:
                last = self.seen[-1].observation if self.seen else None
                if last is None:
                    raise Failed("face_no_video", strike=False)
                raise Failed(last.reason or "face_not_frontal")
            await self._wait(TICK_S)
        indexes = run
        self.front = float(statistics.median(self.seen[i].yaw or 0.0 for i in indexes))  # each has a yaw
        distances = [self.distances[i] for i in indexes]
        for i in indexes:
            self._keep(self.seen[i].at)
        usable = [d for d in distances if d is not None]
        best = min(usable) if usable else None
        if best is None or best > self.threshold or any(d > self.threshold * TURN_SLACK for d in usable):
            raise Failed("face_mismatch")
        # 3. the moves
        for index, move in enumerate(self.sequence):
            await self._back_to_front()
            await self._sleep(move.gap_s)
            await self._ask(index, move)
        # 4. the same person throughout
        if any(d is not None and d > self.threshold * TURN_SLACK for d in self.distances):
            raise Failed("face_mismatch")
        return best

    def _frontal_run(self) -> list[int]:
        """Indexes of the latest frames in a row with one usable face facing the camera (|yaw| at most
        FRONT_MAX_YAW) and holding still (their yaws within AWAY_YAW of each other): a head still
        turning back from something else is not the frontal position the moves are judged from."""
        run: list[int] = []
        for i in range(len(self.seen) - 1, -1, -1):
            yaw = self.seen[i].yaw
            if yaw is None or abs(yaw) > FRONT_MAX_YAW or self.distances[i] is None:
                break
            yaws = [self.seen[j].yaw or 0.0 for j in run] + [yaw]
            if max(yaws) - min(yaws) >= AWAY_YAW:
                break
            run.insert(0, i)
        return run

    async def _sleep(self, seconds: float) -> None:
        end = self.clock() + seconds
        while self.clock() < end:
            await self._wait(min(TICK_S, max(0.0, end - self.clock())))

    def _settled(self, since: float) -> float | None:
        """The median yaw of the frames since ``since`` when the head holds still facing the camera
        (at least 3 usable frames, spread under AWAY_YAW); else None. Each move is
        judged against the head's own position just before it (a posture that drifts, or a picture
        whose size the browser adapted, moves the measured yaw a little); near the frontal yaw of the
        check's start, within SETTLE_YAW: a turn held still is not "back"."""
        yaws = [s.yaw for s in self.seen if s.at >= since and s.yaw is not None]
        if len(yaws) < 3 or max(yaws) - min(yaws) >= AWAY_YAW:
            return None
        median = float(statistics.median(yaws))
        return median if abs(median - self.front) < SETTLE_YAW else None  # not a turn held still

    async def _back_to_front(self) -> None:
        deadline = self.clock() + RETURN_WAIT_S
        told = False
        while True:
            now = self.clock()
            if self._settled(now - RETURN_HOLD_S) is not None and self.seen[0].at <= now - RETURN_HOLD_S:
                return
            if now > deadline:
                raise Failed("face_not_frontal")
            if not told and self.moves:
                told = True
                await self.tell("face:hold", {"index": len(self.moves)})
            await self._wait(TICK_S)

    async def _ask(self, index: int, move: Move) -> None:
        prompt_at = self.clock()
        before = [s.yaw for s in self.seen if prompt_at - SETTLE_WINDOW_S <= s.at <= prompt_at and s.yaw is not None]
        baseline = float(statistics.median(before)) if before else 0.0
        self.asked = True
        record: dict = {
            "index": index,
            "direction": move.direction,
            "gap_s": move.gap_s,
            "baseline": round(baseline, 4),
        }
        self.moves.append(record)
        await self.tell(
            "face:move",
            {
                "index": index,
                "total": len(self.sequence),
                "move": move.direction,
                "deadline_ms": MOVE_DEADLINE_S * 1000,
            },
        )
        cache: dict = {}
        while True:
            await self._wait(TICK_S)
            seen = list(self.seen)
            verdict = await asyncio.to_thread(
                judge_move, seen, baseline, prompt_at, move.direction, self.clock(), cache=cache
            )
            if verdict.state == "pending":
                continue
            record.update(verdict.evidence)
            record["result"] = verdict.reason or "done"
            after = [s.at for s in seen if s.at > prompt_at]
            if after:
                self._keep(after[-1])
            if verdict.state == "failed":
                raise Failed(verdict.reason)
            await self.tell("face:progress", {"index": index, "total": len(self.sequence), "done": True})
            return
