"""A candidate's steps before booking: confirm the exam, read the notice, sign the pledge (each once, in order)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from ..errors import UserError
from ..roster.book import RosterBook
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Enrolment, Exam, RosterEntry, from_hash
from .catalog import Catalog


@dataclass
class CandidateExam:
    exam: Exam
    entry: RosterEntry
    enrolment: Enrolment
    bookings: dict[str, str]  # subject id -> slot id


class Enrolments:
    def __init__(self, store: Store, catalog: Catalog, roster: RosterBook) -> None:
        self.store = store
        self.keys = store.keys
        self.catalog = catalog
        self.roster = roster

    async def get(self, exam_id: str, account_id: str) -> Enrolment:
        data = await self.store.redis.hgetall(self.keys.enrolment(exam_id, account_id))
        return from_hash(Enrolment, data) if data else Enrolment(exam_id=exam_id, account_id=account_id)

    async def exams_for(self, account: Account) -> list[CandidateExam]:
        if not account.verified_at:
            raise UserError("not_verified")
        out = []
        for entry in await self.roster.entries_for(account.id_number):
            exam = await self.catalog.find_exam(entry.exam_id)
            if exam:
                out.append(await self._candidate_exam(account, exam, entry))
        return out

    async def exam_for(self, account: Account, exam_id: str) -> CandidateExam:
        """One exam of the candidate's, 404 if it is not theirs (no hint that it exists)."""
        if not account.verified_at:
            raise UserError("not_verified")
        entry = await self.roster.entry(exam_id, account.id_number)
        exam = await self.catalog.find_exam(exam_id)
        if entry is None or exam is None:
            raise UserError("exam_not_found")
        return await self._candidate_exam(account, exam, entry)

    async def _candidate_exam(self, account: Account, exam: Exam, entry: RosterEntry) -> CandidateExam:
        bookings = await self.store.redis.hgetall(self.keys.bookings(account.id))
        subject_ids = set(entry.subjects)
        return CandidateExam(
            exam,
            entry,
            await self.get(exam.id, account.id),
            {s: slot for s, slot in bookings.items() if s in subject_ids},
        )

    async def _step(
        self, account: Account, exam_id: str, field: str, event: str, extra: tuple[str, str] = ("", "")
    ) -> Enrolment:
        """Record a step once; repeating it keeps the first time and adds no audit entry."""
        data = {extra[0]: extra[1]} if extra[0] else {}
        args = [field, f"{time.time():.3f}", exam_id, account.id, *extra]
        args += audit.flat_entry(event, Actor(account.id, account.role), account.id, **data)
        await self.store.script("enrolment_step")(
            keys=[self.keys.enrolment(exam_id, account.id), self.keys.audit(exam_id)], args=args
        )
        return await self.get(exam_id, account.id)

    async def confirm(self, account: Account, exam_id: str) -> Enrolment:
        await self.exam_for(account, exam_id)
        return await self._step(account, exam_id, "confirmed_at", "exam_confirmed")

    async def read_notice(self, account: Account, exam_id: str) -> Enrolment:
        state = await self.exam_for(account, exam_id)
        if not state.enrolment.confirmed_at:
            raise UserError("exam_not_confirmed")
        return await self._step(account, exam_id, "notice_read_at", "notice_read")

    async def sign_pledge(self, account: Account, exam_id: str, agree: bool) -> Enrolment:
        state = await self.exam_for(account, exam_id)
        if not state.enrolment.confirmed_at:
            raise UserError("exam_not_confirmed")
        if not state.enrolment.notice_read_at:
            raise UserError("notice_not_read")
        if not agree:
            raise UserError("pledge_must_agree", field="agree")
        digest = hashlib.sha256(state.exam.pledge.encode()).hexdigest()
        return await self._step(account, exam_id, "pledge_signed_at", "pledge_signed", ("pledge_sha256", digest))
