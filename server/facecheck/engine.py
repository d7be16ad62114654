"""One look at one image: detect, judge quality, align, embed. Runs inside worker processes.

Pipeline (docs/facecheck.md has the numbers behind every constant):

1. **Detect** with mediapipe's Tasks FaceDetector: BlazeFace short range (the selfie model, best
   boxes and keypoints for a face filling the frame) and BlazeFace full range (which still sees
   faces that are small in the frame: a second person further back, a far-away candidate, who is
   then told "too small", not "no face").
2. **Exactly one face**, then the **quality rules**, measured on the face box: brightness, share
   of blown-out pixels, size (in pixels and as a share of the frame), sharpness.
3. **Align** with dlib's 5-point shape predictor and ``dlib.get_face_chip`` (the alignment the
   Dlib descriptor was trained with).
4. **Embed** the chip with deepface (``DeepFace.represent(..., detector_backend="skip")``).

The engine is built once per worker process (``FaceEngine.load`` in the pool initializer) and is
never pickled; what it returns (``Observation``) is plain data and crosses processes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .models import (
    DEFAULT_THRESHOLDS,
    EmbeddingModel,
    ModelFiles,
    check_models,
    embedding_model,
    model_files,
)
from .quality import (
    FRAME_OVEREXPOSED_SHARE,
    FRAME_TOO_DARK,
    OVEREXPOSED_LEVEL,
    luma,
    quality_reason,
    sharpness,
)

# --- detection ---------------------------------------------------------------------------------
# BlazeFace score needed to count a face. 0.5 (mediapipe's default) let a false second face
# through on a tight crop of grace_hopper (score 0.50); real faces in the test set score 0.67-0.94.
DETECTION_MIN_SCORE = 0.6

# --- alignment and the liveness patch --------------------------------------------------------------
CHIP_PADDING = 0.25  # dlib.get_face_chip's default, the framing dlib's descriptor was trained on
PATCH_SIZE = 160  # grey face patch kept for the liveness planarity test (liveness.py)
PATCH_SCALE = 1.3  # the patch covers the face box enlarged by this factor
PATCH_FEATURES = 200  # at most this many SIFT features kept per patch

# BlazeFace keypoints, in this order (mediapipe's FaceKeyPoint): the person's right eye (on the
# image's left in an unmirrored photo), left eye, nose tip, mouth centre, right ear tragion,
# left ear tragion.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")


@dataclass
class Observation:
    """What one image showed. Plain data: it crosses process boundaries (pickled)."""

    reason: str | None  # None = exactly one usable face; else one of REASONS
    box: tuple[int, int, int, int] | None  # x, y, w, h in pixels (may reach past the image edge)
    keypoints: list[tuple[float, float]]  # BlazeFace's 6 points in pixels, order as KEYPOINT_NAMES
    # Head-turn measure: the nose tip's offset from the midpoint of the eyes, along the eye line,
    # in units of the eye distance. ~0 facing the camera; in IMAGE terms > 0 means the nose moved
    # toward the image's right (in a raw, unmirrored front-camera frame: the candidate turned to
    # THEIR left). Not an angle: roughly 0.1 at 15-20 degrees, 0.2 at 30-35 degrees.
    yaw: float | None
    embedding: list[float] | None  # when reason is None and embed=True
    quality: dict[str, float]  # the numbers behind the reason (keys: see observe())
    # For liveness.py: SIFT features of the grey face patch (points in patch pixels, descriptors
    # uint8), the eye distance in patch pixels and the patch: for every frame with exactly one face,
    # unless observe() was called with reference=True or liveness=False.
    features: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    patch_eye_distance: float | None = None
    patch: np.ndarray | None = field(default=None, repr=False, compare=False)  # the grey face patch itself

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no embedding, no features), e.g. for an audit record."""
        return {
            "reason": self.reason,
            "box": list(self.box) if self.box else None,
            "keypoints": [[round(x, 1), round(y, 1)] for x, y in self.keypoints],
            "yaw": None if self.yaw is None else round(self.yaw, 4),
            "quality": {k: round(float(v), 4) for k, v in self.quality.items()},
        }


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what native libraries print on fd 2 while models load (LiteRT's INFO lines and one
    warning per sparse tensor of the full-range model). Python-level errors still propagate."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def yaw_from_keypoints(keypoints: Sequence[tuple[float, float]]) -> float | None:
    """The Observation.yaw measure from BlazeFace's keypoints (None if the eyes coincide)."""
    right_eye, left_eye, nose = (np.asarray(keypoints[i], dtype=np.float64) for i in range(3))
    eyes = left_eye - right_eye
    distance = float(np.hypot(*eyes))
    if distance < 1e-6:
        return None
    return float(np.dot(nose - (right_eye + left_eye) / 2, eyes / distance) / distance)


