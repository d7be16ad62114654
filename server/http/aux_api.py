"""The auxiliary camera (双机位) over HTTP: the candidate's QR code, and the page it opens."""

from __future__ import annotations

import io

import aiohttp_jinja2
import segno
from aiohttp import web

from ..errors import UserError
from .context import LANG, SERVICES, SETTINGS, account_of, session_of
from .prompt_api import prompt_subject
from .routing import PUBLIC, Routes
from .statuses import status_for

routes = Routes()


def _origin(request: web.Request) -> str:
    """The address the second phone must open: the configured public URL, else the one the
    candidate's own phone used (it is on the same network)."""
    return request.app[SETTINGS].public_url.rstrip("/") or str(request.url.origin())


@routes.get("/api/candidate/exams/{exam_id}/aux-qr", ("candidate",))
async def aux_qr(request: web.Request) -> web.Response:
    """An SVG QR code with a fresh signed token bound to this login session (void after logout, a
    new login or the end of the interview); ``X-Aux-Url`` carries the same link as text. However
    many codes are fetched, the candidate's devices are capped (``aux_max_devices``)."""
    services = request.app[SERVICES]
    exam_id = request.match_info["exam_id"]
    await services.enrolments.exam_for(account_of(request), exam_id)
    prompt = request.query.get("prompt", "")  # a drawn-question subject read on a second phone: its viewer
    if prompt:
        await prompt_subject(services, exam_id, prompt)
    token = await services.aux_tokens.issue(exam_id, account_of(request).id, session_of(request).key_hash, prompt)
    url = f"{_origin(request)}/aux/{token}"
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)
    return web.Response(
        body=out.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-store", "X-Aux-Url": url}
    )


@routes.get("/aux/{token}", PUBLIC, page=True)
async def aux_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        token = await services.aux_tokens.verify(request.match_info["token"])
        await services.aux_tokens.usable(token)  # logged out, or replaced by a newer code
    except UserError as err:
        return aiohttp_jinja2.render_template(
            "error.html",
            request,
            {"code": err.code, "message": err.message(request.get(LANG, "zh"))},
            status=status_for(err),
        )
    exam = await services.catalog.find_exam(token.exam_id)
    account = await services.directory.get(token.account_id)
    if token.kind == "prompt":  # the second phone that shows the drawn question (docs/recorded.md)
        subject = await services.catalog.subject(token.exam_id, token.subject_id)
        return aiohttp_jinja2.render_template(
            "prompt.html",
            request,
            {"token": request.match_info["token"], "exam_name": exam.name if exam else "", "subject": subject},
        )
    return aiohttp_jinja2.render_template(
        "aux.html",
        request,
        {
            "token": request.match_info["token"],
            "exam_name": exam.name if exam else "",
            "candidate_name": account.name if account else "",
        },
    )
