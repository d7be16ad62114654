"""The candidate's socket: entering the queue, live position, "you are next", being called."""

from __future__ import annotations

import time

from ..errors import UserError
from ..facecheck.watch import PAGE_EVENTS
from ..i18n import message
from ..payloads import Field
from ..queue.entries import ACTIVE, CALLED, IN_ROOM
from ..queue.views import room_view
from ..rooms.media import MAX_SDP_BYTES
from ..store.models import is_id
from .base import RoleNamespace, User
from .face_live import FaceLiveSignals
from .fanout import candidate_room, candidate_state, line_room
from .limits import TokenBucket
from .recorded import TAKE_EVENTS, TakeEvents
from .rooms import RoomSignals

ROOM_ID = Field("str", max_len=40)
ROOM_EVENTS_PER_S = 0.5  # room:device events per candidate, sustained ...
ROOM_EVENTS_BURST = 10  # ... and at once (a page switching apps a few times in a row)
SDP = Field("str", max_len=MAX_SDP_BYTES)
PHRASES = ("cant_hear", "cant_see", "frozen", "echo", "repeat", "ready")
DEVICE_KEYS = {
    "camera",
    "microphone",
    "battery_level",
    "charging",
    "browser",
    "browser_version",
    "os",
    "in_app",
    "network",
    "user_agent",
}


def device_report(raw: dict) -> dict:
    """The device report, typed and bounded (the rules are the queue's DevicePolicy)."""
    out: dict = {}
    for key, value in raw.items():
        if key not in DEVICE_KEYS:
            raise UserError("field_unknown", field=f"device.{key}", name=f"device.{key}"[:60])
        if key == "battery_level":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
            ):
                raise UserError("field_invalid", field="device.battery_level", label="device.battery_level")
        elif key == "charging":
            if value is not None and not isinstance(value, bool):
                raise UserError("field_type", field="device.charging", label="device.charging")
        elif value is not None and not isinstance(value, str):
            raise UserError("field_type", field=f"device.{key}", label=f"device.{key}")
        out[key] = value[:300] if isinstance(value, str) else value
    return out


