"""The proctor's socket, bound to one exam: every room and line at a glance (snapshot, then each
room as it changes), the open face reviews, and a candidate's history from the audit stream."""

from __future__ import annotations

from ..errors import UserError
from ..payloads import Field
from ..queue.views import room_view
from ..store.models import is_id
from .base import RoleNamespace, User
from .fanout import open_reviews, proctor_room


class ProctorNamespace(RoleNamespace):
    ROLES = ("proctor", "admin")
    EVENTS = {
        "proctor:snapshot": {},
        "proctor:history": {"account_id": Field("str", max_len=40)},
    }

    async def admit(self, sid: str, user: User, auth: dict) -> None:
        exam_id = auth.get("exam_id")  # the client's connect auth, unchecked: is_id is False for a non-str
        if not isinstance(exam_id, str) or not is_id(exam_id) or await self.services.catalog.find_exam(exam_id) is None:
            raise UserError("exam_not_found")
        await self.services.proctors.require(user.account, exam_id)
        user.scope["exam_id"] = exam_id
        await self.enter_room(sid, proctor_room(exam_id))

    async def snapshot(self, exam_id: str) -> dict:
        rooms = await self.services.catalog.rooms(exam_id)
        views = [(await room_view(self.services.store, r.id)).to_json() for r in rooms]
        return {"exam_id": exam_id, "rooms": views, "reviews": await open_reviews(self.services, exam_id)}

    async def welcome(self, sid: str, user: User) -> None:
        await self.emit("proctor:snapshot", await self.snapshot(user.scope["exam_id"]), to=sid)

    async def on_proctor_snapshot(self, sid: str, user: User, data: dict) -> dict:
        return await self.snapshot(user.scope["exam_id"])

    async def on_proctor_history(self, sid: str, user: User, data: dict) -> dict:
        account_id = data["account_id"]
        if not is_id(account_id):
            raise UserError("account_not_found", field="account_id")
        entries = await self.services.audit.read(user.scope["exam_id"], count=200, subject=account_id)
        return {"account_id": account_id, "entries": entries}
