"""Graders of recorded subjects, and what they see: submissions behind an anonymous code (docs/recorded.md
"Graders").

A grader is an examiner account an admin assigned to a recorded subject (``subject:{subject}:graders``).
Every formal submission (``submitted`` or ``auto_submitted``) of a subject gets an anonymous code
(``S-7K3Q9``: random, five characters of an alphabet without look-alikes), minted once, at first need,
and kept in Redis both ways (``anon:codes`` code -> sitting, ``anon:subject:{subject}`` sitting -> code).
Nothing of the candidate goes into it: it cannot be worked out from the account, the sitting or the take.

What a grader gets of a submission is :class:`Submission`: the code, the exam's and subject's names, how
it was submitted, and the take (its length and files, served by code). The HTTP edge passes on only
those fields (``http/grading_api.py``); the candidate's name, ID number, account, exam code (考试码), face
result and the sitting's and take's ids never leave this module. A grader asking for a code that is not
of their subjects, or that does not exist, gets ``submission_not_found`` alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..errors import UserError
from ..exams.catalog import Catalog
from ..exams.staff import ExamStaff
from ..rooms.recordings import RecordingIndex
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Exam, Sitting, Subject, Take, from_hash, is_id
from .take_files import listed_name

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out or typed without doubt
CODE_LENGTH = 5  # 31^5 ~ 28.6 million codes
CODE = re.compile(rf"^S-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
SUBMITTED = ("submitted", "auto_submitted")
MAX_GRADERS = 50  # per subject
SCAN_BATCH = 500  # sittings read per Redis round trip when listing
MINT_TRIES = 20  # a clash with an existing code is one in millions: a few tries always suffice
log = logging.getLogger("server.recorded")
GradersListener = Callable[[str, str], Awaitable[None]]  # (exam id, subject id) after its graders changed


def marking_open(subject: Subject, now: float | None = None) -> bool:
    """Graders see a recorded subject's submissions once its exam window has closed (docs/marking.md
    "Recorded submissions"): 004_* has the examiners assess the videos after the deadline, and until the
    window closes an auto-submitted sitting may still be reset and its submission withdrawn (004_* 6)."""
    return (time.time() if now is None else now) >= subject.window_closes


def new_code() -> str:
    return "S-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass
class Submission:
    """A submission as a grader may know it; ``take`` is for its files only (its ids stay here)."""

    code: str
    exam: Exam
    subject: Subject
    state: str  # submitted | auto_submitted
    take: Take

    @property
    def aux_files(self) -> list[tuple[int, str, float]]:
        """(n, file name, offset in the main file in seconds) per aux camera, in order."""
        out = []
        for name, info in self.take.files.items():
            match = re.fullmatch(r"aux-([1-9][0-9]?)\.webm", name)
            if match:
                offset = info.get("offset_s", 0) if isinstance(info, dict) else 0
                out.append((int(match.group(1)), name, float(offset or 0)))
        return sorted(out)


class Grading:
    def __init__(
        self, store: Store, catalog: Catalog, recordings: RecordingIndex, timezone: str = "Asia/Shanghai"
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.recordings = recordings
        self.timezone = timezone
        self.on_graders_set: list[GradersListener] = []  # the marking's catch-up (server/wiring.py)

    def not_open(self, subject: Subject) -> UserError:
        """``grading_not_open``: the subject's submissions are graded from the close of its window."""
        closes = dt.datetime.fromtimestamp(subject.window_closes, ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M")
        return UserError("grading_not_open", subject=subject.name, closes=closes)

    # the admin
    async def _recorded_subject(self, exam_id: str, subject_id: str) -> Subject:
        await self.catalog.exam(exam_id)  # exam_not_found
        subject = await self.catalog.subject(exam_id, subject_id)  # subject_not_found
        if not subject.recorded:
            raise UserError("grading_not_recorded", subject=subject.name)
        return subject

    async def assign(self, actor: Actor, exam_id: str, subject_id: str, account_ids: list[str]) -> list[str]:
        """Replace the recorded subject's graders; each must be an examiner account. Audited
        (``subject_graders_set``); a refusal changes nothing."""
        subject = await self._recorded_subject(exam_id, subject_id)
        ids = sorted(set(account_ids))
        if len(ids) > MAX_GRADERS:
            raise UserError("graders_too_many", field="account_ids", max=MAX_GRADERS)
        for account_id in ids:
            if not is_id(account_id):
                raise UserError("grader_invalid", field="account_ids", account=account_id[:40])
        pipe = self.store.pipeline(transaction=False)
        for account_id in ids:
            pipe.hget(self.keys.account(account_id), "role")
        roles = await pipe.execute() if ids else []
        for account_id, role in zip(ids, roles, strict=True):
            if role != "examiner":
                raise UserError("grader_invalid", field="account_ids", account=account_id[:40])
        key = self.keys.subject_graders(subject.id)

        def write(tx) -> None:
            tx.delete(key)
            if ids:
                tx.sadd(key, *ids)
            audit.add(tx, self.keys, exam_id, "subject_graders_set", actor, subject_id=subject.id, graders=ids)

        await ExamStaff(self.store).assign(exam_id, ids, write)  # staff_on_roster: a candidate of this exam
        for listener in list(self.on_graders_set):
            try:
                await listener(exam_id, subject.id)
            except Exception:  # the graders are set; what they are given follows at the next catch-up
                log.exception("graders listener failed", extra={"subject": subject.id})
        return ids

    async def graders_of(self, exam_id: str, subject_id: str) -> list[str]:
        subject = await self._recorded_subject(exam_id, subject_id)
        return sorted(await self.redis.smembers(self.keys.subject_graders(subject.id)))

    async def graders(self, exam_id: str) -> dict[str, list[str]]:
        """Every recorded subject of the exam -> its graders' account ids."""
        await self.catalog.exam(exam_id)
        subjects = [s for s in await self.catalog.subjects(exam_id) if s.recorded]
        pipe = self.store.pipeline(transaction=False)
        for subject in subjects:
            pipe.smembers(self.keys.subject_graders(subject.id))
        found = await pipe.execute() if subjects else []
        return {s.id: sorted(members) for s, members in zip(subjects, found, strict=True)}

    # the grader
    async def subjects_of(self, account: Account) -> list[tuple[Exam, Subject]]:
        """The recorded subjects the examiner grades, exam by exam (oldest exam first)."""
        if account.role != "examiner":
            return []
        out = []
        for exam in await self.catalog.exams():
            subjects = [s for s in await self.catalog.subjects(exam.id) if s.recorded]
            if not subjects:
                continue
            pipe = self.store.pipeline(transaction=False)
            for subject in subjects:
                pipe.sismember(self.keys.subject_graders(subject.id), account.id)
            for subject, member in zip(subjects, await pipe.execute(), strict=True):
                if member:
                    out.append((exam, subject))
        return out

    async def code_for(self, sitting: Sitting) -> str:
        """The sitting's anonymous code, minted the first time it is asked for (idempotent, safe when two
        processes ask at once: the first to claim the sitting wins, the other's code is withdrawn)."""
        k = self.keys
        existing = await self.redis.hget(k.anon_subject(sitting.subject_id), sitting.id)
        if existing:
            return existing
        for _ in range(MINT_TRIES):
            code = new_code()
            if await self.redis.hsetnx(k.anon_codes(), code, sitting.id):
                break
        else:  # pragma: no cover - 20 clashes in a row among 28 million codes
            raise RuntimeError("no free anonymous code")
        if await self.redis.hsetnx(k.anon_subject(sitting.subject_id), sitting.id, code):
            return code
        await self.redis.hdel(k.anon_codes(), code)  # another process minted this sitting's code first
        return await self.redis.hget(k.anon_subject(sitting.subject_id), sitting.id)

    async def _submitted_sittings(self, exam_id: str, subject_id: str) -> list[Sitting]:
        """The subject's formal sittings that hold a submission now (submitted or auto-submitted)."""
        k = self.keys
        ids = await self.redis.zrange(k.exam_sittings(exam_id), 0, -1)
        out = []
        for start in range(0, len(ids), SCAN_BATCH):
            batch = ids[start : start + SCAN_BATCH]
            pipe = self.store.pipeline(transaction=False)
            for sitting_id in batch:
                pipe.hmget(k.sitting(sitting_id), "subject_id", "mode", "state")
            heads = await pipe.execute()
            wanted = [
                sid
                for sid, (subj, mode, state) in zip(batch, heads, strict=True)
                if subj == subject_id and mode == "formal" and state in SUBMITTED
            ]
            pipe = self.store.pipeline(transaction=False)
            for sitting_id in wanted:
                pipe.hgetall(k.sitting(sitting_id))
            out += [from_hash(Sitting, d) for d in (await pipe.execute() if wanted else []) if d]
        return [s for s in out if s.submitted_take]

    async def codes(self, exam_id: str, subject_id: str) -> list[str]:
        """The anonymous codes of the subject's formal submissions now (minted where missing), for the
        marking's catch-up (server/marking/take_marks.py)."""
        sittings = await self._submitted_sittings(exam_id, subject_id)
        minted = await self.redis.hgetall(self.keys.anon_subject(subject_id))
        return [minted.get(s.id) or await self.code_for(s) for s in sittings]

    async def _take(self, take_id: str) -> Take | None:
        if not is_id(take_id):
            return None
        data = await self.redis.hgetall(self.keys.take(take_id))
        return from_hash(Take, data) if data else None

    async def submissions(self, account: Account, subject_id: str | None = None) -> list[Submission]:
        """The submissions of the subjects the examiner grades whose window has closed (``subject_id``: one
        of them; another is ``subject_not_found``), ordered by subject and code (not by who or when)."""
        assigned = await self.subjects_of(account)
        if subject_id is not None:
            assigned = [(e, s) for e, s in assigned if s.id == subject_id]
            if not assigned:
                raise UserError("subject_not_found")
        out = []
        for exam, subject in assigned:
            if not marking_open(subject):
                continue  # graded from the close of its window
            sittings = await self._submitted_sittings(exam.id, subject.id)
            codes = await self.redis.hgetall(self.keys.anon_subject(subject.id))  # one read for those minted
            pipe = self.store.pipeline(transaction=False)
            for sitting in sittings:
                pipe.hgetall(self.keys.take(sitting.submitted_take))
            takes = await pipe.execute() if sittings else []
            rows = []
            for sitting, data in zip(sittings, takes, strict=True):
                if not data:
                    continue
                code = codes.get(sitting.id) or await self.code_for(sitting)
                rows.append(Submission(code, exam, subject, sitting.state, from_hash(Take, data)))
            out += sorted(rows, key=lambda r: r.code)
        return out

    async def submission(self, account: Account, code: str) -> Submission:
        """One submission by its code, for a grader of its subject; anything else is ``submission_not_found``
        (a code of another subject, a withdrawn submission, a forged code): nothing tells them apart."""
        k = self.keys
        if account.role != "examiner" or not CODE.match(code or ""):
            raise UserError("submission_not_found")
        sitting_id = await self.redis.hget(k.anon_codes(), code) or ""
        data = await self.redis.hgetall(k.sitting(sitting_id)) if is_id(sitting_id) else {}
        sitting = from_hash(Sitting, data) if data else None
        if sitting is None or sitting.mode != "formal" or sitting.state not in SUBMITTED:
            raise UserError("submission_not_found")
        if await self.redis.hget(k.anon_subject(sitting.subject_id), sitting.id) != code:
            raise UserError("submission_not_found")  # a code withdrawn when two processes minted at once
        if not await self.redis.sismember(k.subject_graders(sitting.subject_id), account.id):
            raise UserError("submission_not_found")
        subject = await self.catalog.subject(sitting.exam_id, sitting.subject_id)
        take = await self._take(sitting.submitted_take)
        if not subject.recorded or take is None:
            raise UserError("submission_not_found")
        if not marking_open(subject):  # a grader of the subject: told when, nothing of the submission
            raise self.not_open(subject)
        return Submission(code, await self.catalog.exam(sitting.exam_id), subject, sitting.state, take)

    async def file_of(self, account: Account, code: str, name: str | None = None) -> tuple[Take, str]:
        """The submission's take and its file ``name`` (None: the main playback file; ``aux-<n>.webm``),
        once the take lists it; no path from the request is trusted (``take_files.take_source``)."""
        take = (await self.submission(account, code)).take
        return take, listed_name(take, name)