class FaceEngine:
    """Loaded models for one process. ``observe`` looks at an RGB image; ``distance`` compares."""

    def __init__(
        self,
        files: ModelFiles,
        model: EmbeddingModel,
        threshold: float,
        detector: Any,
        detector_full_range: Any,
        shape_predictor: Any,
        represent: Any,
    ) -> None:
        self.files = files
        self.model = model
        self.model_name = model.name
        self.threshold = float(threshold)
        self._detector = detector
        self._detector_full_range = detector_full_range
        self._shape_predictor = shape_predictor
        self._represent = represent
        self._sift: Any = None  # cv2.SIFT, made on first use

    # --- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, models_dir: Path, model_name: str = "Dlib", threshold: float = 0.0) -> FaceEngine:
        """Check the files (ModelsMissing names the fix), then load every model and warm it up."""
        model = embedding_model(model_name)  # ValueError for an unknown name
        check_models(models_dir, model.name)
        files = model_files(models_dir)
        os.environ["DEEPFACE_HOME"] = str(files.deepface_home)  # before deepface is imported
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

        import dlib
        from mediapipe.tasks.python import BaseOptions, vision

        def detector(path: Path):
            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(path)),
                running_mode=vision.RunningMode.IMAGE,
                min_detection_confidence=DETECTION_MIN_SCORE,
            )
            return vision.FaceDetector.create_from_options(options)

        with _quiet_native_stderr():
            short = detector(files.detector)
            full = detector(files.detector_full_range)
        predictor = dlib.shape_predictor(str(files.shape_predictor))
        from deepface import DeepFace

        DeepFace.build_model(model_name=model.name, task="facial_recognition")
        engine = cls(
            files, model, threshold or DEFAULT_THRESHOLDS[model.name], short, full, predictor, DeepFace.represent
        )
        # Close the detectors while mediapipe's dispatcher threads still run (they stop before
        # plain atexit handlers do); otherwise their __del__ fails noisily at interpreter exit.
        getattr(threading, "_register_atexit", atexit.register)(engine.close)
        with _quiet_native_stderr():  # the first detection logs a LiteRT warning about tensor alignment
            blank = np.full((240, 320, 3), 128, np.uint8)
            short.detect(_mp_image(blank))
            full.detect(_mp_image(blank))
        engine._embed_chip(np.full((model.chip_size, model.chip_size, 3), 128, np.uint8))  # warm up
        return engine

    def close(self) -> None:
        """Release the detectors (also done automatically at interpreter exit)."""
        for name in ("_detector", "_detector_full_range"):
            detector = getattr(self, name, None)
            if detector is None:
                continue
            setattr(self, name, None)
            try:
                with _quiet_native_stderr():
                    detector.close()
            except Exception:  # too late to close cleanly: let __del__ find nothing to do
                detector._handle = None

    # --- comparing -------------------------------------------------------------------------------
    @staticmethod
    def metric(model_name: str, a: Sequence[float], b: Sequence[float]) -> float:
        """The distance DEFAULT_THRESHOLDS[model_name] is calibrated for (no models needed)."""
        x = np.asarray(a, dtype=np.float64)
        y = np.asarray(b, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"embeddings of different shapes: {x.shape} and {y.shape}")
        if embedding_model(model_name).metric == "euclidean":
            return float(np.linalg.norm(x - y))
        norms = float(np.linalg.norm(x) * np.linalg.norm(y))
        return 1.0 - float(np.dot(x, y)) / norms if norms > 0 else 1.0

    def distance(self, a: Sequence[float], b: Sequence[float]) -> float:
        return self.metric(self.model_name, a, b)

    def matches(self, a: Sequence[float], b: Sequence[float]) -> bool:
        return self.distance(a, b) <= self.threshold

    # --- looking ---------------------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[tuple[float, tuple[int, int, int, int], list[tuple[float, float]]]]:
        """(score, box, keypoints) of every face, best first.

        Both BlazeFace models run: the short-range one gives the better box and keypoints for the
        main face, the full-range one also sees faces that are small in the frame (someone further
        back, a far-away candidate). A full-range face whose centre falls inside a short-range box
        (or the other way round) is the same face and is dropped.
        """
        if self._detector is None:
            raise RuntimeError("the face engine was closed")
        frame = _mp_image(image)
        height, width = image.shape[:2]

        def run(detector):
            found = []
            for d in detector.detect(frame).detections:
                score = float(d.categories[0].score) if d.categories else 0.0
                if score < DETECTION_MIN_SCORE:
                    continue
                b = d.bounding_box
                points = [(float(k.x) * width, float(k.y) * height) for k in d.keypoints]
                found.append((score, (int(b.origin_x), int(b.origin_y), int(b.width), int(b.height)), points))
            return found

        faces = run(self._detector)
        for extra in run(self._detector_full_range):
            if not any(_same_face(extra[1], known[1]) for known in faces):
                faces.append(extra)
        return sorted(faces, key=lambda f: -f[0])

    def observe(
        self, image: np.ndarray, embed: bool = True, reference: bool = False, liveness: bool = True
    ) -> Observation:
        """Look at one RGB uint8 image (H, W, 3).

        ``reference=True`` is for ID photos: only the absolute size rule applies (48 px, not 64 px,
        and no share-of-frame rule, since an ID photo may be a tight crop or a whole scanned card),
        and no liveness patch is kept.
        ``liveness=False`` skips the face patch and its SIFT features (~10 ms) that liveness.turned()
        needs: for frames that take part in no head-turn check (room entry).

        ``quality`` keys: ``frame_brightness`` always; with one face also ``score``, ``brightness``,
        ``overexposed``, ``face_px``, ``face_fraction``, ``sharpness``; ``faces`` when not one.
        """
        image = _as_rgb(image)
        height, width = image.shape[:2]
        faces = self.detect(image)
        grey = luma(image)
        quality: dict[str, float] = {"frame_brightness": float(grey.mean())}
        if len(faces) != 1:
            quality["faces"] = float(len(faces))
            if faces:
                return Observation("face_multiple", None, [], None, None, quality)
            quality["frame_overexposed"] = float((grey >= OVEREXPOSED_LEVEL).mean())
            reason: str | None
            if quality["frame_brightness"] < FRAME_TOO_DARK:
                reason = "face_too_dark"
            elif quality["frame_overexposed"] > FRAME_OVEREXPOSED_SHARE:
                reason = "face_overexposed"
            else:
                reason = "face_no_face"
            return Observation(reason, None, [], None, None, quality)

        score, box, keypoints = faces[0]
        x, y, w, h = box
        grey_face = grey[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]
        if grey_face.size == 0 or w < 2 or h < 2:  # a box wholly outside the frame
            return Observation("face_no_face", None, [], None, None, quality)
        quality.update(
            score=score,
            brightness=float(grey_face.mean()),
            overexposed=float((grey_face >= OVEREXPOSED_LEVEL).mean()),
            face_px=float(w),
            face_fraction=float(w) / float(min(height, width)),
            sharpness=sharpness(grey_face),
        )
        yaw = yaw_from_keypoints(keypoints) if len(keypoints) >= 3 else None
        reason = quality_reason(quality, reference)
        keep_patch = liveness and not reference
        features, patch_eye, patch = self._patch_features(grey, box, keypoints) if keep_patch else (None, None, None)
        embedding = None
        if reason is None and embed:
            embedding = self._embed_chip(self._align(image, box))
        return Observation(reason, box, keypoints, yaw, embedding, quality, features, patch_eye, patch)

    # --- alignment and embedding -----------------------------------------------------------------
    def _align(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The aligned RGB face chip (model.chip_size square), from dlib's 5 landmarks in the box."""
        import dlib

        x, y, w, h = box
        rect = dlib.rectangle(int(x), int(y), int(x + w), int(y + h))
        shape = self._shape_predictor(image, rect)
        return dlib.get_face_chip(image, shape, size=self.model.chip_size, padding=CHIP_PADDING)

    def _embed_chip(self, chip_rgb: np.ndarray) -> list[float]:
        result = self._represent(
            img_path=np.ascontiguousarray(chip_rgb[:, :, ::-1]),  # deepface takes arrays as BGR
            model_name=self.model_name,
            detector_backend="skip",
            enforce_detection=False,
            align=False,
        )
        return [float(v) for v in result[0]["embedding"]]

    def embed_aligned(self, image: np.ndarray, box: tuple[int, int, int, int]) -> list[float]:
        """Align and embed the face in ``box`` without the quality rules (diagnostics, bench)."""
        return self._embed_chip(self._align(_as_rgb(image), box))

    # --- the liveness patch ------------------------------------------------------------------------
    def _patch_features(
        self, grey: np.ndarray, box, keypoints
    ) -> tuple[tuple[np.ndarray, np.ndarray] | None, float | None, np.ndarray | None]:
        """(SIFT features, eye distance, patch) of a grey, square face patch: the face box enlarged
        PATCH_SCALE times, resized to PATCH_SIZE pixels."""
        import cv2

        if len(keypoints) < 2:
            return None, None, None
        x, y, w, h = box
        side = max(w, h) * PATCH_SCALE
        cx, cy = x + w / 2.0, y + h / 2.0
        scale = PATCH_SIZE / side
        warp = np.array(
            [[scale, 0, (side / 2.0 - cx) * scale], [0, scale, (side / 2.0 - cy) * scale]], dtype=np.float32
        )
        patch = cv2.warpAffine(
            grey,
            warp,
            (PATCH_SIZE, PATCH_SIZE),
            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        eyes = np.subtract(keypoints[1], keypoints[0])
        eye_distance = float(np.hypot(*eyes)) * scale
        if self._sift is None:
            self._sift = cv2.SIFT_create(nfeatures=PATCH_FEATURES)  # type: ignore[attr-defined]
        points, descriptors = self._sift.detectAndCompute(patch, None)
        if descriptors is None or not points:
            return (np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8)), eye_distance, patch
        coords = np.array([p.pt for p in points], dtype=np.float32)
        return (coords, np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)), eye_distance, patch


def _same_face(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Two boxes of one face: the centre of either lies inside the other."""

    def inside(p: tuple[float, float], box) -> bool:
        x, y, w, h = box
        return x <= p[0] <= x + w and y <= p[1] <= y + h

    return inside((a[0] + a[2] / 2, a[1] + a[3] / 2), b) or inside((b[0] + b[2] / 2, b[1] + b[3] / 2), a)


def _mp_image(image: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)
