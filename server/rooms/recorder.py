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
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .track_writer import CODECS, FINAL, RecorderTotals, TrackWriter, probe_duration, safe_name, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SNAPSHOT = re.compile(r"^flag-[0-9]{3,6}\.jpg$")  # a flag's snapshot beside the tracks (add_flag)


class InterviewRecorder:
    """All the tracks of one interview, in one folder chosen by the caller
    (``recordings/<exam>/<candidate>/<interview>/``), with ``manifest.json``."""

    def __init__(self, folder: Path, interview_id: str, node: str = "", elsewhere: dict | None = None) -> None:
        """``node``: the node writing this folder (written into each track, docs/nodes.md);
        ``elsewhere``: what other nodes recorded of the same interview in folders of their own
        (``started_at``, ``files``): the interview keeps its start, and their file names stay theirs."""
        self.folder = Path(folder)
        self.interview_id = interview_id
        self.node = node
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        self.totals = RecorderTotals()  # see share_totals
        self.earlier: list[dict] = []  # tracks recorded before a resume (see _resume)
        self.flags: list[dict] = []  # the interview's timeline of flags, earlier runs' first (add_flag)
        self.reserved: set[str] = set((elsewhere or {}).get("files") or ())  # other nodes' file names
        self.on_saved: Callable[[dict], None] | None = None  # the manifest after each save (any thread)
        if elsewhere and elsewhere.get("started_at"):
            self.started_at = min(self.started_at, float(elsewhere["started_at"]))
        if (self.folder / MANIFEST).exists():
            self._resume()
        # one clock for every file of the interview, from its first start
        self._t0 = time.monotonic() - (time.time() - self.started_at)
        self.ended_at: float | None = None
        self.closed = False
        self.writers: list[TrackWriter] = []
        self._segments: dict[tuple[str, str], int] = {}
        self.manifest_error: str | None = None
        self.save_manifest()

    def _resume(self) -> None:
        """The interview was recorded here before (the process holding the room died, or the
        room was closed, and the candidate came back): its files stay, listed first in the
        manifest (completed from disk if they were cut off), the interview keeps its start, and
        new files are numbered after them."""
        try:
            earlier = recover_manifest(self.folder)
            self.earlier = list(earlier["tracks"])
            self.flags = [f for f in earlier.get("flags") or [] if isinstance(f, dict)]
            self.started_at = min(self.started_at, float(earlier.get("started_at") or self.started_at))
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
        taken = {t.get("file") for t in self.earlier} | self.reserved
        path = self.folder / f"{safe_name(participant_id)}-{kind}-{seq:02d}.webm"
        while path.exists() or path.name in taken:  # an earlier run's file: never reuse its name
            seq += 1
            path = self.folder / f"{safe_name(participant_id)}-{kind}-{seq:02d}.webm"
        self._segments[key] = seq
        writer = TrackWriter(self, track_id, kind, participant_id, label, path)
        self.writers.append(writer)
        self.save_manifest()
        return writer

    def add_flag(self, entry: dict, snapshot: bytes | None = None) -> dict:
        """A flag raised or cleared (``signaling/monitoring.py``) onto the interview's timeline, at
        ``at_s`` seconds on the files' clock (a reviewer jumps there), with the JPEG of the frame that
        raised it as ``flag-<n>.jpg`` beside the tracks (blocking I/O: call it off the event loop)."""
        entry = {**entry, "at_s": round(self.clock(), 3)}
        if self.closed:  # the final manifest is written: the audit stream still has the flag
            return entry
        if snapshot:
            n = len(self.flags) + 1
            while (self.folder / f"flag-{n:03d}.jpg").exists():
                n += 1
            path = self.folder / f"flag-{n:03d}.jpg"
            try:
                path.write_bytes(snapshot)
                entry["snapshot"] = path.name
            except OSError as exc:
                log.warning("flag snapshot not written: %s", exc)
        self.flags.append(entry)
        self.save_manifest()
        return entry

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
            "tracks": self.earlier
            + [
                {**w.manifest_entry(), **({"node": self.node} if self.node else {})}
                for w in self.writers
                if w.packets or w.status == "failed"
            ],
            "flags": list(self.flags),
        }

    def save_manifest(self) -> None:
        try:
            manifest = self.manifest()
            write_manifest(self.folder, manifest)
            self.manifest_error = None
            if self.on_saved is not None:
                self.on_saved(manifest)
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
            self.save_manifest()
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
