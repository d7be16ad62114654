"""Recorded exams over HTTP (docs/recorded.md "HTTP"): the candidate's sittings, takes, submission and
reset, and the admin's rules, sittings list and submissions CSV. The take files (video, aux cameras)
are served by ``takes_api.py``; the takes' media is socket.io (``signaling/recorded.py``).

Every handler works on ``account_of(request)``: another candidate's sitting or take is a 404, as
is a forged id, and nothing changes."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from ..i18n import label
from ..recorded.rules import RANGES
from ..recorded.sittings import sitting_json
from ..store.models import Take, public
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES, SETTINGS, account_of
from .csvout import safe
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)
ADMIN = ("admin",)

ENTER = {"mode": Field("str", max_len=16), "device": Field("str", max_len=64)}
START_TAKE = {
    "device": Field("str", max_len=64),
    "camera": Field("str", max_len=16),
    "orientation": Field("str", max_len=16),
}
SUBMIT = {"take_id": Field("str", max_len=64)}
# the admin's PUT: every field optional; the ranges are the domain's (server/recorded/rules.py)
SUBJECT_RULES = {
    "kind": Field("str", required=False, max_len=16, blank=False),
    "form": Field("str", required=False, max_len=32, blank=False),
    **{name: Field("int", required=False, min=low, max=high) for name, (low, high) in RANGES.items()},
    "window_opens": Field("time", required=False),
    "window_closes": Field("time", required=False),
    "cut_take_counts": Field("bool", required=False),
    "uploads_allowed": Field("bool", required=False),
    "prompt_device": Field("bool", required=False),
}
CSV_COLUMNS = (
    "科目",
    "姓名",
    "证件号码",
    "状态",
    "考试码",
    "进入时间",
    "提交时间",
    "提交的视频",
    "时长（秒）",
    "sha256",
    "已用考试次数",
    "人脸比对",
    "最佳距离",
    "中位距离",
    "无人脸帧",
    "多人脸帧",
)
# the submitted take's identity check (recorded/take_identity.py) as the CSV says it
IDENTITY_WORDS = {"passed": "通过", "failed": "未通过", "pending": "比对中"}
IDENTITY_REASONS = {
    "no_reference_photo": "无名单照片",
    "reference_unusable": "名单照片不可用",
    "take_file_missing": "视频文件缺失",
    "take_not_playable": "视频未生成",
    "take_decode_failed": "视频无法解码",
    "facecheck_unavailable": "人脸核验未运行",
    "facecheck_busy": "人脸核验繁忙",
    "check_failed": "比对出错",
}


def identity_cells(identity: dict | None) -> list[str]:
    """人脸比对 / 最佳距离 / 中位距离 / 无人脸帧 / 多人脸帧 of a submission (blank without one)."""
    if not identity:
        return ["", "", "", "", ""]
    status = identity.get("status") or ""
    if status == "error":
        reason = identity.get("reason") or ""
        return [f"未比对：{IDENTITY_REASONS.get(reason, reason)}", "", "", "", ""]
    if status == "pending":
        return [IDENTITY_WORDS["pending"], "", "", "", ""]

    def distance(value: float | None) -> str:
        return f"{value:.3f}" if isinstance(value, (int, float)) else ""

    return [
        IDENTITY_WORDS.get(status, status),
        distance(identity.get("best")),
        distance(identity.get("median")),
        str(identity.get("no_face") or 0),
        str(identity.get("several") or 0),
    ]


def take_json(take: Take, base: str = "/api/candidate/takes/") -> dict:
    """The take with where its files are, once playable (``takes_api.py`` serves them)."""
    out = public(take)
    playable = bool(take.playable_at) and take.state != "discarded"
    out["video_url"] = f"{base}{take.id}/video" if playable else None
    aux = sorted(name for name in take.files if name.startswith("aux-"))
    out["aux_urls"] = [f"{base}{take.id}/aux/{name[4:].split('.')[0]}" for name in aux] if playable else []
    return out


@routes.get("/api/candidate/exams/{exam_id}/recorded", CANDIDATE)
async def overview(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    subjects = await services.sittings.overview(account_of(request), request.match_info["exam_id"])
    return web.json_response({"subjects": subjects, "now": time.time()})


@routes.post("/api/candidate/exams/{exam_id}/recorded/{subject_id}/sittings", CANDIDATE)
async def enter(request: web.Request) -> web.Response:
    """Enter ("已知晓并同意"): the sitting starts; entering again from the same device while it is in progress
    answers the same sitting (its countdown runs on)."""
    body = check(await read_json(request), ENTER)
    sitting = await request.app[SERVICES].sittings.enter(
        account_of(request),
        request.match_info["exam_id"],
        request.match_info["subject_id"],
        body["mode"],
        body["device"],
    )
    return web.json_response({"sitting": sitting_json(sitting)}, status=201)


@routes.get("/api/candidate/sittings/{sitting_id}", CANDIDATE)
async def get_sitting(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    sitting = await services.sittings.sitting_of(account_of(request), request.match_info["sitting_id"])
    subject = await services.catalog.subject(sitting.exam_id, sitting.subject_id)
    takes = await services.sittings.takes(sitting.id)
    now = time.time()
    return web.json_response(
        {
            "sitting": sitting_json(sitting, now),
            "subject": public(subject),
            "takes": [take_json(t) for t in takes if t.state != "discarded"],
            "now": now,
            "deadline": sitting.deadline or None,
        }
    )


@routes.post("/api/candidate/sittings/{sitting_id}/takes", CANDIDATE)
async def start_take(request: web.Request) -> web.Response:
    body = check(await read_json(request), START_TAKE)
    take = await request.app[SERVICES].sittings.start_take(
        account_of(request), request.match_info["sitting_id"], body["device"], body["camera"], body["orientation"]
    )
    return web.json_response({"take": take_json(take)}, status=201)


@routes.post("/api/candidate/sittings/{sitting_id}/submit", CANDIDATE)
async def submit(request: web.Request) -> web.Response:
    body = check(await read_json(request), SUBMIT)
    sittings = request.app[SERVICES].sittings
    account = account_of(request)
    sitting = await sittings.submit(account, request.match_info["sitting_id"], body["take_id"])
    take = await sittings.take_of(account, sitting.submitted_take)
    return web.json_response({"sitting": sitting_json(sitting), "take": take_json(take)})


@routes.post("/api/candidate/sittings/{sitting_id}/reset", CANDIDATE)
async def reset(request: web.Request) -> web.Response:
    check(await read_json(request), {})
    sitting = await request.app[SERVICES].sittings.reset(account_of(request), request.match_info["sitting_id"])
    return web.json_response({"sitting": sitting_json(sitting)})


@routes.put("/api/admin/exams/{exam_id}/subjects/{subject_id}", ADMIN)
async def update_subject(request: web.Request) -> web.Response:
    """The subject's kind and, for a recorded subject, its rules; fields left out keep their value."""
    body = check(await read_json(request), SUBJECT_RULES, request.app[SETTINGS].timezone)
    rules = {k: v for k, v in body.items() if v is not None}
    subject = await request.app[SERVICES].catalog.update_subject(
        actor(request), request.match_info["exam_id"], request.match_info["subject_id"], **rules
    )
    return web.json_response({"subject": public(subject)})


