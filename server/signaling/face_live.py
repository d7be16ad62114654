"""The candidate's socket side of the live face check (docs/facecheck.md "Live challenge").

``face:live {exam_id, sdp}``: the page offers its camera; the server answers (``sdp``) and gives the
check's ``challenge_id``, then, on this socket only: ``face:move {index, total, move, deadline_ms,
text}`` when it asks a move (only once frames arrived, at a moment it picks), ``face:progress
{index, total, done}`` when a move was seen, ``face:hold {index, text}`` when the head should face
the camera again, and ``face:result`` (the check's answer, as the old HTTP answer: passed, reason,
message, advice, strikes_left, locked; plus ``counted``). The publish is closed when the check ends,
and when the socket goes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import socketio

from ..errors import UserError
from ..facecheck.live_check import LiveCheck
from ..facecheck.moves import draw_sequence
from ..i18n import message
from ..rooms.face_publish import FacePublish
from ..rooms.ice import rtc_ice_servers
from ..rooms.interviews import Interviews
from ..rooms.media import MediaError
from ..services import Services
from .fanout import CANDIDATE
from .rooms import media_error

if TYPE_CHECKING:
    from .base import User

log = logging.getLogger("server.signaling")


class FaceLiveSignals:
    def __init__(self, sio: socketio.AsyncServer, services: Services, interviews: Interviews) -> None:
        self.sio, self.services, self.interviews = sio, services, interviews
        self.publishes: dict[str, FacePublish] = {}  # sid -> the publish of its running check
        self.tasks: set[asyncio.Task] = set()

    async def start(self, sid: str, user: User, exam_id: str, sdp: str) -> dict:
        checks = self.services.face_checks
        account = user.account
        entry, reference = await checks.live_ready(account, exam_id)
        token = await checks.hold_running(account)
        try:
            publish = FacePublish(rtc_ice_servers(self.interviews.ice_servers_for(f"face-{account.id}")))
            try:
                answer = await publish.answer(sdp)
            except MediaError as exc:
                raise media_error(exc) from None
            sequence = draw_sequence()
            challenge_id = await checks.open_live_challenge(account, exam_id, sequence)
        except BaseException:
            await checks.release_running(account, token)
            raise
        self.publishes[sid] = publish
        task = asyncio.create_task(
            self._run(sid, user, exam_id, entry, reference, publish, sequence, challenge_id, token)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        log.info("live face check opened", extra={"account": account.id, "exam": exam_id, "challenge": challenge_id})
        return {"sdp": self.interviews.announced(answer), "challenge_id": challenge_id}

    async def _run(self, sid, user, exam_id, entry, reference, publish, sequence, challenge_id, token) -> None:
        checks = self.services.face_checks
        account, lang = user.account, user.lang

        async def tell(event: str, payload: dict) -> None:
            payload = {**payload, "challenge_id": challenge_id}
            if event == "face:move":
                payload["text"] = message(f"face_move_{payload['move']}", lang)
            elif event == "face:hold":
                payload["text"] = message("face_hold_front", lang)
            await self.sio.emit(event, payload, to=sid, namespace=CANDIDATE)

        result: dict
        try:
            pool = checks.require_pool()
            check = LiveCheck(pool, reference, publish.frames(), sequence, tell, max_side=checks.max_frame_side)
            outcome = await check.run()
            await publish.close()
            if outcome.strike:
                recorded = await checks.record_live(
                    account,
                    exam_id,
                    challenge_id,
                    entry,
                    outcome.reason,
                    outcome.distance,
                    outcome.details,
                    outcome.frames,
                )
                result = {**recorded.to_json(lang), "counted": True}
            else:
                await checks.drop_live_challenge(challenge_id)
                status = await checks.gate.status(exam_id, account.id)
                result = checks.uncounted(outcome.reason, status.strikes, lang)
            log.info(
                "live face check",
                extra={
                    "account": account.id,
                    "exam": exam_id,
                    "reason": outcome.reason or None,
                    "strike": outcome.strike,
                },
            )
        except UserError as err:
            result = {
                "passed": False,
                "counted": False,
                "reason": err.code,
                "message": message(err.code, lang, **err.params),
            }
        except Exception:
            log.exception("live face check failed", extra={"account": account.id, "exam": exam_id})
            result = {"passed": False, "counted": False, "reason": "internal", "message": message("internal", lang)}
        finally:
            self.publishes.pop(sid, None)
            await publish.close()
            await checks.release_running(account, token)
        await self.sio.emit("face:result", {**result, "challenge_id": challenge_id}, to=sid, namespace=CANDIDATE)

    async def gone(self, sid: str) -> None:
        """The socket went: its publish closes (the check ends as its video ended)."""
        publish = self.publishes.pop(sid, None)
        if publish is not None:
            await publish.close()

    async def close(self) -> None:
        for publish in list(self.publishes.values()):
            await publish.close()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
