"""The examiner's socket, bound to one room of theirs: the room's live line, call next, end, remove."""

from __future__ import annotations

from ..errors import UserError
from ..http.body import Field
from ..queue.views import room_view
from ..store.audit import Actor
from ..store.models import is_id
from .base import RoleNamespace, User
from .fanout import examiner_room

ACCOUNT_ID = Field("str", max_len=40)


class ExaminerNamespace(RoleNamespace):
    ROLES = ("examiner",)
    EVENTS = {
        "queue:room": {},
        "queue:call_next": {},
        "queue:end": {"account_id": ACCOUNT_ID},
        "queue:remove": {"account_id": ACCOUNT_ID, "reason": Field("str", max_len=200, label="reason")},
    }

    async def admit(self, sid: str, user: User, auth: dict) -> None:
        room_id = auth.get("room_id")
        redis, keys = self.services.store.redis, self.services.store.keys
        if not is_id(room_id) or not await redis.exists(keys.room(room_id)):
            raise UserError("room_not_found", 404)
        if not await redis.sismember(keys.room_examiners(room_id), user.account.id):
            raise UserError("not_room_examiner", 403)
        user.scope["room_id"] = room_id
        await self.enter_room(sid, examiner_room(room_id))

    async def welcome(self, sid: str, user: User) -> None:
        await self.emit("queue:room", (await room_view(self.services.store, user.scope["room_id"])).to_json(), to=sid)

    async def on_queue_room(self, sid: str, user: User, data: dict) -> dict:
        return {"room": (await room_view(self.services.store, user.scope["room_id"])).to_json()}

    async def on_queue_call_next(self, sid: str, user: User, data: dict) -> dict:
        entry = await self.services.queue.call_next(_actor(user), user.scope["room_id"])
        return {"account_id": entry.account, "name": entry.name}

    async def on_queue_end(self, sid: str, user: User, data: dict) -> dict:
        entry = await self.services.queue.finish(_actor(user), user.scope["room_id"], _account(data))
        return {"account_id": entry.account, "state": entry.state}

    async def on_queue_remove(self, sid: str, user: User, data: dict) -> dict:
        entry = await self.services.queue.remove(_actor(user), user.scope["room_id"], _account(data), data["reason"])
        return {"account_id": entry.account, "state": entry.state}


def _actor(user: User) -> Actor:
    return Actor(user.account.id, user.account.role)


def _account(data: dict) -> str:
    if not is_id(data["account_id"]):
        raise UserError("not_in_queue", 404, field="account_id")
    return data["account_id"]
