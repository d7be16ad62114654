"""The auxiliary camera's socket (双机位): no login, a signed token from the candidate's QR code,
a device id, and video only; it joins the room once its candidate has been called. It lives by the
candidate's login session: the candidate's logout (or the account's disabling) cuts it, and so does
the end of the interview for its next event (the code's generation is over)."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import UserError
from ..i18n import pick_lang
from ..queue.entries import CALLED, IN_ROOM
from ..rooms.aux_tokens import AuxGrant, AuxToken
from ..store.models import Account
from .base import Refused, RoleNamespace, User
from .candidate import SDP
from .fanout import aux_room
from .limits import TokenBucket
from .rooms import RoomSignals

log = logging.getLogger("server.signaling")


class AuxNamespace(RoleNamespace):
    EVENTS = {"rtc:config": {}, "rtc:join": {"sdp": SDP}, "rtc:restart": {"sdp": SDP}}
    ENDED_CODE = "aux_ended"
    rooms: RoomSignals  # given by server/wiring.py

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grants: dict[str, AuxGrant] = {}  # sid -> what the device was admitted with

    async def on_connect(self, sid: str, environ: dict, auth: Any) -> None:
        request = environ.get("aiohttp.request")
        lang = pick_lang(
            request.cookies.get("lang") if request else None,
            request.headers.get("Accept-Language") if request else None,
            self.settings.default_lang,
        )
        auth = auth if isinstance(auth, dict) else {}
        tokens = self.services.aux_tokens
        try:
            token: AuxToken = await tokens.verify(auth.get("token"))
            if token.kind != "camera":  # a prompt viewer's code (docs/recorded.md): never a camera
                raise UserError("aux_prompt_only")
            grant = await tokens.admit_device(token, auth.get("device"))
        except UserError as err:
            raise Refused(err.code, lang, **err.params) from None
        candidate = Account(id=token.account_id, role="candidate")
        user = User(
            candidate,
            lang,
            TokenBucket(self.settings.signal_rate_per_s, self.settings.signal_burst),
            {"exam_id": token.exam_id, "participant": f"aux_{auth['device'][:12]}"},
            session=grant.session,
        )
        self.grants[sid] = grant
        self.users[sid] = user
        self.recheck(sid, user)
        await self.enter_room(sid, aux_room(user.scope["participant"]))
        await self.enter_room(sid, aux_room(f"of:{token.account_id}"))
        log.info("aux camera connected", extra={"account": token.account_id, "sid": sid, "token": token.id})
        self.server.start_background_task(self._welcome, sid, user)

    async def welcome(self, sid: str, user: User) -> None:
        entry = await self._entry(user)
        filming = await self._router().aux_state(user.account.id, user.scope["exam_id"])  # on any node
        if filming is not None and (entry is None or entry.state not in (CALLED, IN_ROOM)):
            await self.emit("aux:state", filming, to=sid)  # a recorded take is being filmed
            return
        await self.emit(
            "aux:state", {"state": entry.state if entry else "none", "room_id": entry.room if entry else None}, to=sid
        )
        if entry is not None and entry.state == IN_ROOM:  # its media went with a node that died: reconnect now
            await self._router().rejoin_if_absent(sid, self.namespace, entry.room, user.scope["participant"])

    async def _entry(self, user: User):
        for entry in await self.services.queue.entries_of(user.account.id):
            if entry.exam == user.scope["exam_id"]:
                return entry
        return None

    async def still_valid(self, sid: str, user: User) -> bool:
        grant = self.grants.get(sid)
        return grant is not None and await self.services.aux_tokens.still_valid(grant)

    def ended_message(self, reason: str) -> str:
        return "aux_ended"

    async def gone(self, sid: str, user: User) -> None:
        self.grants.pop(sid, None)
        router = self._router()
        if router.moving:
            return  # this node is stopping: the phone reconnects to another node and keeps its media
        room_id = user.scope.get("media_room")
        if room_id:
            await router.leave(room_id, user.scope["participant"])

    async def on_rtc_join(self, sid: str, user: User, data: dict) -> dict:
        answer = await self._join(user, data["sdp"])
        await self._router().joined(sid, self.namespace, user.scope["media_room"])
        return {"sdp": answer}

    async def on_rtc_restart(self, sid: str, user: User, data: dict) -> dict:
        return await self.on_rtc_join(sid, user, data)  # a new connection replaces the old one

    async def _join(self, user: User, sdp: str) -> str:
        room_id, answer = await self._router().aux_join(
            user.account.id, user.scope["exam_id"], user.scope["participant"], sdp
        )  # the candidate's interview room, or the booth of their take, on its node
        user.scope["media_room"] = room_id
        return answer
