"""Proctors: the identity appeals that wait for a human (an ID number already verified by another account)."""

from __future__ import annotations

from aiohttp import web

from ..errors import UserError
from ..store.models import Appeal, public
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES
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


@routes.get("/api/proctor/appeals", PROCTOR)
async def open_appeals(request: web.Request) -> web.Response:
    appeals = await request.app[SERVICES].identity.open_appeals()
    return web.json_response({"appeals": [await appeal_json(request, a) for a in appeals]})


@routes.get("/api/proctor/appeals/{appeal_id}/frames/{index}", PROCTOR)
async def appeal_frame(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    appeal = await services.identity.appeal(request.match_info["appeal_id"])
    evidence, index = appeal.evidence or {}, request.match_info["index"]
    if not evidence.get("check_id") or not index.isdigit() or int(index) >= int(evidence.get("frames", 0)):
        raise UserError("not_found")
    path = services.frame_archive.path(evidence["exam_id"], appeal.account_id, evidence["check_id"], int(index))
    if path is None:  # past retention
        raise UserError("not_found")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=600"})


@routes.post("/api/proctor/appeals/{appeal_id}", PROCTOR)
async def resolve_appeal(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"approve": Field("bool"), "comment": Field("str", max_len=500)})
    appeal = await request.app[SERVICES].identity.resolve_appeal(
        actor(request), request.match_info["appeal_id"], body["approve"], body["comment"]
    )
    return web.json_response({"appeal": await appeal_json(request, appeal)})
