"""Live interviews' mark sheets (docs/marking.md "Live interviews"): one sheet per examiner and
interview (the admission id), a draft saved as they type, sealed by "提交评分", reopened only by an
admin with a reason. Every save, seal and reopen is one Lua script with its audit entry
(``mark_save.lua``, ``mark_seal.lua``, ``mark_reopen.lua``).

**Which interviews.** The waiting queue announces a call, an end and a removal
(``QueueChange``); :meth:`InterviewMarks.queue_changed` (a listener, ``server/wiring.py``) keeps
``interview:{interview}`` (exam, subject, room, candidate, the room's panel when called, times) and
``room:{room}:interviews``; an interview ended with "结束面试" (``done``) goes on the unfinished
marking list (``unmarked:{account}``) of each examiner of its panel without a sealed sheet
(``mark_ended.lua``). A removed interview can still be marked, but is on no one's list.

**Who was in the interview** (whose sheets must all be sealed before anyone sees another's marks,
and whose totals make the final mark): the room's panel when the candidate was called; once the
interview's recording is closed, only those of them whose camera or microphone was recorded in it
(the manifest's tracks: they joined the room's media during the admission). An examiner who sealed
always counts. An examiner an admin *excused* from the interview's marking (they never came, or left
and cannot mark; ``excuse``, with a reason, audited) no longer counts: the others' marks and the final
mark no longer wait for them, and they can no longer mark it. Before every one of the examiners who
count has sealed, an examiner sees only their own sheet and who has sealed.

**Authorization.** An examiner reaches an interview only through a room whose panel they sit on
*now*, and only an interview of that room; any other id, forged or another room's, is
``interview_not_found`` and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..exams.catalog import Catalog
from ..queue.entries import QueueChange
from ..rooms.recordings import RecordingIndex
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Room, is_id
from .rubrics import Rubric, Rubrics

log = logging.getLogger("server.marking")
COMMENT_MAX = 1000
REASON_MAX = 200
UNFINISHED_MAX = 200  # newest ended interviews per room looked at for the unfinished list
StatusListener = Callable[["PanelStatus"], Awaitable[None]]


@dataclass
class Interview:
    id: str
    exam_id: str
    subject_id: str
    room_id: str
    account_id: str
    name: str
    panel: list[str]
    called_at: float
    ended_at: float
    state: str  # called | done | removed


@dataclass
class Sheet:
    examiner: str
    marks: dict[str, float] = field(default_factory=dict)
    comment: str = ""
    state: str = "none"  # none | draft | sealed
    saved_at: float = 0.0
    sealed_at: float = 0.0
    total: float = 0.0
    reopens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "examiner": self.examiner,
            "marks": self.marks,
            "comment": self.comment,
            "state": self.state,
            "saved_at": self.saved_at or None,
            "sealed_at": self.sealed_at or None,
            "total": self.total,
            "reopens": self.reopens,
        }


@dataclass
class PanelStatus:
    """Who of the interview's examiners sealed; pushed to the room's examiners after every change."""

    interview_id: str
    room_id: str
    required: list[str]  # the examiners who were in the interview
    sealed: list[str]
    final: float | None  # once every required examiner sealed
    excused: list[str] = field(default_factory=list)  # excused by an admin: not required

    @property
    def all_sealed(self) -> bool:
        return bool(self.required) and set(self.required) <= set(self.sealed)

    def to_json(self) -> dict[str, Any]:
        return {
            "interview_id": self.interview_id,
            "room_id": self.room_id,
            "required": self.required,
            "sealed": self.sealed,
            "all_sealed": self.all_sealed,
            "final": self.final,
            "excused": self.excused,
        }


def _interview(data: dict[str, str]) -> Interview:
    return Interview(
        id=data["interview_id"],
        exam_id=data.get("exam_id", ""),
        subject_id=data.get("subject_id", ""),
        room_id=data.get("room_id", ""),
        account_id=data.get("account_id", ""),
        name=data.get("name", ""),
        panel=json.loads(data.get("panel") or "[]"),
        called_at=float(data.get("called_at") or 0),
        ended_at=float(data.get("ended_at") or 0),
        state=data.get("state", "called"),
    )


def _excused(data: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The marks hash's ``excused:<examiner>`` fields: examiner -> {by, reason, at}."""
    return {n[len("excused:") :]: json.loads(v) for n, v in data.items() if n.startswith("excused:")}


