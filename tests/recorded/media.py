"""Files the question-bank tests upload, made here with the real encoders (PyAV, Pillow): audio prompts
(MP3, M4A, WAV), a short video (not an audio prompt), a score-like image, and question-bank zips."""

from __future__ import annotations

import io
import zipfile

import av
import numpy as np
from PIL import Image, ImageDraw

CODECS = {"mp3": ("mp3", "libmp3lame"), "m4a": ("ipod", "aac"), "wav": ("wav", "pcm_s16le")}


def audio(kind: str = "mp3", seconds: float = 2.0, rate: int = 16000, hz: float = 440.0) -> bytes:
    """A sine tone of ``seconds`` in the format ``kind`` (mp3, m4a, wav)."""
    fmt, codec = CODECS[kind]
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        sample_format = stream.codec_context.format.name
        t = np.arange(int(rate * seconds)) / rate
        wave = np.sin(2 * np.pi * hz * t) * 0.3
        chunk = 1152
        for start in range(0, len(wave), chunk):
            part = wave[start : start + chunk]
            if sample_format.startswith("s16"):
                data = (part * 32767).astype(np.int16)
            elif sample_format.startswith("s32"):
                data = (part * 2147483647).astype(np.int32)
            else:
                data = part.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=sample_format, layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def video(seconds: float = 1.0) -> bytes:
    """A small WebM with a video stream (a video is not an audio prompt)."""
    out = io.BytesIO()
    with av.open(out, "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20 % 255, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def score(label: str = "视奏 1", kind: str = "PNG", size: tuple[int, int] = (600, 300)) -> bytes:
    """An image that looks like a line of a score (five staff lines, a few notes), with ``label``."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for i in range(5):
        y = 100 + i * 16
        draw.line((30, y, size[0] - 30, y), fill="black", width=2)
    for i, x in enumerate(range(80, size[0] - 60, 70)):
        y = 100 + (i * 13) % 64
        draw.ellipse((x, y, x + 18, y + 13), fill="black")
        draw.line((x + 17, y + 6, x + 17, y - 40), fill="black", width=2)
    draw.text((30, 30), label.encode("ascii", "replace").decode(), fill="black")
    out = io.BytesIO()
    img.save(out, kind)
    return out.getvalue()


def bank_zip(index: str, files: dict[str, bytes], index_name: str = "题目.csv", encoding: str = "utf-8-sig") -> bytes:
    """A question-bank zip: the CSV index and the files (names as given, tricks included)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(index_name, index.encode(encoding))
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return out.getvalue()
