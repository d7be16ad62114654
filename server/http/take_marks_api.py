"""Blind double marking of recorded submissions over HTTP (docs/marking.md "Recorded submissions"): a grader's
queue of assigned codes and their mark sheets (draft, seal), the admin's progress, catch-up assignment and
reopening. What a grader gets of a submission is ``grading_api.submission_json``: the code, never the
candidate; and only their own sheet (marking is blind)."""

from __future__ import annotations

from aiohttp import web

from ..marking.take_marks import COMMENT_MAX, REASON_MAX, Sheet
from ..recorded.grading import marking_open
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES, account_of
from .grading_api import submission_json
from .routing import Routes

routes = Routes()
GRADER = ("examiner",)
ADMIN = ("admin",)
MARKS_BODY = {
    "marks": Field("dict"),
    "comment": Field("str", required=False, max_len=COMMENT_MAX, default="", label="评语"),
}
REOPEN_BODY = {"reason": Field("str", max_len=REASON_MAX, label="原因")}


def sheet_state(sheet: Sheet) -> dict:
    return {"state": sheet.state, "total": sheet.total, "saved_at": sheet.saved_at or None}


@routes.get("/api/grader/queue", GRADER)
async def my_queue(request: web.Request) -> web.Response:
    """The codes assigned to the grader of the subjects whose window has closed, in assignment order, each
    with their own sheet's state; ``waiting``: the subjects they grade whose window is still open (graded
    from its close). No catch-up here: assignment follows the submissions, the rubric and the graders."""
    services = request.app[SERVICES]
    account = account_of(request)
    found = await services.take_marks.queue(account)
    waiting = [
        {"subject": {"id": s.id, "name": s.name}, "exam": {"name": e.name}, "opens_at": s.window_closes}
        for e, s in await services.grading.subjects_of(account)
        if not marking_open(s)
    ]
    return web.json_response(
        {"queue": [{**submission_json(sub), "sheet": sheet_state(sheet)} for sub, sheet in found], "waiting": waiting}
    )


async def _sheet_answer(request: web.Request, sheet: Sheet | None = None) -> web.Response:
    take_marks = request.app[SERVICES].take_marks
    _, own, rubric = await take_marks.sheet(account_of(request), request.match_info["code"])
    return web.json_response({"sheet": (sheet or own).to_json(), "rubric": rubric.to_json()})


@routes.get("/api/grader/submissions/{code}/marks", GRADER)
async def my_marks(request: web.Request) -> web.Response:
    """The grader's own sheet of the code and the subject's rubric (not another grader's marks)."""
    return await _sheet_answer(request)


@routes.put("/api/grader/submissions/{code}/marks", GRADER)
async def save_marks(request: web.Request) -> web.Response:
    """A draft, saved as the grader types (marks may be incomplete)."""
    body = check(await read_json(request), MARKS_BODY)
    sheet = await request.app[SERVICES].take_marks.save(
        account_of(request), request.match_info["code"], body["marks"], body["comment"]
    )
    return await _sheet_answer(request, sheet)


@routes.post("/api/grader/submissions/{code}/marks/seal", GRADER)
async def seal_marks(request: web.Request) -> web.Response:
    """ "提交评分": every criterion marked; sealed for good (audited ``take_mark_sealed``)."""
    body = check(await read_json(request), MARKS_BODY)
    sheet = await request.app[SERVICES].take_marks.seal(
        account_of(request), request.match_info["code"], body["marks"], body["comment"]
    )
    return await _sheet_answer(request, sheet)


@routes.get("/api/admin/exams/{exam_id}/marking/progress", ADMIN)
async def marking_progress(request: web.Request) -> web.Response:
    """Per recorded subject and grader: assigned, sealed, waiting for a third, final marks (after a catch-up)."""
    subjects = await request.app[SERVICES].take_marks.progress(request.match_info["exam_id"])
    return web.json_response({"subjects": subjects})


@routes.post("/api/admin/exams/{exam_id}/subjects/{subject_id}/marking/assign", ADMIN)
async def assign_marking(request: web.Request) -> web.Response:
    """ "分配评阅": assign the subject's submissions that lack graders (or a due third)."""
    check(await read_json(request), {})
    answer = await request.app[SERVICES].take_marks.assign_subject(
        actor(request), request.match_info["exam_id"], request.match_info["subject_id"]
    )
    return web.json_response(answer)


@routes.post("/api/admin/take-marks/{code}/{grader_id}/reopen", ADMIN)
async def reopen_marks(request: web.Request) -> web.Response:
    """Reopen a grader's sealed sheet with a reason (audited ``take_mark_reopened``)."""
    body = check(await read_json(request), REOPEN_BODY)
    sheet = await request.app[SERVICES].take_marks.reopen(
        actor(request), request.match_info["code"], request.match_info["grader_id"], body["reason"]
    )
    return web.json_response({"sheet": sheet.to_json()})
