"""Face inference off the event loop: a pool of worker processes, each holding one loaded FaceEngine.

The number of checks waiting or running is bounded; past it, callers get "busy, retry in N s"
with N estimated from the recent time per image, so a burst of candidates never blocks
signaling and never builds an unbounded backlog.

One candidate holds a small share at most (docs/security.md, "Face check abuse"): a burst's
frames are checked on their headers here, in the server's process, before any of them is queued
(one bad frame refuses the whole burst, and nothing reaches a worker); an owner has at most one
burst waiting or running in the pool (the check across processes is a Redis lock in checks.py);
and when one frame of a burst turns out bad while decoding, its frames still waiting are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from ..errors import UserError
from .engine import FaceEngine, Observation
from .imaging import ImageRejected, check_frame, decode_image
from .models import DEFAULT_THRESHOLDS, check_models
from .shared_frames import FrameSlots, read

log = logging.getLogger(__name__)

_ENGINE: FaceEngine | None = None  # one per worker process
LATENCY_BOUNDS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LatencyStats:
    """How long the pool's work took, by kind, in buckets (read by the metrics; no metrics library
    here). ``counts[kind][i]``: durations <= ``bounds[i]``, not cumulative; the last one is above all."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BOUNDS_S) -> None:
        self.bounds = tuple(bounds)
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, kind: str, seconds: float) -> None:
        counts = self.counts.setdefault(kind, [0] * (len(self.bounds) + 1))
        counts[next((i for i, b in enumerate(self.bounds) if seconds <= b), len(self.bounds))] += 1
        self.sums[kind] = self.sums.get(kind, 0.0) + seconds


def _init_worker(models_dir: str, model_name: str, threshold: float) -> None:
    global _ENGINE
    # One thread per worker for BLAS (dlib's, loaded after this) and OpenCV: the pool is the
    # parallelism; with 2 workers on 2 cores, more threads only spin and fight over the cores.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = "1"
    import cv2

    cv2.setNumThreads(1)
    _ENGINE = FaceEngine.load(Path(models_dir), model_name, threshold)


def _observe_bytes(data: bytes, max_pixels: int, embed: bool, reference: bool, max_side: int = 0) -> tuple[str, object]:
    try:
        image = decode_image(data, max_pixels, max_side)
    except ImageRejected as exc:
        return "rejected", exc.code
    assert _ENGINE is not None
    return "ok", _ENGINE.observe(image, embed=embed, reference=reference)


def _observe_shared(slot: str, shape: tuple[int, ...], embed: bool, liveness: bool) -> tuple[str, object]:
    """A decoded frame, read in place from its shared-memory slot (shared_frames.py)."""
    assert _ENGINE is not None
    return "ok", _ENGINE.observe(read(slot, shape), embed=embed, liveness=liveness)


def _ready() -> bool:
    return _ENGINE is not None


