"""Record forwarded tracks to disk as they arrive, without re-encoding (docs/rooms.md).

One file per track (VP8 or Opus in WebM, PyAV mux-only streams). Each file starts on the
first keyframe. Timestamps of every file of one interview are on one clock, the arrival time
since the interview recorder started, so that a participant's audio and video line up (the
RTP timestamps give the spacing, the arrival time of a track's first packet the origin).

Crash behaviour: the Matroska muxer writes a cluster at most every ``CLUSTER_MS`` and the
output is flushed after each packet, so a SIGKILLed process leaves files that decode up to
the last second or so; they have no duration or cues (compute the duration by demuxing:
:func:`probe_duration`), and ``manifest.json`` lists them with ``status: "recording"``
(:func:`recover_manifest` fills in sizes, hashes and durations afterwards).
"""

from __future__ import annotations

import contextlib
import fractions
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av

from .passthrough import vp8_keyframe_size

log = logging.getLogger(__name__)

CLUSTER_MS = 1000
MS = fractions.Fraction(1, 1000)
REANCHOR_S = 1.0  # RTP clock and arrival clock may drift this far before re-anchoring
MANIFEST = "manifest.json"
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


def _safe(name: str) -> str:
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
            self.recorder._write_manifest()

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
        self.recorder._write_manifest()

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


class InterviewRecorder:
    """All the tracks of one interview, in one folder chosen by the caller
    (``recordings/<exam>/<candidate>/<interview>/``), with ``manifest.json``."""

    def __init__(self, folder: Path, interview_id: str) -> None:
        self.folder = Path(folder)
        self.interview_id = interview_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        self.totals = RecorderTotals()  # see share_totals
        self.earlier: list[dict] = []  # tracks recorded before a resume (see _resume)
        if (self.folder / MANIFEST).exists():
            self._resume()
        # one clock for every file of the interview, from its first start
        self._t0 = time.monotonic() - (time.time() - self.started_at)
        self.ended_at: float | None = None
        self.closed = False
        self.writers: list[TrackWriter] = []
        self._segments: dict[tuple[str, str], int] = {}
        self.manifest_error: str | None = None
        self._write_manifest()

    def _resume(self) -> None:
        """The interview was recorded here before (the process holding the room died, or the
        room was closed, and the candidate came back): its files stay, listed first in the
        manifest (completed from disk if they were cut off), the interview keeps its start, and
        new files are numbered after them."""
        try:
            earlier = recover_manifest(self.folder)
            self.earlier = list(earlier["tracks"])
            self.started_at = float(earlier.get("started_at") or self.started_at)
        except (ValueError, KeyError, TypeError) as exc:  # not a manifest we wrote: keep it aside
            aside = self.folder / f"{MANIFEST}.unreadable-{int(time.time())}"
            log.warning("manifest of %s unreadable (%s): kept as %s", self.folder, exc, aside.name)
            os.replace(self.folder / MANIFEST, aside)

    def share_totals(self, totals: RecorderTotals) -> None:
        """Count into ``totals`` from now on (a media room's running totals), with what was counted so far."""
        if totals is not self.totals:
            totals.add(self.totals)
            self.totals = totals

    @property
    def bytes_written(self) -> int:
        return sum(w.bytes_written for w in self.writers)

    def clock(self) -> float:
        """Seconds since the recorder started: the common clock of every file."""
        return time.monotonic() - self._t0

    def add_track(self, track_id: str, kind: str, participant_id: str, label: str) -> TrackWriter:
        """A writer for a new track; a second track of the same participant and kind (after a
        reconnect) becomes the next numbered segment file."""
        if self.closed:
            raise RuntimeError("recorder closed")
        if kind not in CODECS:
            raise ValueError(f"unknown kind {kind!r}")
        key = (participant_id, kind)
        seq = self._segments.get(key, 0) + 1
        taken = {t.get("file") for t in self.earlier}
        path = self.folder / f"{_safe(participant_id)}-{kind}-{seq:02d}.webm"
        while path.exists() or path.name in taken:  # an earlier run's file: never reuse its name
            seq += 1
            path = self.folder / f"{_safe(participant_id)}-{kind}-{seq:02d}.webm"
        self._segments[key] = seq
        writer = TrackWriter(self, track_id, kind, participant_id, label, path)
        self.writers.append(writer)
        self._write_manifest()
        return writer

    def state(self) -> dict:
        tracks = [w.state() for w in self.writers]
        failed = [t for t in tracks if t["status"] == "failed"]
        if self.closed:
            status = "stopped"
        elif failed:
            status = "failed"
        else:
            status = "recording"
        last = [t["last_write_at"] for t in tracks if t["last_write_at"]]
        return {
            "interview_id": self.interview_id,
            "status": status,
            "error": "; ".join(f"{t['file']}: {t['error']}" for t in failed) or None,
            "bytes": sum(t["bytes"] for t in tracks),
            "packets": sum(t["packets"] for t in tracks),
            "last_write_at": max(last) if last else None,
            "manifest_error": self.manifest_error,
            "tracks": tracks,
        }

    def manifest(self) -> dict:
        return {
            "interview_id": self.interview_id,
            "status": "closed" if self.closed else "recording",
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "tracks": self.earlier + [w.manifest_entry() for w in self.writers if w.packets or w.status == "failed"],
        }

    def _write_manifest(self) -> None:
        try:
            write_manifest(self.folder, self.manifest())
            self.manifest_error = None
        except OSError as exc:  # reported by state(); the files may still be fine
            log.warning("manifest of %s not written: %s", self.folder, exc)
            self.manifest_error = str(exc)
            self.totals.failures["manifest"] += 1

    def stop(self) -> None:
        """Stop every writer at once (no more muxing), before the blocking :meth:`close`."""
        for writer in self.writers:
            writer.stop()

    def close(self) -> dict:
        """Close every file, write the final manifest and return it (blocking I/O)."""
        if not self.closed:
            self.stop()
            for writer in self.writers:
                writer.finish()
            self.closed = True
            self.ended_at = time.time()
            for writer in self.writers:
                if not writer.packets and writer.path.exists():
                    writer.path.unlink()
            self._write_manifest()
            failed = any(w.status == "failed" for w in self.writers)
            self.totals.closed["failed" if failed else "stopped"] += 1
        return self.manifest()

    async def aclose(self) -> dict:
        """:meth:`close` off the event loop (hashing large files takes a while)."""
        import asyncio

        self.stop()
        return await asyncio.to_thread(self.close)


