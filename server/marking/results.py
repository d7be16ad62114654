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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..accounts.directory import Directory
from ..errors import UserError
from ..exams.catalog import Catalog
from ..recorded.grading import Grading
from ..roster.book import RosterBook
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, RosterEntry, Subject, from_hash
from .interview_marks import Interview, InterviewMarks, _excused, _interview, _sheets, panel_status
from .rubrics import Rubric, Rubrics
from .take_marks import TakeMarks

RULES = ("pass_mark", "pass_list")
LABEL_MAX = 20
PASS_LIST_MAX = 50_000
PAGE = 500  # candidates computed (or read) per round of pipelines
ADMIN_PAGE = 50  # rows of the admin's results page
SETTINGS_TRIES = 5  # a partial save merged again when another landed between its read and its write
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


@dataclass
class _Context:
    """What every page of an exam's rows needs, read once per listing: its subjects and their rubrics,
    and the names of the markers met so far (a few dozen staff, whatever the number of candidates)."""

    subjects: list[Subject]
    rubrics: dict[str, Rubric | None]
    names: dict[str, str]


def _pairs(flat: list[str]) -> dict[str, str]:
    """A hash as a Lua script returns it (HGETALL's flat list) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _unsettled(interview: Interview, data: dict[str, str]) -> bool:
    """Whether an examiner of the interview's panel has neither sealed nor been excused (marks hash ``data``)."""
    return any(data.get(f"state:{e}") != "sealed" and f"excused:{e}" not in data for e in interview.panel)


def outcome(settings: dict[str, Any], total: float | None, id_number: str) -> bool | None:
    """Pass (True), fail (False), or None when the rule cannot tell (no pass mark set)."""
    if settings.get("rule") == "pass_list":
        return id_number in set(settings.get("pass_list") or [])
    mark = settings.get("pass_mark")
    if mark is None:
        return None
    return total is not None and total + 1e-9 >= float(mark)


