"""The row-by-row report of a roster import, in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..i18n import message


@dataclass
class RowResult:
    line: int
    id_number: str
    name: str
    status: str  # "imported" | "updated" | "rejected"
    reasons: list[tuple[str, dict]] = field(default_factory=list)
    # written, but something will go wrong later (no ID photo: the face check cannot pass)
    warnings: list[tuple[str, dict]] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowResult]

    def _count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def imported(self) -> int:
        return self._count("imported")

    @property
    def updated(self) -> int:
        return self._count("updated")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    @property
    def warnings(self) -> int:
        """Rows written with a warning (e.g. ``row_no_photo``)."""
        return sum(1 for row in self.rows if row.warnings and row.status != "rejected")

    def to_json(self, lang: str) -> dict:
        """Each row's ``reasons``: why it was rejected, or, for a written row, what will go wrong later
        (``"level": "warning"``, and the row has ``"warning": true``); ``warnings`` counts those rows."""

        def row(r: RowResult) -> dict:
            out: dict[str, Any] = {
                "line": r.line,
                "id_number": r.id_number,
                "name": r.name,
                "status": r.status,
                "reasons": [{"code": code, "message": message(code, lang, **params)} for code, params in r.reasons],
            }
            if r.warnings and r.status != "rejected":
                out["warning"] = True
                out["reasons"] += [
                    {"code": code, "message": message(code, lang, **params), "level": "warning"}
                    for code, params in r.warnings
                ]
            return out

        return {
            "imported": self.imported,
            "updated": self.updated,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "rows": [row(r) for r in self.rows],
        }
