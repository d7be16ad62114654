"""Watching a candidate's face for the whole interview: what one sample of their video showed, and
which flags that raises or clears (docs/facecheck.md "Watching the interview").

Plain logic, no I/O: the room's monitor (``signaling/monitoring.py``) decodes a frame of the forwarded
video every ``monitor_interval_s``, runs it through the face pool against the roster photo, and hands
what it saw to a :class:`FaceWatch`, which says which flags change:

- ``face_missing``: no face (or no video at all) for ``monitor_no_face_s`` since a face was last seen;
- ``face_multiple``: two or more faces in one sample, at once;
- ``face_mismatch``: one face that is not the roster photo's in ``monitor_mismatch_samples`` samples
  in a row (samples without a usable face do not break the run: a stand-in cannot reset it by
  leaving the picture for a moment; only the right face does).

Each flag is raised once and stays raised until a sample shows the right face (one face matching the
roster photo), which clears every raised face flag at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import Observation

FACE_MISSING, FACE_MULTIPLE, FACE_MISMATCH = "face_missing", "face_multiple", "face_mismatch"
FACE_FLAGS = (FACE_MISSING, FACE_MULTIPLE, FACE_MISMATCH)

# what one sample showed
NONE, MULTIPLE, MATCH, MISMATCH, UNCLEAR = "none", "multiple", "match", "mismatch", "unclear"


def seen(observation: Observation | None, distance: float | None, threshold: float) -> str:
    """One sample as the watch counts it (None: no frame came from the video within the wait)."""
    if observation is None:
        return NONE
    if observation.reason == "face_multiple":
        return MULTIPLE
    if observation.reason == "face_no_face" or observation.quality.get("faces") == 0:
        return NONE
    if distance is None:  # one face, not usable (too small, blurred, dark ...): neither way
        return UNCLEAR
    return MATCH if distance <= threshold else MISMATCH


@dataclass
class Changes:
    raised: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.raised or self.cleared)


class FaceWatch:
    """The face flags of one candidate in one interview."""

    def __init__(self, no_face_s: float, mismatch_samples: int, started: float) -> None:
        self.no_face_s = no_face_s
        self.mismatch_samples = max(1, mismatch_samples)
        self.raised: set[str] = set()
        self.last_face = started  # when a face was last seen (the watch's start counts as one)
        self.mismatches = 0  # samples of another face since the right face was last seen

    def judge(self, what: str, now: float) -> Changes:
        """The flags that ``what`` (see :func:`seen`), sampled at ``now`` (s), raises or clears."""
        changes = Changes()
        if what == MATCH:
            self.last_face, self.mismatches = now, 0
            changes.cleared = [f for f in FACE_FLAGS if f in self.raised]
            self.raised.clear()
            return changes
        if what == NONE:
            if now - self.last_face >= self.no_face_s:
                self._raise(FACE_MISSING, changes)
            return changes
        self.last_face = now  # some face is there
        if what == MULTIPLE:
            self._raise(FACE_MULTIPLE, changes)
        elif what == MISMATCH:
            self.mismatches += 1
            if self.mismatches >= self.mismatch_samples:
                self._raise(FACE_MISMATCH, changes)
        return changes

    def _raise(self, flag: str, changes: Changes) -> None:
        if flag not in self.raised:
            self.raised.add(flag)
            changes.raised.append(flag)


# What the candidate's page reports about itself (``room:device``), and the flags it raises. The page can
# raise and clear only these: never a face flag (those follow the server's own samples).
PAGE_HIDDEN, CAMERA_OFF, MICROPHONE_OFF, BATTERY_LOW = "page_hidden", "camera_off", "microphone_off", "battery_low"
PAGE_FLAGS = (PAGE_HIDDEN, CAMERA_OFF, MICROPHONE_OFF, BATTERY_LOW)
PAGE_EVENTS = {  # event -> (flag, raised?)
    "hidden": (PAGE_HIDDEN, True),
    "visible": (PAGE_HIDDEN, False),
    "camera_muted": (CAMERA_OFF, True),
    "camera_ended": (CAMERA_OFF, True),
    "camera_live": (CAMERA_OFF, False),
    "microphone_muted": (MICROPHONE_OFF, True),
    "microphone_ended": (MICROPHONE_OFF, True),
    "microphone_live": (MICROPHONE_OFF, False),
    "battery": (BATTERY_LOW, True),  # raised or cleared by its level (see PageWatch.judge)
}


class PageWatch:
    """The page flags of one candidate in one interview."""

    def __init__(self, min_battery_pct: int) -> None:
        self.min_battery_pct = min_battery_pct
        self.raised: set[str] = set()

    def judge(self, event: str, level_pct: int | None = None, charging: bool | None = None) -> Changes:
        """The flags that one page event (a key of ``PAGE_EVENTS``, checked by the caller) raises or
        clears; ``battery`` with its level (percent) and whether it charges."""
        flag, up = PAGE_EVENTS[event]
        if flag == BATTERY_LOW:
            up = level_pct is not None and level_pct < self.min_battery_pct and not charging
        changes = Changes()
        if up and flag not in self.raised:
            self.raised.add(flag)
            changes.raised.append(flag)
        elif not up and flag in self.raised:
            self.raised.discard(flag)
            changes.cleared.append(flag)
        return changes
