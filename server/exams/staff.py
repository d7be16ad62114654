"""A staff member is never also a candidate of an exam they work on (docs/security.md "Staff and
candidates"; issue 16 item 6).

**How an account is linked to a roster row.** A candidate is a person known by the ID number on the
school's roster: the candidate account that verified it holds it (``idclaim:{id_number}``). Roles never
change, and only a candidate account can verify an identity (``Identity.verify`` and
``verify_identity.lua`` refuse any other role), so a staff *account* can never be a candidate. The same
*person* could still hold a staff account and a candidate account: so an admin records the staff member's
ID number on their staff account (``staff_id_number``, when creating it or later), and then:

- a staff account is not assigned to an exam (a room's panel, a recorded subject's graders, the exam's
  proctors) whose roster holds its ID number (``staff_on_roster``);
- a roster row whose ID number is that of a staff member assigned to the exam is refused
  (``row_staff_of_exam``);
- a staff member's ID number is not set to one on the roster of an exam they are assigned to
  (``staff_on_roster``).

Each of these checks reads and writes under WATCH (``guarded``): the roster of the exam, the assignment
sets of the exam (and of every exam, for an ID number set later) and the accounts concerned; a concurrent
write to any of them makes the transaction run again, so an assignment and a roster import racing each
other cannot both land (tested)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from redis.exceptions import WatchError

from ..errors import UserError
from ..roster import idcard
from ..store.base import Store

Check = Callable[[Any], Awaitable[None]]  # reads through the watching pipeline; raises to refuse
Write = Callable[[Any], None]  # queues the writes on the MULTI


def staff_number(raw: str) -> str:
    """A staff member's ID number, checked as the roster checks it; ``""`` for none."""
    return idcard.validate_any(raw, "staff_id_number") if raw.strip() else ""


class ExamStaff:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis

    async def watch_assignments(self, pipe: Any, exam_id: str) -> list[str]:
        """WATCH who works on the exam (its rooms and subjects, then their panels and graders, its
        proctors) and return those sets' keys: read after this, they are what EXEC will find."""
        k = self.keys
        await pipe.watch(k.exam_rooms(exam_id), k.exam_subjects(exam_id), k.exam_proctors(exam_id))
        rooms = sorted(await pipe.smembers(k.exam_rooms(exam_id)))
        subjects = await pipe.zrange(k.exam_subjects(exam_id), 0, -1)
        sets = [*(k.room_examiners(r) for r in rooms), *(k.subject_graders(s) for s in subjects)]
        if sets:
            await pipe.watch(*sets)
        return [*sets, k.exam_proctors(exam_id)]

    async def numbers(self, pipe: Any, account_ids: Iterable[str]) -> dict[str, str]:
        """WATCH the accounts and return account -> its recorded staff ID number, for those with one."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        await pipe.watch(*(self.keys.account(a) for a in ids))
        found = [await pipe.hget(self.keys.account(a), "staff_id_number") for a in ids]
        return {a: n for a, n in zip(ids, found, strict=True) if n}

    async def staff_numbers(self, pipe: Any, exam_id: str) -> dict[str, str]:
        """ID number -> account of every staff member assigned to the exam with one recorded (watched)."""
        members: set[str] = set()
        for key in await self.watch_assignments(pipe, exam_id):
            members |= set(await pipe.smembers(key))
        return {n: a for a, n in (await self.numbers(pipe, members)).items()}

    async def _refuse(self, pipe: Any, account_id: str) -> None:
        name = await pipe.hget(self.keys.account(account_id), "name") or account_id
        raise UserError("staff_on_roster", name=name)

    async def guarded(self, check: Check, write: Write) -> None:
        """``check`` (which WATCHes what it reads) then ``write`` as one optimistic transaction: a change to
        a watched key before EXEC runs it all again; a refusal raised by ``check`` writes nothing."""
        async with self.store.pipeline() as pipe:
            while True:
                try:
                    await check(pipe)
                    pipe.multi()
                    write(pipe)
                    await pipe.execute()
                    return
                except WatchError:
                    continue

    async def assign(self, exam_id: str, account_ids: list[str], write: Write) -> None:
        """Write an assignment of ``account_ids`` to the exam (``write`` queues it), refused with
        ``staff_on_roster`` when one of them is a candidate of the exam."""

        async def check(pipe: Any) -> None:
            await pipe.watch(self.keys.roster(exam_id))
            for account_id, number in (await self.numbers(pipe, account_ids)).items():
                if await pipe.sismember(self.keys.roster(exam_id), number):
                    await self._refuse(pipe, account_id)

        await self.guarded(check, write)

    async def set_number(self, account_id: str, raw: str, write: Callable[[Any, str], None]) -> str:
        """Record a staff member's ID number (``""`` clears it), refused with ``staff_on_roster`` when an
        exam they work on has it on its roster. Returns the number as stored."""
        number = staff_number(raw)

        async def check(pipe: Any) -> None:
            await pipe.watch(self.keys.account(account_id), self.keys.exams())
            if not number:
                return
            for exam_id in sorted(await pipe.smembers(self.keys.exams())):
                await pipe.watch(self.keys.roster(exam_id))
                sets = await self.watch_assignments(pipe, exam_id)
                works = [await pipe.sismember(key, account_id) for key in sets]
                if any(works) and await pipe.sismember(self.keys.roster(exam_id), number):
                    await self._refuse(pipe, account_id)

        await self.guarded(check, lambda pipe: write(pipe, number))
        return number
