"""Small test videos made with PyAV at test time (nothing shipped): a moving bar over a changing
colour, and a tone, in the containers and codecs phones produce."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

QUIET = {"libx265": {"preset": "ultrafast", "x265-params": "log-level=error"}, "libx264": {"preset": "ultrafast"}}


def make_clip(
    path: Path,
    fmt: str = "mp4",
    vcodec: str = "libx264",
    acodec: str | None = "aac",
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    rotation: int = 0,
    options: dict | None = None,
    noise: bool = False,
) -> Path:
    """A clip of ``seconds`` at ``fps`` (``rotation``: the display matrix a phone writes). ``noise``:
    random pictures, losslessly encoded (x264 ``qp 0``: ~170 KB a 320x240 frame), for a file of a
    few MB that does not compress (uploads that take a while)."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {**QUIET.get(vcodec, {}), **({"qp": "0"} if noise and vcodec == "libx264" else {})}
        if rotation:
            video.set_display_rotation(rotation)
        audio = out.add_stream(acodec, rate=48000) if acodec else None
        if audio is not None:
            audio.layout = "mono"
        for i in range(int(seconds * fps)):
            if noise:
                img = rng.integers(0, 255, (height, width, 3), np.uint8)
            else:
                img = np.zeros((height, width, 3), np.uint8)
                img[:, :, 0] = (i * 8) % 256
                x = (i * 5) % max(1, width - 20)
                img[height // 3 : height // 2, x : x + 20] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            total, step = int(seconds * 48000), 960
            for start in range(0, total, step):
                t = np.arange(start, start + step) / 48000
                samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
    return path


def video_packets(path: Path) -> list[bytes]:
    """The video packets' bytes, in order (what a copy must keep identical)."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def codecs(path: Path) -> tuple[str, str]:
    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context.name
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else ""
        return video, audio
