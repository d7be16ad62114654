"""A candidate's place in a room's queue and the states it goes through.

``waiting_face_check -> waiting -> called -> in_room -> done``; off the main path: ``absent``
(grace period or slot over while disconnected, or never came), ``removed`` (by an examiner, with a
reason) and ``review_pending`` (three failed face checks, a proctor decides). ``absent`` and
``removed`` candidates may enter again within their slot, at the end of the line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

WAITING_FACE_CHECK = "waiting_face_check"
WAITING = "waiting"
CALLED = "called"
IN_ROOM = "in_room"
DONE = "done"
ABSENT = "absent"
REMOVED = "removed"
REVIEW_PENDING = "review_pending"

IN_LINE = (WAITING_FACE_CHECK, WAITING)
ACTIVE = IN_LINE + (CALLED, IN_ROOM)
STATES = ACTIVE + (DONE, ABSENT, REMOVED, REVIEW_PENDING)
# reasons the server gives (each has a message ``queue_reason_<reason>``); an examiner's removal
# reason is free text and shown as written
SYSTEM_REASONS = (
    "disconnected",
    "slot_over",
    "no_show",
    "face_check_locked",
    "face_room_failed",
    "face_review_rejected",
    "booking_cancelled",
    "identity_moved",
    "called_disconnected",
)


@dataclass
class QueueEntry:
    room: str
    account: str
    slot: str = ""
    exam: str = ""
    name: str = ""
    state: str = ""
    score: int = 0
    seq: int = 0
    slot_start: float = 0.0
    slot_end: float = 0.0
    joined_at: float = 0.0
    state_at: float = 0.0
    disconnected_at: float = 0.0  # 0 while connected
    reason: str = ""
    device: dict = field(default_factory=dict)
    admission: str = ""
    called_at: float = 0.0
    called_by: str = ""
    in_room_at: float = 0.0
    done_at: float = 0.0
    joins: int = 0

    @property
    def connected(self) -> bool:
        return self.disconnected_at == 0


@dataclass(frozen=True)
class QueueChange:
    """Something changed in a room's queue; listeners (the signaling layer) push new views."""

    room: str
    exam: str
    event: str
    account: str = ""
    remind: str = ""  # the candidate to tell "you are next"
    at: float = field(default_factory=time.time)  # when the change was made (after its script ran)
