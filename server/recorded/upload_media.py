"""An uploaded take's file (docs/recorded.md "Upload takes"): probed with PyAV, refused with the
reason when it cannot be played, then made browser-playable, re-encoding only what must be.

- **Probe**: the container (MP4/MOV or WebM only), the codecs, the length (from the packets, not
  the header: a file cut short says so), the resolution, the frame rate, the rotation the phone
  recorded (portrait phone video is stored landscape with a display matrix), and the sha256.
- **Copy** when the codecs play in browsers: H.264 (+ AAC) from MP4/MOV into ``playable.mp4``
  (``+faststart``: the index first, so playback starts before the whole file is read), VP8 (+ Opus
  or Vorbis) from WebM into ``playable.webm``. Packets are copied byte for byte; an audio track in
  another codec (PCM, MP3 ...) is the only part re-encoded (to AAC).
- **Re-encode** anything else (HEVC from an iPhone ``.mov``, VP9, MPEG-4 ...) to H.264/AAC in
  ``playable.mp4``, at most ``ENCODE_MAX_SIDE`` pixels on the longer side, the rotation kept as a
  display matrix (nothing turned twice), ``progress`` told as it goes.

Blocking (file I/O, decoding, encoding): run every function here in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger("server.recorded")

MAX_SIDE = 4096  # larger pictures are refused (the seeds ask 720p; a phone films 4K at most)
ENCODE_MAX_SIDE = 1280  # a re-encoded take is 720p at most (004_*: 720P, 30fps)
ENCODE_MAX_FPS = 60
LENGTH_SLACK_S = 1.0  # a file this much longer than the longest take is still accepted (phones round up)
TRUNCATED_SLACK = 0.05  # the packets may end this share of the declared length early (else: cut short)
MP4 = "mp4"
WEBM = "webm"
# what plays in the browsers candidates and graders use, copied as it is
COPY_VIDEO = {MP4: ("h264",), WEBM: ("vp8",)}
COPY_AUDIO = {MP4: ("aac",), WEBM: ("opus", "vorbis")}
MP4_MAGIC = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML

Progress = Callable[[str, float], None]  # (stage, fraction done)


class Refused(Exception):
    """The file cannot be a take: ``code`` is a ``UserError`` code (server/i18n.py), ``params`` its
    message's parameters."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Probe:
    """The uploaded file as found: stored on the take (``take.upload``)."""

    container: str  # mp4 (MP4 and MOV) | webm (WebM and Matroska)
    format_name: str  # FFmpeg's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec: str
    audio_codec: str  # "" without sound
    duration_s: float
    width: int  # as stored (before rotation)
    height: int
    fps: float
    rotation: int  # degrees counter-clockwise the picture is turned when shown (-90 for a portrait iPhone video)
    size: int
    sha256: str
    bit_rate: int

    @property
    def portrait(self) -> bool:
        turned = abs(self.rotation) % 180 == 90
        return (self.width if turned else self.height) > (self.height if turned else self.width)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"orientation": "portrait" if self.portrait else "landscape"}


def _family(format_name: str) -> str | None:
    names = set(format_name.split(","))
    if names & {"mp4", "mov"}:
        return MP4
    if names & {"webm", "matroska"}:
        return WEBM
    return None


