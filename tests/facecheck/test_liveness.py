"""Head-turn liveness: a flat photo never passes, however it is held; a turning head does.

The turning head is simulated (tests/facecheck/faces.py: the frontal photo re-projected on a
cylinder with a nose, rotated about the vertical axis). That proves the decision reacts to depth
that a flat picture cannot have, with BlazeFace's real keypoints on the rendered frames; it does not
prove how real people turn, nor anything about bent prints, masks or replayed videos
(docs/facecheck.md, "Liveness").
"""

from __future__ import annotations

import itertools

import pytest

from server.facecheck.liveness import (
    MIN_NONPLANARITY,
    direction_sign,
    measure_turn,
    nonplanarity,
    turned,
)
from tests.facecheck import faces

PORTRAITS = ("astronaut", "grace_hopper")


@pytest.fixture(scope="module")
def frontal(face_engine):
    """Per portrait: the photo, its detection, and a first (frontal) camera frame."""
    out = {}
    for name in PORTRAITS:
        photo = faces.IDENTITIES[name]()
        base = face_engine.observe(photo, embed=False)
        start = face_engine.observe(faces.sensor(photo, seed=1), embed=False)
        out[name] = (photo, base, start)
    return out


def head(face_engine, frontal, name, degrees, seed=3, embed=False):
    photo, base, _ = frontal[name]
    frame = faces.sensor(faces.turn_head(photo, base.box, base.keypoints, degrees), seed=seed)
    return face_engine.observe(frame, embed=embed)


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_head_turn_passes_the_asked_way_only(face_engine, frontal, name):
    _, _, start = frontal[name]
    turning_left = [start] + [head(face_engine, frontal, name, d, seed=10 + d) for d in (10, 20, 30)]
    turning_right = [start] + [head(face_engine, frontal, name, -d, seed=20 + d) for d in (10, 20, 30)]
    assert turned(turning_left, "left") and not turned(turning_left, "right")
    assert turned(turning_right, "right") and not turned(turning_right, "left")
    evidence = measure_turn(turning_left, "left")
    assert evidence.turned and evidence.nonplanarity >= MIN_NONPLANARITY and evidence.frames == 4


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_still_photo_never_passes(face_engine, frontal, name):
    photo, _, start = frontal[name]
    frames = [start] + [face_engine.observe(faces.sensor(photo, seed=s), embed=False) for s in range(2, 6)]
    for direction in ("left", "right"):
        assert not turned(frames, direction)
    assert all(v is not None and v < MIN_NONPLANARITY for v in (nonplanarity(start, f) for f in frames[1:]))


MOVES = list(itertools.product((-40, -20, 20, 40), (-25, 0, 25), (-15, 0, 15), (0.7, 1.5)))


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_photo_turned_tilted_and_rolled_in_the_hand_never_passes(face_engine, frontal, name):
    """Every burst a hand could make of a printed photo: frontal, then the print turned about the
    vertical axis, tilted, rolled, under a wide or a long lens -- in front of a still room."""
    photo, _, start = frontal[name]
    room = faces.coffee()
    frames = []
    for i, (turn, tilt, roll, focal) in enumerate(MOVES):
        moved = faces.photo_in_hand(photo, turn, tilt, roll, focal, distance=1.1, scene=room)
        frames.append(face_engine.observe(faces.sensor(moved, seed=100 + i), embed=False))
    seen = [f for f in frames if f.yaw is not None]
    assert len(seen) >= 0.8 * len(MOVES)
    # BlazeFace's keypoints alone would be fooled: tilting a flat photo moves the "yaw" a lot...
    assert max(abs(f.yaw - start.yaw) for f in seen) > 0.1
    for frame in seen:
        for direction in ("left", "right"):
            assert not turned([start, frame], direction), (frame.yaw - start.yaw, nonplanarity(start, frame))
    # ...and a whole burst of the moves, in either direction, does not pass either
    for direction in ("left", "right"):
        assert not turned([start, *seen], direction)


def test_frames_without_a_face_are_skipped(face_engine, frontal):
    _, _, start = frontal["grace_hopper"]
    nothing = face_engine.observe(faces.coffee(), embed=False)
    turn = head(face_engine, frontal, "grace_hopper", 30)
    assert turned([nothing, start, nothing, turn], "left")
    assert not turned([nothing, nothing], "left")
    assert not turned([start], "left")
    assert not turned([], "right")


def test_the_burst_must_start_facing_the_camera(face_engine, frontal):
    already_turned = head(face_engine, frontal, "grace_hopper", -35)
    further = head(face_engine, frontal, "grace_hopper", 35, seed=4)
    assert abs(already_turned.yaw) > 0.2
    evidence = measure_turn([already_turned, further], "left")
    assert not evidence.turned


def test_a_turned_head_is_still_the_same_person(face_engine, frontal):
    """Frames of the turn are compared with the ID photo too (checks.py): at 30 degrees they stay
    within the threshold for these frontal portraits."""
    for name in PORTRAITS:
        photo, _, _ = frontal[name]
        reference = face_engine.observe(photo, reference=True).embedding
        for degrees in (-30, 30):
            obs = head(face_engine, frontal, name, degrees, embed=True)
            assert obs.reason is None
            assert face_engine.distance(obs.embedding, reference) <= face_engine.threshold


def test_directions():
    assert direction_sign("left") == 1.0 and direction_sign("right") == -1.0
    with pytest.raises(ValueError):
        direction_sign("up")
    with pytest.raises(ValueError):
        turned([], "LEFT")
