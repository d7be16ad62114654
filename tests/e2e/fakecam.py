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


# --- a camera that follows the live face check's moves ------------------------------------------
# The y4m clip cannot follow the server's moves (their order and moments are the server's secret), so
# the e2e candidate's camera is a canvas (installed in every page before its scripts run): it shows
# the fake camera's own video until the test loads pictures of the face turned by 5-degree steps
# (``window.__faceCam.load``, ``driven_camera_pngs``); from then on it shows the face turning the way the page asks
# (``#face-box[data-face-move]``, set by web/static/js/facecheck.js while a move is asked), 0.3 s
# after the prompt, holding the turn 0.8 s, as a person would. A little brightness jitter in every
# frame stands for a real sensor's noise. Only the test's camera changes: the page and the server run
# as for every candidate.
TURN_STEP_DEG = 5
DRIVEN_CAMERA_JS = """(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const original = md.getUserMedia.bind(md);
  const cam = window.__faceCam = { images: null, angle: 0, target: 0, plan: [], seen: null, moves: [] };
  cam.load = async (pngs) => {
    const pairs = await Promise.all(Object.entries(pngs).map(async ([angle, b64]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return [Number(angle), await createImageBitmap(new Blob([bytes], { type: "image/png" }))];
    }));
    cam.images = new Map(pairs);
  };
  const follow = (now) => {
    const box = document.getElementById("face-box");
    const move = box && box.dataset.faceMove;
    if (move && move !== cam.seen) {
      cam.seen = move;
      cam.moves.push(move);
      const peak = move.startsWith("left") ? %(peak)d : -%(peak)d;
      cam.plan.push([now + 300, peak], [now + 1100, 0]);
    }
    while (cam.plan.length && cam.plan[0][0] <= now) cam.target = cam.plan.shift()[1];
    const step = 6;
    cam.angle += Math.max(-step, Math.min(step, cam.target - cam.angle));
    const key = Math.round(cam.angle / %(step)d) * %(step)d;
    return cam.images.get(key) || cam.images.get(0);
  };
  md.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    const real = stream.getVideoTracks()[0];
    if (!real) return stream;
    const source = document.createElement("video");
    source.muted = true;
    source.playsInline = true;
    source.srcObject = new MediaStream([real]);
    source.play().catch(() => {});
    const canvas = document.createElement("canvas");
    canvas.width = %(width)d;
    canvas.height = %(height)d;
    const g = canvas.getContext("2d");
    const draw = () => {
      if (cam.images) g.drawImage(follow(performance.now()), 0, 0, canvas.width, canvas.height);
      else if (source.videoWidth) g.drawImage(source, 0, 0, canvas.width, canvas.height);
      g.fillStyle = Math.random() < 0.5 ? "rgba(255,255,255,0.012)" : "rgba(0,0,0,0.012)";
      g.fillRect(0, 0, canvas.width, canvas.height);
    };
    draw();
    const timer = setInterval(draw, 1000 / %(fps)d);
    const track = canvas.captureStream(%(fps)d).getVideoTracks()[0];
    const stop = track.stop.bind(track);
    track.stop = () => { clearInterval(timer); real.stop(); stop(); };
    return new MediaStream([track, ...stream.getAudioTracks()]);
  };
})();""" % dict(peak=int(PEAK_DEG), step=TURN_STEP_DEG, width=WIDTH, height=HEIGHT, fps=FPS)  # noqa: UP031


def turn_pictures(photo: np.ndarray, observe) -> dict[int, bytes]:
    """PNGs of the portrait turned by -PEAK_DEG..PEAK_DEG in TURN_STEP_DEG steps (> 0: the person's left)."""
    from tests.facecheck.faces import encode

    frontal = portrait_on_canvas(photo)
    seen = observe(frontal)
    assert seen.reason is None and seen.box is not None, seen.reason
    out = {}
    for angle in range(-int(PEAK_DEG), int(PEAK_DEG) + 1, TURN_STEP_DEG):
        image = frontal if angle == 0 else faces.turn_head(frontal, seen.box, seen.keypoints, angle)
        out[angle] = encode(image, "PNG")
    return out


def write_turn_pictures(folder: Path, photo: np.ndarray, observe) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for angle, data in turn_pictures(photo, observe).items():
        (folder / f"{angle}.png").write_bytes(data)
    return folder


def driven_camera_pngs(folder: Path) -> dict[str, str]:
    """The pictures of ``write_turn_pictures`` as ``window.__faceCam.load`` takes them (angle -> base64)."""
    import base64

    return {p.stem: base64.b64encode(p.read_bytes()).decode() for p in sorted(folder.glob("*.png"))}
