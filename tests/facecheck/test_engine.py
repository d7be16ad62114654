"""The engine on real faces: every reason from the input that should cause it; genuine pairs match
and impostors do not at the calibrated threshold (docs/facecheck.md has the full table)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from server.facecheck import quality as E
from server.facecheck.engine import FaceEngine
from server.facecheck.models import DEFAULT_THRESHOLDS
from server.facecheck.quality import REASONS
from tests.facecheck import faces


def test_a_good_face_passes(face_engine):
    for photo in (faces.astronaut(), faces.grace_hopper()):
        obs = face_engine.observe(photo)
        assert obs.reason is None
        assert obs.embedding is not None and len(obs.embedding) == 128
        assert len(obs.keypoints) == 6 and obs.box is not None
        assert abs(obs.yaw) < 0.1  # both portraits face the camera
        right_eye, left_eye, nose = obs.keypoints[:3]
        assert right_eye[0] < nose[0] < left_eye[0]  # the person's right eye is on the image's left
        assert set(obs.quality) >= {"brightness", "overexposed", "face_px", "face_fraction", "sharpness", "score"}


def test_no_face(face_engine):
    for picture in (faces.coffee(), faces.chelsea()):  # a cup, a cat
        obs = face_engine.observe(picture)
        assert obs.reason == "face_no_face"
        assert obs.box is None and obs.embedding is None and obs.keypoints == []


def test_two_faces(face_engine):
    for frame in (
        faces.side_by_side(faces.astronaut(), faces.grace_hopper()),
        faces.side_by_side(faces.grace_hopper(), faces.grace_hopper()),
        # someone further back: half the size, still counted (the full-range detector)
        faces.side_by_side(faces.grace_hopper(), faces.scale(faces.grace_hopper(), 0.5)),
    ):
        obs = face_engine.observe(frame)
        assert obs.reason == "face_multiple" and obs.quality["faces"] == 2
        assert obs.embedding is None


def test_too_dark(face_engine):
    obs = face_engine.observe(faces.brightness(faces.astronaut(), 0.15))
    assert obs.reason == "face_too_dark" and obs.quality["brightness"] < E.MIN_FACE_BRIGHTNESS
    assert obs.embedding is None
    # so dark that no face is found: still "too dark", the useful advice
    assert face_engine.observe(np.zeros((480, 640, 3), np.uint8)).reason == "face_too_dark"


def test_overexposed(face_engine):
    obs = face_engine.observe(faces.brightness(faces.grace_hopper(), 2.4))
    assert obs.reason == "face_overexposed" and obs.quality["overexposed"] > E.MAX_OVEREXPOSED_SHARE
    assert face_engine.observe(np.full((480, 640, 3), 255, np.uint8)).reason == "face_overexposed"


def test_too_small(face_engine):
    # far from the camera: the face is 10 % of a 1280x960 frame (found by the full-range model)
    far = face_engine.observe(faces.on_canvas(faces.astronaut(), 1280, 960, (300, 200)))
    assert far.reason == "face_too_small" and far.quality["face_fraction"] < E.MIN_FACE_FRACTION
    # a low-resolution picture: 47 px of face
    tiny = face_engine.observe(faces.scale(faces.astronaut(), 0.5))
    assert tiny.reason == "face_too_small" and tiny.quality["face_px"] < E.MIN_FACE_PX


def test_blurry(face_engine):
    photo = faces.grace_hopper()
    obs = face_engine.observe(faces.blur(photo, 0.03 * 194))  # sigma = 3 % of the face width
    assert obs.reason == "face_blurry" and obs.quality["sharpness"] < E.MIN_SHARPNESS
    assert face_engine.observe(faces.blur(faces.astronaut(), 0.03 * 95)).reason == "face_blurry"


def test_every_reason_is_a_message():
    from server.i18n import MESSAGES

    for reason in REASONS:
        assert reason in MESSAGES and "advice_" + reason in MESSAGES


def test_an_id_photo_is_judged_as_a_reference(face_engine):
    """A 108 px crop, like the chip photo of an ID card: fine as a reference, too small live."""
    box = face_engine.observe(faces.grace_hopper()).box
    id_photo = faces.scale(faces.crop(faces.grace_hopper(), box, 0.3), 0.35)
    assert id_photo.shape[0] < 130
    ref = face_engine.observe(id_photo, reference=True)
    assert ref.reason is None and ref.embedding is not None
    assert ref.features is None and ref.patch is None  # references never take part in liveness
    live = face_engine.observe(faces.scale(faces.crop(faces.grace_hopper(), box, 0.3), 0.2))
    assert live.reason == "face_too_small"
    assert face_engine.matches(ref.embedding, face_engine.observe(faces.grace_hopper()).embedding)


def test_embed_false_and_liveness_false(face_engine):
    obs = face_engine.observe(faces.astronaut(), embed=False)
    assert obs.reason is None and obs.embedding is None and obs.features is not None
    lean = face_engine.observe(faces.astronaut(), liveness=False)
    assert lean.embedding is not None and lean.features is None and lean.patch is None


def test_bad_arrays_are_refused(face_engine):
    with pytest.raises(ValueError):
        face_engine.observe(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        face_engine.observe(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        face_engine.observe(np.zeros((10, 10, 4), np.uint8))


def test_observation_is_plain_data(face_engine):
    obs = face_engine.observe(faces.grace_hopper())
    again = pickle.loads(pickle.dumps(obs))  # crosses the worker-process boundary
    assert again.embedding == obs.embedding and again.yaw == obs.yaw
    assert np.array_equal(again.patch, obs.patch)
    summary = json.loads(json.dumps(obs.as_dict()))
    assert summary["reason"] is None and len(summary["keypoints"]) == 6 and "embedding" not in summary


def test_metric(face_engine):
    a = face_engine.observe(faces.astronaut()).embedding
    b = face_engine.observe(faces.grace_hopper()).embedding
    assert face_engine.threshold == DEFAULT_THRESHOLDS["Dlib"]
    assert face_engine.distance(a, a) == 0.0
    assert face_engine.distance(a, b) == pytest.approx(face_engine.distance(b, a))
    assert (
        face_engine.distance(a, b)
        == FaceEngine.metric("Dlib", a, b)
        == pytest.approx(float(np.linalg.norm(np.subtract(a, b))))
    )
    assert face_engine.matches(a, a) and not face_engine.matches(a, b)
    assert FaceEngine.metric("ArcFace", [1, 0], [0, 1]) == pytest.approx(1.0)  # cosine for the others
    assert FaceEngine.metric("ArcFace", [1, 2], [2, 4]) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        FaceEngine.metric("Dlib", [1, 2, 3], [1, 2])


# --- calibration: genuine pairs match, impostors do not ----------------------------------------------


@pytest.fixture(scope="module")
def calibration(face_engine):
    references, probes = {}, {}
    for name, load in faces.IDENTITIES.items():
        photo = load()
        ref = face_engine.observe(photo, reference=True, liveness=False)
        references[name] = ref.embedding
        for transform, apply in faces.PHONE_TRANSFORMS.items():
            obs = face_engine.observe(apply(photo, ref.box), liveness=False)
            if obs.reason is None:
                probes[(name, transform)] = obs.embedding
    lfw = []
    for face in faces.lfw_faces(40):
        obs = face_engine.observe(face, liveness=False)
        if obs.reason is None:
            lfw.append(obs.embedding)
    return references, probes, lfw


def test_phone_camera_transforms_keep_the_face_usable(calibration):
    _, probes, _ = calibration
    for name in ("astronaut", "grace_hopper"):  # frontal portraits: every transform passes the rules
        assert {t for (n, t) in probes if n == name} == set(faces.PHONE_TRANSFORMS)
    assert len(probes) >= 36


def test_genuine_pairs_match(face_engine, calibration):
    references, probes, _ = calibration
    for (name, transform), embedding in probes.items():
        distance = face_engine.distance(embedding, references[name])
        assert distance <= face_engine.threshold, (name, transform, distance)


def test_impostor_pairs_do_not_match(face_engine, calibration):
    references, probes, lfw = calibration
    for (name, transform), embedding in probes.items():
        for other, reference in references.items():
            if other != name:
                distance = face_engine.distance(embedding, reference)
                assert distance > face_engine.threshold, (other, name, transform, distance)
    assert len(lfw) >= 15
    for embedding in lfw:
        for reference in references.values():
            assert not face_engine.matches(embedding, reference)


def test_the_threshold_sits_between_the_two_sets(face_engine, calibration):
    references, probes, lfw = calibration
    genuine = [face_engine.distance(e, references[n]) for (n, _), e in probes.items()]
    impostor = [face_engine.distance(e, r) for (n, _), e in probes.items() for o, r in references.items() if o != n]
    impostor += [face_engine.distance(e, r) for e in lfw for r in references.values()]
    assert max(genuine) < face_engine.threshold < min(impostor)
