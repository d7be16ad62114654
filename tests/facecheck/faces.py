"""Real faces that ship inside installed packages, and what a phone camera does to them.

Sources (nothing is downloaded; the files come with the packages the tests install):

- ``astronaut``: scikit-image ``data/astronaut.png`` -- Eileen Collins, NASA portrait, public domain.
- ``grace_hopper``: matplotlib ``mpl-data/sample_data/grace_hopper.jpg`` -- US Navy portrait, public domain.
- ``camera``: scikit-image ``data/camera.png`` -- a cameraman in three-quarter view, partly hidden by
  his camera, CC0 (Lav Varshney). A hard case: grey, turned, occluded.
- ``lfw_faces()``: scikit-image ``data/lfw_subset.npy`` -- 100 faces of different people from the
  Labeled Faces in the Wild set, 25x25 grey crops, shipped by scikit-image. Too small to be anyone's
  reference; used only as impostor probes (upscaled), and reported apart.
- non-faces: scikit-image ``coffee.png`` (a cup) and ``chelsea.png`` (a cat).

Also here: the transforms a phone camera applies, a two-face frame, encoders for bad-input tests,
and the liveness simulators (a flat photo moved in the hand; a head turn re-projected on a
cylinder with a nose). What the simulations prove and do not prove is in docs/facecheck.md.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

# --- sources ---------------------------------------------------------------------------------------


def _skimage_data() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


@functools.cache
def _load(path: str) -> np.ndarray:
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    array.setflags(write=False)
    return array


def astronaut() -> np.ndarray:
    return _load(str(_skimage_data() / "astronaut.png"))


def grace_hopper() -> np.ndarray:
    import matplotlib

    return _load(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))


def camera() -> np.ndarray:
    return _load(str(_skimage_data() / "camera.png"))


def coffee() -> np.ndarray:
    return _load(str(_skimage_data() / "coffee.png"))


def chelsea() -> np.ndarray:
    return _load(str(_skimage_data() / "chelsea.png"))


IDENTITIES = {"astronaut": astronaut, "grace_hopper": grace_hopper, "camera": camera}


@functools.cache
def lfw_faces(count: int = 100) -> tuple[np.ndarray, ...]:
    """The LFW subset's faces (25x25 grey), upscaled 6x (bicubic) and centred on a grey 300x300
    canvas, so the detector sees them at a usable size. Each is a different photo; the subset has
    no names, so two of them may show the same person (only used against the identities above)."""
    raw = np.load(_skimage_data() / "lfw_subset.npy")[:100]
    out = []
    for face in raw[:count]:
        small = Image.fromarray(np.clip(face * 255.0 + 0.5, 0, 255).astype(np.uint8))
        big = np.asarray(small.resize((150, 150), Image.BICUBIC))
        canvas = np.full((300, 300), 128, np.uint8)
        canvas[75:225, 75:225] = big
        rgb = np.repeat(canvas[:, :, None], 3, axis=2)
        rgb.setflags(write=False)
        out.append(rgb)
    return tuple(out)


# --- what a phone camera does ---------------------------------------------------------------------


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    im = Image.fromarray(image)
    size = (max(1, round(im.width * factor)), max(1, round(im.height * factor)))
    return np.asarray(im.resize(size, Image.LANCZOS if factor < 1 else Image.BICUBIC))


def brightness(image: np.ndarray, factor: float) -> np.ndarray:
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(image)).enhance(factor))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return decode(encode(image, "JPEG", quality=quality))


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre (counter-clockwise), same size, edges filled with replicated pixels."""
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(sigma)))


