"""A subject's rubric (评分标准): its criteria with maxima, the step marks move by, optional weights,
how several markers' totals combine, and for recorded takes how many markers and the gap that calls
in a third (docs/marking.md "Rubrics").

Kept in the hash ``rubric:{subject}``: ``criteria`` (JSON), ``step``, ``combine``, ``markers``,
``gap``, ``version`` (incremented by every change), ``sealed`` (how many sealed mark sheets of the
subject exist now: the mark scripts ``HINCRBY`` it when they seal and reopen) and who changed it
when. A change is one Lua script (``mark_rubric_set.lua``): refused with ``rubric_in_use`` while a
sealed mark exists, written with its audit entry ``rubric_set`` otherwise. A mark is sealed only if
the rubric's ``version`` is still the one it was checked against (``rubric_changed`` otherwise).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import UserError
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import is_id

CRITERION_ID = re.compile(r"^[a-z0-9_]{1,20}$")
STEPS = (1.0, 0.5)
COMBINES = ("mean", "trimmed_mean")
MAX_CRITERIA = 20
MAX_MARK = 1000.0
MAX_WEIGHT = 100.0
NAME_MAX = 20
TRIM_FROM = 4  # trimmed_mean drops the highest and the lowest total with this many markers or more
EPS = 1e-9


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _on_step(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < EPS


def _fmt(value: float) -> str:
    """40.0 -> "40", 0.5 -> "0.5": numbers in messages as a person writes them."""
    return f"{value:g}"


@dataclass
class Criterion:
    id: str  # short slug, [a-z0-9_]{1,20}, unique in the rubric
    name: str  # 技巧
    max: float  # 40 (0 < max <= 1000)
    weight: float = 1.0


@dataclass
class Rubric:
    subject_id: str
    criteria: list[Criterion]  # 1-20
    step: float = 1.0  # 1 or 0.5: every mark is a multiple of it
    combine: str = "mean"  # mean | trimmed_mean (drop the highest and the lowest with 4+ markers)
    markers: int = 1  # recorded takes: markers per submission (1 or 2)
    gap: float = 0.0  # recorded takes, 2 markers: totals further apart than this call a third (0: never)
    version: int = field(default=0, compare=False)  # set by the store: incremented by every change

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    @property
    def max_total(self) -> float:
        return round(sum(c.max * c.weight for c in self.criteria), 2)

    def check(self, marks: dict[str, float], complete: bool) -> dict[str, float]:
        """The marks, checked and in the rubric's order. A draft (``complete=False``) may leave
        criteria out (``None`` counts as left out); a sealed sheet must have every one. Raises
        ``mark_criterion_unknown`` / ``mark_not_number`` / ``mark_over_max`` (also below 0) /
        ``mark_not_on_step`` / ``mark_missing`` (complete only)."""
        if not isinstance(marks, dict):
            raise UserError("field_type", field="marks", label="marks")
        for key in marks:
            if self.criterion(key) is None:
                raise UserError("mark_criterion_unknown", field="marks", criterion=str(key)[:40])
        out: dict[str, float] = {}
        for c in self.criteria:
            raw = marks.get(c.id)
            if raw is None:
                if complete:
                    raise UserError("mark_missing", field=f"marks.{c.id}", criterion=c.name)
                continue
            value = _number(raw)
            if value is None:
                raise UserError("mark_not_number", field=f"marks.{c.id}", criterion=c.name)
            if value < 0 or value > c.max + EPS:
                raise UserError("mark_over_max", field=f"marks.{c.id}", criterion=c.name, max=_fmt(c.max))
            if not _on_step(value, self.step):
                raise UserError("mark_not_on_step", field=f"marks.{c.id}", criterion=c.name, step=_fmt(self.step))
            out[c.id] = round(value / self.step) * self.step
        return out

    def total(self, marks: dict[str, float]) -> float:
        """Sum of mark x weight over the criteria marked, rounded to 0.01."""
        return round(sum(marks.get(c.id, 0.0) * c.weight for c in self.criteria), 2)

    def final(self, totals: list[float]) -> float:
        """The combination of several markers' totals: their mean, or with ``trimmed_mean`` and 4 or
        more totals the mean without one highest and one lowest. Rounded to 0.01."""
        if not totals:
            raise ValueError("no totals to combine")
        values = sorted(totals)
        if self.combine == "trimmed_mean" and len(values) >= TRIM_FROM:
            values = values[1:-1]
        return round(sum(values) / len(values), 2)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_total"] = self.max_total
        return data

    @classmethod
    def from_json(cls, subject_id: str, body: Any) -> Rubric:
        """A rubric from an admin's JSON (``criteria``, ``step``, ``combine``, ``markers``, ``gap``),
        every field checked with a message naming it."""
        if not isinstance(body, dict):
            raise UserError("bad_json")
        allowed = {"criteria", "step", "combine", "markers", "gap"}
        for key in body:
            if key not in allowed:
                raise UserError("field_unknown", field=str(key)[:40], name=str(key)[:40])
        step = _number(body.get("step", 1.0))
        if step is None or step not in STEPS:
            raise UserError("rubric_step_invalid", field="step")
        combine = body.get("combine", "mean")
        if combine not in COMBINES:
            raise UserError("rubric_combine_invalid", field="combine")
        markers = body.get("markers", 1)
        if isinstance(markers, bool) or markers not in (1, 2):
            raise UserError("rubric_markers_invalid", field="markers")
        raw = body.get("criteria")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CRITERIA:
            raise UserError("rubric_criteria_count", field="criteria", max=MAX_CRITERIA)
        criteria: list[Criterion] = []
        for n, item in enumerate(raw, 1):
            if not isinstance(item, dict) or set(item) - {"id", "name", "max", "weight"}:
                raise UserError("rubric_criterion_invalid", field="criteria", n=n)
            cid, name = item.get("id"), item.get("name")
            if not isinstance(cid, str) or not CRITERION_ID.match(cid):
                raise UserError("rubric_criterion_id", field="criteria", n=n)
            if any(c.id == cid for c in criteria):
                raise UserError("rubric_criterion_duplicate", field="criteria", id=cid)
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
                raise UserError("rubric_criterion_name", field="criteria", n=n, max=NAME_MAX)
            cmax = _number(item.get("max"))
            if cmax is None or not 0 < cmax <= MAX_MARK:
                raise UserError("rubric_criterion_max", field="criteria", name=name.strip(), max=_fmt(MAX_MARK))
            if not _on_step(cmax, step):
                raise UserError("rubric_max_not_on_step", field="criteria", name=name.strip(), step=_fmt(step))
            weight = _number(item.get("weight", 1.0))
            if weight is None or not 0 < weight <= MAX_WEIGHT:
                raise UserError("rubric_criterion_weight", field="criteria", name=name.strip(), max=_fmt(MAX_WEIGHT))
            criteria.append(Criterion(cid, name.strip(), cmax, weight))
        rubric = cls(subject_id, criteria, step, combine, markers)
        gap = _number(body.get("gap", 0.0))
        if gap is None or not 0 <= gap <= rubric.max_total:
            raise UserError("rubric_gap_invalid", field="gap", max=_fmt(rubric.max_total))
        rubric.gap = gap
        return rubric


def _from_hash(subject_id: str, data: dict[str, str]) -> Rubric:
    criteria = [Criterion(**c) for c in json.loads(data["criteria"])]
    return Rubric(
        subject_id,
        criteria,
        step=float(data.get("step", 1)),
        combine=data.get("combine", "mean"),
        markers=int(data.get("markers", 1)),
        gap=float(data.get("gap", 0)),
        version=int(data.get("version", 0)),
    )


class Rubrics:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        # told (exam id, subject id) after a rubric is set: the recorded marking's catch-up (server/wiring.py)
        self.on_set: list[Callable[[str, str], Awaitable[None]]] = []

    async def get(self, subject_id: str) -> Rubric | None:
        if not is_id(subject_id):
            return None
        data = await self.redis.hgetall(self.keys.rubric(subject_id))
        return _from_hash(subject_id, data) if data.get("criteria") else None

    async def sealed_count(self, subject_id: str) -> int:
        """Sealed mark sheets of the subject now (interviews and recorded takes)."""
        return int(await self.redis.hget(self.keys.rubric(subject_id), "sealed") or 0)

    async def set(self, actor: Actor, exam_id: str, subject_id: str, rubric: Rubric) -> Rubric:
        """Replace the subject's rubric (audited ``rubric_set``). Refused with ``subject_not_found``
        when the subject is not the exam's, ``rubric_in_use`` once a mark of it is sealed."""
        subject = await self.redis.hgetall(self.keys.subject(subject_id)) if is_id(subject_id) else {}
        if not subject or subject.get("exam_id") != exam_id:
            raise UserError("subject_not_found")
        criteria = json.dumps([asdict(c) for c in rubric.criteria], ensure_ascii=False)
        summary = {
            "subject_id": subject_id,
            "criteria": [asdict(c) for c in rubric.criteria],
            "step": rubric.step,
            "combine": rubric.combine,
            "markers": rubric.markers,
            "gap": rubric.gap,
        }
        result = await self.store.script("mark_rubric_set")(
            keys=[self.keys.rubric(subject_id), self.keys.audit(exam_id)],
            args=[
                criteria,
                _fmt(rubric.step),
                rubric.combine,
                str(rubric.markers),
                _fmt(rubric.gap),
                f"{time.time():.3f}",
                actor.account_id,
                json.dumps(summary, ensure_ascii=False),
                *audit.base_fields(actor, subject_id),
            ],
        )
        if isinstance(result, str) and not result.isdigit():
            raise UserError(result)
        for listener in list(self.on_set):
            try:
                await listener(exam_id, subject_id)
            except Exception:  # the rubric is set; the marking it allows follows at the next catch-up
                logging.getLogger("server.marking").exception("rubric listener failed", extra={"subject": subject_id})
        return replace(rubric, subject_id=subject_id, version=int(result))
