"""Drawn questions and guided items over HTTP (docs/recorded.md "Question bank", "Guided items"): the
admin's question bank of a recorded subject (add, import a zip, delete, preview) and a guided subject's
steps (with their audio guides); the page ``/admin/exams/{exam}/subjects/{subject}/content``; and the files
a take brought, served to whom may see them: the candidate their own take's drawn question and step
guides, a grader the question of a submission they grade (by its anonymous code).

No route gives a candidate the bank: a candidate reaches a question only through a take of theirs that
drew it (``Take.question``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from ..errors import UserError
from ..recorded.question_import import import_zip
from ..recorded.question_media import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES, inspect
from ..recorded.questions import MAX_TEXT, Draft, draft
from ..store.models import Question, Take, public
from .admin_api import actor
from .body import Field, check, read_json
from .context import LANG, SERVICES, SETTINGS, account_of
from .multipart import read_form
from .routing import Routes

routes = Routes()
ADMIN = ("admin",)
CANDIDATE = ("candidate",)
GRADER = ("examiner",)
BASE = "/api/admin/exams/{exam_id}/subjects/{subject_id}"
MAX_FILE = max(MAX_IMAGE_BYTES, MAX_AUDIO_BYTES)
STEPS_BODY = {"steps": Field("list[dict]", max_len=100)}


def question_json(q: Question) -> dict:
    base = f"/api/admin/exams/{q.exam_id}/subjects/{q.subject_id}/questions/{q.id}"
    return public(q) | {"media_url": f"{base}/media" if q.media_sha256 else None}


def media_response(request: web.Request, sha256: str, content_type: str) -> web.StreamResponse:
    """A question's or a step's file from the content store (range requests: audio seeks)."""
    path: Path | None = request.app[SERVICES].question_files.path(sha256)
    if path is None or not content_type:
        raise UserError("not_found")
    headers = {"Content-Type": content_type, "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    return web.FileResponse(path, headers=headers)


# --- the admin's question bank --------------------------------------------------------------------


@routes.get(BASE + "/questions", ADMIN)
async def list_questions(request: web.Request) -> web.Response:
    bank = request.app[SERVICES].questions
    exam_id, subject_id = request.match_info["exam_id"], request.match_info["subject_id"]
    questions = await bank.of_subject(exam_id, subject_id)
    return web.json_response(
        {"questions": [question_json(q) for q in questions], "counts": await bank.counts(subject_id)}
    )


@routes.post(BASE + "/questions", ADMIN)
async def add_question(request: web.Request) -> web.Response:
    """multipart/form-data: ``use`` (formal | mock), ``text`` and/or ``file`` (an image or an audio prompt)."""
    parts = await read_form(
        request, {"use": 64, "text": MAX_TEXT * 4, "file": MAX_FILE}, MAX_FILE + MAX_TEXT * 4, "file"
    )
    use = parts["use"].text if "use" in parts else ""
    text = parts["text"].text if "text" in parts else ""
    upload = parts.get("file")
    data = upload.data if upload is not None and (upload.data or upload.filename) else None
    checked = await _draft(use, text, data, upload.filename if upload else "")
    exam_id, subject_id = request.match_info["exam_id"], request.match_info["subject_id"]
    (question,) = await request.app[SERVICES].questions.add(actor(request), exam_id, subject_id, [checked])
    return web.json_response({"question": question_json(question)}, status=201)


async def _draft(use: str, text: str, data: bytes | None, name: str) -> Draft:
    return await asyncio.to_thread(draft, use, text, data, name)  # a file is decoded to be checked


@routes.post(BASE + "/questions/import", ADMIN)
async def import_questions(request: web.Request) -> web.Response:
    """multipart/form-data ``file``: a zip with a CSV index (用途, 题目, 文件) and the files it names. All rows
    stored (200) or none (422), with the report row by row."""
    limit = request.app[SETTINGS].max_upload_bytes
    parts = await read_form(request, {"file": limit}, limit, "file")
    if "file" not in parts or not parts["file"].data:
        raise UserError("field_required", field="file", label="file")
    result = await import_zip(
        request.app[SERVICES].questions,
        actor(request),
        request.match_info["exam_id"],
        request.match_info["subject_id"],
        parts["file"].data,
    )
    return web.json_response(result.to_json(request[LANG]), status=200 if result.stored else 422)


@routes.delete(BASE + "/questions/{question_id}", ADMIN)
async def delete_question(request: web.Request) -> web.Response:
    m = request.match_info
    await request.app[SERVICES].questions.delete(actor(request), m["exam_id"], m["subject_id"], m["question_id"])
    return web.json_response({"ok": True})


@routes.get(BASE + "/questions/{question_id}/media", ADMIN)
async def question_media(request: web.Request) -> web.StreamResponse:
    m = request.match_info
    question = await request.app[SERVICES].questions.get(m["exam_id"], m["subject_id"], m["question_id"])
    return media_response(request, question.media_sha256, question.media_type)


# --- a guided subject's steps --------------------------------------------------------------------------


@routes.put(BASE + "/steps", ADMIN)
async def set_steps(request: web.Request) -> web.Response:
    """The steps, replaced whole: ``[{text, duration_s, audio_sha256?, speak?}]`` (audio from ``.../steps/audio``)."""
    body = check(await read_json(request), STEPS_BODY)
    subject = await request.app[SERVICES].guided.set(
        actor(request), request.match_info["exam_id"], request.match_info["subject_id"], body["steps"]
    )
    return web.json_response({"subject": public(subject)})


@routes.post(BASE + "/steps/audio", ADMIN)
async def upload_step_audio(request: web.Request) -> web.Response:
    """multipart/form-data ``file``: an audio guide (MP3, M4A, WAV), kept content-addressed; a step names it
    by the ``sha256`` answered."""
    parts = await read_form(request, {"file": MAX_AUDIO_BYTES}, MAX_AUDIO_BYTES, "file")
    if "file" not in parts:
        raise UserError("field_required", field="file", label="file")
    media = await request.app[SERVICES].guided.upload(
        request.match_info["exam_id"], request.match_info["subject_id"], parts["file"].data, parts["file"].filename
    )
    return web.json_response(
        {"sha256": media.sha256, "type": media.type, "size": media.size, "duration_s": media.duration_s}, status=201
    )


@routes.get(BASE + "/steps/audio/{sha256}", ADMIN)
async def step_audio_preview(request: web.Request) -> web.StreamResponse:
    """An audio guide uploaded for a step (the admin's preview, also before the steps are saved)."""
    services = request.app[SERVICES]
    await services.guided.subject(request.match_info["exam_id"], request.match_info["subject_id"])
    path = services.question_files.path(request.match_info["sha256"])
    try:
        media = await asyncio.to_thread(inspect, path.read_bytes()) if path is not None else None
    except UserError:
        media = None
    if media is None or media.kind != "audio":
        raise UserError("not_found")
    return media_response(request, media.sha256, media.type)


@routes.get("/admin/exams/{exam_id}/subjects/{subject_id}/content", ADMIN, page=True)
async def content_page(request: web.Request) -> web.StreamResponse:
    """题库 / 指定项目步骤: a recorded subject's question bank and its guided steps."""
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    subject = await services.catalog.subject(exam.id, request.match_info["subject_id"])
    return aiohttp_jinja2.render_template("subject_content.html", request, {"exam": exam, "subject": subject})


# --- what a take brought: the candidate's own, a grader's by code -----------------------------------


async def _own_take(request: web.Request) -> Take:
    return await request.app[SERVICES].sittings.take_of(account_of(request), request.match_info["take_id"])


def _question_file(request: web.Request, take: Take) -> web.StreamResponse:
    q = take.question
    if not q or not q.get("media_sha256"):
        raise UserError("take_no_question")
    return media_response(request, q["media_sha256"], q.get("media_type", ""))


@routes.get("/api/candidate/takes/{take_id}/question", CANDIDATE)
async def candidate_question_media(request: web.Request) -> web.StreamResponse:
    """The image or audio of the question the candidate's take drew (another's take: ``take_not_found``)."""
    return _question_file(request, await _own_take(request))


@routes.get("/api/candidate/takes/{take_id}/steps/{n}/audio", CANDIDATE)
async def candidate_step_audio(request: web.Request) -> web.StreamResponse:
    """The audio guide of step ``n`` (0-based) of the candidate's guided take."""
    take = await _own_take(request)
    n = request.match_info["n"]
    step = take.steps[int(n)] if n.isdigit() and int(n) < len(take.steps) else {}
    if not step.get("audio_sha256"):
        raise UserError("not_found")
    return media_response(request, step["audio_sha256"], step.get("audio_type", ""))


@routes.get("/api/grader/submissions/{code}/question", GRADER)
async def grader_question_media(request: web.Request) -> web.StreamResponse:
    """The question the submission answered (a code not the grader's is ``submission_not_found``)."""
    submission = await request.app[SERVICES].grading.submission(account_of(request), request.match_info["code"])
    return _question_file(request, submission.take)
