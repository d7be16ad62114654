"""What people see of a queue: a room's line for its examiners, each candidate's position and
estimated wait, an exam's rooms at a glance for proctors. Read in one pipelined round trip per room."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..store.base import Store
from ..store.keys import TEMPLATE_ACCOUNT, TEMPLATE_EXAM, TEMPLATE_SUBJECT
from ..store.models import from_hash
from .entries import ACTIVE, CALLED, IN_LINE, IN_ROOM, WAITING_FACE_CHECK, QueueEntry

RECENT_S = 12 * 3600
MAX_RECENT = 50  # finished entries shown (newest slots first)
# what a view shows (not the device report): read with HMGET, the first must always be set
VIEW_FIELDS = (
    "state",
    "room",
    "account",
    "slot",
    "exam",
    "name",
    "score",
    "seq",
    "slot_start",
    "slot_end",
    "joined_at",
    "state_at",
    "disconnected_at",
    "reason",
    "in_room_at",
    "called_at",
)  # finished entries of slots that started this long ago still show


@dataclass
class RoomView:
    room: str
    exam: str
    name: str
    line: list[QueueEntry]  # waiting, in order
    current: QueueEntry | None  # called or in the room
    recent: list[QueueEntry]  # finished, absent, removed, in review
    face: dict[str, str]  # account -> face-check status
    average_s: float  # running average interview length (the subject's length before any)
    now: float = 0.0

    def remaining_current_s(self) -> float:
        if self.current is None:
            return 0.0
        if self.current.state == IN_ROOM:
            return max(0.0, self.average_s - (self.now - self.current.in_room_at))
        return self.average_s

    def position(self, account_id: str) -> dict | None:
        """Position (1 = next), people ahead and estimated wait of a waiting candidate."""
        for index, entry in enumerate(self.line):
            if entry.account == account_id:
                return {
                    "position": index + 1,
                    "ahead": index,
                    "eta_s": round(self.remaining_current_s() + index * self.average_s),
                }
        return None

    def face_status(self, entry: QueueEntry) -> str:
        """The face check as it stands for this entry: a pass that no longer clears it shows as expired."""
        status = self.face.get(entry.account, "none")
        return "expired" if status == "passed" and entry.state == WAITING_FACE_CHECK else status

    def entry_json(self, entry: QueueEntry) -> dict:
        return {
            "account_id": entry.account,
            "name": entry.name,
            "state": entry.state,
            "reason": entry.reason or None,
            "face_status": self.face_status(entry),
            "connected": entry.connected,
            "slot_id": entry.slot,
            "joined_at": entry.joined_at or None,
            "waiting_s": round(self.now - entry.joined_at) if entry.state in IN_LINE and entry.joined_at else None,
            "state_at": entry.state_at,
        }

    def to_json(self) -> dict:
        longest = max((self.now - e.joined_at for e in self.line), default=0.0)
        return {
            "room_id": self.room,
            "exam_id": self.exam,
            "name": self.name,
            "current": self.entry_json(self.current) | {"since": self.current.state_at} if self.current else None,
            "line": [self.entry_json(e) | {"position": i + 1} for i, e in enumerate(self.line)],
            "recent": [self.entry_json(e) for e in self.recent],
            "waiting": len(self.line),
            "longest_wait_s": round(longest),
            "average_interview_s": round(self.average_s),
            "idle": self.current is None,
            "at": self.now,
        }


async def room_view(store: Store, room_id: str, now: float | None = None) -> RoomView:
    now = time.time() if now is None else now
    k = store.keys
    room, line_ids, listed, live, stats, minutes, values, faces = await store.script("queue_view")(
        keys=[k.room(room_id), k.queue(room_id), k.queue_all(room_id), k.queue_live(room_id), k.queue_stats(room_id)],
        args=[
            f"{(now - RECENT_S) * 100000:.0f}",
            k.queue_entry(room_id, ""),
            k.face_state(TEMPLATE_EXAM, TEMPLATE_ACCOUNT),
            k.subject(TEMPLATE_SUBJECT),
            MAX_RECENT,
            *VIEW_FIELDS,
        ],
    )
    room, live, stats = _pairs(room), _pairs(live), _pairs(stats)
    entries = {}
    for account, row in zip(listed, values, strict=False):
        if row[0] is not None:
            entries[account] = from_hash(
                QueueEntry, {f: v for f, v in zip(VIEW_FIELDS, row, strict=False) if v is not None}
            )
    face = dict(zip(listed, faces, strict=False))
    count = int(stats.get("count", 0))
    average = float(stats.get("total_s", 0)) / count if count else int(minutes) * 60.0
    current = entries.get(live.get("account", ""))
    if current is not None and current.state not in (CALLED, IN_ROOM):
        current = None
    line = [entries[a] for a in line_ids if a in entries]
    recent = [e for e in entries.values() if e.state not in ACTIVE]
    recent.sort(key=lambda e: -e.state_at)
    return RoomView(
        room_id, room.get("exam_id", ""), room.get("name", ""), line, current, recent, face, average, now=now
    )


def _pairs(flat: list) -> dict:
    return dict(zip(flat[::2], flat[1::2], strict=False))