def _magic(path: Path) -> str | None:
    """The container the file's first bytes claim (None: not a video file we take at all)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] in MP4_MAGIC:
        return MP4
    if head.startswith(WEBM_MAGIC):
        return WEBM
    return None


def _length(s: float) -> str:
    s = round(s)
    return f"{s // 60} 分 {s % 60:02d} 秒" if s >= 60 else f"{s} 秒"


def probe(path: Path, max_duration_s: float) -> Probe:
    """The file's figures, or :class:`Refused` with the reason: not a video (``upload_not_video``),
    a container we do not take (``upload_format``), cut short or damaged (``upload_truncated``), no
    picture (``upload_no_video``), a picture too large (``upload_resolution``), not decodable
    (``upload_undecodable``), longer than the take may be (``upload_too_long``)."""
    size = path.stat().st_size
    claimed = _magic(path) if size else None
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise Refused("upload_truncated" if claimed else "upload_not_video") from None
    with container:
        family = _family(container.format.name)
        if family is None:
            if claimed is None and container.format.name in ("image2", "png_pipe", "jpeg_pipe", "mp3", "wav", "tty"):
                raise Refused("upload_not_video")
            raise Refused("upload_format", format=container.format.name.split(",")[0])
        if not container.streams.video:
            raise Refused("upload_no_video")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.codec_context.width, video.codec_context.height
        if not (width and height):
            raise Refused("upload_undecodable")
        if max(width, height) > MAX_SIDE:
            raise Refused("upload_resolution", width=width, height=height, max=MAX_SIDE)
        declared = container.duration / 1_000_000 if container.duration else 0.0
        first, end, packets = _video_span(container, video, size)
        if packets == 0 or end <= first:
            raise Refused("upload_truncated" if declared else "upload_no_video")
        length = end - first
        if declared and length < declared * (1 - TRUNCATED_SLACK) - 0.5:
            raise Refused("upload_truncated")
        if length > max_duration_s + LENGTH_SLACK_S:
            raise Refused("upload_too_long", duration=_length(length), max=_length(max_duration_s))
        rotation = _first_frame_rotation(container, video)
        fps = float(video.average_rate or video.guessed_rate or 0)
        figures = Probe(
            container=family,
            format_name=container.format.name,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else "",
            duration_s=round(length, 3),
            width=width,
            height=height,
            fps=round(fps, 3),
            rotation=rotation,
            size=size,
            sha256="",
            bit_rate=int(container.bit_rate or 0),
        )
    figures.sha256 = sha256_of(path)
    return figures


def _video_span(container: Any, video: Any, size: int) -> tuple[float, float, int]:
    """First and last times (s) of the video's packets, and their count, read without decoding. A
    packet said to lie past the end of the file, or a read error, is where a cut file ends."""
    base = float(video.time_base or Fraction(1, 1000))
    first: float | None = None
    end = 0.0
    packets = 0
    try:
        for packet in container.demux(video):
            if packet.pts is None or not packet.size:
                continue
            if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > size:
                break
            start = packet.pts * base
            first = start if first is None else min(first, start)
            end = max(end, start + (packet.duration or 0) * base)
            packets += 1
    except av.FFmpegError:
        pass  # what was read before the damage counts; the length check says whether it is enough
    return first or 0.0, end, packets


def _first_frame_rotation(container: Any, video: Any) -> int:
    """The rotation of the first decoded picture; :class:`Refused` when nothing decodes."""
    container.seek(0)
    video.codec_context.thread_count = 1
    try:
        for frame in container.decode(video):
            return int(round(frame.rotation or 0))
    except av.FFmpegError:
        pass
    raise Refused("upload_undecodable")


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class Plan:
    """How the playable file is made: each of video and audio ``copy`` or ``encode`` (audio ``none``
    without sound), into ``mp4`` or ``webm``."""

    video: str
    audio: str
    container: str

    @property
    def name(self) -> str:
        return f"playable.{self.container}"


def plan_for(figures: Probe) -> Plan:
    family = figures.container
    if figures.video_codec in COPY_VIDEO[family] and max(figures.width, figures.height) <= MAX_SIDE:
        if not figures.audio_codec:
            return Plan("copy", "none", family)
        if figures.audio_codec in COPY_AUDIO[family]:
            return Plan("copy", "copy", family)
        if family == MP4:
            return Plan("copy", "encode", MP4)  # H.264 with PCM or MP3: only the sound is re-encoded
    return Plan("encode", "encode" if figures.audio_codec else "none", MP4)


def make_playable(
    src: Path, folder: Path, figures: Probe, progress: Progress | None = None, threads: int = 2
) -> dict[str, dict[str, Any]]:
    """Write the take's playback file into ``folder`` (atomically: a ``.part`` renamed at the end);
    returns what the take keeps of it, ``{name: {kind: main, size, sha256, duration_s, packets,
    video: copied|encoded, audio: copied|encoded|none, container}}`` (``Sittings.take_playable``)."""
    plan = plan_for(figures)
    target = folder / plan.name
    part = folder / f".{plan.name}.part"
    tell = progress or (lambda stage, fraction: None)
    started = time.monotonic()
    try:
        options = {"movflags": "+faststart"} if plan.container == MP4 else {}
        with av.open(str(src)) as source, av.open(str(part), "w", format=plan.container, options=options) as output:
            packets = _transcode(source, output, figures, plan, tell, threads)
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    tell("hashing", 1.0)
    info = {
        "kind": "main",
        "size": target.stat().st_size,
        "sha256": sha256_of(target),
        "duration_s": figures.duration_s,
        "packets": packets,
        "video": "copied" if plan.video == "copy" else "encoded",
        "audio": {"copy": "copied", "encode": "encoded"}.get(plan.audio, "none"),
        "container": plan.container,
    }
    log.info(
        "upload made playable",
        extra={
            "file": str(target),
            "video": info["video"],
            "audio": info["audio"],
            "took_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
    return {plan.name: info}


def _transcode(source: Any, output: Any, figures: Probe, plan: Plan, tell: Progress, threads: int) -> int:
    """Copy or encode the first video and audio streams of ``source`` into ``output``; returns the
    packets written."""
    vin = source.streams.video[0]
    ain = source.streams.audio[0] if plan.audio != "none" and source.streams.audio else None
    if plan.video == "copy":
        vout = output.add_stream_from_template(vin)
    else:
        vout = _h264_stream(output, vin, figures, threads)
    aout = None
    if ain is not None:
        aout = output.add_stream_from_template(ain) if plan.audio == "copy" else _aac_stream(output, ain)
    wanted = [vin] if ain is None else [vin, ain]
    base = float(vin.time_base or Fraction(1, 1000))
    start: float | None = None
    packets = 0
    last_told = 0.0
    scale = _encode_size(figures) if plan.video == "encode" else None
    for packet in source.demux(*wanted):
        is_video = packet.stream.index == vin.index
        if plan.video == "copy" and is_video or (not is_video and plan.audio == "copy"):
            if packet.dts is None or not packet.size:
                continue
            packet.stream = vout if is_video else aout
            output.mux(packet)
            packets += 1
        else:
            target: Any = vout if is_video else aout
            for frame in packet.decode():
                if is_video:
                    frame = frame.reformat(width=scale[0], height=scale[1], format="yuv420p") if scale else frame
                    frame.pict_type = av.video.frame.PictureType.NONE
                for out in target.encode(frame):
                    output.mux(out)
                    packets += 1
        if is_video and packet.pts is not None:
            at = packet.pts * base
            start = at if start is None else min(start, at)
            now = time.monotonic()
            if now - last_told >= 0.5 and figures.duration_s:
                last_told = now
                tell(
                    "encoding" if "encode" in (plan.video, plan.audio) else "copying",
                    min(1.0, (at - start) / figures.duration_s),
                )
    for stream, encoded in ((vout, plan.video == "encode"), (aout, plan.audio == "encode")):
        if stream is not None and encoded:
            for out in stream.encode(None):
                output.mux(out)
                packets += 1
    return packets


def _encode_size(figures: Probe) -> tuple[int, int] | None:
    """The encoded picture's size (even numbers, at most ``ENCODE_MAX_SIDE``), None to keep it."""
    width, height = figures.width, figures.height
    if max(width, height) <= ENCODE_MAX_SIDE and width % 2 == 0 and height % 2 == 0:
        return None
    scale = min(1.0, ENCODE_MAX_SIDE / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _h264_stream(output: Any, vin: Any, figures: Probe, threads: int) -> Any:
    vin.codec_context.thread_count = threads
    rate = Fraction(vin.average_rate or 30).limit_denominator(1001)
    if rate > ENCODE_MAX_FPS or rate <= 0:
        rate = Fraction(30)
    stream = output.add_stream("libx264", rate=rate)
    width, height = _encode_size(figures) or (figures.width, figures.height)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.time_base = vin.time_base
    stream.codec_context.time_base = vin.time_base
    stream.thread_count = threads
    stream.options = {"preset": "veryfast", "crf": "23", "profile": "high"}
    if figures.rotation:
        stream.set_display_rotation(figures.rotation)
    return stream


def _aac_stream(output: Any, ain: Any) -> Any:
    rate = ain.codec_context.sample_rate or 48000
    stream = output.add_stream("aac", rate=rate if rate in (44100, 48000, 32000, 22050, 16000) else 48000)
    stream.layout = "stereo" if (ain.codec_context.channels or 1) > 1 else "mono"
    stream.bit_rate = 128_000
    return stream
