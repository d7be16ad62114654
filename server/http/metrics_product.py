"""What the product does, on ``/metrics``: the queue, the media rooms, the recorder, the face
check, the sockets and the recordings disk (docs/configuration.md lists every family).

One collector per app, on the app's own registry, created at the first scrape. It reads at scrape
time what the live objects already count (``WaitingQueue.stats``, ``MediaRoom.counters()``,
``InferencePool.latency``, the namespaces' sockets) and, for the queue, one bounded read of Redis
made by the queue itself (``WaitingQueue.line_figures``, refreshed by the ``/metrics`` handler
before the text is generated). Nothing here changes what it reads; the domain knows nothing of
Prometheus. Queue gauges describe all processes (the line lives in Redis: take ``max``, not
``sum``, across processes); everything else is this process's.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..signaling.hub import SIO
from .context import METRICS, SERVICES, SETTINGS

log = logging.getLogger("server.http")
KINDS = ("audio", "video")
ROLES = ("candidate", "examiner", "aux")
REFRESH_TIMEOUT_S = 2.0
MAX_ROOMS = 500  # rooms with a queue read per scrape
MAX_LINE = 100  # line members whose wait is read per room (the line is in arrival order within a slot)


def product_metrics(app: web.Application) -> ProductCollector:
    """The app's collector, registered on its registry the first time (one per app)."""
    metrics = app[METRICS]
    if metrics.product is None:
        metrics.product = ProductCollector(app)
        metrics.registry.register(metrics.product)
    return metrics.product


def _histogram(name: str, documentation: str, label: str, stats) -> HistogramMetricFamily:
    """A histogram family from a domain object with ``bounds``, ``counts`` (per bucket, not
    cumulative, the last above every bound) and ``sums``, by one label."""
    family = HistogramMetricFamily(name, documentation, labels=[label])
    for value in sorted(stats.counts):
        counts, running, buckets = stats.counts[value], 0, []
        for bound, count in zip([*map(str, stats.bounds), "+Inf"], counts, strict=True):
            running += count
            buckets.append((bound, running))
        family.add_metric([value], buckets, stats.sums.get(value, 0.0))
    return family


