"""The files of question banks and guided steps (docs/recorded.md "Question bank"): what is accepted,
checked by decoding it, and where it is kept.

Accepted: JPEG and PNG images (a score to sight-read; Pillow opens, verifies and decodes them, the
ID photos' rule) and MP3, M4A (AAC) and WAV audio (PyAV opens the container and decodes the start;
these three play in every phone browser). Anything else, a file over its size limit, an image with
too many pixels or an audio prompt too long is refused with a code that names the rule.

Kept content-addressed, like the ID photos, under ``data/questions/<sha[:2]>/<sha256>``: the same
file uploaded twice is one file, a file is never overwritten, and a file is written only after it
passed (an import writes its files only once every row passed). The type is in the question's
Redis record, not in the name. Files are never deleted by the server (a deleted question's file
may be a take's drawn question); they are small, and content-addressed.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import UserError
from ..i18n import human_size
from ..roster.photos import check_image, write_once

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_AUDIO_BYTES = 20 * 1024 * 1024
MAX_AUDIO_S = 600  # an audio prompt (or a step's guide) of at most 10 minutes
IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
# PyAV's container format name -> (the MIME type it is served with, the codecs accepted in it)
AUDIO_FORMATS = {
    "mp3": ("audio/mpeg", ("mp3", "mp3float")),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", ("aac",)),
    "wav": ("audio/wav", ("pcm_s16le", "pcm_s24le", "pcm_u8", "pcm_f32le")),
}
TYPES = {*IMAGE_TYPES.values(), *(mime for mime, _ in AUDIO_FORMATS.values())}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Media:
    """A checked file: ``kind`` image | audio, its MIME ``type``, size, sha256, an audio's length."""

    kind: str
    type: str
    size: int
    sha256: str
    duration_s: float = 0.0


def inspect(data: bytes, name: str = "") -> Media:
    """What ``data`` is, if it is a file a question or a step may carry; else a ``UserError``
    (``question_file_empty``, ``question_file_too_large``, ``question_image_invalid``,
    ``question_audio_invalid``, ``question_audio_too_long``, ``question_file_type``). Blocking: decodes."""
    shown = name[-80:] or "-"
    if not data:
        raise UserError("question_file_empty", file=shown)
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        if len(data) > MAX_IMAGE_BYTES:
            raise UserError("question_file_too_large", file=shown, limit=human_size(MAX_IMAGE_BYTES))
        kind = check_image(data)  # Pillow: opens, verifies and decodes; too many pixels is None too
        if kind is None:
            raise UserError("question_image_invalid", file=shown)
        return Media("image", IMAGE_TYPES[kind], len(data), sha)
    if len(data) > MAX_AUDIO_BYTES:
        raise UserError("question_file_too_large", file=shown, limit=human_size(MAX_AUDIO_BYTES))
    mime, seconds = _audio(data, shown)
    return Media("audio", mime, len(data), sha, seconds)


def _audio(data: bytes, shown: str) -> tuple[str, float]:
    """(MIME type, length in seconds) of an accepted audio file; refuses anything else."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            accepted = AUDIO_FORMATS.get(container.format.name)
            streams = container.streams.audio
            if accepted is None or not streams:
                raise UserError("question_file_type", file=shown)
            if any(s.type == "video" and not s.disposition.attached_pic for s in container.streams.video):
                raise UserError("question_file_type", file=shown)  # a video is not an audio prompt
            stream = streams[0]
            mime, codecs = accepted
            if stream.codec_context.name not in codecs:
                raise UserError("question_audio_invalid", file=shown)
            seconds = container.duration / av.time_base if container.duration else 0.0
            if seconds > MAX_AUDIO_S + 1:
                raise UserError("question_audio_too_long", file=shown, max=MAX_AUDIO_S // 60)
            decoded = 0.0
            for frame in container.decode(stream):  # the start decodes (a renamed or cut file does not)
                decoded += frame.samples / (frame.sample_rate or 1)
                if decoded >= 1.0:
                    break
            if decoded <= 0:
                raise UserError("question_audio_invalid", file=shown)
    except UserError:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError):
        # a cut or damaged file that starts like one of the accepted kinds, or no audio file at all
        raise UserError("question_audio_invalid" if _looks_audio(data) else "question_file_type", file=shown) from None
    return mime, round(seconds or decoded, 3)


def _looks_audio(data: bytes) -> bool:
    """The first bytes of an MP3 (ID3 tag or frame sync), a WAV (RIFF/WAVE) or an MP4/M4A (ftyp box)."""
    head = data[:12]
    return (
        head.startswith(b"ID3")
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
        or (head.startswith(b"RIFF") and head[8:12] == b"WAVE")
        or head[4:8] == b"ftyp"
    )


class MediaFiles:
    """Question and step files under ``root/<sha[:2]>/<sha256>`` (``data/questions``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent, atomic) and return its sha256. Blocking."""
        sha = hashlib.sha256(data).hexdigest()
        write_once(self.root / sha[:2] / sha, data)
        return sha

    def path(self, sha256: str) -> Path | None:
        """The stored file, or None (a malformed digest never reaches the file system)."""
        if not _SHA256.match(sha256 or ""):
            return None
        found = self.root / sha256[:2] / sha256
        return found if found.is_file() else None
