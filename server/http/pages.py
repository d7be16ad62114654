"""Server-rendered pages. Each page is a template plus a small ES module that calls the JSON API."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from ..errors import UserError
from ..i18n import LABELS, MESSAGES, candidate_labels, label
from ..store.models import ROLES
from .context import ACCOUNT, LANG, SERVICES, SETTINGS, account_of
from .routing import PUBLIC, Routes
from .statuses import status_for

FAVICON = Path(__file__).resolve().parents[2] / "web" / "static" / "favicon.svg"


routes = Routes()

HOME = {"candidate": "/candidate", "examiner": "/examiner", "proctor": "/proctor", "admin": "/admin"}


# What staff pages label from the server's catalogue (server/i18n.py), by code prefix: audit events,
# reasons, states, audit details... (common.js label(code)); face-check reasons are the codes with advice.
LABEL_PREFIXES = (
    "event_",
    "reason_",
    "queue_state_",
    "face_status_",
    "face_kind_",
    "detail_",
    "role_",
    "rec_state_",
    "track_kind_",
    "participant_kind_",
    "phrase_",
    "roster_row_",
    "sitting_state_",
    "take_state_",
    "room_face_",
)
STAFF = ("examiner", "proctor", "admin")


@functools.lru_cache(maxsize=4)
def labels(lang: str) -> dict[str, str]:
    """{code: label} in ``lang`` for the staff pages."""
    codes = [c for c in [*MESSAGES, *LABELS] if c.startswith(LABEL_PREFIXES) or f"advice_{c}" in MESSAGES]
    return {c: label(c, lang) for c in [*codes, "face_no_frames"]}


async def page_context(request: web.Request) -> dict:
    lang = request.get(LANG, "zh")
    account = request.get(ACCOUNT)

    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return {
        "lang": lang,
        "t": t,
        "account": account,
        "path": request.path_qs,  # the language switch comes back here, query included (?mode=, ?exam=)
        "timezone": request.app[SETTINGS].timezone,
        "labels": labels(lang) if account is not None and account.role in STAFF else None,
        "candidate_labels": None if account is not None and account.role in STAFF else candidate_labels(lang),
    }


# What a browser drops from a URL before parsing it (WHATWG URL: ASCII tab and newline anywhere) and
# strips from its ends (C0 controls and space).
BROWSER_DROPS = {ord("\t"): None, ord("\n"): None, ord("\r"): None}
C0_AND_SPACE = "".join(map(chr, range(0x21)))


def safe_next(value: str | None) -> str:
    """Where to go after logging in or switching the language: ``value`` as the browser will read it
    if that is a path on this site, else "" (the caller falls back to the role's home page).

    Read as a browser reads it (tab and newline dropped, a backslash is a slash), then parsed:
    anything with a scheme or a host, or a path starting with ``//`` (another host), is refused,
    and so is any other control character. Pattern-matching the raw text is not enough:
    ``/\\evil.example`` and ``/<tab>/evil.example`` both lead to ``//evil.example``."""
    if not value:
        return ""
    seen = value.translate(BROWSER_DROPS).strip(C0_AND_SPACE).replace("\\", "/")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in seen):
        return ""
    parts = urlsplit(seen)  # "///host" parses with an empty host, so the text itself is checked too
    if parts.scheme or parts.netloc or not seen.startswith("/") or seen.startswith("//"):
        return ""
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return ""
    return seen


def home_of(request: web.Request) -> str:
    account = request.get(ACCOUNT)
    return HOME[account.role] if account else "/"


@routes.get("/", PUBLIC, page=True)
async def index(request: web.Request) -> web.StreamResponse:
    account = request[ACCOUNT]
    raise web.HTTPFound(HOME[account.role] if account else "/login")


@routes.get("/favicon.ico", PUBLIC)
async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico whatever the page links: the same small SVG as <link rel=icon>."""
    return web.FileResponse(
        FAVICON, headers={"Content-Type": "image/svg+xml", "Cache-Control": "public, max-age=86400"}
    )


@routes.get("/login", PUBLIC, page=True)
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict:
    return {"next": safe_next(request.query.get("next"))}


@routes.get("/register", PUBLIC, page=True)
@aiohttp_jinja2.template("register.html")
async def register_page(request: web.Request) -> dict:
    return {}


@routes.get("/lang/{lang}", PUBLIC, page=True)
async def switch_lang(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    response = web.HTTPFound(safe_next(request.query.get("next")) or home_of(request))
    if lang in ("zh", "en"):
        response.set_cookie("lang", lang, max_age=365 * 86400, path="/", samesite="Lax")
    raise response


@routes.get("/candidate", ("candidate",), page=True)
@aiohttp_jinja2.template("candidate.html")
async def candidate_page(request: web.Request) -> dict:
    return {}


@routes.get("/candidate/practice", ("candidate",), page=True)
@aiohttp_jinja2.template("check.html")
async def practice_page(request: web.Request) -> dict:
    """Practice at any time: camera, framing, microphone, and the device check; no examiner."""
    return {"exam": None}


async def _candidate_exam_page(request: web.Request, template: str) -> web.StreamResponse:
    """A page about one of the candidate's exams; another's (or an unverified candidate) gets the error page."""
    try:
        state = await request.app[SERVICES].enrolments.exam_for(account_of(request), request.match_info["exam_id"])
    except UserError as err:
        return aiohttp_jinja2.render_template(
            "error.html",
            request,
            {"code": err.code, "message": err.message(request.get(LANG, "zh"))},
            status=status_for(err),
        )
    return aiohttp_jinja2.render_template(template, request, {"exam": state.exam})


@routes.get("/candidate/exams/{exam_id}/check", ("candidate",), page=True)
async def exam_check_page(request: web.Request) -> web.StreamResponse:
    """Before the queue: device check and the face check for one of the candidate's exams."""
    return await _candidate_exam_page(request, "check.html")


