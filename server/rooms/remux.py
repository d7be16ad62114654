"""The playback files of a recorded take (docs/recorded.md): ``playable.webm`` (the candidate's main
camera, video and audio) and ``aux-<n>.webm`` (one per auxiliary camera), written beside the take's
track files once it has ended.

Remux only: the recorded VP8 and Opus packets are copied as they are (PyAV demux -> mux, nothing
decoded or encoded), so making the file costs about one read and one write of the take. A take
recorded in several segments (a reconnect, or another process continuing after a crash) is joined
in order: every file of the take is on one clock (the recorder's, see ``track_writer``), the
candidate's files that overlap in time form one segment, and the time between two segments is cut
out, so that the result plays straight through with audio and video still together.

Blocking (file I/O): run :func:`make_playable` in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)

PLAYABLE = "playable.webm"
MS = Fraction(1, 1000)
JOIN_MS = 40  # between two joined segments: about one video frame
SAME_SEGMENT_MS = 500  # files of the candidate this close in time belong to one segment


class RemuxError(Exception):
    """Nothing playable was recorded (no readable file of the candidate's camera or microphone; with
    the microphone only, ``playable.webm`` is audio only)."""


@dataclass
class _Piece:
    """One recorded file: its stream's range on the take's clock (ms)."""

    path: Path
    kind: str  # audio | video
    first_ms: int
    end_ms: int


@dataclass
class _Segment:
    first_ms: int
    end_ms: int
    shift_ms: int = 0  # output time = recorded time - shift


def make_playable(folder: Path, manifest: dict, candidate_id: str | None = None) -> dict:
    """Write ``playable.webm`` and the aux cameras' files into ``folder`` from the tracks the
    manifest lists; returns what the take keeps of them (``Sittings.take_playable``), by file name::

        {"playable.webm": {"kind": "main", "size", "sha256", "duration_s", "segments", "packets"},
         "aux-1.webm": {"kind": "aux", "n", "size", "sha256", "duration_s", "packets",
                        "offset_s" (where it starts in playable.webm), "participant_id"}, ...}

    ``candidate_id``: the main camera's participant (default: the tracks labelled ``candidate``).
    Raises :class:`RemuxError` when the candidate's camera left nothing readable."""
    folder = Path(folder)
    main: list[_Piece] = []
    aux: dict[str, list[_Piece]] = {}
    for track in manifest.get("tracks", []):
        if track.get("status") in ("missing", "damaged") or not track.get("file"):
            continue
        piece = _probe(folder / track["file"], track.get("kind") or "")
        if piece is None:
            continue
        who = track.get("participant_id") or ""
        is_main = who == candidate_id if candidate_id else track.get("label") == "candidate"
        if is_main:
            main.append(piece)
        elif track.get("label") == "aux" or who.startswith("aux_"):
            if piece.kind == "video":
                aux.setdefault(who, []).append(piece)
    if not main:
        raise RemuxError("nothing readable of the candidate's camera or microphone")
    segments = _segments(main)
    out: dict[str, dict[str, Any]] = {PLAYABLE: {"kind": "main", **_write(folder / PLAYABLE, main, segments)}}
    out[PLAYABLE]["segments"] = len(segments)
    if manifest.get("started_at"):  # where a moment of the take is in the file (playable_seconds)
        out[PLAYABLE]["clock"] = {
            "started_at": float(manifest["started_at"]),
            "segments": [[s.first_ms, s.shift_ms] for s in segments],
        }
    ordered = sorted(aux.items(), key=lambda item: min(p.first_ms for p in item[1]))
    for n, (who, pieces) in enumerate(ordered, start=1):
        own = _segments(pieces)
        name = f"aux-{n}.webm"
        try:
            info = _write(folder / name, pieces, own)
        except Exception:  # an aux camera's damaged file must not cost the main one
            log.exception("aux camera file not written", extra={"folder": str(folder), "participant": who})
            continue
        offset = max(0, _out_ms(segments, own[0].first_ms)) / 1000
        out[name] = {"kind": "aux", "n": n, "participant_id": who, "offset_s": round(offset, 3), **info}
    return out


