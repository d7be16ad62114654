"""One sitting as staff review it (docs/recorded.md "The review page"): who, the subject, the exam code
(考试码), the state and submission, every take with its files and photos (and, when the take has them,
its drawn question and its steps), the face gate and the submitted take's identity check, and the audit
entries of this sitting and its takes, oldest first. For admins only: it names the candidate."""

from __future__ import annotations

from typing import Any

from ..accounts.directory import Directory
from ..errors import UserError
from ..exams.catalog import Catalog
from ..facecheck.gate import FaceGate
from ..store.audit import Audit
from ..store.models import public
from .sittings import Sittings, sitting_json
from .take_identity import read_identity

AUDIT_SCAN = 1000  # the candidate's newest entries read to find this sitting's


class Reviews:
    def __init__(
        self, sittings: Sittings, catalog: Catalog, directory: Directory, face_gate: FaceGate, audit: Audit
    ) -> None:
        self.sittings = sittings
        self.catalog = catalog
        self.directory = directory
        self.face_gate = face_gate
        self.audit = audit

    async def of_sitting(self, sitting_id: str) -> dict[str, Any]:
        """The review of any sitting; a forged or unknown id is ``sitting_not_found``."""
        sitting = await self.sittings.find_sitting(sitting_id)
        if sitting is None:
            raise UserError("sitting_not_found")
        exam = await self.catalog.exam(sitting.exam_id)
        subject = await self.catalog.subject(sitting.exam_id, sitting.subject_id)
        account = await self.directory.get(sitting.account_id)
        takes = await self.sittings.takes(sitting.id)
        ids = {sitting.id, *(t.id for t in takes)}
        entries = await self.audit.read(sitting.exam_id, AUDIT_SCAN, subject=sitting.account_id)
        timeline = [
            e for e in reversed(entries) if (e["data"].get("sitting_id") in ids or e["data"].get("take_id") in ids)
        ]
        face = await self.face_gate.status(sitting.exam_id, sitting.account_id)
        return {
            "sitting": sitting_json(sitting),
            "exam": {"id": exam.id, "name": exam.name, "school": exam.school},
            "subject": public(subject),
            "candidate": {
                "account_id": sitting.account_id,
                "name": account.name if account else "",
                "id_number": account.id_number if account else "",
            },
            "takes": takes,
            "identity": await read_identity(self.sittings.store, sitting.submitted_take)
            if sitting.submitted_take
            else None,
            "face": public(face) if face else None,
            "audit": timeline,
        }