def _merged(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The settings with the admin's changes, each checked (a clear message per bad field, nothing kept)."""
    settings = dict(current)
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
    return settings


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
            "rows_at": float(data["rows_at"]) if data.get("rows_at") else None,
            "settings_version": int(data.get("settings_version") or 0),
            "settings": settings,
        }

    async def set_settings(self, actor: Actor, exam_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The school's published wording; refused once published (``results_published``). A check-and-set:
        ``version`` (the ``settings_version`` the admin's form was read at), when given, must still be the
        current one, else ``results_settings_conflict`` and nothing changes (two admins saving at once: the
        second is told, not silently overwritten). The merge of a partial body with the current settings
        is itself checked against the version it read, and done again if another save landed between."""
        await self.catalog.exam(exam_id)
        expected = body.get("version")
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
            raise UserError("field_type", field="version", label="version")
        changes = {n: v for n, v in body.items() if n != "version"}
        for _ in range(SETTINGS_TRIES):
            current = await self.state(exam_id)
            if current["state"] == "published":
                raise UserError("results_published")
            if expected is not None and expected != current["settings_version"]:
                raise UserError("results_settings_conflict")
            settings = _merged(current["settings"], changes)
            result = await self.store.script("results_settings")(
                keys=[self.keys.results(exam_id), self.keys.audit(exam_id)],
                args=[
                    json.dumps(settings, ensure_ascii=False),
                    str(current["settings_version"]),
                    *audit.base_fields(actor),
                ],
            )
            if result == "ok":
                return await self.state(exam_id)
            if result != "results_settings_conflict" or expected is not None:
                raise UserError(result)
        raise UserError("results_settings_conflict")

    # the rows, a page of candidates at a time
    async def _context(self, exam_id: str) -> _Context:
        await self._index_interviews(exam_id)
        subjects = await self.catalog.subjects(exam_id)
        return _Context(subjects, {s.id: await self.rubrics.get(s.id) for s in subjects}, {})

    async def _index_interviews(self, exam_id: str) -> None:
        """Once per exam: every interview of its rooms in its candidate's index (``interviews:{account}``),
        which is written when a candidate is called. Interviews called before that index existed (a server
        upgraded during an exam) would otherwise read as absences. Idempotent (a sorted set), bounded by
        the exam's interviews, a room at a time."""
        k = self.keys
        if await self.redis.hexists(k.results(exam_id), "interviews_indexed"):
            return
        for room in await self.catalog.rooms(exam_id):
            ids = await self.redis.zrange(k.room_interviews(room.id), 0, -1, withscores=True)
            for start in range(0, len(ids), PAGE):
                batch = ids[start : start + PAGE]
                pipe = self.store.pipeline(transaction=False)
                for interview_id, _ in batch:
                    pipe.hget(k.interview(interview_id), "account_id")
                accounts = await pipe.execute()
                pipe = self.store.pipeline(transaction=False)
                for (interview_id, called_at), account_id in zip(batch, accounts, strict=True):
                    if account_id:
                        pipe.zadd(k.candidate_interviews(account_id), {interview_id: called_at})
                await pipe.execute()
        await self.redis.hset(k.results(exam_id), "interviews_indexed", f"{time.time():.3f}")

    async def _staff_names(self, ctx: _Context, account_ids: set[str]) -> None:
        """The names of the markers not read yet (kept for the whole listing: the staff are few)."""
        missing = sorted(account_ids - set(ctx.names))
        if missing:
            ctx.names |= await self._names(missing)

    async def _live(
        self, ctx: _Context, found: list[tuple[dict[str, str], dict[str, str]]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """(account, subject) -> the live subject's cell of the interviewed accounts of a page, from their
        interviews with their marks hashes (``found``, each account's oldest first), and the recordings of
        those that need one."""
        live = {s.id for s in ctx.subjects if not s.recorded}
        items: dict[tuple[str, str], list[tuple[Interview, dict[str, str]]]] = {}
        for head, data in found:
            if head.get("interview_id") and head.get("subject_id") in live:
                interview = _interview(head)
                items.setdefault((interview.account_id, interview.subject_id), []).append((interview, data))
        chosen: dict[tuple[str, str], tuple[Interview, dict[str, str]]] = {}
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for key, its in items.items():
            ended = [(iv, data) for iv, data in its if iv.state != "removed"]
            if ended:
                chosen[key] = ended[-1]  # a later ended interview counts over an earlier removal
            else:
                out[key] = {"status": "removed", "final": None, "markers": []}
        # the recording tells who was in the interview only while one of its panel has neither sealed nor
        # been excused (once all have, the panel is whom it waits for): most rows of a marked exam need none
        unsettled = [iv.id for iv, data in chosen.values() if _unsettled(iv, data)]
        found_records = dict(zip(unsettled, await self.interview_marks.recordings.get_many(unsettled), strict=True))
        records = [found_records.get(iv.id) for iv, _ in chosen.values()]
        for (key, (interview, data)), record in zip(chosen.items(), records, strict=True):
            rubric = ctx.rubrics.get(interview.subject_id)
            status = panel_status(interview, data, record, rubric)
            sheets, excused = _sheets(data), _excused(data)
            markers = [
                {
                    "account_id": e,
                    "name": "",
                    "state": sheets[e].state if e in sheets else "none",
                    "total": sheets[e].total if e in sheets and sheets[e].state == "sealed" else None,
                }
                for e in status.required
            ]
            markers += [
                {"account_id": e, "name": "", "state": "excused", "total": None, "reason": excused[e].get("reason", "")}
                for e in status.excused
            ]
            out[key] = {
                "status": "final" if status.final is not None else "pending",
                "final": status.final,
                "markers": markers,
                "interview_id": interview.id,
            }
        return out

    async def _recorded(self, ctx: _Context, exam_id: str, subject_id: str, accounts: list[str]) -> dict[str, dict]:
        """account -> the recorded subject's cell of their formal submission, for the accounts of a page."""
        k = self.keys
        pipe = self.store.pipeline(transaction=False)
        for account_id in accounts:
            pipe.hget(k.sittings_of(exam_id, subject_id, account_id), "submission")
        sittings = [s or "" for s in (await pipe.execute() if accounts else [])]
        wanted = [s for s in sittings if s]
        minted = await self.redis.hmget(k.anon_subject(subject_id), wanted) if wanted else []
        code_of = {s: c or "" for s, c in zip(wanted, minted, strict=True)}
        codes = [c for c in code_of.values() if c]
        rubric = ctx.rubrics.get(subject_id)
        found = {r["code"]: r for r in await self.take_marks._results(codes, rubric)} if codes else {}
        out: dict[str, dict[str, Any]] = {}
        for account_id, sitting_id in zip(accounts, sittings, strict=True):
            if not sitting_id:
                out[account_id] = {"status": "absent", "final": None, "markers": []}
                continue
            code = code_of.get(sitting_id, "")
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

    async def _computed(self, ctx: _Context, exam_id: str, start: int, count: int) -> list[dict[str, Any]]:
        """The rows of the roster's ID numbers from rank ``start`` (``count`` of them, in ID-number order)
        from the marks as they are now: subjects (status, final, markers, the combination applied) and
        total. The roster entries, their holders and their interviews come in one round trip
        (``results_page.lua``)."""
        k = self.keys
        page = await self.store.script("results_page")(
            keys=[k.roster(exam_id)],
            args=[
                str(start),
                str(count),
                k.roster_entry(exam_id, ""),
                k.id_claim(""),
                k.candidate_interviews(""),
                k.interview(""),
                k.interview_marks(""),
            ],
        )
        people: list[tuple[RosterEntry, str]] = []
        interviews: list[tuple[dict[str, str], dict[str, str]]] = []
        for _, entry, holder, found in page:
            if entry:
                people.append((from_hash(RosterEntry, _pairs(entry)), holder))
            interviews += [(_pairs(found[i]), _pairs(found[i + 1])) for i in range(0, len(found), 2)]
        accounts = [a for _, a in people if a]
        live = await self._live(ctx, interviews)
        recorded = {s.id: await self._recorded(ctx, exam_id, s.id, accounts) for s in ctx.subjects if s.recorded}
        rows: list[dict[str, Any]] = []
        for entry, account_id in people:
            cells = []
            for subject in ctx.subjects:
                if subject.id not in entry.subjects:
                    continue
                if subject.recorded:
                    cell = recorded[subject.id].get(account_id) if account_id else None
                else:
                    cell = live.get((account_id, subject.id)) if account_id else None
                cells.append(
                    {
                        "subject_id": subject.id,
                        "subject_name": subject.name,
                        "kind": "recorded" if subject.recorded else "interview",
                        "combination": _combination(ctx.rubrics[subject.id], subject.recorded),
                        **(cell or {"status": "absent", "final": None, "markers": []}),
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
        await self._staff_names(ctx, {m["account_id"] for r in rows for c in r["subjects"] for m in c["markers"]})
        for r in rows:
            for c in r["subjects"]:
                for m in c["markers"]:
                    m["name"] = ctx.names.get(m["account_id"], "")
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

    async def _page(self, exam_id: str, state: str, ctx: _Context | None, start: int, count: int) -> list[dict]:
        """``count`` rows from rank ``start`` in ID-number order: computed from the roster while open
        (``SORT ... ALPHA LIMIT``: Redis orders the set, nothing of it is held here), the rows written at
        the lock afterwards."""
        k = self.keys
        if state == "open":
            assert ctx is not None
            return await self._computed(ctx, exam_id, start, count)
        numbers = await self.redis.zrange(k.results_ids(exam_id), start, start + count - 1)
        stored = await self.redis.hmget(k.results_rows(exam_id), numbers) if numbers else []
        return [json.loads(raw) for raw in stored if raw]

    async def _listing(self, exam_id: str) -> tuple[dict[str, Any], _Context | None]:
        """The state, and what a listing of computed rows needs (None once locked: the rows are written;
        a lock whose rows were not all written, the process having died, writes them first)."""
        await self.catalog.exam(exam_id)
        current = await self.state(exam_id)
        if current["state"] == "open":
            return current, await self._context(exam_id)
        if not current["rows_at"]:
            await self._write_rows(exam_id)
        return current, None

    async def pages(self, exam_id: str, page: int = PAGE) -> AsyncIterator[list[dict[str, Any]]]:
        """Every rostered candidate's row with the outcome by the exam's settings, in ID-number order,
        ``page`` rows at a time (the exports): the live marks while open, the rows written at the lock
        afterwards. Only the exam's subjects, rubrics and markers' names are held, never its rows."""
        current, ctx = await self._listing(exam_id)
        start = 0
        while True:
            rows = await self._page(exam_id, current["state"], ctx, start, page)
            if rows:
                yield [self._with_outcome(r, current["settings"]) for r in rows]
            if not rows and not await self._more(exam_id, current["state"], start):
                return
            start += page

    async def _more(self, exam_id: str, state: str, start: int) -> bool:
        """Whether ranks from ``start`` on exist (a page may come back empty when its entries vanished)."""
        return start < await self._count(exam_id, state)

    async def _count(self, exam_id: str, state: str) -> int:
        k = self.keys
        return int(
            await (self.redis.scard(k.roster(exam_id)) if state == "open" else self.redis.zcard(k.results_ids(exam_id)))
        )

    async def admin_view(self, exam_id: str, offset: int = 0, limit: int = ADMIN_PAGE) -> dict[str, Any]:
        """The state and one page of rows (``offset``, ``limit``) with the number of rows in all."""
        current, ctx = await self._listing(exam_id)
        rows = await self._page(exam_id, current["state"], ctx, offset, limit)
        return {
            **current,
            "rows": [self._with_outcome(r, current["settings"]) for r in rows],
            "offset": offset,
            "limit": limit,
            "count": await self._count(exam_id, current["state"]),
        }

    # lock and publish
    async def _computed_pages(self, exam_id: str) -> AsyncIterator[list[dict[str, Any]]]:
        ctx = await self._context(exam_id)
        start = 0
        while True:
            rows = await self._page(exam_id, "open", ctx, start, PAGE)
            if rows:
                yield rows
            if not rows and not await self._more(exam_id, "open", start):
                return
            start += PAGE

    async def _write_rows(self, exam_id: str) -> int:
        """Write every candidate's row (``results:{exam}:rows`` and its order ``results:{exam}:ids``) a page
        at a time, then ``rows_at``: a listing of a locked exam without it writes them again."""
        k = self.keys
        written = 0
        async for rows in self._computed_pages(exam_id):
            pipe = self.store.pipeline(transaction=False)
            pipe.hset(
                k.results_rows(exam_id), mapping={r["id_number"]: json.dumps(r, ensure_ascii=False) for r in rows}
            )
            pipe.zadd(k.results_ids(exam_id), {r["id_number"]: 0 for r in rows})
            await pipe.execute()
            written += len(rows)
        await self.redis.hset(k.results(exam_id), "rows_at", f"{time.time():.3f}")
        return written

    async def lock(self, actor: Actor, exam_id: str) -> dict[str, Any]:
        """No more mark changes (``results_locked`` for every later save, seal or reopening)."""
        await self.catalog.exam(exam_id)
        state = (await self.state(exam_id))["state"]
        if state != "open":
            raise UserError("results_published" if state == "published" else "results_already_locked")
        # the marks' change counter before the check: a seal, reopening or excuse (or a new interview)
        # landing between the check and the lock makes the lock refuse (results_lock.lua)
        changes = await self.store.redis.hget(self.keys.results(exam_id), "changes") or "0"
        pending = candidates = 0
        async for rows in self._computed_pages(exam_id):
            pending += sum(r["pending"] for r in rows)
            candidates += len(rows)
        if pending:
            raise UserError("results_pending", count=pending)
        result = await self.store.script("results_lock")(
            keys=[self.keys.results(exam_id), self.keys.audit(exam_id)],
            args=[f"{time.time():.3f}", actor.account_id, str(candidates), changes, *audit.base_fields(actor)],
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
        if current["state"] == "locked" and not current["rows_at"]:
            # a lock whose rows were not all written (the process died right after the lock) still
            # publishes every candidate's result: the marks cannot change any more, so write them now
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
