"""Which samples raise and clear which face flags (facecheck/watch.py); the room test
(tests/signaling/test_room_monitoring.py) runs the same on a real candidate's video."""

from __future__ import annotations

from server.facecheck.engine import Observation
from server.facecheck.watch import (
    FACE_MISMATCH,
    FACE_MISSING,
    FACE_MULTIPLE,
    MATCH,
    MISMATCH,
    MULTIPLE,
    NONE,
    UNCLEAR,
    FaceWatch,
    seen,
)


def observation(reason: str | None, faces: float | None = None, embedded: bool = False) -> Observation:
    quality = {} if faces is None else {"faces": faces}
    return Observation(reason, None, [], None, [0.0] if embedded else None, quality)


def test_what_a_sample_counts_as():
    assert seen(None, None, 0.6) == NONE  # no frame at all
    assert seen(observation("face_no_face", 0), None, 0.6) == NONE
    assert seen(observation("face_too_dark", 0), None, 0.6) == NONE  # dark and nobody found
    assert seen(observation("face_multiple", 2), None, 0.6) == MULTIPLE
    assert seen(observation("face_blurred"), None, 0.6) == UNCLEAR  # one face, not usable
    assert seen(observation(None, embedded=True), 0.3, 0.6) == MATCH
    assert seen(observation(None, embedded=True), 0.7, 0.6) == MISMATCH


def test_nobody_for_the_set_time_raises_once_and_the_right_face_clears():
    watch = FaceWatch(no_face_s=6, mismatch_samples=3, started=0)
    assert not watch.judge(MATCH, 1)
    assert not watch.judge(NONE, 3) and not watch.judge(NONE, 5)  # 4 s without a face
    assert watch.judge(NONE, 7).raised == [FACE_MISSING]  # 6 s since the face at 1 s
    assert not watch.judge(NONE, 9)  # once
    assert not watch.judge(UNCLEAR, 11)  # some face, not which: the flag stays
    assert watch.judge(MATCH, 13).cleared == [FACE_MISSING]
    assert not watch.judge(MATCH, 15)


def test_two_faces_raise_at_once_and_another_face_after_the_run():
    watch = FaceWatch(no_face_s=6, mismatch_samples=3, started=0)
    assert watch.judge(MULTIPLE, 1).raised == [FACE_MULTIPLE]
    assert not watch.judge(MULTIPLE, 2)
    assert not watch.judge(MISMATCH, 3) and not watch.judge(MISMATCH, 4)
    assert not watch.judge(NONE, 5)  # leaving the picture a moment does not reset the run
    assert watch.judge(MISMATCH, 6).raised == [FACE_MISMATCH]
    assert sorted(watch.judge(MATCH, 7).cleared) == [FACE_MISMATCH, FACE_MULTIPLE]
    assert not watch.judge(MISMATCH, 8)  # the right face reset the run
    assert not watch.judge(MISMATCH, 9)
