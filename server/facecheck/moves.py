"""The live challenge's moves: a random sequence drawn by the server, and each move judged on the
frames the server decoded itself, against the moment it asked for the move.

A move is asked at a moment the server picks (``Move.gap_s`` after the head came back to the
camera). It passes when, from a frame that still faces the camera at the prompt, the head turns
the asked way (``Observation.yaw``, as liveness.py) far enough and in a way no flat picture moves
(``liveness.nonplanarity``), within ``MOVE_DEADLINE_S`` of the prompt. It fails:

- ``face_move_early``: the head had already left the front before the candidate could have reacted
  to the prompt (a recording that happened to be turning);
- ``face_move_wrong``: the head turned the other way first;
- ``face_liveness``: it turned the asked way, but like a flat picture;
- ``face_move_late``: no turn the asked way within the deadline.

Pure functions over timed observations (no I/O): ``live_check.py`` runs them on the live track,
the tests on clips.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from .engine import Observation
from .liveness import MAX_ABS_YAW, MIN_NONPLANARITY, MIN_YAW_CHANGE, direction_sign, nonplanarity

MOVES = ("left", "right")  # yaw moves only: the engine measures no pitch yet ("look up" is not offered)
MOVES_PER_CHECK = 4  # with 3, 2 of 40 replays of the e2e clip passed; with 4 (any order), 1 of 40 (docs)
# The wait before each prompt, once the head is back facing the camera: 0.6, 0.7, ... 1.5 s.
GAP_STEPS_S = tuple(round(0.6 + 0.1 * i, 1) for i in range(10))
MOVE_DEADLINE_S = 2.0  # from the prompt to a finished turn
# Nobody reacts to a prompt within this: a head already moving then was not answering it. The
# prompt reaches the page and the page's frames reach the server within tens of milliseconds on
# one network; human reaction to a spoken/written prompt takes 0.25 s or more.
REACTION_MIN_S = 0.15
LOOKBACK_S = 0.4  # frames this long before the prompt must face the camera too
# Leaving the front: a yaw this far from the head's position just before the prompt. Keypoint jitter
# on a still face is 0.01-0.03 (liveness.py); through VP8, a still face's yaw drifts by up to ~0.06
# over a second after a movement, while the encoder's quality recovers (measured on the simulated
# face, tests/facecheck/test_live_challenge.py); a head half-way into a turn is 0.1-0.2 away.
AWAY_YAW = 0.08
# This far the other way: the wrong move. BlazeFace's keypoints can jump up to ~0.06 the other way on
# the first frame of a turn (measured on the simulated turn): a real turn the other way reaches 0.1-0.2.
WRONG_YAW = 0.08
# Leaving the front early, or turning the wrong way, must show on this many frames in a row (one
# frame's keypoints can jump; a head that really moved stays moved for a while).
CONSECUTIVE = 2


@dataclass(frozen=True)
class Move:
    direction: str  # the candidate's own left / right (liveness.direction_sign)
    gap_s: float  # wait before the prompt, once the head faces the camera


def draw_sequence(count: int = MOVES_PER_CHECK, rng: secrets.SystemRandom | None = None) -> list[Move]:
    """``count`` moves, each direction and each wait drawn independently, every direction at least
    once (a clip that can only show one of them, however well timed, fails): drawn again until it is
    so, which keeps every allowed sequence equally likely."""
    rng = rng or secrets.SystemRandom()
    while True:
        moves = [Move(rng.choice(MOVES), rng.choice(GAP_STEPS_S)) for _ in range(count)]
        if {m.direction for m in moves} == set(MOVES):
            return moves


def sequences(count: int = MOVES_PER_CHECK) -> int:
    """How many orders of moves there are: |MOVES| ** count, less the ones with one direction only."""
    return len(MOVES) ** count - len(MOVES)


def timed_sequences(count: int = MOVES_PER_CHECK) -> int:
    """How many (move, wait) sequences there are: the orders x |GAP_STEPS_S| ** count."""
    return sequences(count) * len(GAP_STEPS_S) ** count


@dataclass
class Seen:
    """One frame the server decoded and observed: when it arrived (monotonic s) and what it showed."""

    at: float
    observation: Observation

    @property
    def yaw(self) -> float | None:
        o = self.observation
        return o.yaw if o.reason is None and o.yaw is not None and abs(o.yaw) <= MAX_ABS_YAW else None


@dataclass
class Verdict:
    state: str  # "pending" | "done" | "failed"
    reason: str = ""
    evidence: dict = field(default_factory=dict)


def _runs(seen: Sequence[Seen], away, count: int = CONSECUTIVE) -> bool:
    """Whether ``away(frame)`` holds on ``count`` usable frames in a row."""
    run = 0
    for s in seen:
        run = run + 1 if s.yaw is not None and away(s) else 0
        if run >= count:
            return True
    return False


def frontal(seen: Sequence[Seen], baseline: float, since: float) -> bool:
    """Whether every usable frame since ``since`` faces the camera (and there is at least one)."""
    yaws = [s.yaw for s in seen if s.at >= since and s.yaw is not None]
    return bool(yaws) and all(abs(y - baseline) < AWAY_YAW for y in yaws)


def judge_move(
    seen: Sequence[Seen],
    baseline: float,
    prompt_at: float,
    direction: str,
    now: float,
    deadline_s: float = MOVE_DEADLINE_S,
    min_change: float = MIN_YAW_CHANGE,
    min_nonplanarity: float = MIN_NONPLANARITY,
    cache: dict[tuple[float, float], float | None] | None = None,
) -> Verdict:
    """The move asked at ``prompt_at`` (monotonic s), on the frames seen so far (time order), at ``now``.
    ``cache`` keeps each frame's non-planarity against the start (by arrival time) between calls."""
    sign = direction_sign(direction)
    react = prompt_at + REACTION_MIN_S
    usable = [s for s in seen if s.yaw is not None and s.observation.features is not None]
    before = [s for s in usable if prompt_at - LOOKBACK_S <= s.at <= react]
    evidence: dict = {"direction": direction, "start_yaw": None, "best_change": None, "nonplanarity": None}
    if _runs(before, lambda s: abs(s.yaw - baseline) >= AWAY_YAW):
        return Verdict("failed", "face_move_early", evidence)
    starts = [s for s in usable if s.at <= react]
    if not starts:
        if now > prompt_at + deadline_s:
            return Verdict("failed", "face_move_late", evidence)
        return Verdict("pending", "", evidence)
    start = starts[-1]
    start_yaw = start.yaw
    assert start_yaw is not None
    evidence["start_yaw"] = round(start_yaw, 4)
    if abs(start_yaw - baseline) >= AWAY_YAW and start.at >= prompt_at - LOOKBACK_S:
        return Verdict("failed", "face_move_early", evidence)  # already away when the move could start
    best = None
    wrong = 0
    for s in usable:
        if s.at <= start.at or s.at > prompt_at + deadline_s:
            continue
        assert s.yaw is not None
        change = sign * (s.yaw - start_yaw)
        best = change if best is None else max(best, change)
        evidence["best_change"] = round(best, 4)
        wrong = wrong + 1 if change <= -WRONG_YAW else 0
        if wrong >= CONSECUTIVE:
            return Verdict("failed", "face_move_wrong", evidence)
        if change < min_change:
            continue
        if cache is not None and (start.at, s.at) in cache:
            value = cache[(start.at, s.at)]
        else:
            value = nonplanarity(start.observation, s.observation)
            if cache is not None:
                cache[(start.at, s.at)] = value
        if value is None:
            continue
        evidence["nonplanarity"] = round(max(value, evidence["nonplanarity"] or 0.0), 4)
        if value >= min_nonplanarity:
            evidence["at_s"] = round(s.at - prompt_at, 3)
            return Verdict("done", "", evidence)
    if now <= prompt_at + deadline_s:
        return Verdict("pending", "", evidence)
    if best is not None and best >= min_change:
        return Verdict("failed", "face_liveness", evidence)
    return Verdict("failed", "face_move_late", evidence)
