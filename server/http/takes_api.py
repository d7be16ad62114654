"""A recorded take's playback files (docs/recorded.md "HTTP"): the main camera's video and audio
(``playable.webm``; an upload's ``playable.mp4`` or ``.webm``) and ``aux-<n>.webm`` (the aux cameras),
made on the server after the take ended (``rooms/remux.py``, ``recorded/upload_media.py``). The
candidate gets their own takes only (another's is ``take_not_found``, as a forged id), the admin any;
Range requests work, so a ``<video>`` element can seek."""

from __future__ import annotations

import re

from aiohttp import web

from ..errors import UserError
from ..recorded.take_files import content_type, listed_name
from ..store.models import Take
from .context import SERVICES, account_of
from .recording_files import send_take_file
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)
ADMIN = ("admin",)
AUX_N = re.compile(r"^[1-9][0-9]?$")


async def _file(request: web.Request, take: Take, name: str | None) -> web.StreamResponse:
    """The take's file ``name`` (None: the main playback file), only once the take lists it (no path
    from the request is trusted), from this node's disk or the node that wrote it."""
    name = listed_name(take, name)
    headers = {
        "Content-Type": content_type(name),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if request.query.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{take.id}-{name}"'
    return await send_take_file(request, take, name, headers)


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
    return await _file(request, await _own(request), None)


@routes.get("/api/candidate/takes/{take_id}/aux/{n}", CANDIDATE)
async def candidate_aux(request: web.Request) -> web.StreamResponse:
    name = _aux_name(request)
    return await _file(request, await _own(request), name)


@routes.get("/api/admin/takes/{take_id}/video", ADMIN)
async def admin_video(request: web.Request) -> web.StreamResponse:
    return await _file(request, await _any(request), None)


@routes.get("/api/admin/takes/{take_id}/aux/{n}", ADMIN)
async def admin_aux(request: web.Request) -> web.StreamResponse:
    name = _aux_name(request)
    return await _file(request, await _any(request), name)
