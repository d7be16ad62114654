"""One track of an interview written to disk as it arrives: VP8 or Opus packets muxed into WebM
without re-encoding (PyAV mux-only streams), from the first keyframe, on the interview's clock
(docs/rooms.md). The recorder (``recorder.py``) holds one writer per track and the manifest."""

from __future__ import annotations

import fractions
import hashlib
import logging
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from .passthrough import vp8_keyframe_size

if TYPE_CHECKING:  # the recorder holds its writers; a writer reports to it
    from .recorder import InterviewRecorder

log = logging.getLogger(__name__)

CLUSTER_MS = 1000
MS = fractions.Fraction(1, 1000)
REANCHOR_S = 1.0  # RTP clock and arrival clock may drift this far before re-anchoring
FINAL = ("stopped", "recovered")  # track states whose size and sha256 are known
CODECS = {"video": "vp8", "audio": "opus"}


class RecorderTotals:
    """Running totals of the recorders that share it (one media room's, read by the metrics)."""

    def __init__(self) -> None:
        self.bytes_written = {"audio": 0, "video": 0}  # media bytes handed to the muxer
        self.failures = {"track": 0, "manifest": 0}  # a track's file failed; a manifest write failed
        self.closed = {"stopped": 0, "failed": 0}  # recorders closed (failed: a track of it failed)

    def add(self, other: RecorderTotals) -> None:
        for mine, theirs in (
            (self.bytes_written, other.bytes_written),
            (self.failures, other.failures),
            (self.closed, other.closed),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:64] or "track"


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def probe_duration(path: Path) -> float:
    """Seconds between the first and the end of the last packet, found by demuxing (works
    on files left by a killed process, which carry no duration)."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        first = last = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            end = packet.pts + (packet.duration or 0)
            first = packet.pts if first is None else min(first, packet.pts)
            last = end if last is None else max(last, end)
        if first is None or last is None or stream.time_base is None:
            return 0.0
        return float((last - first) * stream.time_base)


class TrackWriter:
    """Muxes one track's packets into one file; never raises from :meth:`write`."""

    def __init__(
        self, recorder: InterviewRecorder, track_id: str, kind: str, participant_id: str, label: str, path: Path
    ) -> None:
        self.recorder = recorder
        self.track_id = track_id
        self.kind = kind
        self.participant_id = participant_id
        self.label = label
        self.path = path
        self.status = "waiting"  # waiting -> recording -> stopped | failed
        self.error: str | None = None
        self.packets = 0
        self.skipped = 0
        self.width: int | None = None
        self.height: int | None = None
        self.started_at: float | None = None  # epoch of the first packet written
        self.ended_at: float | None = None
        self.last_write_at: float | None = None
        self.first_pts_s: float | None = None  # offset of the file's start on the interview clock
        self.size = 0
        self.bytes_written = 0  # media bytes muxed (the file adds WebM framing)
        self.sha256: str | None = None
        self._container: Any = None  # av OutputContainer once the first keyframe opened the file
        self._stream: Any = None
        self._anchor: float | None = None
        self._last_pts = -1
        self._finish_lock = threading.Lock()

    # --- writing ----------------------------------------------------------------------
    def write(self, packet: av.Packet) -> None:
        if self.status not in ("waiting", "recording"):
            return
        try:
            self._write(packet)
        except Exception as exc:  # a broken disk must not break forwarding
            log.exception("recording %s failed", self.path)
            self._fail(f"{type(exc).__name__}: {exc}")

    def _write(self, packet: av.Packet) -> None:
        arrival = self.recorder.clock()
        data = bytes(packet)
        if self._container is None:
            if self.kind == "video":
                size = vp8_keyframe_size(data)
                if size is None:
                    self.skipped += 1
                    return
                self.width, self.height = size
            self._open()
        # RTP spacing, anchored on the interview clock at the first packet
        media_s = float(packet.pts * packet.time_base) if packet.pts is not None else arrival
        if self._anchor is None or abs(media_s + self._anchor - arrival) > REANCHOR_S:
            self._anchor = arrival - media_s
        pts = int(round((media_s + self._anchor) * 1000))
        if pts <= self._last_pts:
            pts = self._last_pts + 1
        out = av.Packet(data)
        out.stream = self._stream
        out.pts = out.dts = pts
        out.time_base = MS
        out.is_keyframe = packet.is_keyframe if self.kind == "video" else True
        if self.kind == "audio":
            out.duration = 20
        self._container.mux(out)
        self._last_pts = pts
        self.packets += 1
        self.bytes_written += len(data)
        self.recorder.totals.bytes_written[self.kind] += len(data)
        self.last_write_at = time.time()
        if self.first_pts_s is None:  # the file has begun: list it (a crash must not hide it)
            self.first_pts_s = pts / 1000
            self.started_at = self.last_write_at
            self.status = "recording"
            self.recorder.save_manifest()

    def _open(self) -> None:
        container = av.open(
            str(self.path), "w", format="webm", options={"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"}
        )
        try:
            if self.kind == "video":
                stream = container.add_mux_stream("vp8", width=self.width, height=self.height)
            else:
                # An opened, never fed encoder gives the OpusHead CodecPrivate that a
                # mux-only stream lacks.
                stream = container.add_stream("libopus", rate=48000, layout="stereo")
                stream.codec_context.open()
            stream.time_base = MS
            container.start_encoding()
        except Exception:
            container.close()
            raise
        self._container, self._stream = container, stream

    def _fail(self, error: str) -> None:
        self.status = "failed"
        self.error = error
        self.recorder.totals.failures["track"] += 1
        self._close_container()
        self.recorder.save_manifest()

    def _close_container(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception as exc:
                log.warning("closing %s: %s", self.path, exc)
                if self.error is None:
                    self.error = f"close: {exc}"

    # --- closing ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop accepting packets (cheap; call on the event loop before :meth:`finish`)."""
        if self.status in ("waiting", "recording"):
            self.status = "stopping"

    def finish(self) -> None:
        """Close the file and compute size and hash (blocking: file I/O)."""
        self.stop()
        with self._finish_lock:
            if self.sha256 is not None or self.ended_at is not None and not self.path.exists():
                return
            self._close_container()
            if self.ended_at is None:
                self.ended_at = time.time()
            if self.path.exists():
                self.size = self.path.stat().st_size
                self.sha256 = sha256_file(self.path)
            if self.status == "stopping":
                self.status = "stopped"

    def state(self) -> dict:
        return {
            "track_id": self.track_id,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "label": self.label,
            "status": self.status,
            "error": self.error,
            "file": self.path.name,
            "packets": self.packets,
            "bytes": self.path.stat().st_size if self.path.exists() else 0,
            "last_write_at": self.last_write_at,
        }

    def manifest_entry(self) -> dict:
        return {
            "track_id": self.track_id,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "label": self.label,
            "codec": CODECS[self.kind],
            "file": self.path.name,
            "status": self.status,
            "error": self.error,
            "width": self.width,
            "height": self.height,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "offset_s": self.first_pts_s,
            "packets": self.packets,
            "size": self.size,
            "sha256": self.sha256,
        }
