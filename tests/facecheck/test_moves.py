"""A move of the live challenge judged on timed frames (server/facecheck/moves.py), with the real
engine on rendered frames: the asked turn after the prompt passes; early, wrong-way, late and
flat-picture moves fail with their reason; a sequence is random and counted."""

from __future__ import annotations

import collections

import pytest

from server.facecheck.moves import (
    GAP_STEPS_S,
    MOVES,
    REACTION_MIN_S,
    Seen,
    draw_sequence,
    judge_move,
    sequences,
    timed_sequences,
)
from tests.e2e import fakecam
from tests.facecheck import faces

PROMPT = 10.0


@pytest.fixture(scope="module")
def views(face_engine):
    """Observations of one face: frontal (noisy frames), turned to its left and right, and a flat
    print of it turned in the hand."""
    photo = faces.grace_hopper()
    frontal = fakecam.portrait_on_canvas(photo)
    base = face_engine.observe(frontal, embed=False)
    out: dict = {"front": [face_engine.observe(faces.sensor(frontal, seed=s), embed=False) for s in range(4)]}
    for name, sign in (("left", 1), ("right", -1)):
        out[name] = [
            face_engine.observe(
                faces.sensor(faces.turn_head(frontal, base.box, base.keypoints, sign * d), seed=d), embed=False
            )
            for d in (15, 25, 35)
        ]
    out["print"] = [
        face_engine.observe(fakecam.portrait_on_canvas(faces.photo_in_hand(photo, turn=t)), embed=False)
        for t in (20, 35, 45)
    ]
    return out


def timeline(views, turn: str, turn_at: float) -> list[Seen]:
    """Frontal frames every 0.1 s from PROMPT - 0.5, then the turn's three frames from ``turn_at``."""
    front = [Seen(PROMPT - 0.5 + 0.1 * i, views["front"][i % 4]) for i in range(int((turn_at - PROMPT + 0.5) / 0.1))]
    return front + [Seen(turn_at + 0.1 * i, o) for i, o in enumerate(views[turn])]


def baseline(views) -> float:
    return sum(o.yaw for o in views["front"]) / 4


def test_the_asked_turn_after_the_prompt_is_done(views):
    seen = timeline(views, "left", PROMPT + 0.5)
    verdict = judge_move(seen, baseline(views), PROMPT, "left", now=PROMPT + 0.8)
    assert verdict.state == "done", verdict
    assert verdict.evidence["nonplanarity"] >= 0.025 and verdict.evidence["best_change"] >= 0.06
    right = judge_move(timeline(views, "right", PROMPT + 0.5), baseline(views), PROMPT, "right", now=PROMPT + 0.8)
    assert right.state == "done", right


def test_before_the_deadline_a_move_not_yet_seen_is_pending(views):
    seen = timeline(views, "left", PROMPT + 3.0)[:10]
    assert judge_move(seen, baseline(views), PROMPT, "left", now=PROMPT + 1.0).state == "pending"


@pytest.mark.parametrize(
    ("turn", "turn_at", "asked", "reason"),
    [
        ("left", PROMPT - 0.2, "left", "face_move_early"),  # already turning when asked (a recording)
        ("left", PROMPT + REACTION_MIN_S / 3, "left", "face_move_early"),  # faster than anyone reacts
        ("right", PROMPT + 0.5, "left", "face_move_wrong"),
        ("left", PROMPT + 2.3, "left", "face_move_late"),  # after the 2 s deadline
        ("print", PROMPT + 0.5, "left", None),  # a flat print turned: never "done"
    ],
)
def test_early_wrong_late_and_flat_moves_fail(views, turn, turn_at, asked, reason):
    seen = timeline(views, turn, turn_at)
    verdict = judge_move(seen, baseline(views), PROMPT, asked, now=PROMPT + 3.0)
    assert verdict.state == "failed", verdict
    if reason:
        assert verdict.reason == reason, verdict
    else:
        assert verdict.reason in ("face_liveness", "face_move_late", "face_move_wrong"), verdict


def test_sequences_are_random_and_counted():
    assert sequences(3) == len(MOVES) ** 3 - 2 == 6 and sequences(4) == 14
    assert timed_sequences(4) == 14 * len(GAP_STEPS_S) ** 4 == 140_000
    drawn = collections.Counter(tuple(m.direction for m in draw_sequence(4)) for _ in range(7000))
    assert len(drawn) == 14 and min(drawn.values()) > 400  # each of the 14 orders, about 500 times
    assert all(set(order) == {"left", "right"} for order in drawn)  # never one direction only
    gaps = collections.Counter(m.gap_s for _ in range(2000) for m in draw_sequence(3))
    assert set(gaps) == set(GAP_STEPS_S)
