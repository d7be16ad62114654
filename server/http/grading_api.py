"""Graders of recorded subjects over HTTP (docs/recorded.md "Graders"): the admin assigns examiner
accounts to a recorded subject; a grader lists the submissions of their subjects behind anonymous codes
and plays them (main camera and aux cameras, range requests) by code, on the page ``/examiner/grading``.

What a grader's answer holds is spelled out in ``submission_json`` and nothing else: the candidate's
name, ID number and account, the exam code (考试码), the face result, the sitting's and take's ids, the
checksum and the submission time never reach a grader (docs/recorded.md)."""

from __future__ import annotations

import re

import aiohttp_jinja2
from aiohttp import web

from ..errors import UserError
from ..recorded.grading import Submission
from ..recorded.take_files import content_type, main_name
from ..recorded.take_forms import question_view, steps_view
from ..store.models import Take
from .admin_api import actor
from .artwork_api import grader_photos
from .body import Field, check, read_json
from .context import SERVICES, account_of
from .recording_files import send_take_file
from .routing import Routes

routes = Routes()
GRADER = ("examiner",)
ADMIN = ("admin",)
AUX_N = re.compile(r"^[1-9][0-9]?$")
GRADERS_BODY = {"account_ids": Field("list[str]", max_len=100)}


def submission_json(sub: Submission) -> dict:
    """The submission as a grader sees it: every field named here, nothing copied wholesale."""
    take = sub.take
    base = f"/api/grader/submissions/{sub.code}"
    playable = bool(take.playable_at) and main_name(take.files) is not None
    return {
        "code": sub.code,
        "exam": {"name": sub.exam.name, "school": sub.exam.school},
        "subject": {"id": sub.subject.id, "name": sub.subject.name},
        "state": sub.state,
        "duration_s": round(take.duration_s, 1),
        "orientation": take.orientation,
        "video_url": f"{base}/video" if playable else None,
        "aux": [{"n": n, "url": f"{base}/aux/{n}", "offset_s": offset} for n, _, offset in sub.aux_files]
        if playable
        else [],
        "photos": grader_photos(sub),  # artwork: by number, no file name, no time (artwork_api.py)
        # a drawn question (the question is fine to show; the candidate is not) or a guided take's steps
        "form": take.form,
        "question": _question(sub, base),
        "steps": steps_view(take),
    }


def _question(sub: Submission, base: str) -> dict | None:
    question = question_view(sub.take)
    if question is None:
        return None
    media = f"{base}/question" if question["media_kind"] else None
    return {"text": question["text"], "media_kind": question["media_kind"], "media_url": media}


async def _video(request: web.Request, found: tuple[Take, str]) -> web.StreamResponse:
    """The file with ranges, from this node's disk or the node that wrote it, without Last-Modified or ETag
    (they would date the submission: blind_file.py)."""
    take, name = found
    headers = {
        "Content-Type": content_type(name),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return await send_take_file(request, take, name, headers, blind=True)


@routes.get("/api/grader/subjects", GRADER)
async def my_subjects(request: web.Request) -> web.Response:
    """The recorded subjects the examiner grades (empty: not a grader)."""
    pairs = await request.app[SERVICES].grading.subjects_of(account_of(request))
    return web.json_response(
        {
            "subjects": [
                {
                    "id": s.id,
                    "name": s.name,
                    "exam": {"name": e.name, "school": e.school},
                    "window_closes": s.window_closes,
                }
                for e, s in pairs
            ]
        }
    )


@routes.get("/api/grader/submissions", GRADER)
async def my_submissions(request: web.Request) -> web.Response:
    """The submissions of the subjects the examiner grades (``?subject=`` one of them), by subject and code."""
    subject = request.query.get("subject") or None
    subs = await request.app[SERVICES].grading.submissions(account_of(request), subject)
    return web.json_response({"submissions": [submission_json(s) for s in subs]})


@routes.get("/api/grader/submissions/{code}/video", GRADER)
async def submission_video(request: web.Request) -> web.StreamResponse:
    grading = request.app[SERVICES].grading
    return await _video(request, await grading.file_of(account_of(request), request.match_info["code"]))


@routes.get("/api/grader/submissions/{code}/aux/{n}", GRADER)
async def submission_aux(request: web.Request) -> web.StreamResponse:
    grading = request.app[SERVICES].grading
    account, code, n = account_of(request), request.match_info["code"], request.match_info["n"]
    await grading.submission(account, code)  # a code not theirs is submission_not_found before anything else
    if not AUX_N.match(n):
        raise UserError("take_file_missing")
    return await _video(request, await grading.file_of(account, code, f"aux-{n}.webm"))


@routes.get("/api/admin/exams/{exam_id}/graders", ADMIN)
async def exam_graders(request: web.Request) -> web.Response:
    """Every recorded subject of the exam -> the account ids of its graders."""
    graders = await request.app[SERVICES].grading.graders(request.match_info["exam_id"])
    return web.json_response({"graders": graders})


@routes.put("/api/admin/exams/{exam_id}/subjects/{subject_id}/graders", ADMIN)
async def set_graders(request: web.Request) -> web.Response:
    """Replace the recorded subject's graders (examiner accounts only); audited ``subject_graders_set``."""
    body = check(await read_json(request), GRADERS_BODY)
    graders = await request.app[SERVICES].grading.assign(
        actor(request), request.match_info["exam_id"], request.match_info["subject_id"], body["account_ids"]
    )
    return web.json_response({"subject_id": request.match_info["subject_id"], "graders": graders})


@routes.get("/examiner/grading", GRADER, page=True)
async def grading_page(request: web.Request) -> web.StreamResponse:
    """录制科目评阅: the examiner's recorded subjects and their submissions by anonymous code."""
    pairs = await request.app[SERVICES].grading.subjects_of(account_of(request))
    subjects = [{"id": s.id, "name": s.name, "exam": e.name} for e, s in pairs]
    return aiohttp_jinja2.render_template("grading.html", request, {"subjects": subjects})
