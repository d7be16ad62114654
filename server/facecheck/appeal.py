"""The face check an identity appeal carries as evidence: the appellant, live, against the roster
photo of the ID number they claim (they have no enrolment yet: the identity is held by another
account). The same challenge, burst, header checks, attempt counting and one-check-at-a-time as
the queue-entry check; no strikes (a failed try files nothing), and the frames are kept beside
the appellant's other checks for the proctor who decides."""

from __future__ import annotations

import asyncio
import time

from ..errors import UserError
from ..roster.book import RosterBook
from ..store.models import Account, RosterEntry, new_id
from .checks import CheckResult, FaceChecks

SCOPE = "appeal"


def _scope(entry: RosterEntry) -> str:
    return f"{SCOPE}:{entry.exam_id}:{entry.id_number}"


class AppealChecks:
    def __init__(self, checks: FaceChecks, roster: RosterBook) -> None:
        self.checks = checks
        self.roster = roster

    async def challenge(self, account: Account, entry: RosterEntry) -> dict:
        await self.checks.count_attempt(account, "challenge")
        self.checks.require_pool()
        if not entry.photo_sha256:
            raise UserError("no_reference_photo")
        return await self.checks.issue_challenge(account, _scope(entry))

    async def check(self, account: Account, challenge_id: str, frames: list[bytes]) -> tuple[CheckResult, RosterEntry]:
        """The burst for an appeal challenge: the result, and the roster entry it was judged against."""
        checks = self.checks
        pool = checks.require_pool()
        checks.check_frames(frames)
        data = await checks.challenge_of(challenge_id, account)
        kind, _, rest = data.get("exam_id", "").partition(":")
        exam_id, _, number = rest.partition(":")
        entry = await self.roster.entry(exam_id, number) if kind == SCOPE else None
        if entry is None or not entry.photo_sha256:
            raise UserError("challenge_expired", field="challenge_id")
        reference = await checks.references.embedding(entry.photo_sha256)
        async with checks.running(account):
            reason, distance, details = await checks.judge_burst(pool, account, reference, data["direction"], frames)
            await checks.store.redis.delete(checks.keys.face_challenge(challenge_id))  # used once
        check_id = new_id("check")
        await asyncio.to_thread(checks.archive.save, exam_id, account.id, check_id, frames)
        details = {**details, "at": round(time.time(), 3), "frames": len(frames), "exam_id": exam_id}
        result = CheckResult(
            check_id, not reason, reason, distance, pool.threshold, 0, 0, False, data["direction"], details
        )
        return result, entry
