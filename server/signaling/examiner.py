"""The examiner's socket, bound to one room of theirs: the room's live line, call next, end, remove,
and the panel's marking status (``marks:status``)."""

from __future__ import annotations

from ..errors import UserError
from ..marking.interview_marks import PanelStatus
from ..payloads import Field
from ..queue.views import room_view
from ..store.audit import Actor
from ..store.models import is_id
from .base import RoleNamespace, User
from .candidate import SDP
from .fanout import examiner_room, user_room
from .rooms import RoomSignals

ACCOUNT_ID = Field("str", max_len=40)


class ExaminerNamespace(RoleNamespace):
    ROLES = ("examiner",)
    EVENTS = {
        "queue:room": {},
        "queue:call_next": {},
        "queue:end": {"account_id": ACCOUNT_ID},
        "queue:remove": {"account_id": ACCOUNT_ID, "reason": Field("str", max_len=200, label="reason")},
        "rtc:config": {},
        "rtc:join": {"sdp": SDP},
        "rtc:restart": {"sdp": SDP},
        "rtc:answer": {"sdp": SDP},
        "room:face_retry": {"interview_id": ACCOUNT_ID},
        "room:face_override": {"interview_id": ACCOUNT_ID, "reason": Field("str", max_len=200, label="reason")},
    }
    rooms: RoomSignals  # given by server/wiring.py

    async def admit(self, sid: str, user: User, auth: dict) -> None:
        room_id = auth.get("room_id")  # the client's connect auth, unchecked: is_id is False for a non-str
        if not isinstance(room_id, str) or not is_id(room_id):
            raise UserError("room_not_found")
        room = await self.services.catalog.find_room(room_id)
        if room is None:
            raise UserError("room_not_found")
        if user.account.id not in room.examiners:
            raise UserError("not_room_examiner")
        user.scope["room_id"] = room_id
        user.scope["exam_id"] = room.exam_id
        await self.enter_room(sid, examiner_room(room_id))
        await self.enter_room(sid, user_room(user.account.id))

    async def welcome(self, sid: str, user: User) -> None:
        room_id = user.scope["room_id"]
        await self.emit("queue:room", (await room_view(self.services.store, room_id)).to_json(), to=sid)
        media = await self._router().snapshot(room_id)  # from the room's node, wherever it is
        if media:
            await self.emit("room:participants", media["participants"], to=sid)
            await self.emit("room:recording", media["recording"], to=sid)
            for flag in media.get("flags") or []:  # raised before this page opened
                await self.emit("room:flag", flag, to=sid)
        await self._router().rejoin_if_absent(sid, self.namespace, room_id, user.account.id, media)
        current = (await room_view(self.services.store, room_id)).current
        entry = await self.services.queue.entry(room_id, current.account) if current is not None else None
        if entry is not None:  # the room check of the candidate in the room, for a page opened late
            try:
                check = await self.rooms.room_check_of(room_id, entry.admission)
            except UserError:
                return
            await self.emit("room:face", self.rooms.face_payload(check.to_json()), to=sid)

    async def on_rtc_join(self, sid: str, user: User, data: dict) -> dict:
        room_id = user.scope["room_id"]
        router = self._router()
        answer = await router.examiner_join(user.account, room_id, user.scope["exam_id"], data["sdp"])
        await router.joined(sid, self.namespace, room_id)
        return {"sdp": answer}

    async def on_rtc_restart(self, sid: str, user: User, data: dict) -> dict:
        return await self.on_rtc_join(sid, user, data)  # a new connection replaces the old one

    async def on_rtc_answer(self, sid: str, user: User, data: dict) -> dict:
        await self._router().answer(user.scope["room_id"], user.account.id, data["sdp"])
        return {}

    async def gone(self, sid: str, user: User) -> None:
        """The examiner's page closed: their camera leaves the room (a reload joins again)."""
        if not any(u.account.id == user.account.id for u in self.users.values()) and not self._router().moving:
            await self._router().leave(user.scope["room_id"], user.account.id)

    async def marks_status(self, status: PanelStatus) -> None:
        """A mark sheet of one of the room's interviews was sealed or reopened: who of its examiners
        sealed (and the final mark once all did) to the room's examiners (``marks:status``)."""
        await self.emit("marks:status", status.to_json(), to=examiner_room(status.room_id))

    async def on_room_face_retry(self, sid: str, user: User, data: dict) -> dict:
        """Run the room-entry face check of the room's candidate again (not verified: no video, a
        busy pool, a timeout); rate-limited and audited (facecheck/room_checks.py)."""
        check = await self.rooms.retry_room_check(_actor(user), user.scope["room_id"], data["interview_id"])
        return {"state": check.state}

    async def on_room_face_override(self, sid: str, user: User, data: dict) -> dict:
        """The examiner confirms the candidate's identity themselves, with a reason (audited); also
        after the interview ended (its mark sheets wait for it)."""
        check = await self.rooms.override_room_check(
            _actor(user), user.scope["room_id"], data["interview_id"], data["reason"]
        )
        return {"state": check.state}

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
        raise UserError("not_in_queue", field="account_id")
    return data["account_id"]