@routes.get("/candidate/exams/{exam_id}/interview", ("candidate",), page=True)
async def interview_page(request: web.Request) -> web.StreamResponse:
    """The interview: device check, sound, the queue with the face check, the room, the end screen."""
    return await _candidate_exam_page(request, "interview.html")


@routes.get("/candidate/exams/{exam_id}/results", ("candidate",), page=True)
async def results_page(request: web.Request) -> web.StreamResponse:
    """The candidate's own result of an exam: 已发布 / 未发布, the outcome and, if the school shows them, the
    marks (docs/marking.md "Results")."""
    return await _candidate_exam_page(request, "results.html")


RECORDED_MODES = {"formal": ("正式考", "Exam"), "mock": ("模拟考", "Mock exam"), "practice": ("练习", "Practice")}


@routes.get("/candidate/exams/{exam_id}/recorded/{subject_id}", ("candidate",), page=True)
async def recorded_page(request: web.Request) -> web.StreamResponse:
    """A recorded subject (docs/recorded.md): rules, sitting, checks, takes, watch back, submit.
    ``?mode=formal|mock|practice`` (formal by default)."""
    lang = request.get(LANG, "zh")
    mode = request.query.get("mode", "formal")
    try:
        if mode not in RECORDED_MODES:
            raise UserError("field_invalid", field="mode", label="mode")
        state = await request.app[SERVICES].enrolments.exam_for(account_of(request), request.match_info["exam_id"])
        subject = await request.app[SERVICES].catalog.subject(state.exam.id, request.match_info["subject_id"])
        if getattr(subject, "kind", "interview") != "recorded":
            raise UserError("sitting_not_recorded")
    except UserError as err:
        return aiohttp_jinja2.render_template(
            "error.html", request, {"code": err.code, "message": err.message(lang)}, status=status_for(err)
        )
    zh, en = RECORDED_MODES[mode]
    return aiohttp_jinja2.render_template(
        "recorded.html",
        request,
        {"exam": state.exam, "subject": subject, "mode": mode, "mode_name": en if lang == "en" else zh},
    )


@routes.get("/examiner", ("examiner",), page=True)
@aiohttp_jinja2.template("examiner.html")
async def examiner_page(request: web.Request) -> dict:
    return {}


@routes.get("/examiner/rooms/{room_id}", ("examiner",), page=True)
async def examiner_room_page(request: web.Request) -> web.StreamResponse:
    """One interview room for an examiner on its panel: the live queue, the videos, call / end / remove."""
    lang = request.get(LANG, "zh")
    services = request.app[SERVICES]
    room_id = request.match_info["room_id"]
    room = await services.catalog.examiner_room(room_id, account_of(request).id)
    if room is None:
        err = UserError("room_not_found")
        return aiohttp_jinja2.render_template(
            "error.html", request, {"code": err.code, "message": err.message(lang)}, status=404
        )
    exam = await services.catalog.exam(room.exam_id)
    subject = await services.catalog.subject(exam.id, room.subject_id)
    return aiohttp_jinja2.render_template(
        "room.html", request, {"room": {"id": room_id, "name": room.name}, "exam": exam, "subject": subject}
    )


@routes.get("/proctor", ("proctor", "admin"), page=True)
@aiohttp_jinja2.template("proctor.html")
async def proctor_page(request: web.Request) -> dict:
    services = request.app[SERVICES]
    exams = await services.catalog.exams()
    watched = await services.proctors.watched(account_of(request), [e.id for e in exams])
    return {"exams": sorted((e for e in exams if e.id in watched), key=lambda e: -e.booking_opens)}


@routes.get("/admin", ("admin",), page=True)
@aiohttp_jinja2.template("admin.html")
async def admin_page(request: web.Request) -> dict:
    return {"roles": ROLES}
