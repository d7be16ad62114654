"""Each candidate's face-check state per exam, the 3-strikes rule and the manual reviews it opens.

The queue asks ``FaceGate.cleared`` before a candidate may be admitted; a failure in the room
(the check on room entry) is recorded like any other and sends the candidate back to the check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.exceptions import WatchError

from ..errors import UserError, not_found
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import from_hash, is_id, new_id, public, to_hash


@dataclass
class FaceStatus:
    status: str = "none"  # none | passed | failed | locked | approved | rejected
    strikes: int = 0
    review_id: str = ""
    last_reason: str = ""
    last_at: float = 0.0
    passed_at: float = 0.0

    @property
    def cleared(self) -> bool:
        """Passed a check, or a proctor approved the candidate after three failures."""
        return self.status in ("passed", "approved")

    def valid(self, now: float, pass_valid_s: float) -> bool:
        """Clears a new queue entry now: approved, or passed at most ``pass_valid_s`` ago (as queue_join.lua)."""
        return self.status == "approved" or (self.status == "passed" and now - self.passed_at <= pass_valid_s)

    @property
    def locked(self) -> bool:
        return self.status in ("locked", "rejected")


@dataclass
class Review:
    id: str
    exam_id: str
    account_id: str
    name: str
    id_number: str
    photo_sha256: str
    created_at: float
    check_ids: list[str] = field(default_factory=list)
    status: str = "open"  # open | approved | rejected
    resolved_by: str = ""
    resolved_at: float = 0.0
    comment: str = ""

    def to_json(self) -> dict:
        """The review as the proctor's API and socket show it, with the ID photo's URL."""
        return {**public(self), "photo_url": f"/api/staff/photos/{self.photo_sha256}" if self.photo_sha256 else None}


class FaceGate:
    """``on_result`` / ``on_review`` listeners (the queue) hear every recorded result and decision."""

    def __init__(self, store: Store, strikes_limit: int = 3) -> None:
        self.store = store
        self.keys = store.keys
        self.strikes_limit = strikes_limit
        self.on_result: list[Callable[[str, str, str, str], Awaitable[None]]] = []  # exam, account, outcome, kind
        self.on_review: list[Callable[[Actor, str, str, bool], Awaitable[None]]] = []  # actor, exam, account, approved

    async def status(self, exam_id: str, account_id: str) -> FaceStatus:
        data = await self.store.redis.hgetall(self.keys.face_state(exam_id, account_id))
        data.pop("streak", None)
        data.pop("last_check", None)
        return from_hash(FaceStatus, data) if data else FaceStatus()

    async def cleared(self, exam_id: str, account_id: str) -> bool:
        return (await self.status(exam_id, account_id)).cleared

    async def record(
        self,
        exam_id: str,
        candidate: Actor,
        *,
        passed: bool,
        reason: str,
        distance: float | None,
        check: dict,
        kind: str,
        name: str,
        id_number: str,
        photo_sha256: str,
    ) -> tuple[str, int]:
        """Store one result; returns (outcome, strikes), outcome passed | failed | locked | already_locked."""
        now = time.time()
        review = Review(
            id=new_id("review"),
            exam_id=exam_id,
            account_id=candidate.account_id,
            name=name,
            id_number=id_number,
            photo_sha256=photo_sha256,
            created_at=now,
        )
        review_fields = to_hash(review)
        review_fields.pop("check_ids")
        k = self.keys
        outcome, strikes = await self.store.script("face_result")(
            keys=[
                k.face_state(exam_id, candidate.account_id),
                k.face_checks(exam_id, candidate.account_id),
                k.audit(exam_id),
                k.review(review.id),
                k.open_reviews(),
            ],
            args=[
                "1" if passed else "0",
                f"{now:.3f}",
                self.strikes_limit,
                reason,
                f"{distance:.4f}" if distance is not None else "-1",
                check["check_id"],
                json.dumps(check, ensure_ascii=False),
                review.id,
                json.dumps(review_fields, ensure_ascii=False),
                kind,
                *audit.base_fields(candidate, candidate.account_id),
            ],
        )
        for listener in self.on_result:
            await listener(exam_id, candidate.account_id, "failed" if outcome == "already_locked" else outcome, kind)
        return outcome, int(strikes)

    async def history(self, exam_id: str, account_id: str, count: int = 50) -> list[dict]:
        raw = await self.store.redis.lrange(self.keys.face_checks(exam_id, account_id), 0, count - 1)
        return [json.loads(r) for r in raw]

    # reviews
    async def open_reviews(self) -> list[Review]:
        ids = await self.store.redis.zrange(self.keys.open_reviews(), 0, -1)
        return [r for r in [await self.find_review(i) for i in ids] if r]

    async def find_review(self, review_id: str) -> Review | None:
        if not is_id(review_id):
            return None
        data = await self.store.redis.hgetall(self.keys.review(review_id))
        return from_hash(Review, data) if data else None

    async def review(self, review_id: str) -> Review:
        found = await self.find_review(review_id)
        if found is None:
            raise not_found("review")
        return found

    async def resolve(self, actor: Actor, review_id: str, approve: bool, comment: str) -> Review:
        """Approval unlocks the candidate (counts as a passed check); rejection keeps them locked."""
        k = self.keys
        async with self.store.pipeline() as pipe:
            while True:
                try:
                    await pipe.watch(k.review(review_id))
                    review = await self.review(review_id)
                    if review.status != "open":
                        raise UserError("review_resolved")
                    review.status = "approved" if approve else "rejected"
                    review.resolved_by, review.resolved_at, review.comment = actor.account_id, time.time(), comment
                    pipe.multi()
                    pipe.hset(
                        k.review(review_id),
                        mapping={
                            "status": review.status,
                            "resolved_by": actor.account_id,
                            "resolved_at": f"{review.resolved_at:.3f}",
                            "comment": comment,
                        },
                    )
                    pipe.zrem(k.open_reviews(), review_id)
                    state = k.face_state(review.exam_id, review.account_id)
                    if approve:
                        pipe.hset(
                            state,
                            mapping={
                                "status": "approved",
                                "strikes": 0,
                                "streak": "[]",
                                "passed_at": f"{review.resolved_at:.3f}",
                            },
                        )
                    else:
                        pipe.hset(state, "status", "rejected")
                    audit.add(
                        pipe,
                        k,
                        review.exam_id,
                        f"face_review_{review.status}",
                        actor,
                        review.account_id,
                        review_id=review_id,
                        comment=comment,
                    )
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        for listener in self.on_review:
            await listener(actor, review.exam_id, review.account_id, approve)
        return review
