"""Blind, double marking of recorded submissions (docs/marking.md "Recorded submissions").

Each formal submission of a recorded subject, known only by its anonymous code (``recorded/grading.py``),
is assigned to ``rubric.markers`` graders of its subject: the least loaded ones (load counted per subject),
ties broken at random, never twice the same grader. ``take_assign.lua`` does it in one step, so several
processes assigning at once keep every load within 1 of the others and never double-assign. It runs when a
submission appears (``Sittings.on_ended``, wired in ``server/wiring.py``) and as a catch-up (``catch_up``:
the admin's "分配评阅", the progress listing, and at once when a subject's rubric or graders are set:
``subject_changed``) for submissions made before the subject had graders or a rubric.

A grader's mark sheet (per code and grader) is drafted as they type and sealed with complete marks
(immutable; an admin may reopen it with a reason). Only the graders assigned to a code reach its sheet:
anyone else gets ``submission_not_found``, as for a code that does not exist. Once two sealed totals differ
by more than ``rubric.gap``, a third grader (of the subject, not yet assigned to the code, least loaded) is
assigned right after the second seal (and by the catch-up, should that process have died in between).

The final mark (``final_mark``): one marker, their total; two, the mean when within the gap (or gap 0);
otherwise, once the third has sealed, the mean of the third and whichever of the first two is closer to it
(a tie: the mean of all three).

A submission withdrawn by a reset (``004_*`` 6) loses its marking (``withdraw``).

Audit entries (``take_marks_assigned``, ``take_third_missing``, ``take_mark_sealed``,
``take_mark_reopened``, ``take_marks_withdrawn``) name the code, never the candidate, sitting or take: proctors read the stream.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..accounts.directory import Directory
from ..errors import UserError
from ..exams.catalog import Catalog
from ..recorded.grading import CODE, SUBMITTED, Grading, Submission
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Sitting, is_id
from .rubrics import Rubric, Rubrics

log = logging.getLogger("server.marking")
COMMENT_MAX = 2000
REASON_MAX = 200
SHEET_STATES = ("assigned", "draft", "sealed")
BATCH = 500  # codes read per Redis round trip when summing up a subject


def _round2(value: float) -> float:
    """To 0.01, halves up (36.665 -> 36.67), as a person rounds a mark."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def final_mark(markers: int, gap: float, totals: list[float | None]) -> float | None:
    """The final mark from the sealed totals in assignment order (``None``: not sealed yet), or ``None``
    while it cannot be told yet (docs/marking.md)."""
    first = totals[:markers]
    if len(first) < markers or any(t is None for t in first):
        return None
    values = [float(t) for t in first if t is not None]
    if markers == 1:
        return _round2(values[0])
    a, b = values
    if gap <= 0 or abs(a - b) <= gap + 1e-9:
        return _round2((a + b) / 2)
    if len(totals) < 3 or totals[2] is None:
        return None
    c = float(totals[2])
    da, db = abs(a - c), abs(b - c)
    if abs(da - db) < 1e-9:
        return _round2((a + b + c) / 3)
    return _round2(((a if da < db else b) + c) / 2)


def needs_third(markers: int, gap: float, totals: list[float | None]) -> bool:
    """Two sealed totals further apart than the gap."""
    if markers != 2 or gap <= 0 or len(totals) < 2 or totals[0] is None or totals[1] is None:
        return False
    return abs(float(totals[0]) - float(totals[1])) > gap + 1e-9


@dataclass
class Sheet:
    """One grader's mark sheet of one code."""

    code: str
    grader_id: str
    state: str  # assigned | draft | sealed
    marks: dict[str, float] = field(default_factory=dict)
    comment: str = ""
    total: float | None = None
    saved_at: float = 0.0
    sealed_at: float = 0.0
    round: str = "first"  # first | third
    reopen_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "state": self.state,
            "marks": self.marks,
            "comment": self.comment,
            "total": self.total,
            "saved_at": self.saved_at or None,
            "sealed_at": self.sealed_at or None,
            "reopen_reason": self.reopen_reason or None,
        }