def _probe(path: Path, kind: str) -> _Piece | None:
    """The file's first and last timestamps (ms), or None if it holds nothing readable."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams[0]
            first = end = None
            for packet in container.demux(stream):
                if packet.pts is None or not packet.size:
                    continue
                start = _ms(packet.pts, packet.time_base)
                stop = _ms(packet.pts + (packet.duration or 0), packet.time_base)
                first = start if first is None else min(first, start)
                end = stop if end is None else max(end, stop)
            kind = kind or stream.type
    except (OSError, av.FFmpegError) as exc:
        log.warning(
            "recorded file unreadable, left out of the playback file", extra={"file": str(path), "error": str(exc)}
        )
        return None
    if first is None or end is None:
        return None
    return _Piece(path, kind, first, end)


def _segments(pieces: list[_Piece]) -> list[_Segment]:
    """Files overlapping in time (or nearly) are one segment; each segment follows the previous
    one's end after ``JOIN_MS`` in the output, the first starts at 0."""
    segments: list[_Segment] = []
    for piece in sorted(pieces, key=lambda p: p.first_ms):
        if segments and piece.first_ms <= segments[-1].end_ms + SAME_SEGMENT_MS:
            segments[-1].end_ms = max(segments[-1].end_ms, piece.end_ms)
        else:
            segments.append(_Segment(piece.first_ms, piece.end_ms))
    out_end = -JOIN_MS
    for segment in segments:
        segment.shift_ms = segment.first_ms - (out_end + JOIN_MS)
        out_end = segment.end_ms - segment.shift_ms
    return segments


def _out_ms(segments: list[_Segment], recorded_ms: int) -> int:
    """Where a moment of the recording is in the output (the segment it falls in, or the last one
    begun before it)."""
    shift = segments[0].shift_ms
    for segment in segments:
        if segment.first_ms <= recorded_ms:
            shift = segment.shift_ms
    return recorded_ms - shift


def playable_seconds(clock: dict, epoch: float) -> float | None:
    """Where the moment ``epoch`` (the server's clock) is in ``playable.webm``, in seconds (0 before its
    first frame; the time between segments is cut out of the file, as ``make_playable`` does): from the
    ``clock`` that ``make_playable`` returns with the main file. None without one."""
    try:
        segments = [_Segment(int(first), int(first), int(shift)) for first, shift in clock["segments"]]
        recorded_ms = int(round((float(epoch) - float(clock["started_at"])) * 1000))
    except (KeyError, TypeError, ValueError):
        return None
    if not segments:
        return None
    return round(max(0, _out_ms(segments, recorded_ms)) / 1000, 3)


def _write(target: Path, pieces: list[_Piece], segments: list[_Segment]) -> dict:
    """Mux ``pieces`` (one or two kinds, each in time order) into ``target``, atomically."""
    by_kind: dict[str, list[_Piece]] = {}
    for piece in sorted(pieces, key=lambda p: p.first_ms):
        by_kind.setdefault(piece.kind, []).append(piece)
    kinds: list[str] = [k for k in ("video", "audio") if k in by_kind]
    part = target.with_name(f".{target.name}.part")
    first_out: int | None = None
    last_out = 0
    packets = 0
    try:
        with contextlib.ExitStack() as stack:
            output = stack.enter_context(av.open(str(part), "w", format="webm", options={"fflags": "+bitexact"}))
            streams = {}
            for kind in kinds:
                template = stack.enter_context(av.open(str(by_kind[kind][0].path))).streams[0]
                streams[kind] = output.add_stream_from_template(template)
            sources = [_packets(by_kind[kind], segments, order) for order, kind in enumerate(kinds)]
            for out_ms, _, kind, packet in heapq.merge(*sources, key=lambda item: (item[0], item[1])):
                packet.stream = streams[kind]
                packet.pts = packet.dts = out_ms
                packet.time_base = MS
                end = out_ms + _ms(packet.duration or 0, MS) if packet.duration else out_ms
                output.mux(packet)
                packets += 1
                first_out = out_ms if first_out is None else min(first_out, out_ms)
                last_out = max(last_out, end)
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    with open(target, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {
        "size": target.stat().st_size,
        "sha256": digest,
        "duration_s": round((last_out - (first_out or 0)) / 1000, 3),
        "packets": packets,
    }


def _packets(pieces: list[_Piece], segments: list[_Segment], order: int) -> Iterator[tuple[int, int, str, av.Packet]]:
    """Every packet of one kind's files, in order, with its output time (ms); strictly increasing
    per kind (the muxer refuses anything else)."""
    last = -1
    for piece in pieces:
        try:
            with av.open(str(piece.path)) as container:
                for packet in container.demux(container.streams[0]):
                    if packet.pts is None or not packet.size:
                        continue  # the demuxer's flush packet
                    out_ms = max(_out_ms(segments, _ms(packet.pts, packet.time_base)), last + 1)
                    last = out_ms
                    yield out_ms, order, piece.kind, packet
        except av.FFmpegError as exc:  # a file cut off by a crash ends early: what was read is kept
            log.warning("recorded file ends early", extra={"file": str(piece.path), "error": str(exc)})


def _ms(value: int, time_base: Fraction | None) -> int:
    return int(round(value * (time_base or MS) * 1000))