class InferencePool:
    def __init__(
        self,
        models_dir: Path,
        model_name: str = "Dlib",
        threshold: float = 0.0,
        workers: int = 2,
        max_pending: int = 32,
        max_pixels: int = 20_000_000,
    ) -> None:
        check_models(models_dir, model_name)  # refuse early, with the command to run, if files are missing
        self.model_name = model_name
        self.threshold = threshold or DEFAULT_THRESHOLDS[model_name]
        self.workers = max(1, workers)
        self.max_pending = max(1, max_pending)
        self.max_pixels = max_pixels
        self.pending = 0
        self.pending_by_owner: dict[str, int] = {}  # images of a burst waiting or running, by candidate
        self.submitted = 0  # images handed to the workers since the start
        # for the metrics: queue = one queue-entry burst, room = one frame of a room check, reference = an ID photo
        self.latency = LatencyStats()
        self.busy_refusals = 0  # checks answered "busy, retry in N s"
        self.restarts = 0  # the pool restarted after a worker died
        self.seconds_per_image = 0.15  # running estimate, for the "retry in N s" answer
        self._args = (str(models_dir), model_name, threshold)
        self._slots = FrameSlots(self.max_pending + self.workers)  # decoded frames on their way to a worker
        self._closed = False
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=self._args
        )

    async def warm_up(self) -> None:
        """Load the models in every worker now rather than on the first candidate's check."""
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.workers)))
        log.info(
            "face check workers ready",
            extra={"workers": self.workers, "model": self.model_name, "s": round(time.perf_counter() - start, 1)},
        )

    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.pending * self.seconds_per_image / self.workers))

    async def _run(self, images: int, fn, *args, frame: np.ndarray | None = None):
        """``fn(*args)`` in a worker; with ``frame``, ``fn(slot, shape, *args)`` with the frame in a
        shared-memory slot, given back once the worker is done with it."""
        if self.pending + images > self.max_pending:
            self.busy_refusals += 1
            raise UserError("facecheck_busy", seconds=self.retry_after_s())
        self.pending += images
        self.submitted += images
        start = time.perf_counter()
        try:
            if frame is None:
                return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
            loop = asyncio.get_running_loop()
            slot, (name, shape) = self._slots.put(frame)
            try:
                job = self._executor.submit(fn, name, shape, *args)
            except BaseException:
                self._slots.release(slot)
                raise
            job.add_done_callback(lambda _: self._give_back(loop, slot))
            return await asyncio.wrap_future(job)
        except BrokenProcessPool:
            log.error("face check worker died; restarting the pool")
            self.restarts += 1
            self._executor = self._start()
            raise UserError("facecheck_unavailable") from None
        finally:
            self.pending -= images
            took = time.perf_counter() - start
            self.seconds_per_image = 0.8 * self.seconds_per_image + 0.2 * took

    def _give_back(self, loop: asyncio.AbstractEventLoop, slot) -> None:
        """A worker is done with ``slot`` (called from the executor's thread)."""

        def back() -> None:
            (self._slots.discard if self._closed else self._slots.release)(slot)

        try:
            loop.call_soon_threadsafe(back)
        except RuntimeError:  # the loop is gone (shutting down): nothing will use the slot again
            self._slots.discard(slot)

    async def observe(self, data: bytes, embed: bool = True, reference: bool = False) -> Observation:
        """Decode and look at one image; raises UserError (image_invalid / image_too_large) for bad bytes."""
        start = time.perf_counter()
        value = await self._observe(data, embed, reference)
        self.latency.observe("reference" if reference else "image", time.perf_counter() - start)
        return value

    async def _observe(self, data: bytes, embed: bool, reference: bool, max_side: int = 0) -> Observation:
        kind, value = await self._run(1, _observe_bytes, data, self.max_pixels, embed, reference, max_side)
        if kind == "rejected":
            raise UserError(str(value))
        return value

    async def observe_many(
        self, frames: list[bytes], embed: bool = True, owner: str = "", max_side: int = 0
    ) -> list[Observation]:
        """All frames of one burst, or none: the whole burst counts against the pending bound.

        ``max_side`` (a candidate's frames): every frame's header is checked first (``check_frame``),
        so a burst with one bad frame is refused (image_invalid / image_too_large) before any frame is
        queued. ``owner`` (the candidate): one burst of theirs at a time (``facecheck_in_progress``).
        """
        if max_side:
            for data in frames:
                try:
                    check_frame(data, max_side)
                except ImageRejected as exc:
                    raise UserError(exc.code, field="frame") from None
        if owner and self.pending_by_owner.get(owner):
            raise UserError("facecheck_in_progress")
        if self.pending + len(frames) > self.max_pending:
            self.busy_refusals += 1
            raise UserError("facecheck_busy", seconds=self.retry_after_s())
        start = time.perf_counter()
        if owner:
            self.pending_by_owner[owner] = len(frames)
        tasks = [asyncio.ensure_future(self._observe(f, embed, False, max_side)) for f in frames]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # A frame refused while decoding (or the caller gone): the frames still waiting are not
            # worth a worker's time. Those a worker already took finish there (they cannot be
            # stopped), so ``pending`` briefly counts fewer images than the workers hold.
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            if owner:
                self.pending_by_owner.pop(owner, None)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:  # the refusal itself rather than the cancellations it caused
            raise next((e for e in errors if not isinstance(e, asyncio.CancelledError)), errors[0])
        self.latency.observe("queue", time.perf_counter() - start)
        return list(outcomes)  # type: ignore[arg-type]

    async def observe_frame(self, image: np.ndarray, embed: bool = True, liveness: bool = True) -> Observation:
        """A decoded video frame (RGB), e.g. from a live track in an interview room."""
        start = time.perf_counter()
        _, value = await self._run(1, _observe_shared, embed, liveness, frame=image)
        self.latency.observe("room", time.perf_counter() - start)
        return value

    def distance(self, a, b) -> float:
        """The engine's metric, computed here (cheap) so results need no extra round trip."""
        return FaceEngine.metric(self.model_name, a, b)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._slots.close()