def write_manifest(folder: Path, manifest: dict) -> None:
    """Replace ``manifest.json`` atomically (a temporary file of its own per writer)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=MANIFEST + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(manifest, ensure_ascii=False, indent=1))
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def recover_manifest(folder: Path) -> dict:
    """After a crash: complete the manifest of ``folder`` from the files themselves (size,
    sha256, duration by demuxing; end time = start + duration) and mark it ``recovered``."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("status") == "closed":
        return manifest
    ends = []
    for track in manifest["tracks"]:
        path = folder / track["file"]
        if (
            track.get("status") in FINAL
            and track.get("sha256")
            and path.exists()
            and path.stat().st_size == track.get("size")
        ):
            ends.append(track.get("ended_at") or 0)
            continue  # closed before the crash, or recovered already, and unchanged since
        if not path.exists():
            track["status"] = "missing"
            continue
        track["size"] = path.stat().st_size
        track["sha256"] = sha256_file(path)
        try:
            track["duration_s"] = probe_duration(path)
            if track.get("started_at"):
                track["ended_at"] = track["started_at"] + track["duration_s"]
                ends.append(track["ended_at"])
            track["status"] = "recovered"
        except Exception as exc:  # unreadable: keep the file, say so
            track["status"] = "damaged"
            track["error"] = str(exc)
    manifest["status"] = "recovered"
    manifest["ended_at"] = max(ends) if ends else manifest.get("ended_at")
    write_manifest(folder, manifest)
    return manifest
