"""Marking over HTTP (docs/marking.md): the admin sets a subject's rubric and reopens a sealed mark
sheet with a reason or excuses an absent examiner from an interview's marking; an examiner lists their room's interviews, reads and drafts their mark sheet of
one, seals it, and lists the ended interviews they have not marked yet. Every refusal is a
``UserError`` with its message and changes nothing (server/marking/)."""

from __future__ import annotations

from aiohttp import web

from ..marking.rubrics import Rubric
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES, account_of
from .routing import Routes

routes = Routes()
ADMIN = ("admin",)
EXAMINER = ("examiner",)
SHEET_BODY = {
    "marks": Field("dict", label="marks"),
    "comment": Field("str", required=False, max_len=1000, default="", label="mark_comment"),
}
REOPEN_BODY = {"reason": Field("str", max_len=200, label="reason")}


def _path(request: web.Request) -> tuple[str, str]:
    return request.match_info["room_id"], request.match_info["interview_id"]


# the admin
@routes.get("/api/admin/exams/{exam_id}/subjects/{subject_id}/rubric", ADMIN)
async def get_rubric(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    subject = await services.catalog.subject(request.match_info["exam_id"], request.match_info["subject_id"])
    rubric = await services.rubrics.get(subject.id)
    sealed = await services.rubrics.sealed_count(subject.id)
    return web.json_response({"rubric": rubric.to_json() if rubric else None, "in_use": sealed > 0})


@routes.put("/api/admin/exams/{exam_id}/subjects/{subject_id}/rubric", ADMIN)
async def put_rubric(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    exam_id, subject_id = request.match_info["exam_id"], request.match_info["subject_id"]
    subject = await services.catalog.subject(exam_id, subject_id)  # subject_not_found first
    rubric = Rubric.from_json(subject.id, await read_json(request))
    saved = await services.rubrics.set(actor(request), exam_id, subject.id, rubric)
    return web.json_response({"rubric": saved.to_json(), "in_use": False})


@routes.get("/api/admin/interviews/{interview_id}/marks", ADMIN)
async def admin_marks(request: web.Request) -> web.Response:
    """Every sheet of the interview and the panel's status (the admin's view: nothing hidden)."""
    marks = request.app[SERVICES].interview_marks
    interview_id = request.match_info["interview_id"]
    interview = await marks.find(interview_id)
    sheets = await marks.sheets(interview.id)
    status = await marks.status(interview)
    return web.json_response(
        {"status": status.to_json(), "sheets": [sheet.to_json() for _, sheet in sorted(sheets.items())]}
    )


@routes.post("/api/admin/interviews/{interview_id}/marks/{examiner_id}/reopen", ADMIN)
async def reopen(request: web.Request) -> web.Response:
    body = check(await read_json(request), REOPEN_BODY)
    sheet = await request.app[SERVICES].interview_marks.reopen(
        actor(request), request.match_info["interview_id"], request.match_info["examiner_id"], body["reason"]
    )
    return web.json_response({"sheet": sheet.to_json()})


@routes.post("/api/admin/interviews/{interview_id}/marks/{examiner_id}/excuse", ADMIN)
async def excuse(request: web.Request) -> web.Response:
    """Excuse an examiner who has not sealed from the interview's marking, with a reason (audited
    ``marks_excused``): the others' marks and the final mark no longer wait for them."""
    body = check(await read_json(request), REOPEN_BODY)
    status = await request.app[SERVICES].interview_marks.excuse(
        actor(request), request.match_info["interview_id"], request.match_info["examiner_id"], body["reason"]
    )
    return web.json_response({"status": status.to_json()})


# the examiner
@routes.get("/api/examiner/rooms/{room_id}/interviews", EXAMINER)
async def room_interviews(request: web.Request) -> web.Response:
    marks = request.app[SERVICES].interview_marks
    return web.json_response({"interviews": await marks.of_room(account_of(request).id, request.match_info["room_id"])})


@routes.get("/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks", EXAMINER)
async def get_marks(request: web.Request) -> web.Response:
    room_id, interview_id = _path(request)
    return web.json_response(
        await request.app[SERVICES].interview_marks.view(account_of(request).id, room_id, interview_id)
    )


@routes.put("/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks", EXAMINER)
async def save_marks(request: web.Request) -> web.Response:
    room_id, interview_id = _path(request)
    marks = request.app[SERVICES].interview_marks
    me = account_of(request).id
    await marks.interview_of(me, room_id, interview_id)  # interview_not_found before any body check
    body = check(await read_json(request), SHEET_BODY)
    sheet = await marks.save(actor(request), room_id, interview_id, body["marks"], body["comment"])
    return web.json_response({"sheet": sheet.to_json()})


@routes.post("/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks/seal", EXAMINER)
async def seal_marks(request: web.Request) -> web.Response:
    room_id, interview_id = _path(request)
    marks = request.app[SERVICES].interview_marks
    me = account_of(request).id
    await marks.interview_of(me, room_id, interview_id)
    body = check(await read_json(request), SHEET_BODY)
    await marks.seal(actor(request), room_id, interview_id, body["marks"], body["comment"])
    return web.json_response(await marks.view(me, room_id, interview_id))


@routes.get("/api/examiner/marking/unfinished", EXAMINER)
async def unfinished(request: web.Request) -> web.Response:
    items = await request.app[SERVICES].interview_marks.unfinished(account_of(request).id)
    return web.json_response({"interviews": items})