def _staff_row(row: dict) -> dict:
    takes = [take_json(Take(**t), "/api/admin/takes/") for t in row["takes"]]
    return row | {"takes": takes}


@routes.get("/api/admin/exams/{exam_id}/sittings", ADMIN)
async def exam_sittings(request: web.Request) -> web.Response:
    """Every candidate of the exam's recorded subjects (``?subject=`` one): state, code, takes, submission."""
    subject = request.query.get("subject") or None
    rows = await request.app[SERVICES].sittings.for_exam(request.match_info["exam_id"], subject)
    return web.json_response({"sittings": [_staff_row(r) for r in rows], "now": time.time()})


@routes.get("/api/admin/exams/{exam_id}/submissions.csv", ADMIN)
async def submissions_csv(request: web.Request) -> web.Response:
    """One row per candidate and recorded subject, UTF-8 with a BOM (Excel shows Chinese), every cell
    formula-safe (a cell starting with = + - @ gets a quote first)."""
    exam_id = request.match_info["exam_id"]
    rows = await request.app[SERVICES].sittings.for_exam(exam_id)
    tz = ZoneInfo(request.app[SETTINGS].timezone)

    def when(epoch: float | None) -> str:
        return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds") if epoch else ""

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        sitting, submission = row["sitting"] or {}, row["submission"] or {}
        take = submission.get("take") or {}
        cells = [
            row["subject_name"],
            row["name"],
            row["id_number"],
            label(f"sitting_state_{row['state']}", "zh"),
            row["code"] or "",
            when(sitting.get("entered_at")),
            when(submission.get("submitted_at")),
            take.get("id", ""),
            f"{take['duration_s']:.1f}" if take else "",
            take.get("sha256", ""),
            str(row["sittings_used"]),
            *identity_cells(submission.get("identity")),
        ]
        writer.writerow([safe(str(c)) for c in cells])
    return web.Response(
        body=("\ufeff" + buffer.getvalue()).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="submissions-{exam_id}.csv"',
        },
    )