def crop(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """The face box enlarged by ``margin`` of its width on every side (an ID-photo-like crop)."""
    x, y, w, h = box
    H, W = image.shape[:2]
    x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
    x1, y1 = min(W, int(x + w + margin * w)), min(H, int(y + h + margin * h))
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def on_canvas(image: np.ndarray, width: int, height: int, at: tuple[int, int] = (0, 0), grey: int = 120) -> np.ndarray:
    canvas = np.full((height, width, 3), grey, np.uint8)
    x, y = at
    h, w = image.shape[:2]
    canvas[y : y + h, x : x + w] = image[: height - y, : width - x]
    return canvas


def side_by_side(*images: np.ndarray, gap: int = 20) -> np.ndarray:
    """Two (or more) photos in one frame: the "more than one face" case."""
    height = max(i.shape[0] for i in images)
    width = sum(i.shape[1] for i in images) + gap * (len(images) - 1)
    canvas = np.full((height, width, 3), 200, np.uint8)
    x = 0
    for image in images:
        canvas[: image.shape[0], x : x + image.shape[1]] = image
        x += image.shape[1] + gap
    return canvas


def sensor(image: np.ndarray, seed: int, noise: float = 2.0, quality: int = 80) -> np.ndarray:
    """One camera frame of a scene: a little sensor noise, then JPEG (so no two frames are equal)."""
    rng = np.random.default_rng(seed)
    noisy = np.clip(image.astype(np.float32) + rng.normal(0.0, noise, image.shape), 0, 255).astype(np.uint8)
    return jpeg(noisy, quality)


# The phone transforms of the calibration: name -> function(image, face_box) -> image.
PHONE_TRANSFORMS = {
    "original": lambda im, box: im,
    "scale_0.8": lambda im, box: scale(im, 0.8),
    "scale_1.5": lambda im, box: scale(im, 1.5),
    "darker_0.6": lambda im, box: brightness(im, 0.6),
    "brighter_1.25": lambda im, box: brightness(im, 1.25),
    "jpeg_q15": lambda im, box: jpeg(im, 15),
    "jpeg_q40": lambda im, box: jpeg(im, 40),
    "rotate_+10": lambda im, box: rotate(im, 10),
    "rotate_-10": lambda im, box: rotate(im, -10),
    "rotate_+5": lambda im, box: rotate(im, 5),
    "mirror": lambda im, box: mirror(im),
    "crop_tight": lambda im, box: crop(im, box, 0.3),
    "noise_jpeg_q70": lambda im, box: sensor(im, seed=7, noise=4.0, quality=70),
    "combined": lambda im, box: jpeg(rotate(brightness(scale(im, 0.8), 0.8), -5), 50),
}


# --- encoders for the bad-input tests --------------------------------------------------------------


def encode(image: np.ndarray, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, fmt, **options)
    return out.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width x height (one empty IDAT chunk)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def jpeg_header_claiming(width: int, height: int) -> bytes:
    """A real small JPEG with its frame header (SOF0) rewritten to say width x height."""
    data = bytearray(encode(np.full((16, 16, 3), 128, np.uint8), "JPEG", quality=90))
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def with_exif_orientation(image: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes of ``image`` stored as is, with an EXIF Orientation tag (6 = rotate 90 CW to view)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


# --- liveness simulators ---------------------------------------------------------------------------


def photo_in_hand(
    image: np.ndarray,
    turn: float = 0.0,
    tilt: float = 0.0,
    roll: float = 0.0,
    focal: float = 1.0,
    distance: float = 1.0,
    background: int = 90,
    scene: np.ndarray | None = None,
) -> np.ndarray:
    """A flat print of ``image`` seen by the camera after turning it ``turn`` degrees about the
    vertical axis, tilting it ``tilt`` degrees about the horizontal one and rolling it ``roll``
    degrees in its plane, at ``distance`` (1 = filling the frame) with a lens of focal length
    ``focal`` x image width (0.6 is a wide phone lens held close: strong perspective).
    Around the print: a flat grey, or ``scene`` (a still room behind the hand, same size)."""
    import cv2

    h, w = image.shape[:2]
    f = focal * w
    camera_matrix = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])

    def rotation(axis: str, degrees: float) -> np.ndarray:
        t = np.radians(degrees)
        c, s = np.cos(t), np.sin(t)
        return {
            "x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
        }[axis]

    r = rotation("y", turn) @ rotation("x", tilt) @ rotation("z", roll)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    points = np.c_[corners - [w / 2, h / 2], np.zeros(4)] @ r.T + [0, 0, f * distance]
    projected = points @ camera_matrix.T
    projected = projected[:, :2] / projected[:, 2:]
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))
    seen = cv2.warpPerspective(
        image, homography, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(background,) * 3
    )
    if scene is None:
        return seen
    print_area = cv2.warpPerspective(np.full((h, w), 255, np.uint8), homography, (w, h), flags=cv2.INTER_NEAREST)
    room = np.asarray(Image.fromarray(np.ascontiguousarray(scene)).resize((w, h)))
    return np.where(print_area[:, :, None] > 0, seen, room)