def attended_of(panel: list[str], record: dict | None) -> list[str]:
    """The examiners of ``panel`` who were in the interview: those with a recorded track once its
    recording is closed (if any of them has one), else the whole panel (see the module's docstring)."""
    manifest = (record or {}).get("manifest") or {}
    if record and record.get("state") != "recording" and manifest.get("tracks"):
        recorded = {t.get("participant_id") for t in manifest["tracks"] if t.get("label") == "examiner"}
        if recorded & set(panel):
            return [p for p in panel if p in recorded]
    return list(panel)


def panel_status(interview: Interview, data: dict[str, str], record: dict | None, rubric: Rubric | None) -> PanelStatus:
    """Who must seal, who sealed, who is excused and the final mark, from the interview's marks hash
    (``data``) and its recording record (``record``, ``RecordingIndex.get``): no reads of its own, so
    the results can compute a page of interviews from a few pipelines."""
    sheets = _sheets(data)
    excused = sorted(_excused(data))
    sealed = sorted(e for e, s in sheets.items() if s.state == "sealed")
    required = sorted((set(attended_of(interview.panel, record)) - set(excused)) | set(sealed))
    status = PanelStatus(interview.id, interview.room_id, required, sealed, None, excused)
    if status.all_sealed and rubric is not None:
        status.final = rubric.final([sheets[e].total for e in sealed])
    return status


def _sheets(data: dict[str, str]) -> dict[str, Sheet]:
    """The mark hash (``sheet:<examiner>`` JSON, ``state:<examiner>``, ``sealed_at:<examiner>``,
    ``reopens:<examiner>``) as sheets by examiner."""
    out: dict[str, Sheet] = {}
    for name, value in data.items():
        if not name.startswith("sheet:"):
            continue
        examiner = name[len("sheet:") :]
        body = json.loads(value)
        out[examiner] = Sheet(
            examiner,
            marks={k: float(v) for k, v in (body.get("marks") or {}).items()},
            comment=body.get("comment", ""),
            state=data.get(f"state:{examiner}", "draft"),
            saved_at=float(body.get("saved_at") or 0),
            sealed_at=float(data.get(f"sealed_at:{examiner}") or 0),
            total=float(body.get("total") or 0),
            reopens=int(data.get(f"reopens:{examiner}") or 0),
        )
    return out


