"""Which proctors watch which exam.

A proctor sees and decides only for the exams an admin assigned them to: the live view and audit
of the exam, its face reviews, and the identity appeals about an ID number on its roster. Admins
stay school-wide (the school owns every exam's data; an admin can assign themselves nothing less).
"""

from __future__ import annotations

from ..errors import UserError
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, is_id
from .staff import ExamStaff


class ProctorAssignments:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys

    async def assign(self, actor: Actor, exam_id: str, proctor_ids: list[str]) -> list[str]:
        """Replace the exam's proctors; each must be a proctor account."""
        ids = sorted(set(proctor_ids))
        pipe = self.store.pipeline(transaction=False)
        for account_id in ids:
            pipe.hget(self.keys.account(account_id), "role")
        roles = await pipe.execute() if ids else []
        for account_id, role in zip(ids, roles, strict=True):
            if not is_id(account_id) or role != "proctor":
                raise UserError("proctor_invalid", field="proctors", account=account_id)
        key = self.keys.exam_proctors(exam_id)

        def write(tx) -> None:
            tx.delete(key)
            if ids:
                tx.sadd(key, *ids)
            audit.add(tx, self.keys, exam_id, "exam_proctors_set", actor, proctors=ids)

        await ExamStaff(self.store).assign(exam_id, ids, write)  # staff_on_roster: a candidate of this exam
        return ids

    async def of_exam(self, exam_id: str) -> list[str]:
        return sorted(await self.store.redis.smembers(self.keys.exam_proctors(exam_id)))

    async def may_watch(self, account: Account, exam_id: str) -> bool:
        if account.role == "admin":
            return True
        return account.role == "proctor" and bool(
            await self.store.redis.sismember(self.keys.exam_proctors(exam_id), account.id)
        )

    async def require(self, account: Account, exam_id: str) -> None:
        if not await self.may_watch(account, exam_id):
            raise UserError("not_exam_proctor")

    async def watched(self, account: Account, exam_ids: list[str]) -> set[str]:
        """Which of ``exam_ids`` the account may watch (one round trip)."""
        if account.role == "admin":
            return set(exam_ids)
        pipe = self.store.pipeline(transaction=False)
        for exam_id in exam_ids:
            pipe.sismember(self.keys.exam_proctors(exam_id), account.id)
        return {e for e, member in zip(exam_ids, await pipe.execute(), strict=True) if member}
