"""The prompt viewer (docs/recorded.md "The question on a second phone"): for a drawn-question subject whose
prompt is read on another device while the phone films (004_* 视奏: "借助另一部移动终端设备来查看所抽选的视奏谱"),
the recorded page's QR code opens ``/aux/<token>`` as a viewer of the question the candidate's running take
drew, instead of a camera.

The viewer has no login: its code is the aux camera's (signed, expiring, bound to the candidate's session,
void after logout or a newer code), marked ``prompt`` and naming the subject. It is not a device of the aux
camera limit and not a take: it only reads. It asks ``GET /api/prompt/{token}`` every few seconds and shows
the running take's question (nothing before a take has drawn one, and the next take's once it starts)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ..errors import UserError
from ..recorded.take_forms import question_view
from ..rooms.aux_tokens import AuxToken
from ..store.models import Subject
from .context import SERVICES
from .questions_api import media_response
from .routing import PUBLIC, Routes

routes = Routes()


async def prompt_subject(services: Any, exam_id: str, subject_id: str) -> Subject:
    """The subject, if its drawn questions are read on a second phone; else ``not_found``."""
    subject = await services.catalog.subject(exam_id, subject_id)
    if not (subject.recorded and subject.form == "question" and subject.prompt_device):
        raise UserError("not_found")
    return subject


async def _viewer(request: web.Request) -> AuxToken:
    tokens = request.app[SERVICES].aux_tokens
    token = await tokens.verify(request.match_info["token"])
    await tokens.usable(token)  # logged out, or replaced by a newer code
    if token.kind != "prompt":
        raise UserError("aux_token_invalid")
    return token


@routes.get("/api/prompt/{token}", PUBLIC)
async def prompt_state(request: web.Request) -> web.Response:
    """``waiting`` (no take recording), ``preparing`` or ``answering``, with the running take's question."""
    token = await _viewer(request)
    take = await request.app[SERVICES].sittings.running_take(token.exam_id, token.subject_id, token.account_id)
    now = time.time()
    if take is None or not take.question:
        return web.json_response({"state": "waiting", "now": now, "take_id": None, "question": None})
    question = question_view(take) or {}
    media = f"/api/prompt/{request.match_info['token']}/media?take={take.id}" if question.get("media_kind") else None
    return web.json_response(
        {
            "state": "preparing" if now < take.answer_at else "answering",
            "now": now,
            "take_id": take.id,
            "number": take.number,
            "answer_at": take.answer_at,
            "stop_at": take.stop_at,
            "question": {"text": question["text"], "media_kind": question["media_kind"], "media_url": media},
        }
    )


@routes.get("/api/prompt/{token}/media", PUBLIC)
async def prompt_media(request: web.Request) -> web.StreamResponse:
    """The running take's question image or audio (none: ``take_no_question``)."""
    token = await _viewer(request)
    take = await request.app[SERVICES].sittings.running_take(token.exam_id, token.subject_id, token.account_id)
    q = take.question if take is not None else {}
    if not q.get("media_sha256"):
        raise UserError("take_no_question")
    return media_response(request, q["media_sha256"], q.get("media_type", ""))
