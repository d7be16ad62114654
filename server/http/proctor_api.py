"""Proctors: the identity appeals that wait for a human (an ID number already verified by another account),
and the snapshots of the flags raised while an interview of their exam was watched."""

from __future__ import annotations

from aiohttp import web

from ..errors import UserError
from ..rooms.recorder import SNAPSHOT
from ..store.models import Appeal, public
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES, account_of
from .facecheck_api import captured_frame
from .recording_files import send
from .routing import Routes

routes = Routes()
PROCTOR = ("proctor", "admin")


async def appeal_json(request: web.Request, appeal: Appeal) -> dict:
    """The appeal with its evidence: the roster photo beside the frames of the appellant's face check."""
    evidence = appeal.evidence or {}
    entry = await request.app[SERVICES].roster.entry(evidence.get("exam_id", ""), appeal.id_number)
    base = f"/api/proctor/appeals/{appeal.id}/frames"
    return {
        **public(appeal),
        "photo_url": f"/api/staff/photos/{entry.photo_sha256}" if entry and entry.photo_sha256 else None,
        "frame_urls": [f"{base}/{i}" for i in range(int(evidence.get("frames", 0)))],
    }


async def watches(request: web.Request, appeal: Appeal) -> bool:
    """Whether the proctor watches an exam whose roster holds the appeal's ID number."""
    services = request.app[SERVICES]
    return bool(await services.proctors.watched(account_of(request), await services.roster.exams_of(appeal.id_number)))


async def watched_appeal(request: web.Request) -> Appeal:
    appeal = await request.app[SERVICES].identity.appeal(request.match_info["appeal_id"])
    if not await watches(request, appeal):
        raise UserError("not_exam_proctor")
    return appeal


@routes.get("/api/proctor/appeals", PROCTOR)
async def open_appeals(request: web.Request) -> web.Response:
    appeals = [a for a in await request.app[SERVICES].identity.open_appeals() if await watches(request, a)]
    return web.json_response({"appeals": [await appeal_json(request, a) for a in appeals]})


@routes.get("/api/proctor/appeals/{appeal_id}/frames/{index}", PROCTOR)
async def appeal_frame(request: web.Request) -> web.StreamResponse:
    appeal = await watched_appeal(request)
    evidence, index = appeal.evidence or {}, request.match_info["index"]
    if not evidence.get("check_id") or not index.isdigit() or int(index) >= int(evidence.get("frames", 0)):
        raise UserError("not_found")
    return captured_frame(request, evidence["exam_id"], appeal.account_id, evidence["check_id"], int(index))


@routes.post("/api/proctor/appeals/{appeal_id}", PROCTOR)
async def resolve_appeal(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"approve": Field("bool"), "comment": Field("str", max_len=500)})
    await watched_appeal(request)
    appeal = await request.app[SERVICES].identity.resolve_appeal(
        actor(request), request.match_info["appeal_id"], body["approve"], body["comment"]
    )
    return web.json_response({"appeal": await appeal_json(request, appeal)})


@routes.get("/api/proctor/recordings/{interview_id}/flags/{name}", PROCTOR)
async def flag_snapshot(request: web.Request) -> web.StreamResponse:
    """The JPEG of the frame that raised a flag (``signaling/monitoring.py``): for the proctors of the
    interview's exam only, and only a snapshot its recording's timeline lists."""
    services = request.app[SERVICES]
    record = await services.recordings.get(request.match_info["interview_id"])
    name = request.match_info["name"]
    if record is None or not SNAPSHOT.match(name):
        raise UserError("not_found")
    await services.proctors.require(account_of(request), record["exam_id"])
    headers = {"Content-Type": "image/jpeg", "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    return await send(request, record, name, headers)