def turn_head(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    keypoints,
    degrees: float,
    radius: float = 0.62,
    nose: float = 0.35,
    supersample: int = 4,
) -> np.ndarray:
    """Simulate the person in a frontal photo turning their head by ``degrees`` (> 0: the nose
    moves toward the image's right, i.e. the person turns to THEIR left).

    The head is modelled as a vertical cylinder (radius ``radius`` x face-box width, axis through
    the box centre) carrying the photo's texture, plus a nose: a ridge from the eye line to the nose
    tip standing ``nose`` x eye distance in front of the cylinder (a real nose tip stands ~0.5-0.6
    eye distances in front of the eyes, so this errs on the flat side). Each row is rotated about
    the axis and drawn back to front (a z-buffer), so the nose hides part of the far cheek and the
    far side is foreshortened. The background outside the cylinder stays still, as a room does.

    Not modelled: shading changes, the ears and the back of the head (the far edge is stretched
    texture), hair, neck and shoulders (they turn with the cylinder band).
    """
    h, w = image.shape[:2]
    bx, by, bw, bh = box
    x0 = bx + bw / 2.0
    r = radius * bw
    right_eye, left_eye, nose_tip = (np.asarray(keypoints[i], float) for i in range(3))
    eye_distance = float(np.linalg.norm(left_eye - right_eye))
    eye_y = (right_eye[1] + left_eye[1]) / 2.0
    nose_x, nose_y = nose_tip
    theta = np.radians(degrees)
    c, s = np.cos(theta), np.sin(theta)

    lo, hi = int(max(0, np.floor(x0 - r))), int(min(w, np.ceil(x0 + r)))
    xs = lo + (np.arange((hi - lo) * supersample) + 0.5) / supersample  # source x (continuous)
    X, Y = np.meshgrid(xs, np.arange(h) + 0.5)
    dx = X - x0
    z = np.sqrt(np.clip(r * r - dx * dx, 0.0, None))
    span = max(nose_y - eye_y, 1.0)
    along = np.clip((Y - eye_y) / span, 0.0, 1.0)  # 0 at the eye line, 1 at the nose tip
    below = np.clip(Y - nose_y, 0.0, None)
    ridge = nose * eye_distance * along * np.exp(-((X - nose_x) ** 2) / (2 * (0.13 * eye_distance) ** 2))
    z = z + ridge * np.exp(-(below**2) / (2 * (0.15 * span) ** 2))
    xp = x0 + dx * c + z * s
    zp = -dx * s + z * c

    cols = np.floor(xp).astype(int)
    rows = np.broadcast_to(np.arange(h)[:, None], cols.shape)
    inside = (cols >= lo) & (cols < hi)
    fx = xs - 0.5
    f0 = np.clip(np.floor(fx).astype(int), 0, w - 1)
    f1 = np.clip(f0 + 1, 0, w - 1)
    a = (fx - np.floor(fx))[None, :, None]
    colour = image[:, f0].astype(np.float32) * (1 - a) + image[:, f1].astype(np.float32) * a
    depth = np.full((h, w), -np.inf)
    np.maximum.at(depth, (rows[inside], cols[inside]), zp[inside])
    front = inside & (zp >= depth[rows, np.clip(cols, 0, w - 1)] - 1e-9)
    out = image.astype(np.float32).copy()
    filled = np.zeros((h, w), bool)
    out[rows[front], cols[front]] = colour[front]
    filled[rows[front], cols[front]] = True
    band = np.arange(lo, hi)
    for row in range(h):  # pixels no surface point landed on: interpolate along the row
        hit = filled[row, lo:hi]
        if hit.all() or not hit.any():
            continue
        for ch in range(3):
            out[row, band[~hit], ch] = np.interp(band[~hit], band[hit], out[row, band[hit], ch])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def bend_photo(image: np.ndarray, box, keypoints, degrees: float) -> np.ndarray:
    """A print bent around a vertical axis and turned: the cylinder of ``turn_head`` without a nose."""
    return turn_head(image, box, keypoints, degrees, nose=0.0)
