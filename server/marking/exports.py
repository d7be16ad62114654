"""An exam's exports for the school (docs/marking.md "Exports"; issue 16 item 5): the marks per criterion
per marker (live interview sheets and recorded take sheets), the attendance (present / absent / removed
with the reason: from the queue entries of the booked candidates and the formal recorded sittings) and
the bookings.

Every export is an async generator of *pages* of rows read from Redis a page at a time (sorted sets read
by rank ranges, the records of one page in one pipeline), so an exam of 20,000 candidates is never in
memory at once: only the exam's catalog (subjects, rooms, slots), the rubrics and the names of the staff
who marked. The cells are text or numbers; the HTTP edge writes them as CSV or XLSX
(``server/http/exports_api.py``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import UserError
from ..exams.catalog import Catalog
from ..i18n import message
from ..queue.entries import ABSENT, CALLED, DONE, IN_ROOM, REMOVED, SYSTEM_REASONS
from ..store.base import Store
from ..store.models import Subject
from .interview_marks import _sheets
from .results import Results
from .rubrics import Rubric, Rubrics
from .take_marks import _graders, _sheet

KINDS = ("marks", "attendance", "bookings", "results")
PAGE = 500  # records read per round trip

Cell = str | float | int
Row = list[Cell]

COLUMNS: dict[str, tuple[str, ...]] = {
    "bookings": ("科目", "考场", "场次开始", "场次结束", "姓名", "证件号", "账号", "预约时间"),
    "attendance": ("科目", "形式", "考场", "场次开始", "姓名", "证件号", "账号", "出勤", "状态", "原因", "时间"),
    "marks": (
        "科目",
        "形式",
        "考场",
        "面试编号/匿名码",
        "考生",
        "证件号",
        "账号",
        "评分人",
        "评分人账号",
        "状态",
        "评分项",
        "分数",
        "满分",
        "权重",
        "总分",
        "评语",
        "提交时间",
    ),
    "results": ("证件号", "姓名", "账号", "科目", "形式", "状态", "最终成绩", "评分人", "合成方式", "总分", "结果"),
}
RESULT_STATES = {"final": "已评定", "pending": "评分中", "removed": "移出", "absent": "缺考"}
MARKER_STATES = {"sealed": "已提交", "draft": "草稿", "assigned": "未评", "none": "未评", "excused": "已免除"}

# attendance: what a queue entry's state means for the school
PRESENT, ABSENT_LABEL, REMOVED_LABEL, PENDING = "出席", "缺考", "移出", "未结束"
LIVE_STATE = {DONE: PRESENT, CALLED: PRESENT, IN_ROOM: PRESENT, ABSENT: ABSENT_LABEL, REMOVED: REMOVED_LABEL}
SITTING_STATE = {
    "submitted": (PRESENT, "已提交"),
    "auto_submitted": (PRESENT, "到时自动提交"),
    "absent": (ABSENT_LABEL, "缺考"),
    "reset": (REMOVED_LABEL, "已重置"),
    "in_progress": (PENDING, "进行中"),
}
FORMS = {"interview": "现场面试", "recorded": "录制"}


class Exports:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        rubrics: Rubrics,
        timezone: str = "Asia/Shanghai",
        results: Results | None = None,
    ) -> None:
        self.store = store
        self.results = results
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.rubrics = rubrics
        self.tz = ZoneInfo(timezone)

    @staticmethod
    def columns(kind: str) -> tuple[str, ...]:
        if kind not in COLUMNS:
            raise UserError("export_unknown", what=kind)
        return COLUMNS[kind]

    async def pages(self, exam_id: str, kind: str, page: int = PAGE) -> AsyncIterator[list[Row]]:
        """The rows of one export, ``page`` records at a time (a page may hold more rows: marks give one
        row per criterion). Raises ``exam_not_found`` / ``export_unknown`` before the first page."""
        self.columns(kind)
        await self.catalog.exam(exam_id)
        sources = {
            "bookings": self._bookings,
            "attendance": self._attendance,
            "marks": self._marks,
            "results": self._results,
        }
        source = sources[kind]
        async for rows in source(exam_id, page):
            if rows:
                yield rows

    def when(self, epoch: float | str | None) -> str:
        value = float(epoch or 0)
        return datetime.fromtimestamp(value, self.tz).isoformat(timespec="seconds") if value else ""

    async def _ranks(self, key: str, page: int, withscores: bool = False) -> AsyncIterator[list[Any]]:
        """A sorted set by rank ranges, ``page`` members at a time."""
        start = 0
        while True:
            batch = await self.redis.zrange(key, start, start + page - 1, withscores=withscores)
            if not batch:
                return
            yield batch
            if len(batch) < page:
                return
            start += page

    async def _hashes(self, keys: list[str]) -> list[dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return await pipe.execute()

    async def _people(self, account_ids: list[str]) -> list[tuple[str, str]]:
        """(name, ID number) of each account, one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for account_id in account_ids:
            pipe.hmget(self.keys.account(account_id), "name", "id_number")
        return [(name or "", number or "") for name, number in await pipe.execute()]

    async def _booked(self, exam_id: str, page: int) -> AsyncIterator[tuple[Any, list[tuple[str, float]]]]:
        """(slot, [(account id, booked at)]) pages, slot by slot in start order."""
        for slot in await self.catalog.slots(exam_id):
            async for batch in self._ranks(self.keys.slot_booked(slot.id), page, withscores=True):
                yield slot, batch

    async def _names(self, exam_id: str) -> tuple[dict[str, Subject], dict[str, str]]:
        subjects = {s.id: s for s in await self.catalog.subjects(exam_id)}
        rooms = {r.id: r.name for r in await self.catalog.rooms(exam_id)}
        return subjects, rooms

    # --- bookings --------------------------------------------------------------------------------

    async def _bookings(self, exam_id: str, page: int) -> AsyncIterator[list[Row]]:
        subjects, rooms = await self._names(exam_id)
        async for slot, batch in self._booked(exam_id, page):
            people = await self._people([a for a, _ in batch])
            subject = subjects.get(slot.subject_id)
            yield [
                [
                    subject.name if subject else slot.subject_id,
                    rooms.get(slot.room_id, slot.room_id),
                    self.when(slot.starts_at),
                    self.when(slot.ends_at),
                    name,
                    number,
                    account_id,
                    self.when(booked_at),
                ]
                for (account_id, booked_at), (name, number) in zip(batch, people, strict=True)
            ]

    # --- attendance ------------------------------------------------------------------------------

    def _reason(self, reason: str) -> str:
        if reason in SYSTEM_REASONS:
            return message(f"queue_reason_{reason}", "zh")
        return reason  # an examiner's words, as written

    async def _attendance(self, exam_id: str, page: int) -> AsyncIterator[list[Row]]:
        now = time.time()
        subjects, rooms = await self._names(exam_id)
        async for slot, batch in self._booked(exam_id, page):
            account_ids = [a for a, _ in batch]
            people = await self._people(account_ids)
            entries = await self._hashes([self.keys.queue_entry(slot.room_id, a) for a in account_ids])
            subject = subjects.get(slot.subject_id)
            rows: list[Row] = []
            for account_id, (name, number), entry in zip(account_ids, people, entries, strict=True):
                if entry and entry.get("slot", slot.id) != slot.id:
                    entry = {}  # the entry is of another slot of the room
                state = entry.get("state", "")
                if state:
                    status = LIVE_STATE.get(state, PENDING)
                    detail = message(f"queue_state_{state}", "zh")
                    at = self.when(entry.get("done_at") or entry.get("state_at"))
                else:
                    status = ABSENT_LABEL if now >= slot.ends_at else PENDING
                    detail, at = ("未到场" if now >= slot.ends_at else "未开始"), ""
                rows.append(
                    [
                        subject.name if subject else slot.subject_id,
                        FORMS["interview"],
                        rooms.get(slot.room_id, slot.room_id),
                        self.when(slot.starts_at),
                        name,
                        number,
                        account_id,
                        status,
                        detail,
                        self._reason(entry.get("reason", "")) if state in (ABSENT, REMOVED) else "",
                        at,
                    ]
                )
            yield rows
        # recorded subjects: the formal sittings, in entry order
        async for ids in self._ranks(self.keys.exam_sittings(exam_id), page):
            sittings = [s for s in await self._hashes([self.keys.sitting(i) for i in ids]) if s.get("mode") == "formal"]
            people = await self._people([s.get("account_id", "") for s in sittings])
            rows = []
            for sitting, (name, number) in zip(sittings, people, strict=True):
                subject = subjects.get(sitting.get("subject_id", ""))
                status, detail = SITTING_STATE.get(sitting.get("state", ""), (PENDING, sitting.get("state", "")))
                rows.append(
                    [
                        subject.name if subject else sitting.get("subject_id", ""),
                        FORMS["recorded"],
                        "",
                        self.when(sitting.get("entered_at")),
                        name,
                        number,
                        sitting.get("account_id", ""),
                        status,
                        detail,
                        "",
                        self.when(sitting.get("submitted_at") or sitting.get("ended_at")),
                    ]
                )
            yield rows

    # --- marks -----------------------------------------------------------------------------------

    async def _rubric(self, cache: dict[str, Rubric | None], subject_id: str) -> Rubric | None:
        if subject_id not in cache:
            cache[subject_id] = await self.rubrics.get(subject_id)
        return cache[subject_id]

    async def _staff(self, cache: dict[str, str], account_ids: list[str]) -> None:
        missing = sorted({a for a in account_ids if a not in cache})
        if missing:
            for account_id, (name, _) in zip(missing, await self._people(missing), strict=True):
                cache[account_id] = name

    @staticmethod
    def _criteria(rubric: Rubric | None, marks: dict[str, float]) -> list[tuple[str, str, Cell, Cell]]:
        """(id, name, max, weight) of the rubric's criteria, then any marked criterion not in it."""
        out: list[tuple[str, str, Cell, Cell]] = []
        known = set()
        if rubric is not None:
            for c in rubric.criteria:
                out.append((c.id, c.name, c.max, c.weight))
                known.add(c.id)
        out += [(cid, cid, "", "") for cid in sorted(marks) if cid not in known]
        return out

    def _sheet_rows(
        self, head: list[Cell], marker: str, marker_name: str, state: str, rubric: Rubric | None, sheet: Any
    ) -> list[Row]:
        total: Cell = sheet.total if sheet.total is not None else ""
        rows: list[Row] = []
        for cid, cname, cmax, weight in self._criteria(rubric, sheet.marks):
            mark = sheet.marks.get(cid)
            rows.append(
                [
                    *head,
                    marker_name,
                    marker,
                    state,
                    cname if cname == cid else f"{cname} ({cid})",
                    "" if mark is None else mark,
                    cmax,
                    weight,
                    total,
                    sheet.comment,
                    self.when(sheet.sealed_at),
                ]
            )
        return rows

    async def _marks(self, exam_id: str, page: int) -> AsyncIterator[list[Row]]:
        subjects, rooms = await self._names(exam_id)
        rubrics: dict[str, Rubric | None] = {}
        staff: dict[str, str] = {}
        states = {"draft": "草稿", "sealed": "已提交", "assigned": "未评"}
        for room in await self.catalog.rooms(exam_id):
            async for ids in self._ranks(self.keys.room_interviews(room.id), page):
                interviews = await self._hashes([self.keys.interview(i) for i in ids])
                marks = await self._hashes([self.keys.interview_marks(i) for i in ids])
                people = await self._people([iv.get("account_id", "") for iv in interviews])
                sheets = [_sheets(m) for m in marks]
                await self._staff(staff, [e for s in sheets for e in s])
                rows: list[Row] = []
                for interview_id, interview, (name, number), by_examiner in zip(
                    ids, interviews, people, sheets, strict=True
                ):
                    subject = subjects.get(interview.get("subject_id", ""))
                    rubric = await self._rubric(rubrics, interview.get("subject_id", ""))
                    head: list[Cell] = [
                        subject.name if subject else interview.get("subject_id", ""),
                        FORMS["interview"],
                        room.name,
                        interview_id,
                        name or interview.get("name", ""),
                        number,
                        interview.get("account_id", ""),
                    ]
                    for examiner in sorted(by_examiner):
                        sheet = by_examiner[examiner]
                        rows += self._sheet_rows(
                            head, examiner, staff.get(examiner, ""), states.get(sheet.state, sheet.state), rubric, sheet
                        )
                yield rows
        for subject in subjects.values():
            if not subject.recorded:
                continue
            rubric = await self._rubric(rubrics, subject.id)
            async for codes in self._ranks(self.keys.take_mark_codes(subject.id), page):
                markings = await self._hashes([self.keys.take_marking(c) for c in codes])
                graders = [_graders(m.get("graders")) for m in markings]
                pipe = self.redis.pipeline(transaction=False)
                for code, gs in zip(codes, graders, strict=True):
                    for g in gs:
                        pipe.hgetall(self.keys.take_mark(code, g))
                    pipe.hget(self.keys.anon_codes(), code)
                replies = iter(await pipe.execute())
                per_code: list[tuple[list[tuple[str, dict[str, str]]], str]] = []
                for gs in graders:
                    data = [(g, next(replies)) for g in gs]
                    per_code.append((data, next(replies) or ""))
                sittings = await self._hashes([self.keys.sitting(s) for _, s in per_code if s])
                sitting_of = iter(sittings)
                candidates = [next(sitting_of).get("account_id", "") if s else "" for _, s in per_code]
                people = await self._people(candidates)
                await self._staff(staff, [g for gs in graders for g in gs])
                rows = []
                for code, (data, _), account_id, (name, number) in zip(
                    codes, per_code, candidates, people, strict=True
                ):
                    head = [subject.name, FORMS["recorded"], "", code, name, number, account_id]
                    for grader, raw in data:
                        take_sheet = _sheet(code, grader, raw)
                        if take_sheet is None:
                            continue
                        state = states.get(take_sheet.state, take_sheet.state)
                        rows += self._sheet_rows(head, grader, staff.get(grader, ""), state, rubric, take_sheet)
                yield rows

    # --- results ---------------------------------------------------------------------------------

    async def _results(self, exam_id: str, page: int) -> AsyncIterator[list[Row]]:
        """One row per candidate and subject: the final mark, who marked, the combination, the total
        and the outcome, as ``Results.pages`` gives them a page of candidates at a time."""
        if self.results is None:
            raise UserError("export_unknown", what="results")
        async for results in self.results.pages(exam_id, page):
            rows: list[Row] = []
            for result in results:
                total: Cell = "" if result.get("total") is None else result["total"]
                head: list[Cell] = [result["id_number"], result["name"], result.get("account_id") or ""]
                tail: list[Cell] = [total, result.get("outcome") or ""]
                for cell in result["subjects"] or [{}]:
                    markers = "; ".join(
                        f"{m.get('name') or m['account_id']} "
                        + (
                            f"{m['total']:g}"
                            if m.get("total") is not None
                            else MARKER_STATES.get(m["state"], m["state"])
                        )
                        for m in cell.get("markers", [])
                    )
                    final = cell.get("final")
                    rows.append(
                        [
                            *head,
                            cell.get("subject_name", ""),
                            FORMS.get(cell.get("kind", ""), ""),
                            RESULT_STATES.get(cell.get("status", ""), cell.get("status", "")),
                            "" if final is None else final,
                            markers,
                            cell.get("combination", ""),
                            *tail,
                        ]
                    )
            yield rows
