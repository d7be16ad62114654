"""Proctors: the identity appeals that wait for a human (an ID number already verified by another account)."""

from __future__ import annotations

from aiohttp import web

from ..store.models import public
from .admin_api import actor
from .body import Field, check, read_json
from .context import SERVICES
from .routing import Routes

routes = Routes()
PROCTOR = ("proctor", "admin")


@routes.get("/api/proctor/appeals", PROCTOR)
async def open_appeals(request: web.Request) -> web.Response:
    appeals = await request.app[SERVICES].identity.open_appeals()
    return web.json_response({"appeals": [public(a) for a in appeals]})


@routes.post("/api/proctor/appeals/{appeal_id}", PROCTOR)
async def resolve_appeal(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"approve": Field("bool"), "comment": Field("str", max_len=500)})
    appeal = await request.app[SERVICES].identity.resolve_appeal(
        actor(request), request.match_info["appeal_id"], body["approve"], body["comment"]
    )
    return web.json_response({"appeal": public(appeal)})
