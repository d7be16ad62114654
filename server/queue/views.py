"""What people see of a queue: a room's line for its examiners, each candidate's position and
estimated wait, an exam's rooms at a glance for proctors. Read in one pipelined round trip per room."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..store.base import Store
from ..store.models import from_hash
from .entries import ACTIVE, CALLED, IN_LINE, IN_ROOM, QueueEntry

RECENT_S = 12 * 3600  # finished entries of slots that started this long ago still show


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
    examiners: list[str] = field(default_factory=list)
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
                return {"position": index + 1, "ahead": index,
                        "eta_s": round(self.remaining_current_s() + index * self.average_s)}
        return None

    def entry_json(self, entry: QueueEntry) -> dict:
        return {"account_id": entry.account, "name": entry.name, "state": entry.state, "reason": entry.reason or None,
                "face_status": self.face.get(entry.account, "none"), "connected": entry.connected,
                "slot_id": entry.slot, "joined_at": entry.joined_at or None,
                "waiting_s": round(self.now - entry.joined_at) if entry.state in IN_LINE and entry.joined_at else None,
                "state_at": entry.state_at}

    def to_json(self) -> dict:
        longest = max((self.now - e.joined_at for e in self.line), default=0.0)
        return {
            "room_id": self.room, "exam_id": self.exam, "name": self.name,
            "current": self.entry_json(self.current) | {"since": self.current.state_at} if self.current else None,
            "line": [self.entry_json(e) | {"position": i + 1} for i, e in enumerate(self.line)],
            "recent": [self.entry_json(e) for e in self.recent],
            "waiting": len(self.line), "longest_wait_s": round(longest), "average_interview_s": round(self.average_s),
            "idle": self.current is None, "at": self.now,
        }


async def room_view(store: Store, room_id: str, now: float | None = None) -> RoomView:
    now = time.time() if now is None else now
    k = store.keys
    redis = store.redis
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(k.room(room_id))
    pipe.zrange(k.queue(room_id), 0, -1)
    pipe.zrangebyscore(k.queue_all(room_id), f"{(now - RECENT_S) * 100000:.0f}", "+inf")
    pipe.hgetall(k.queue_live(room_id))
    pipe.hgetall(k.queue_stats(room_id))
    room, line_ids, all_ids, live, stats = await pipe.execute()
    subject_minutes = 0
    if room.get("subject_id"):
        subject_minutes = int(await redis.hget(k.subject(room["subject_id"]), "interview_minutes") or 0)
    exam_id = room.get("exam_id", "")
    pipe = redis.pipeline(transaction=False)
    for account in all_ids:
        pipe.hgetall(k.queue_entry(room_id, account))
        pipe.hget(k.face_state(exam_id, account), "status")
    raw = await pipe.execute() if all_ids else []
    entries = {a: from_hash(QueueEntry, raw[2 * i]) for i, a in enumerate(all_ids) if raw[2 * i]}
    face = {a: raw[2 * i + 1] or "none" for i, a in enumerate(all_ids)}
    count = int(stats.get("count", 0))
    average = float(stats.get("total_s", 0)) / count if count else subject_minutes * 60.0
    current = entries.get(live.get("account", ""))
    if current is not None and current.state not in (CALLED, IN_ROOM):
        current = None
    line = [entries[a] for a in line_ids if a in entries]
    recent = [e for e in entries.values() if e.state not in ACTIVE]
    recent.sort(key=lambda e: -e.state_at)
    return RoomView(room_id, exam_id, room.get("name", ""), line, current, recent, face, average, now=now)