def _sheet(code: str, grader_id: str, data: dict[str, str]) -> Sheet | None:
    if not data.get("state"):
        return None
    total = data.get("total")
    return Sheet(
        code,
        grader_id,
        data["state"],
        json.loads(data.get("marks") or "{}"),
        data.get("comment", ""),
        float(total) if total not in (None, "") else None,
        float(data.get("saved_at") or 0),
        float(data.get("sealed_at") or 0),
        data.get("round", "first"),
        data.get("reopen_reason", ""),
    )


def _graders(raw: str | None) -> list[str]:
    value = json.loads(raw) if raw else []
    return value if isinstance(value, list) else []  # Lua's cjson writes an empty table as {}


class TakeMarks:
    def __init__(
        self, store: Store, catalog: Catalog, grading: Grading, rubrics: Rubrics, directory: Directory
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.grading = grading
        self.rubrics = rubrics
        self.directory = directory

    # assignment
    async def _assign(self, exam_id: str, subject_id: str, code: str, want: int, round_: str) -> tuple[str, list[str]]:
        k = self.keys
        outcome, graders = await self.store.script("take_assign")(
            keys=[
                k.take_marking(code),
                k.subject_graders(subject_id),
                k.take_mark_load(subject_id),
                k.take_mark_codes(subject_id),
                k.audit(exam_id),
                k.take_mark(code, ""),
                k.take_mark_queue(""),
                k.anon_codes(),
                k.sitting(""),
            ],
            args=[
                str(want),
                f"{time.time():.3f}",
                secrets.token_hex(8),
                exam_id,
                subject_id,
                code,
                round_,
                *audit.base_fields(Actor.system(), code),
            ],
        )
        return outcome, _graders(graders)

    async def assign(self, exam_id: str, subject_id: str, code: str) -> list[str]:
        """Give the code its ``rubric.markers`` graders (idempotent; no rubric or no grader: nothing), and a
        third when its two sealed totals call for one. Returns its graders."""
        rubric = await self.rubrics.get(subject_id)
        if rubric is None:
            return []
        _, graders = await self._assign(exam_id, subject_id, code, rubric.markers, "first")
        return await self._third_if_needed(exam_id, subject_id, code, rubric, graders)

    async def _third_if_needed(
        self, exam_id: str, subject_id: str, code: str, rubric: Rubric, graders: list[str]
    ) -> list[str]:
        if len(graders) != 2:
            return graders
        totals = [s.total if s and s.state == "sealed" else None for s in await self._sheets(code, graders)]
        if needs_third(rubric.markers, rubric.gap, totals):
            _, graders = await self._assign(exam_id, subject_id, code, 3, "third")
        return graders

    async def sitting_ended(self, sitting: Sitting) -> None:
        """``Sittings.on_ended``: a formal submission of a recorded subject gets its graders at once; one
        withdrawn by a reset loses its marking."""
        if sitting.mode == "formal" and sitting.state == "reset":
            await self.withdraw(sitting)
            return
        if sitting.mode != "formal" or sitting.state not in SUBMITTED or not sitting.submitted_take:
            return
        if await self.rubrics.get(sitting.subject_id) is None:
            return  # no rubric yet: the catch-up assigns it once there is one
        if not await self.redis.scard(self.keys.subject_graders(sitting.subject_id)):
            return
        code = await self.grading.code_for(sitting)
        await self.assign(sitting.exam_id, sitting.subject_id, code)

    async def withdraw(self, sitting: Sitting) -> int:
        """The marking of a withdrawn submission (its sitting reset) is removed: its sheets, its place in
        the graders' queues and loads (``take_assign_withdraw.lua``, audited ``take_marks_withdrawn``).
        Returns how many graders it had."""
        k = self.keys
        code = await self.redis.hget(k.anon_subject(sitting.subject_id), sitting.id)
        if not code:
            return 0
        return int(
            await self.store.script("take_assign_withdraw")(
                keys=[
                    k.take_marking(code),
                    k.take_mark_load(sitting.subject_id),
                    k.take_mark_codes(sitting.subject_id),
                    k.rubric(sitting.subject_id),
                    k.audit(sitting.exam_id),
                    k.take_mark(code, ""),
                    k.take_mark_queue(""),
                ],
                args=[code, sitting.subject_id, *audit.base_fields(Actor.system(), code)],
            )
        )

    async def catch_up(self, exam_id: str, subject_id: str) -> int:
        """Assign every current submission of the subject that lacks graders (or a due third). Returns how
        many graders were added."""
        before = sum(int(v) for v in (await self.redis.hgetall(self.keys.take_mark_load(subject_id))).values())
        rubric = await self.rubrics.get(subject_id)
        if rubric is None:
            return 0
        codes = await self.grading.codes(exam_id, subject_id)
        for result in await self._results(codes, rubric):  # only those lacking graders or a due third
            if len(result["graders"]) < rubric.markers or (result["third_due"] and len(result["graders"]) < 3):
                await self.assign(exam_id, subject_id, result["code"])
        after = sum(int(v) for v in (await self.redis.hgetall(self.keys.take_mark_load(subject_id))).values())
        return after - before

    async def assign_subject(self, actor: Actor, exam_id: str, subject_id: str) -> dict[str, Any]:
        """The admin's "分配评阅": the catch-up, refused with a reason when it cannot assign anything."""
        await self.grading.graders_of(exam_id, subject_id)  # exam / subject not found, grading_not_recorded
        if await self.rubrics.get(subject_id) is None:
            raise UserError("take_marking_no_rubric")
        if not await self.redis.scard(self.keys.subject_graders(subject_id)):
            raise UserError("take_marking_no_graders")
        added = await self.catch_up(exam_id, subject_id)
        return {"added": added, "progress": await self._subject_progress(exam_id, subject_id)}

    async def subject_changed(self, exam_id: str, subject_id: str) -> None:
        """A recorded subject's rubric or graders were set (``Rubrics.on_set``, ``Grading.on_graders_set``):
        the catch-up, so submissions made before it had both, and a third due that had no grader left, get
        their graders now, once, instead of at every listing of a grader's queue."""
        subject = await self.catalog.subject(exam_id, subject_id)
        if subject.recorded and await self.redis.scard(self.keys.subject_graders(subject_id)):
            added = await self.catch_up(exam_id, subject_id)
            if added:
                log.info("submissions assigned", extra={"subject": subject_id, "graders_added": added})

    # the grader
    async def _sheets(self, code: str, graders: list[str]) -> list[Sheet | None]:
        pipe = self.store.pipeline(transaction=False)
        for grader in graders:
            pipe.hgetall(self.keys.take_mark(code, grader))
        found = await pipe.execute() if graders else []
        return [_sheet(code, g, d) for g, d in zip(graders, found, strict=True)]

    async def _own(self, account: Account, code: str) -> tuple[Submission, Sheet, Rubric]:
        """The grader's submission, sheet and rubric; ``submission_not_found`` for anyone not assigned."""
        sub = await self.grading.submission(account, code)  # not a grader of its subject, forged, withdrawn
        data = await self.redis.hgetall(self.keys.take_mark(code, account.id))
        sheet = _sheet(code, account.id, data)
        rubric = await self.rubrics.get(sub.subject.id)
        if sheet is None or rubric is None:
            raise UserError("submission_not_found")
        return sub, sheet, rubric

    async def queue(self, account: Account) -> list[tuple[Submission, Sheet]]:
        """The codes assigned to the grader that are still submissions of a subject they grade, in
        assignment order, each with their own sheet."""
        codes = await self.redis.zrange(self.keys.take_mark_queue(account.id), 0, -1)
        out = []
        for code in codes:
            try:
                sub, sheet, _ = await self._own(account, code)
            except UserError:
                continue  # withdrawn (a reset), or the grader no longer grades the subject
            out.append((sub, sheet))
        return out

    async def sheet(self, account: Account, code: str) -> tuple[Submission, Sheet, Rubric]:
        return await self._own(account, code)

    @staticmethod
    def _comment(comment: Any) -> str:
        if comment is None:
            return ""
        if not isinstance(comment, str):
            raise UserError("field_type", field="comment", label="评语")
        if len(comment) > COMMENT_MAX:
            raise UserError("field_too_long", field="comment", label="评语", max=COMMENT_MAX)
        return comment

    async def save(self, account: Account, code: str, marks: Any, comment: Any) -> Sheet:
        """A draft (marks may be incomplete); refused on a sealed sheet (``take_mark_sealed``)."""
        sub, sheet, rubric = await self._own(account, code)
        checked = rubric.check(marks, complete=False)
        text = self._comment(comment)
        if sheet.state == "sealed":
            raise UserError("take_mark_sealed")
        result = await self.store.script("take_mark_save")(
            keys=[self.keys.take_mark(code, account.id), self.keys.results(sub.exam.id)],
            args=[json.dumps(checked), text, f"{time.time():.3f}"],
        )
        if result != "ok":
            raise UserError(result)
        return (await self._own(account, code))[1]

    async def seal(self, account: Account, code: str, marks: Any, comment: Any) -> Sheet:
        """ "提交评分": complete marks, sealed for good; a third grader follows when the gap calls for one."""
        sub, sheet, rubric = await self._own(account, code)
        if sheet.state == "sealed":
            raise UserError("take_mark_sealed")
        checked = rubric.check(marks, complete=True)
        text = self._comment(comment)
        total = rubric.total(checked)
        exam_id, subject_id = sub.exam.id, sub.subject.id
        result = await self.store.script("take_mark_seal")(
            keys=[
                self.keys.take_mark(code, account.id),
                self.keys.rubric(subject_id),
                self.keys.audit(exam_id),
                self.keys.results(exam_id),
            ],
            args=[
                json.dumps(checked),
                text,
                f"{total:g}",
                f"{time.time():.3f}",
                str(rubric.version),
                code,
                *audit.base_fields(Actor(account.id, account.role), code),
            ],
        )
        if result != "ok":
            raise UserError(result)
        graders = _graders(await self.redis.hget(self.keys.take_marking(code), "graders"))
        await self._third_if_needed(exam_id, subject_id, code, rubric, graders)
        return (await self._own(account, code))[1]

    # the admin
    async def reopen(self, actor: Actor, code: str, grader_id: str, reason: Any) -> Sheet:
        """An admin reopens a sealed sheet with a reason (audited ``take_mark_reopened``)."""
        if not isinstance(reason, str) or not reason.strip():
            raise UserError("take_mark_reason_required", field="reason")
        if len(reason.strip()) > REASON_MAX:
            raise UserError("field_too_long", field="reason", label="原因", max=REASON_MAX)
        if not CODE.match(code or "") or not is_id(grader_id):
            raise UserError("take_mark_not_found")
        record = await self.redis.hmget(self.keys.take_marking(code), "exam_id", "subject_id", "graders")
        exam_id, subject_id, graders = record
        if not exam_id or grader_id not in _graders(graders):
            raise UserError("take_mark_not_found")
        result = await self.store.script("take_mark_reopen")(
            keys=[
                self.keys.take_mark(code, grader_id),
                self.keys.rubric(subject_id),
                self.keys.audit(exam_id),
                self.keys.results(exam_id),
            ],
            args=[reason.strip(), f"{time.time():.3f}", code, grader_id, *audit.base_fields(actor, code)],
        )
        if result != "ok":
            raise UserError(result)
        sheet = _sheet(code, grader_id, await self.redis.hgetall(self.keys.take_mark(code, grader_id)))
        assert sheet is not None
        return sheet

    async def result(self, code: str) -> dict[str, Any]:
        """One code's marking: its graders' sheets (state, total), whether a third is due or missing, and
        the final mark once it can be told."""
        subject_id = await self.redis.hget(self.keys.take_marking(code), "subject_id")
        rubric = await self.rubrics.get(subject_id) if subject_id else None
        return (await self._results([code], rubric))[0]

    async def _results(self, codes: list[str], rubric: Rubric | None) -> list[dict[str, Any]]:
        """``result`` of many codes of one subject, read in a few round trips per ``BATCH`` codes."""
        markers, gap = (rubric.markers, rubric.gap) if rubric else (1, 0.0)
        out = []
        for start in range(0, len(codes), BATCH):
            batch = codes[start : start + BATCH]
            pipe = self.store.pipeline(transaction=False)
            for code in batch:
                pipe.hmget(self.keys.take_marking(code), "graders", "third_missing")
            heads = await pipe.execute() if batch else []
            assigned = [_graders(raw) for raw, _ in heads]
            pipe = self.store.pipeline(transaction=False)
            for code, graders in zip(batch, assigned, strict=True):
                for grader in graders:
                    pipe.hmget(self.keys.take_mark(code, grader), "state", "total")
            found = iter(await pipe.execute() if any(assigned) else [])
            for code, graders, (_, missing) in zip(batch, assigned, heads, strict=True):
                rows, totals = [], []
                for grader in graders:
                    state, total = next(found)
                    sealed = state == "sealed" and total not in (None, "")
                    totals.append(float(total) if sealed else None)
                    rows.append({"grader_id": grader, "state": state or "assigned", "total": totals[-1]})
                out.append(
                    {
                        "code": code,
                        "graders": rows,
                        "wanted": markers,
                        "third_due": needs_third(markers, gap, totals),
                        "third_missing": bool(missing) and len(graders) < 3,
                        "final": final_mark(markers, gap, totals) if rubric else None,
                    }
                )
        return out

    async def _subject_progress(self, exam_id: str, subject_id: str) -> dict[str, Any]:
        subject = await self.catalog.subject(exam_id, subject_id)
        rubric = await self.rubrics.get(subject_id)
        codes = await self.grading.codes(exam_id, subject_id)
        pool = sorted(await self.redis.smembers(self.keys.subject_graders(subject_id)))
        per: dict[str, dict[str, int]] = {}
        row = {"submissions": len(codes), "unassigned": 0, "short": 0, "assigned": 0, "sealed": 0}
        row |= {"waiting_third": 0, "third_missing": 0, "final": 0}
        for result in await self._results(codes, rubric):
            graders = result["graders"]
            if not graders:
                row["unassigned"] += 1
            elif len(graders) < result["wanted"]:
                row["short"] += 1
            for g in graders:
                mine = per.setdefault(g["grader_id"], {"assigned": 0, "draft": 0, "sealed": 0})
                mine["assigned"] += 1
                row["assigned"] += 1
                if g["state"] == "sealed":
                    mine["sealed"] += 1
                    row["sealed"] += 1
                elif g["state"] == "draft":
                    mine["draft"] += 1
            if result["third_due"] and result["final"] is None:
                row["waiting_third"] += 1
                if result["third_missing"]:
                    row["third_missing"] += 1
            if result["final"] is not None:
                row["final"] += 1
        ids = sorted(set(pool) | set(per))
        accounts = [await self.directory.get(g) for g in ids]
        graders_rows = [
            {
                "grader_id": g,
                "name": (a.name or a.username) if a else "",
                "grades_subject": g in pool,
                **per.get(g, {"assigned": 0, "draft": 0, "sealed": 0}),
            }
            for g, a in zip(ids, accounts, strict=True)
        ]
        return {
            "subject": {"id": subject.id, "name": subject.name},
            "rubric": rubric is not None,
            "markers": rubric.markers if rubric else None,
            "gap": rubric.gap if rubric else None,
            **row,
            "graders": graders_rows,
        }

    async def progress(self, exam_id: str) -> list[dict[str, Any]]:
        """Per recorded subject of the exam: the catch-up first, then the counts and per grader."""
        await self.catalog.exam(exam_id)
        out = []
        for subject in await self.catalog.subjects(exam_id):
            if not subject.recorded:
                continue
            await self.catch_up(exam_id, subject.id)
            out.append(await self._subject_progress(exam_id, subject.id))
        return out
