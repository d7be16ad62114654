"""An exam's results (docs/marking.md "Results"): every rostered candidate's final mark per subject and
their total, the admin's lock and publication, and what a candidate sees of their own result.

**Per subject.** A live interview's final mark is ``InterviewMarks.status(...).final`` (the rubric's
combination of the sealed totals, once every examiner who was in the interview sealed); a recorded
subject's is ``take_marks.final_mark`` of the formal submission's sealed totals. A subject is ``final``
(with its mark), ``pending`` (interviewed or submitted, not every marker sealed yet), ``removed`` (the
candidate was removed from the interview and has no ended one) or ``absent`` (no interview, no
submission). A candidate's total is the sum of their subjects' final marks once every subject of theirs
is final (``None`` otherwise).

**Lock and publication** (``results:{exam}``, ``results_lock.lua``, ``results_publish.lua``). Locking
(refused while a mark is pending, ``results_pending``) sets ``state`` and from then on every save, seal
and reopening of a mark of the exam is refused with ``results_locked`` (the marking scripts read the hash);
the rows are then written once (``results:{exam}:rows``, per ID number) and never change. A candidate
reads the row of the ID number their account holds (``idclaim:{id_number}``).
Publishing needs the lock, happens once, and is what makes the rows visible to candidates: before it a
candidate gets ``results_unpublished`` (as for an exam they are not on). Both are audited
(``results_locked`` / ``results_published``) with the actor and time.

**The school's wording** (``settings``, until publication): ``show_marks`` (the marks per subject and the
total, or only the outcome), ``rule`` ``pass_mark`` (合格 when the total reaches ``pass_mark``) or
``pass_list`` (合格 for the ID numbers on the school's list), and the two labels (``pass_label``,
``fail_label``; 合格 / 不合格 unless set).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..accounts.directory import Directory
from ..errors import UserError
from ..exams.catalog import Catalog
from ..recorded.grading import Grading
from ..roster.book import RosterBook
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account
from .interview_marks import InterviewMarks, _interview, _sheets
from .rubrics import Rubric, Rubrics
from .take_marks import TakeMarks

RULES = ("pass_mark", "pass_list")
LABEL_MAX = 20
PASS_LIST_MAX = 50_000
WRITE_BATCH = 500
DEFAULT_SETTINGS: dict[str, Any] = {
    "show_marks": True,
    "rule": "pass_mark",
    "pass_mark": None,
    "pass_list": [],
    "pass_label": "合格",
    "fail_label": "不合格",
}


def _combination(rubric: Rubric | None, recorded: bool) -> str:
    """The rule that made the final mark, in words for the admin."""
    if rubric is None:
        return "未设置评分标准"
    if recorded:
        if rubric.markers == 1:
            return "一位评阅人的总分"
        if rubric.gap > 0:
            return f"两位评阅人的平均分；相差超过 {rubric.gap:g} 分时由第三位评阅人裁定"
        return "两位评阅人的平均分"
    if rubric.combine == "trimmed_mean":
        return "去掉一个最高分和一个最低分后取平均（4 位及以上考官）"
    return "考官总分的平均分"


def outcome(settings: dict[str, Any], total: float | None, id_number: str) -> bool | None:
    """Pass (True), fail (False), or None when the rule cannot tell (no pass mark set)."""
    if settings.get("rule") == "pass_list":
        return id_number in set(settings.get("pass_list") or [])
    mark = settings.get("pass_mark")
    if mark is None:
        return None
    return total is not None and total + 1e-9 >= float(mark)


class Results:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        roster: RosterBook,
        directory: Directory,
        rubrics: Rubrics,
        interview_marks: InterviewMarks,
        grading: Grading,
        take_marks: TakeMarks,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.roster = roster
        self.directory = directory
        self.rubrics = rubrics
        self.interview_marks = interview_marks
        self.grading = grading
        self.take_marks = take_marks

    # state and settings
    async def state(self, exam_id: str) -> dict[str, Any]:
        """``open`` / ``locked`` / ``published``, who and when, and the wording settings."""
        data = await self.redis.hgetall(self.keys.results(exam_id))
        settings = dict(DEFAULT_SETTINGS)
        if data.get("settings"):
            settings |= json.loads(data["settings"])
        return {
            "state": data.get("state", "open"),
            "locked_at": float(data["locked_at"]) if data.get("locked_at") else None,
            "locked_by": data.get("locked_by") or None,
            "published_at": float(data["published_at"]) if data.get("published_at") else None,
            "published_by": data.get("published_by") or None,
            "settings": settings,
        }

    async def set_settings(self, actor: Actor, exam_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The school's published wording; refused once published (``results_published``)."""
        await self.catalog.exam(exam_id)
        current = await self.state(exam_id)
        if current["state"] == "published":
            raise UserError("results_published")
        settings = dict(current["settings"])
        allowed = set(DEFAULT_SETTINGS)
        for name in body:
            if name not in allowed:
                raise UserError("field_unknown", field=name, name=name)
        if "show_marks" in body:
            if not isinstance(body["show_marks"], bool):
                raise UserError("field_type", field="show_marks", label="是否公布分数")
            settings["show_marks"] = body["show_marks"]
        if "rule" in body:
            if body["rule"] not in RULES:
                raise UserError("results_rule_invalid", field="rule")
            settings["rule"] = body["rule"]
        if "pass_mark" in body:
            mark = body["pass_mark"]
            if mark is not None and (isinstance(mark, bool) or not isinstance(mark, (int, float))):
                raise UserError("field_type", field="pass_mark", label="合格分数线")
            if mark is not None and not 0 <= mark <= 100_000:
                raise UserError("field_range", field="pass_mark", label="合格分数线", min=0, max=100000)
            settings["pass_mark"] = None if mark is None else float(mark)
        if "pass_list" in body:
            names = body["pass_list"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise UserError("field_type", field="pass_list", label="合格名单")
            if len(names) > PASS_LIST_MAX:
                raise UserError("field_range", field="pass_list", label="合格名单人数", min=0, max=PASS_LIST_MAX)
            settings["pass_list"] = sorted({n.strip().upper() for n in names if n.strip()})
        for name, label in (("pass_label", "合格的说法"), ("fail_label", "不合格的说法")):
            if name in body:
                text = body[name]
                if not isinstance(text, str) or not text.strip():
                    raise UserError("field_required", field=name, label=label)
                if len(text.strip()) > LABEL_MAX:
                    raise UserError("field_too_long", field=name, label=label, max=LABEL_MAX)
                settings[name] = text.strip()
        if settings["rule"] == "pass_mark" and settings["pass_mark"] is None and "pass_mark" in body:
            raise UserError("field_required", field="pass_mark", label="合格分数线")
        result = await self.store.script("results_settings")(
            keys=[self.keys.results(exam_id), self.keys.audit(exam_id)],
            args=[json.dumps(settings, ensure_ascii=False), *audit.base_fields(actor)],
        )
        if result != "ok":
            raise UserError(result)
        return await self.state(exam_id)

    # the rows
    async def _interviews(self, exam_id: str) -> dict[tuple[str, str], list[Any]]:
        """(account, subject) -> the interviews (with their sheets) of the exam, oldest first."""
        out: dict[tuple[str, str], list[Any]] = {}
        for room in await self.catalog.rooms(exam_id):
            ids = await self.redis.zrange(self.keys.room_interviews(room.id), 0, -1)
            pipe = self.store.pipeline(transaction=False)
            for interview_id in ids:
                pipe.hgetall(self.keys.interview(interview_id))
                pipe.hgetall(self.keys.interview_marks(interview_id))
            found = await pipe.execute() if ids else []
            for i in range(0, len(found), 2):
                if not found[i].get("interview_id"):
                    continue
                interview = _interview(found[i])
                out.setdefault((interview.account_id, interview.subject_id), []).append(
                    (interview, _sheets(found[i + 1]))
                )
        return out

    async def _live_subject(self, items: list[Any], rubric: Rubric | None, names: dict[str, str]) -> dict[str, Any]:
        if not items:
            return {"status": "absent", "final": None, "markers": []}
        ended = [(iv, sh) for iv, sh in items if iv.state != "removed"]
        if not ended:
            return {"status": "removed", "final": None, "markers": []}
        interview, sheets = ended[-1]
        status = await self.interview_marks.status(interview, sheets)
        markers = [
            {
                "account_id": e,
                "name": names.get(e, ""),
                "state": sheets[e].state if e in sheets else "none",
                "total": sheets[e].total if e in sheets and sheets[e].state == "sealed" else None,
            }
            for e in status.required
        ]
        final = status.final if rubric is not None else None
        return {
            "status": "final" if final is not None else "pending",
            "final": final,
            "markers": markers,
            "interview_id": interview.id,
        }

    async def _recorded(self, exam_id: str, subject_id: str, accounts: list[str]) -> dict[str, dict[str, Any]]:
        """account -> the recorded subject's result of their formal submission."""
        k = self.keys
        pipe = self.store.pipeline(transaction=False)
        for account_id in accounts:
            pipe.hget(k.sittings_of(exam_id, subject_id, account_id), "submission")
        sittings = await pipe.execute() if accounts else []
        minted = await self.redis.hgetall(k.anon_subject(subject_id))
        codes = {a: minted.get(s or "", "") for a, s in zip(accounts, sittings, strict=True)}
        rubric = await self.rubrics.get(subject_id)
        wanted = [c for c in codes.values() if c]
        found = {r["code"]: r for r in await self.take_marks._results(wanted, rubric)} if wanted else {}
        out: dict[str, dict[str, Any]] = {}
        for account_id, sitting_id in zip(accounts, sittings, strict=True):
            code = codes[account_id]
            if not sitting_id:
                out[account_id] = {"status": "absent", "final": None, "markers": []}
                continue
            row = found.get(code)
            final = row["final"] if row else None
            out[account_id] = {
                "status": "final" if final is not None else "pending",
                "final": final,
                "code": code or None,
                "markers": [
                    {"account_id": g["grader_id"], "name": "", "state": g["state"], "total": g["total"]}
                    for g in (row["graders"] if row else [])
                ],
            }
        return out

    async def compute(self, exam_id: str) -> list[dict[str, Any]]:
        """Every rostered candidate's row, by ID number: subjects (status, final, markers, the
        combination applied) and total."""
        await self.catalog.exam(exam_id)
        subjects = await self.catalog.subjects(exam_id)
        entries = await self.roster.entries(exam_id)
        pipe = self.store.pipeline(transaction=False)
        for entry in entries:
            pipe.get(self.keys.id_claim(entry.id_number))
        holders = await pipe.execute() if entries else []
        accounts = [h or "" for h in holders]
        interviews = await self._interviews(exam_id)
        rubrics = {s.id: await self.rubrics.get(s.id) for s in subjects}
        recorded = {
            s.id: await self._recorded(exam_id, s.id, [a for a in accounts if a]) for s in subjects if s.recorded
        }
        examiners = sorted({e for items in interviews.values() for iv, sh in items for e in [*iv.panel, *sh]})
        names = await self._names(examiners)
        rows: list[dict[str, Any]] = []
        for entry, account_id in zip(entries, accounts, strict=True):
            cells = []
            for subject in subjects:
                if subject.id not in entry.subjects:
                    continue
                if subject.recorded:
                    cell = recorded[subject.id].get(account_id) if account_id else None
                    cell = cell or {"status": "absent", "final": None, "markers": []}
                    for m in cell["markers"]:
                        m["name"] = names.get(m["account_id"], "")
                else:
                    cell = await self._live_subject(
                        interviews.get((account_id, subject.id), []), rubrics[subject.id], names
                    )
                cells.append(
                    {
                        "subject_id": subject.id,
                        "subject_name": subject.name,
                        "kind": "recorded" if subject.recorded else "interview",
                        "combination": _combination(rubrics[subject.id], subject.recorded),
                        **cell,
                    }
                )
            finals = [c["final"] for c in cells]
            total = round(sum(finals), 2) if cells and all(f is not None for f in finals) else None
            rows.append(
                {
                    "id_number": entry.id_number,
                    "name": entry.name,
                    "account_id": account_id or None,
                    "subjects": cells,
                    "total": total,
                    "pending": sum(1 for c in cells if c["status"] == "pending"),
                }
            )
        missing = sorted({m["account_id"] for r in rows for c in r["subjects"] for m in c["markers"] if not m["name"]})
        if missing:
            more = await self._names(missing)
            for r in rows:
                for c in r["subjects"]:
                    for m in c["markers"]:
                        m["name"] = m["name"] or more.get(m["account_id"], "")
        return rows

    async def _names(self, account_ids: list[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        pipe = self.store.pipeline(transaction=False)
        for account_id in account_ids:
            pipe.hmget(self.keys.account(account_id), "name", "username")
        found = await pipe.execute()
        return {a: (n or u or "") for a, (n, u) in zip(account_ids, found, strict=True)}

    def _with_outcome(self, row: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        passed = outcome(settings, row["total"], row["id_number"])
        label = None if passed is None else settings["pass_label"] if passed else settings["fail_label"]
        return {**row, "passed": passed, "outcome": label}

    async def results(self, exam_id: str) -> list[dict[str, Any]]:
        """The public read (the admin's page, exports): every rostered candidate's row with the outcome
        by the exam's settings; the locked rows once locked, the live marks before."""
        current = await self.state(exam_id)
        if current["state"] == "open":
            rows = await self.compute(exam_id)
        else:
            stored = await self.redis.hgetall(self.keys.results_rows(exam_id))
            rows = sorted((json.loads(v) for v in stored.values()), key=lambda r: r["id_number"])
            if not stored:
                rows = await self._write_rows(exam_id)
        return [self._with_outcome(r, current["settings"]) for r in rows]

    async def admin_view(self, exam_id: str) -> dict[str, Any]:
        rows = await self.results(exam_id)
        return {**(await self.state(exam_id)), "rows": rows}

    # lock and publish
    async def _write_rows(self, exam_id: str) -> list[dict[str, Any]]:
        rows = await self.compute(exam_id)
        key = self.keys.results_rows(exam_id)
        for start in range(0, len(rows), WRITE_BATCH):
            mapping = {r["id_number"]: json.dumps(r, ensure_ascii=False) for r in rows[start : start + WRITE_BATCH]}
            await self.redis.hset(key, mapping=mapping)
        return rows

    async def lock(self, actor: Actor, exam_id: str) -> dict[str, Any]:
        """No more mark changes (``results_locked`` for every later save, seal or reopening)."""
        await self.catalog.exam(exam_id)
        state = (await self.state(exam_id))["state"]
        if state != "open":
            raise UserError("results_published" if state == "published" else "results_already_locked")
        rows = await self.compute(exam_id)
        pending = sum(r["pending"] for r in rows)
        if pending:
            raise UserError("results_pending", count=pending)
        result = await self.store.script("results_lock")(
            keys=[self.keys.results(exam_id), self.keys.audit(exam_id)],
            args=[f"{time.time():.3f}", actor.account_id, str(len(rows)), *audit.base_fields(actor)],
        )
        if result != "ok":
            raise UserError(result)
        await self._write_rows(exam_id)  # after the lock: nothing can change these any more
        return await self.admin_view(exam_id)

    async def publish(self, actor: Actor, exam_id: str) -> dict[str, Any]:
        """Candidates see their own result from now on; only when locked, once."""
        await self.catalog.exam(exam_id)
        current = await self.state(exam_id)
        settings = current["settings"]
        if current["state"] == "locked" and settings["rule"] == "pass_mark" and settings["pass_mark"] is None:
            raise UserError("results_pass_mark_missing", field="pass_mark")
        if current["state"] == "locked":
            # the rows again (the marks cannot change once locked): a lock whose rows were not all written
            # (the process died right after the lock) still publishes every candidate's result
            await self._write_rows(exam_id)
        result = await self.store.script("results_publish")(
            keys=[self.keys.results(exam_id), self.keys.audit(exam_id)],
            args=[f"{time.time():.3f}", actor.account_id, *audit.base_fields(actor)],
        )
        if result != "ok":
            raise UserError(result)
        return await self.admin_view(exam_id)

    # the candidate
    async def mine(self, account: Account, exam_id: str) -> dict[str, Any]:
        """The candidate's own published result; ``results_unpublished`` before publication, and for an
        exam without a row of theirs (nothing tells the two apart)."""
        current = await self.state(exam_id) if await self.catalog.find_exam(exam_id) else None
        if current is None or current["state"] != "published":
            raise UserError("results_unpublished")
        number = account.id_number
        # the row of the ID number the account holds now (an appeal may have moved it to another account)
        holder = await self.redis.get(self.keys.id_claim(number)) if number else None
        raw = await self.redis.hget(self.keys.results_rows(exam_id), number) if holder == account.id else None
        if not raw:
            raise UserError("results_unpublished")
        row = self._with_outcome(json.loads(raw), current["settings"])
        exam = await self.catalog.exam(exam_id)
        out: dict[str, Any] = {
            "exam_id": exam_id,
            "exam_name": exam.name,
            "published": True,
            "published_at": current["published_at"],
            "name": row["name"],
            "outcome": row["outcome"],
            "passed": row["passed"],
            "show_marks": bool(current["settings"]["show_marks"]),
        }
        if out["show_marks"]:
            out["total"] = row["total"]
            out["subjects"] = [
                {"subject_name": c["subject_name"], "status": c["status"], "final": c["final"]} for c in row["subjects"]
            ]
        return out

    async def published(self, exam_id: str) -> bool:
        return await self.redis.hget(self.keys.results(exam_id), "state") == "published"