class CandidateNamespace(TakeEvents, RoleNamespace):
    ROLES = ("candidate",)
    EVENTS = {
        "queue:join": {
            "exam_id": Field("str", max_len=40),
            "slot_id": Field("str", max_len=40),
            "device": Field("dict"),
        },
        "queue:state": {},
        "room:enter": {"room_id": Field("str", max_len=40)},
        "rtc:config": {},
        "rtc:join": {"room_id": ROOM_ID, "sdp": SDP},
        "rtc:restart": {"room_id": ROOM_ID, "sdp": SDP},
        "rtc:answer": {"room_id": ROOM_ID, "sdp": SDP},
        "room:phrase": {"room_id": ROOM_ID, "phrase": Field("str", max_len=20)},
        "room:device": {
            "room_id": ROOM_ID,
            "event": Field("str", max_len=30),
            "level": Field("int", required=False, min=0, max=100),  # battery, percent
            "charging": Field("bool", required=False),
        },
        "face:live": {"exam_id": Field("str", max_len=40), "sdp": SDP},
        **TAKE_EVENTS,  # recorded takes (server/signaling/recorded.py)
    }
    rooms: RoomSignals  # given by server/wiring.py
    face_live: FaceLiveSignals | None = (
        None  # the live face check (server/signaling/face_live.py), given by server/wiring.py
    )
    device_buckets: dict[str, TokenBucket]  # room:device events per candidate (this process's sockets)
    device_refused = 0  # room:device events refused as a flood since the start

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.device_buckets = {}

    async def admit(self, sid: str, user: User, auth: dict) -> None:
        await self.enter_room(sid, candidate_room(user.account.id))
        for room_id in await self.services.bookings.rooms_of(user.account.id):
            await self.enter_room(sid, line_room(room_id))
        await self.services.queue.touch({user.account.id: [sid]}, self.settings.presence_ttl_s)

    async def welcome(self, sid: str, user: User) -> None:
        """Reconnecting restores the place with no action: presence is back, the sweep notices it."""
        for entry in await self.services.queue.entries_of(user.account.id):
            if entry.state in ACTIVE:
                await self.services.queue.sweep(entry.room)
        await self.emit("queue:snapshot", await self.states(user), to=sid)
        for entry in await self.services.queue.entries_of(user.account.id):
            if entry.state == IN_ROOM:  # its media went with a node that died: a new connection now
                await self._router().rejoin_if_absent(sid, self.namespace, entry.room, user.account.id)

    async def gone(self, sid: str, user: User) -> None:
        if self.face_live is not None:
            await self.face_live.gone(sid)
        await self.services.queue.drop(user.account.id, sid)
        if not any(u.account.id == user.account.id for s, u in self.users.items() if s != sid):
            self.device_buckets.pop(user.account.id, None)

    async def states(self, user: User) -> dict:
        return {
            "entries": [
                candidate_state(await room_view(self.services.store, entry.room), entry, user.lang)
                for entry in await self.services.queue.entries_of(user.account.id)
            ]
        }

    async def on_queue_join(self, sid: str, user: User, data: dict) -> dict:
        entry = await self.services.queue.join(
            user.account, data["exam_id"], data["slot_id"], device_report(data["device"])
        )
        return {"entry": candidate_state(await room_view(self.services.store, entry.room), entry, user.lang)}

    async def on_queue_state(self, sid: str, user: User, data: dict) -> dict:
        return await self.states(user)

    async def on_face_live(self, sid: str, user: User, data: dict) -> dict:
        """The queue-entry face check on the camera published to the server (docs/facecheck.md)."""
        if not is_id(data["exam_id"]):
            raise UserError("exam_not_found", field="exam_id")
        assert self.face_live is not None, "server/wiring.py gives the candidates' namespace the live face check"
        return await self.face_live.start(sid, user, data["exam_id"], data["sdp"])

    async def on_room_enter(self, sid: str, user: User, data: dict) -> dict:
        entry = await self.services.queue.enter_room(user.account, _room(data))
        return {"entry": candidate_state(await room_view(self.services.store, entry.room), entry, user.lang)}

    async def on_rtc_join(self, sid: str, user: User, data: dict) -> dict:
        room_id = _room(data)
        router = self._router()
        answer = await router.candidate_join(user.account, room_id, data["sdp"])  # on the room's node
        await router.joined(sid, self.namespace, room_id)
        return {"sdp": answer}

    async def on_rtc_restart(self, sid: str, user: User, data: dict) -> dict:
        return await self.on_rtc_join(sid, user, data)  # a new connection replaces the old one

    async def on_rtc_answer(self, sid: str, user: User, data: dict) -> dict:
        await self._in_room(user, _room(data))
        await self._router().answer(data["room_id"], user.account.id, data["sdp"])
        return {}

    async def on_room_phrase(self, sid: str, user: User, data: dict) -> dict:
        if data["phrase"] not in PHRASES:
            raise UserError("phrase_unknown", field="phrase")
        entry = await self._in_room(user, _room(data))
        code = f"phrase_{data['phrase']}"
        await self.rooms.room_event(
            entry.room,
            "room:phrase",
            {
                "account_id": user.account.id,
                "name": entry.name,
                "phrase": data["phrase"],
                "message": {lg: message(code, lg) for lg in ("zh", "en")},
                "at": time.time(),
            },
        )
        return {}

    async def on_room_device(self, sid: str, user: User, data: dict) -> dict:
        """The page reports on itself while in the interview (visibility, its camera and microphone
        tracks, the battery): each may raise or clear a page flag (docs/facecheck.md "Watching the
        interview"). At most ROOM_EVENTS_BURST at once and ROOM_EVENTS_PER_S after: a flood is refused
        (``room_events_rate_limited``) and counted, before anything reaches the room's node."""
        if data["event"] not in PAGE_EVENTS:
            raise UserError("room_event_unknown", field="event")
        bucket = self.device_buckets.setdefault(user.account.id, TokenBucket(ROOM_EVENTS_PER_S, ROOM_EVENTS_BURST))
        if not bucket.take():
            self.device_refused += 1
            raise UserError("room_events_rate_limited")
        entry = await self._in_room(user, _room(data))
        if entry.state != IN_ROOM:
            raise UserError("room_not_admitted", field="room_id")
        await self._router().page_event(user.account.id, entry.room, data["event"], data["level"], data["charging"])
        return {}

    async def _in_room(self, user: User, room_id: str):
        entry = await self.services.queue.entry(room_id, user.account.id)
        if entry is None or entry.state not in (CALLED, IN_ROOM):
            raise UserError("room_not_admitted", field="room_id")
        return entry


def _room(data: dict) -> str:
    if not is_id(data["room_id"]):
        raise UserError("room_not_admitted", field="room_id")
    return data["room_id"]
