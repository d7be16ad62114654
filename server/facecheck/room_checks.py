"""The room-entry face check of a live interview, as a state the examiners see and marking obeys.

It fails closed: only a pass is "verified". No video within the wait, a busy or missing face pool,
a check that takes too long or breaks: the interview is "unverified" with that reason, which the
room's examiners see ("未核验"), and they can run the check again (``retry``, rate-limited and
audited) or, having looked at the candidate themselves, override it with a reason (audited). A
failed check (another face) sends the candidate back to the queue-entry check, as before.

The interview's mark sheets cannot be sealed (``require_verified``, a seal guard of
``marking/interview_marks.py``) until the check is verified or overridden. With the face check
turned off (``facecheck_workers = 0``) there is no check and nothing to require.

States (``roomcheck:{interview}``): checking -> verified | unverified | failed; unverified or
failed -> checking (retry) | overridden. Every change is one Lua script with its audit entry
(``room_check_set.lua``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UserError
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store

CHECKING, VERIFIED, UNVERIFIED, FAILED, OVERRIDDEN = "checking", "verified", "unverified", "failed", "overridden"
CLEARED = (VERIFIED, OVERRIDDEN)
RETRIES_PER_WINDOW = 5  # retries of one interview's check ...
RETRY_WINDOW_S = 300  # ... per this many seconds (each runs the pool on several frames)
REASON_MAX = 200


@dataclass
class RoomCheck:
    interview_id: str
    exam_id: str
    room_id: str
    account_id: str
    state: str
    reason: str = ""
    distance: float | None = None
    at: float = 0.0
    retries: int = 0
    overridden_by: str = ""
    override_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "interview_id": self.interview_id,
            "account_id": self.account_id,
            "state": self.state,
            "reason": self.reason or None,
            "distance": self.distance,
            "at": self.at or None,
            "retries": self.retries,
            "overridden_by": self.overridden_by or None,
            "override_reason": self.override_reason or None,
        }


class RoomChecks:
    def __init__(self, store: Store, enabled: Callable[[], bool]) -> None:
        self.store = store
        self.keys = store.keys
        self.enabled = enabled  # False when the face check is turned off (facecheck_workers = 0)

    async def get(self, interview_id: str) -> RoomCheck | None:
        data = await self.store.redis.hgetall(self.keys.room_check(interview_id)) if interview_id else {}
        if not data.get("state"):
            return None
        return RoomCheck(
            interview_id=interview_id,
            exam_id=data.get("exam_id", ""),
            room_id=data.get("room_id", ""),
            account_id=data.get("account_id", ""),
            state=data["state"],
            reason=data.get("reason", ""),
            distance=float(data["distance"]) if data.get("distance") else None,
            at=float(data.get("at") or 0),
            retries=int(data.get("retries") or 0),
            overridden_by=data.get("overridden_by", ""),
            override_reason=data.get("override_reason", ""),
        )

    async def _set(
        self, interview_id: str, exam_id: str, refuse: tuple[str, ...], code: str, fields: dict, entry: list[str]
    ) -> None:
        flat = [str(v) for pair in fields.items() for v in pair]
        result = await self.store.script("room_check_set")(
            keys=[self.keys.room_check(interview_id), self.keys.audit(exam_id)],
            args=["," + ",".join(refuse) + "," if refuse else "", code, len(fields), *flat, *entry],
        )
        if result[0] != "ok":
            raise UserError(str(result[0]))

    async def begin(self, interview_id: str, exam_id: str, room_id: str, account_id: str) -> None:
        """The check on entering the room starts (a new entry into the room starts a new one)."""
        fields = {"exam_id": exam_id, "room_id": room_id, "account_id": account_id, "state": CHECKING}
        await self._set(
            interview_id, exam_id, (), "", {**fields, "reason": "", "distance": "", "at": f"{time.time():.3f}"}, []
        )

    async def retry(self, actor: Actor, check: RoomCheck) -> None:
        """An examiner runs the check again: not while one runs (``room_check_running``), not once
        cleared, at most RETRIES_PER_WINDOW per RETRY_WINDOW_S (``room_check_rate_limited``)."""
        if check.state in CLEARED:
            raise UserError("room_check_cleared")
        if check.state == CHECKING:
            raise UserError("room_check_running")
        # only retries that start count against the window: a burst refused as running uses none of it
        key = self.keys.rate_limit("roomcheck-retry", check.interview_id)
        pipe = self.store.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = await pipe.execute()
        if int(count or 0) >= RETRIES_PER_WINDOW:
            wait = int(ttl) if int(ttl) > 0 else RETRY_WINDOW_S
            raise UserError("room_check_rate_limited", minutes=max(1, math.ceil(wait / 60)), seconds=wait)
        entry = audit.flat_entry(
            "room_check_retried", actor, check.account_id, interview_id=check.interview_id, previous=check.reason
        )
        await self._set(
            check.interview_id,
            check.exam_id,
            (CHECKING, VERIFIED, OVERRIDDEN),
            "room_check_running",
            {"state": CHECKING, "reason": "", "distance": "", "at": f"{time.time():.3f}", "retries": check.retries + 1},
            entry,
        )
        await self.store.script("rate_limit_hit")(keys=[key], args=[RETRY_WINDOW_S])

    async def finish(self, check: RoomCheck, state: str, reason: str = "", distance: float | None = None) -> RoomCheck:
        """The check's outcome: verified, failed (another face), or unverified with its reason
        (audited ``room_check_unverified``; a pass or a failure is audited by the face gate)."""
        entry = []
        if state == UNVERIFIED:
            entry = audit.flat_entry(
                "room_check_unverified",
                Actor.system(),
                check.account_id,
                interview_id=check.interview_id,
                room_id=check.room_id,
                reason=reason,
            )
        fields = {"state": state, "reason": reason, "distance": "" if distance is None else f"{distance:.4f}"}
        await self._set(check.interview_id, check.exam_id, (), "", {**fields, "at": f"{time.time():.3f}"}, entry)
        check.state, check.reason, check.distance = state, reason, distance
        return check

    async def override(self, actor: Actor, check: RoomCheck, reason: Any) -> RoomCheck:
        """An examiner clears an unverified (or failed) check with a reason (audited
        ``room_check_overridden``); refused while a check runs and once cleared."""
        if not isinstance(reason, str) or not reason.strip():
            raise UserError("field_required", field="reason", label="reason")
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            raise UserError("field_too_long", field="reason", label="reason", max=REASON_MAX)
        if check.state in CLEARED:
            raise UserError("room_check_cleared")
        entry = audit.flat_entry(
            "room_check_overridden",
            actor,
            check.account_id,
            interview_id=check.interview_id,
            room_id=check.room_id,
            previous=check.reason,
            reason=reason,
        )
        await self._set(
            check.interview_id,
            check.exam_id,
            (CHECKING, VERIFIED, OVERRIDDEN),
            "room_check_running",
            {"state": OVERRIDDEN, "overridden_by": actor.account_id, "override_reason": reason},
            entry,
        )
        check.state, check.overridden_by, check.override_reason = OVERRIDDEN, actor.account_id, reason
        return check

    async def require_verified(self, interview_id: str) -> None:
        """For sealing a mark sheet: ``room_check_unverified`` unless the interview's room check
        passed or an examiner overrode it (nothing required with the face check turned off)."""
        if not self.enabled():
            return
        check = await self.get(interview_id)
        if check is None or check.state not in CLEARED:
            raise UserError("room_check_unverified")