class InterviewMarks:
    def __init__(self, store: Store, catalog: Catalog, rubrics: Rubrics, recordings: RecordingIndex) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.rubrics = rubrics
        self.recordings = recordings
        self.on_status: list[StatusListener] = []  # told after a seal or a reopen (server/wiring.py)
        # asked before a seal; each may refuse it (server/wiring.py: the room-entry face check)
        self.seal_guards: list[Callable[[Interview], Awaitable[None]]] = []

    # the queue's listener: which interviews exist, and which ended
    async def queue_changed(self, change: QueueChange) -> None:
        if change.event not in ("queue_called", "queue_done", "queue_removed") or not change.account:
            return
        k = self.keys
        entry = await self.redis.hgetall(k.queue_entry(change.room, change.account))
        interview_id = entry.get("admission", "")
        if not is_id(interview_id):
            return
        if change.event == "queue_called":
            room = await self.catalog.find_room(change.room)
            if room is None:
                return
            async with self.store.pipeline() as tx:
                tx.hset(
                    k.interview(interview_id),
                    mapping={
                        "interview_id": interview_id,
                        "exam_id": room.exam_id,
                        "subject_id": room.subject_id,
                        "room_id": room.id,
                        "account_id": change.account,
                        "name": entry.get("name", ""),
                        "panel": json.dumps(sorted(room.examiners)),
                        "called_at": f"{change.at:.3f}",
                        "state": "called",
                    },
                )
                tx.zadd(k.room_interviews(room.id), {interview_id: change.at})
                tx.zadd(k.candidate_interviews(change.account), {interview_id: change.at})
                tx.hincrby(k.results(room.exam_id), "changes", 1)  # a new row to mark: a lock checked before is refused
                await tx.execute()
            return
        record = await self.redis.hgetall(k.interview(interview_id))
        if not record or record.get("ended_at"):
            return  # a removal from the line, after this admission had ended
        panel = json.loads(record.get("panel") or "[]")
        await self.store.script("mark_ended")(
            keys=[k.interview(interview_id), k.interview_marks(interview_id), *[k.unmarked(e) for e in panel]],
            args=[f"{change.at:.3f}", "done" if change.event == "queue_done" else "removed", interview_id, *panel],
        )

    # reading
    async def _find(self, interview_id: str) -> Interview | None:
        if not is_id(interview_id):
            return None
        data = await self.redis.hgetall(self.keys.interview(interview_id))
        return _interview(data) if data.get("interview_id") else None

    async def find(self, interview_id: str) -> Interview:
        """The interview (the admin's look-up); ``interview_not_found`` when there is none."""
        interview = await self._find(interview_id)
        if interview is None:
            raise UserError("interview_not_found")
        return interview

    async def interview_of(self, examiner: str, room_id: str, interview_id: str) -> tuple[Room, Interview]:
        """The interview when ``examiner`` sits on the panel of ``room_id`` and it is that room's;
        ``interview_not_found`` otherwise (also for a room not theirs: nothing tells them apart)."""
        room = await self.catalog.examiner_room(room_id, examiner) if is_id(room_id) else None
        interview = await self._find(interview_id) if room is not None else None
        if room is None or interview is None or interview.room_id != room.id:
            raise UserError("interview_not_found")
        return room, interview

    async def _rubric(self, interview: Interview) -> Rubric:
        rubric = await self.rubrics.get(interview.subject_id)
        if rubric is None:
            raise UserError("rubric_missing")
        return rubric

    async def sheets(self, interview_id: str) -> dict[str, Sheet]:
        return _sheets(await self.redis.hgetall(self.keys.interview_marks(interview_id)))

    async def attended(self, interview: Interview) -> list[str]:
        """The examiners who were in the interview (see the module's docstring)."""
        return attended_of(interview.panel, await self.recordings.get(interview.id))

    async def status(self, interview: Interview) -> PanelStatus:
        data = await self.redis.hgetall(self.keys.interview_marks(interview.id))
        record = await self.recordings.get(interview.id)
        return panel_status(interview, data, record, await self.rubrics.get(interview.subject_id))

    async def view(self, examiner: str, room_id: str, interview_id: str) -> dict[str, Any]:
        """What the examiner's marking card shows: the rubric, their own sheet, who sealed, and the
        others' sheets and the final mark only once every examiner of the interview sealed."""
        room, interview = await self.interview_of(examiner, room_id, interview_id)
        sheets = await self.sheets(interview.id)
        status = await self.status(interview)
        rubric = await self.rubrics.get(interview.subject_id)
        names = await self._names(sorted(set(status.required) | set(sheets) | set(status.excused)))
        mine = sheets.get(examiner) or Sheet(examiner)
        others = []
        if status.all_sealed:
            others = [{**sheets[e].to_json(), "name": names.get(e, "")} for e in status.sealed if e != examiner]
        return {
            "interview": {
                "id": interview.id,
                "room_id": room.id,
                "room_name": room.name,
                "candidate_name": interview.name,
                "state": interview.state,
                "called_at": interview.called_at or None,
                "ended_at": interview.ended_at or None,
            },
            "rubric": rubric.to_json() if rubric else None,
            "mine": mine.to_json(),
            "panel": [
                {"account_id": e, "name": names.get(e, ""), "sealed": e in status.sealed, "me": e == examiner}
                for e in status.required
            ],
            "excused": [{"account_id": e, "name": names.get(e, ""), "me": e == examiner} for e in status.excused],
            "all_sealed": status.all_sealed,
            "others": others,
            "final": status.final,
        }

    async def _names(self, account_ids: list[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        pipe = self.store.pipeline(transaction=False)
        for account_id in account_ids:
            pipe.hmget(self.keys.account(account_id), "name", "username")
        found = await pipe.execute()
        return {a: (n or u or "") for a, (n, u) in zip(account_ids, found, strict=True)}

    async def final(self, interview_id: str) -> float | None:
        """The interview's final mark: the rubric's combination of the sealed totals, once every
        examiner who was in it sealed (None before)."""
        interview = await self._find(interview_id)
        return None if interview is None else (await self.status(interview)).final

    async def unfinished(self, examiner: str) -> list[dict[str, Any]]:
        """Ended interviews (``done``) of the examiner's panel without their sealed sheet, newest
        first (``unmarked:{account}``: the end adds, a seal removes, a reopening adds again). An
        interview of a room they no longer sit on is left out."""
        ids = await self.redis.zrevrange(self.keys.unmarked(examiner), 0, UNFINISHED_MAX - 1)
        if not ids:
            return []
        pipe = self.store.pipeline(transaction=False)
        for interview_id in ids:
            pipe.hgetall(self.keys.interview(interview_id))
            pipe.hget(self.keys.interview_marks(interview_id), f"state:{examiner}")
        found = await pipe.execute()
        rooms: dict[str, Room | None] = {}
        out: list[dict[str, Any]] = []
        for i in range(0, len(found), 2):
            data, state = found[i], found[i + 1]
            if not data.get("interview_id") or state == "sealed":
                continue
            interview = _interview(data)
            if interview.room_id not in rooms:
                rooms[interview.room_id] = await self.catalog.examiner_room(interview.room_id, examiner)
            room = rooms[interview.room_id]
            if room is None:
                continue
            out.append(
                {
                    "interview_id": interview.id,
                    "room_id": room.id,
                    "room_name": room.name,
                    "candidate_name": interview.name,
                    "ended_at": interview.ended_at,
                    "draft": state == "draft",
                    "url": f"/examiner/rooms/{room.id}?interview={interview.id}",
                }
            )
        return out

    async def of_room(self, examiner: str, room_id: str, count: int = 20) -> list[dict[str, Any]]:
        """The room's newest interviews with the examiner's sheet state (the room page's choice of
        which interview to mark); ``room_not_found`` for a room not theirs."""
        room = await self.catalog.examiner_room(room_id, examiner) if is_id(room_id) else None
        if room is None:
            raise UserError("room_not_found")
        ids = await self.redis.zrevrange(self.keys.room_interviews(room.id), 0, count - 1)
        pipe = self.store.pipeline(transaction=False)
        for interview_id in ids:
            pipe.hgetall(self.keys.interview(interview_id))
            pipe.hget(self.keys.interview_marks(interview_id), f"state:{examiner}")
        found = await pipe.execute() if ids else []
        out = []
        for i in range(0, len(found), 2):
            if not found[i].get("interview_id"):
                continue
            interview = _interview(found[i])
            out.append(
                {
                    "interview_id": interview.id,
                    "candidate_name": interview.name,
                    "state": interview.state,
                    "called_at": interview.called_at,
                    "ended_at": interview.ended_at or None,
                    "marks_state": found[i + 1] or "none",
                }
            )
        return out

    # writing
    def _checked(self, rubric: Rubric, marks: Any, comment: Any, complete: bool) -> tuple[dict[str, float], str]:
        if not isinstance(marks, dict):
            raise UserError("field_type", field="marks", label="marks")
        if comment is None:
            comment = ""
        if not isinstance(comment, str):
            raise UserError("field_type", field="comment", label="mark_comment")
        comment = comment.strip()
        if len(comment) > COMMENT_MAX:
            raise UserError("field_too_long", field="comment", label="mark_comment", max=COMMENT_MAX)
        return rubric.check(marks, complete), comment

    async def _write(self, script: str, actor: Actor, interview: Interview, rubric: Rubric, marks, comment) -> Sheet:
        now = time.time()
        total = rubric.total(marks)
        k = self.keys
        body = json.dumps({"marks": marks, "comment": comment, "saved_at": round(now, 3), "total": total})
        result = await self.store.script(script)(
            keys=[
                k.interview_marks(interview.id),
                k.rubric(interview.subject_id),
                k.audit(interview.exam_id),
                k.unmarked(actor.account_id),
                k.results(interview.exam_id),
            ],
            args=[
                actor.account_id,
                body,
                str(rubric.version),
                f"{now:.3f}",
                json.dumps(marks),
                f"{total:g}",
                interview.id,
                comment,
                *audit.base_fields(actor, interview.account_id),
            ],
        )
        if result != "ok":
            raise UserError(result)
        return (await self.sheets(interview.id))[actor.account_id]

    async def save(self, actor: Actor, room_id: str, interview_id: str, marks: Any, comment: Any = "") -> Sheet:
        """Save the examiner's draft: partial marks, each checked against the rubric (audited
        ``marks_saved``). Refused once sealed (``marks_sealed``)."""
        _, interview = await self.interview_of(actor.account_id, room_id, interview_id)
        rubric = await self._rubric(interview)
        checked, comment = self._checked(rubric, marks, comment, complete=False)
        return await self._write("mark_save", actor, interview, rubric, checked, comment)

    async def seal(self, actor: Actor, room_id: str, interview_id: str, marks: Any, comment: Any = "") -> Sheet:
        """Seal the examiner's sheet: every criterion marked; immutable afterwards (audited
        ``marks_sealed``). A second seal is ``marks_sealed``; two examiners sealing at the same
        instant both succeed, each once (one script per sheet)."""
        _, interview = await self.interview_of(actor.account_id, room_id, interview_id)
        rubric = await self._rubric(interview)
        checked, comment = self._checked(rubric, marks, comment, complete=True)
        for guard in self.seal_guards:
            await guard(interview)
        sheet = await self._write("mark_seal", actor, interview, rubric, checked, comment)
        await self._tell(interview)
        return sheet

    @staticmethod
    def _reason(reason: Any) -> str:
        if not isinstance(reason, str) or not reason.strip():
            raise UserError("field_required", field="reason", label="reason")
        if len(reason.strip()) > REASON_MAX:
            raise UserError("field_too_long", field="reason", label="reason", max=REASON_MAX)
        return reason.strip()

    async def reopen(self, actor: Actor, interview_id: str, examiner: str, reason: Any) -> Sheet:
        """An admin reopens an examiner's sealed sheet with a reason (audited ``marks_reopened``):
        it is a draft again, the others' marks are hidden again until it is sealed."""
        interview = await self.find(interview_id)
        reason = self._reason(reason)
        if not is_id(examiner):
            raise UserError("marks_not_found")
        k = self.keys
        result = await self.store.script("mark_reopen")(
            keys=[
                k.interview_marks(interview.id),
                k.rubric(interview.subject_id),
                k.audit(interview.exam_id),
                k.unmarked(examiner),
                k.results(interview.exam_id),
            ],
            args=[
                examiner,
                reason,
                interview.id,
                f"{interview.ended_at:.3f}" if interview.state == "done" else "",
                *audit.base_fields(actor, interview.account_id),
            ],
        )
        if result != "ok":
            raise UserError(result)
        await self._tell(interview)
        return (await self.sheets(interview.id))[examiner]

    async def excuse(self, actor: Actor, interview_id: str, examiner: str, reason: Any) -> PanelStatus:
        """An admin excuses an examiner of the panel who has not sealed (never came, left, fell ill) from
        the interview's marking, with a reason (audited ``marks_excused``): from then on only the others
        must seal before the marks are shown and the final mark is made, and the excused examiner can no
        longer mark it. Only an admin: excusing takes a marker's say out of a candidate's final mark, so
        the examiners who would then decide it alone may not do it themselves. Refused while the
        interview goes on (``marks_excuse_not_ended``), for an examiner who sealed
        (``marks_excuse_sealed``: reopen first), for one not required (``marks_not_found``) and for the
        last examiner left (``marks_excuse_last``)."""
        interview = await self.find(interview_id)
        reason = self._reason(reason)
        if not is_id(examiner) or examiner not in interview.panel:
            raise UserError("marks_not_found")
        status = await self.status(interview)
        if examiner in status.excused:
            raise UserError("marks_excused_already")
        if examiner in status.sealed:
            raise UserError("marks_excuse_sealed")
        if examiner not in status.required:
            raise UserError("marks_not_found")
        if not [e for e in status.required if e != examiner]:
            raise UserError("marks_excuse_last")
        k = self.keys
        now = time.time()
        note = json.dumps({"by": actor.account_id, "reason": reason, "at": round(now, 3)}, ensure_ascii=False)
        result = await self.store.script("mark_excuse")(
            keys=[
                k.interview_marks(interview.id),
                k.interview(interview.id),
                k.audit(interview.exam_id),
                k.unmarked(examiner),
                k.results(interview.exam_id),
            ],
            args=[examiner, reason, note, interview.id, *audit.base_fields(actor, interview.account_id)],
        )
        if result != "ok":
            raise UserError(result)
        log.info("examiner excused", extra={"interview": interview.id, "examiner": examiner, "by": actor.account_id})
        await self._tell(interview)
        return await self.status(interview)

    async def _tell(self, interview: Interview) -> None:
        status = await self.status(interview)
        for listener in list(self.on_status):
            try:
                await listener(status)
            except Exception:  # a push that fails must not undo or hide the seal itself
                log.exception("marks status listener failed", extra={"interview": interview.id})
