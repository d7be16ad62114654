"""A recorded take's playback files (docs/recorded.md "HTTP"): ``playable.webm`` (the main camera,
video and audio) and ``aux-<n>.webm`` (the aux cameras), remuxed on the server after the take ended
(``rooms/remux.py``). The candidate gets their own takes only (another's is ``take_not_found``, as a
forged id), the admin any; Range requests work, so a ``<video>`` element can seek."""

from __future__ import annotations

import re

from aiohttp import web

from ..errors import UserError
from ..rooms.remux import PLAYABLE
from ..store.models import Take
from .context import SERVICES, account_of
from .recording_files import send
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)
ADMIN = ("admin",)
AUX_N = re.compile(r"^[1-9][0-9]?$")


async def _file(request: web.Request, take: Take, name: str) -> web.StreamResponse:
    """The take's file ``name``, only once the take lists it (no path from the request is trusted)."""
    if name not in take.files:
        raise UserError("take_file_missing" if take.playable_at else "take_not_playable")
    record = await request.app[SERVICES].recordings.get(take.id)
    if record is None:
        raise UserError("take_file_missing")
    headers = {
        "Content-Type": "video/webm",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if request.query.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{take.id}-{name}"'
    try:
        return await send(request, record, name, headers)  # from this node's disk, or the node that wrote it
    except UserError as err:
        raise UserError("take_file_missing") if err.code == "not_found" else err from None


def _aux_name(request: web.Request) -> str:
    n = request.match_info["n"]
    if not AUX_N.match(n):
        raise UserError("take_file_missing")
    return f"aux-{n}.webm"


async def _own(request: web.Request) -> Take:
    return await request.app[SERVICES].sittings.take_of(account_of(request), request.match_info["take_id"])


async def _any(request: web.Request) -> Take:
    take = await request.app[SERVICES].sittings.find_take(request.match_info["take_id"])
    if take is None:
        raise UserError("take_not_found")
    return take


@routes.get("/api/candidate/takes/{take_id}/video", CANDIDATE)
async def candidate_video(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _own(request), PLAYABLE)


@routes.get("/api/candidate/takes/{take_id}/aux/{n}", CANDIDATE)
async def candidate_aux(request: web.Request) -> web.StreamResponse:
    name = _aux_name(request)
    return await _file(request, await _own(request), name)


@routes.get("/api/admin/takes/{take_id}/video", ADMIN)
async def admin_video(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _any(request), PLAYABLE)


@routes.get("/api/admin/takes/{take_id}/aux/{n}", ADMIN)
async def admin_aux(request: web.Request) -> web.StreamResponse:
    name = _aux_name(request)
    return await _file(request, await _any(request), name)
