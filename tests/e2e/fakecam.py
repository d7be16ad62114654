"""Fake cameras for Chromium: a .y4m clip of a real face (from tests/facecheck/faces.py) turning its head.

Chromium (``--use-file-for-fake-video-capture``) plays the file as the camera from the moment
getUserMedia starts, at the file's frame rate, and loops it. One loop:

    frontal (HOLD_S) -> turn to the person's left and back -> frontal (GAP_S) -> turn right and back

so that a burst started near the end of the long frontal hold sees a frontal face first and then a
turn to either side (the face check's challenge picks the side at random). Each frame carries its
index in the loop as 8 black/white squares in the bottom-left corner (``MARKER``); the test reads
them from the page's video to start the face check at the right moment (``read_marker_js``).
The head turn itself is ``faces.turn_head`` (a cylinder with a nose; see docs/facecheck.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.facecheck import faces

WIDTH, HEIGHT, FPS = 640, 480, 15
HOLD_S, RAMP_S, GAP_S = 1.5, 0.4, 0.3  # frontal hold, each half of a turn, frontal between the turns
PEAK_DEG = 35.0
MARKER = dict(x=8, y=HEIGHT - 20, size=12, step=16, bits=8)


def frames_per(seconds: float) -> int:
    return max(1, round(seconds * FPS))


def schedule() -> list[float]:
    """Head angle of every frame of one loop (> 0: the person's left)."""
    up = [PEAK_DEG * (i + 1) / frames_per(RAMP_S) for i in range(frames_per(RAMP_S))]
    turn = up + up[-2::-1] + [0.0]  # up to the peak and back down to frontal
    return [0.0] * frames_per(HOLD_S) + turn + [0.0] * frames_per(GAP_S) + [-a for a in turn]


def loop_seconds() -> float:
    return len(schedule()) / FPS


def hold_frames() -> int:
    return frames_per(HOLD_S)


def portrait_on_canvas(photo: np.ndarray) -> np.ndarray:
    """The portrait scaled to the frame's height, centred on a grey background (a phone at arm's length)."""
    factor = HEIGHT / photo.shape[0]
    scaled = faces.scale(photo, factor)[:HEIGHT, :WIDTH]
    x = max(0, (WIDTH - scaled.shape[1]) // 2)
    return faces.on_canvas(scaled, WIDTH, HEIGHT, at=(x, 0), grey=120)


def stamp(frame: np.ndarray, index: int) -> np.ndarray:
    out = frame.copy()
    m = MARKER
    for bit in range(m["bits"]):
        x = m["x"] + bit * m["step"]
        out[m["y"] - 2 : m["y"] + m["size"] + 2, x - 2 : x + m["size"] + 2] = 128  # grey frame around each square
        out[m["y"] : m["y"] + m["size"], x : x + m["size"]] = 255 if (index >> bit) & 1 else 0
    return out


def clip_frames(photo: np.ndarray, observe) -> list[np.ndarray]:
    """Every frame of one loop. ``observe(image)`` gives the frontal frame's face box and keypoints."""
    frontal = portrait_on_canvas(photo)
    seen = observe(frontal)
    assert seen.reason is None and seen.box is not None, f"no usable face in the fake camera's frame: {seen.reason}"
    rendered: dict[float, np.ndarray] = {0.0: frontal}
    out = []
    rng = np.random.default_rng(7)
    for i, angle in enumerate(schedule()):
        if angle not in rendered:
            rendered[angle] = faces.turn_head(frontal, seen.box, seen.keypoints, angle)
        noisy = np.clip(rendered[angle].astype(np.float32) + rng.normal(0.0, 1.5, frontal.shape), 0, 255).astype(
            np.uint8
        )
        out.append(stamp(noisy, i))
    return out


def write_y4m(path: Path, frames: list[np.ndarray]) -> Path:
    import av

    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_camera(path: Path, photo: np.ndarray, observe) -> Path:
    return write_y4m(path, clip_frames(photo, observe))


# Runs in the page: the loop index shown by the video right now (-1 when there is no picture).
READ_MARKER_JS = """(video) => {
  const m = %s;
  if (!video.videoWidth) return -1;
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(video, 0, 0);
  let index = 0;
  for (let bit = 0; bit < m.bits; bit++) {
    const x = m.x + bit * m.step + m.size / 2, y = m.y + m.size / 2;
    const [r] = g.getImageData(x * c.width / %d, y * c.height / %d, 1, 1).data;
    if (r > 128) index |= 1 << bit;
  }
  return index;
}""" % (str(MARKER).replace("'", '"'), WIDTH, HEIGHT)  # noqa: UP031 (a JS template: braces everywhere)