class ProductCollector(Collector):
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.lines: list[dict] | None = None  # the queue's figures at the last refresh (None: unreadable)
        self._failing = False

    # --- the part that needs Redis: read before generating, by the /metrics handler -----------
    async def refresh(self) -> None:
        try:
            self.lines = await asyncio.wait_for(
                self.app[SERVICES].queue.line_figures(MAX_ROOMS, MAX_LINE), REFRESH_TIMEOUT_S
            )
            self._failing = False
        except Exception as exc:  # Redis away or slow: the queue families are left out, iv_redis_up says why
            self.lines = None
            if not self._failing:
                log.warning("queue metrics not read", extra={"error": f"{type(exc).__name__}: {exc}"})
            self._failing = True

    # --- the collector ---------------------------------------------------------------------
    def describe(self) -> Iterable[Metric]:
        return []  # names are not known before the first collect; nothing else registers them

    def collect(self) -> Iterator[Metric]:
        for part in (self._queue, self._rooms, self._face, self._sockets, self._disk):
            try:
                yield from part()
            except Exception:  # one broken part must not take /metrics down
                log.exception("metrics part failed", extra={"part": part.__name__})

    def _interviews(self):
        sio = self.app.get(SIO)
        for namespace in sio.namespace_handlers.values() if sio else ():
            rooms = getattr(namespace, "rooms", None)
            if rooms is not None:
                return rooms.interviews
        return None

    def _queue(self) -> Iterator[Metric]:
        stats = self.app[SERVICES].queue.stats
        if self.lines is not None:
            waiting = GaugeMetricFamily(
                "iv_queue_waiting",
                "Candidates in a room's waiting line (waiting for the face check or to be called), all processes",
                labels=["exam", "room"],
            )
            by_exam = GaugeMetricFamily(
                "iv_queue_waiting_per_exam",
                "Candidates in the waiting lines of an exam's rooms, all processes",
                labels=["exam"],
            )
            longest = GaugeMetricFamily(
                "iv_queue_longest_wait_seconds",
                "Seconds the longest-waiting candidate of a room's line has been in it, all processes",
                labels=["exam", "room"],
            )
            exams: dict[str, int] = {}
            for line in self.lines:
                waiting.add_metric([line["exam"], line["room"]], line["waiting"])
                longest.add_metric([line["exam"], line["room"]], round(line["longest_wait_s"], 3))
                exams[line["exam"]] = exams.get(line["exam"], 0) + line["waiting"]
            for exam, count in sorted(exams.items()):
                by_exam.add_metric([exam], count)
            yield from (waiting, by_exam, longest)
        yield _histogram(
            "iv_queue_call_wait_seconds",
            "Seconds from joining the queue to being called, for calls made on this process",
            "exam",
            stats.call_waits,
        )
        changes = CounterMetricFamily(
            "iv_queue_changes", "Queue changes announced on this process, by event", labels=["event"]
        )
        for event, count in sorted(stats.changes.items()):
            changes.add_metric([event], count)
        yield changes

    def _rooms(self) -> Iterator[Metric]:
        interviews = self._interviews()
        rooms = list(interviews.rooms.values()) if interviews is not None else []
        figures = [room.media.counters() for room in rooms]

        def total(key: str, kind: str | None = None) -> float:
            return sum((f[key].get(kind, 0) if kind else f[key]) for f in figures)

        yield GaugeMetricFamily(
            "iv_media_rooms_open", "Interview rooms whose media this process holds (claimed)", value=len(rooms)
        )
        participants = GaugeMetricFamily(
            "iv_media_participants", "Connected media participants on this process, by role", labels=["role"]
        )
        for role in ROLES:
            participants.add_metric([role], total("participants", role))
        yield participants
        yield GaugeMetricFamily(
            "iv_media_streams_forwarded",
            "Tracks this process is forwarding to participants now (one per subscriber and published track)",
            value=total("streams"),
        )
        for name, key, text in (
            ("iv_media_frames_received", "frames_in", "Encoded frames received from publishers"),
            ("iv_media_frames_forwarded", "frames_out", "Encoded frames handed to subscribers' senders"),
            (
                "iv_media_frames_dropped",
                "dropped",
                "Encoded frames dropped for subscribers that were slow or not started (video: up to the next keyframe)",
            ),
        ):
            family = CounterMetricFamily(name, f"{text}, on this process, by kind (frames)", labels=["kind"])
            for kind in KINDS:
                family.add_metric([kind], total(key, kind))
            yield family
        yield CounterMetricFamily(
            "iv_media_keyframe_requests",
            "Keyframe requests (PLI/FIR) received from subscribers on this process",
            value=total("keyframe_requests"),
        )
        yield CounterMetricFamily(
            "iv_media_plis_sent",
            "Keyframe requests (PLI) this process sent to publishers, at most 2 per second per video track",
            value=total("plis_sent"),
        )
        # the recorder
        yield GaugeMetricFamily(
            "iv_recordings_in_progress",
            "Interviews being recorded on this process",
            value=sum(1 for f in figures if f["recording"]),
        )
        closed = CounterMetricFamily(
            "iv_recordings",
            "Recordings this process closed, by final state (failed: at least one track's file failed)",
            labels=["state"],
        )
        for state in ("stopped", "failed"):
            closed.add_metric([state], total("recordings_closed", state))
        yield closed
        failures = CounterMetricFamily(
            "iv_recorder_failures",
            "Recorder failures on this process: a track's file failed (track) or a manifest was not written (manifest)",
            labels=["what"],
        )
        for what in ("track", "manifest"):
            failures.add_metric([what], total("recorder_failures", what))
        yield failures
        written = CounterMetricFamily(
            "iv_recorder_written_bytes",
            "Media bytes the recorder wrote on this process, by kind (bytes; the files add a little WebM framing)",
            labels=["kind"],
        )
        for kind in KINDS:
            written.add_metric([kind], total("recorded_bytes", kind))
        yield written

    def _face(self) -> Iterator[Metric]:
        stats = self.app[SERVICES].queue.stats
        results = CounterMetricFamily(
            "iv_facecheck_results",
            "Face-check results recorded on this process, by "
            "kind (queue | room) and outcome (passed | failed | locked)",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), count in sorted(stats.face_results.items()):
            results.add_metric([kind, outcome], count)
        yield results
        pool = self.app[SERVICES].face_checks.pool
        if pool is None:
            return
        yield _histogram(
            "iv_facecheck_seconds",
            "Seconds of face inference in the worker pool, waiting for a "
            "worker included: kind queue = one queue-entry burst, room = one frame of the room "
            "check, reference = one ID photo",
            "kind",
            pool.latency,
        )
        yield GaugeMetricFamily(
            "iv_facecheck_pending",
            "Images waiting for or in the face-check workers (the pool's queue depth)",
            value=pool.pending,
        )
        yield GaugeMetricFamily(
            "iv_facecheck_pending_limit",
            "Most images that may wait or run before checks are answered busy",
            value=pool.max_pending,
        )
        yield GaugeMetricFamily("iv_facecheck_workers", "Face-check worker processes", value=pool.workers)
        yield CounterMetricFamily(
            "iv_facecheck_busy",
            "Face checks answered busy (retry later) because the pool was full",
            value=pool.busy_refusals,
        )
        yield CounterMetricFamily(
            "iv_facecheck_pool_restarts", "Times the face-check pool restarted after a worker died", value=pool.restarts
        )

    def _sockets(self) -> Iterator[Metric]:
        sio = self.app.get(SIO)
        family = GaugeMetricFamily(
            "iv_sockets_connected",
            "socket.io connections this process holds, by namespace (logged in and accepted)",
            labels=["namespace"],
        )
        for name, namespace in sorted((sio.namespace_handlers if sio else {}).items()):
            users = getattr(namespace, "users", None)
            if users is not None:
                family.add_metric([name], len(users))
        yield family

    def _disk(self) -> Iterator[Metric]:
        folder = Path(self.app[SETTINGS].recordings_dir).absolute()
        while not folder.exists() and folder != folder.parent:  # not made yet: its filesystem is its parent's
            folder = folder.parent
        usage = shutil.disk_usage(folder)
        yield GaugeMetricFamily(
            "iv_recordings_disk_free_bytes",
            "Free bytes on the filesystem of the recordings folder (for unprivileged users)",
            value=usage.free,
        )
        yield GaugeMetricFamily(
            "iv_recordings_disk_total_bytes",
            "Size of the filesystem of the recordings folder (bytes)",
            value=usage.total,
        )
