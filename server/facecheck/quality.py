"""The quality rules a face must meet before it is compared: light, exposure, size, sharpness.

Each threshold is where a test face, degraded step by step, drifts from the undegraded one by about
half the match threshold (the numbers beside each); a candidate then gets the reason and advice
instead of "no match" (docs/facecheck.md).
"""

from __future__ import annotations

import numpy as np

REASONS = ("face_no_face", "face_multiple", "face_too_dark", "face_overexposed", "face_too_small", "face_blurry")

# --- quality rules (live frames) ----------------------------------------------------------------
# Each was chosen where the Dlib embedding of a test face, degraded step by step, drifts from the
# undegraded one by about half the match threshold (~0.25): past that, a genuine candidate starts
# to fail for reasons they can fix, so they are better told the reason than "no match".
# Mean luma (0-255) of the face box. Darkening astronaut/grace_hopper: drift 0.19-0.20 at mean
# ~45, 0.23-0.27 at ~33-40; a real camera adds noise in the dark, so the cut is on the safe side.
MIN_FACE_BRIGHTNESS = 40.0
# Share of face-box pixels at luma >= 250 (blown out). Brightening: drift 0.15 at 26 % (astronaut),
# 0.27 at 32 % (grace_hopper), 0.31 at 53 % (astronaut).
OVEREXPOSED_LEVEL = 250
MAX_OVEREXPOSED_SHARE = 0.30
# Face box width in pixels. Shrinking the faces: drift 0.12-0.13 at 64 px, 0.18-0.22 at 48 px,
# 0.27-0.34 below 40 px. Live frames need 64 px (a phone's 480x640 frame gives ~200 px at arm's
# length); ID photos 48 px (the chip photo of an ID card is only 102x126 px).
MIN_FACE_PX = 64
MIN_REFERENCE_FACE_PX = 48
# Face box width as a share of the frame's shorter side, live frames only ("come closer"): the
# package-shipped portraits have 16-38 %; a candidate filling "about a third" has ~30-45 %.
MIN_FACE_FRACTION = 0.15
# Sharpness: variance of the Laplacian of the face box, grey, resized to 96x96 and normalised to
# zero mean and unit variance (so light and contrast do not count, only detail). The test faces
# score 0.13-0.86; a Gaussian blur of 1 % of the face width gives 0.03-0.09 (drift 0.16-0.21),
# of 1.5 % gives 0.013-0.034 (drift 0.25-0.34), of 2 % 0.010-0.017 (drift 0.34-0.49).
MIN_SHARPNESS = 0.03
SHARPNESS_SIZE = 96
# When no face is found at all, a frame this dark / this blown out is reported as such, since
# that is the likely cause and the advice is more useful than "no face".
FRAME_TOO_DARK = 30.0
FRAME_OVEREXPOSED_SHARE = 0.5


def luma(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sharpness(grey_face: np.ndarray) -> float:
    """Variance of the Laplacian of the face, resized to SHARPNESS_SIZE and normalised (see MIN_SHARPNESS)."""
    import cv2

    face = grey_face.astype(np.float32)
    inter = cv2.INTER_AREA if face.shape[1] > SHARPNESS_SIZE else cv2.INTER_LINEAR
    g = cv2.resize(face, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=inter)
    std = float(g.std())
    if std < 1e-3:
        return 0.0
    g = (g - float(g.mean())) / std
    return float(cv2.Laplacian(g, cv2.CV_32F).var())


def quality_reason(q: dict[str, float], reference: bool) -> str | None:
    """Why a face of these measures cannot serve (a REASONS code), or None."""
    if q["brightness"] < MIN_FACE_BRIGHTNESS:
        return "face_too_dark"
    if q["overexposed"] > MAX_OVEREXPOSED_SHARE:
        return "face_overexposed"
    if q["face_px"] < (MIN_REFERENCE_FACE_PX if reference else MIN_FACE_PX):
        return "face_too_small"
    if not reference and q["face_fraction"] < MIN_FACE_FRACTION:
        return "face_too_small"
    if q["sharpness"] < MIN_SHARPNESS:
        return "face_blurry"
    return None
