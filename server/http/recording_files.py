"""Sending a recording's file from any node (docs/nodes.md "Recordings"): from this node's disk when it
wrote the file (or the folder is shared), else streamed from the node that wrote it (a signed internal
request, ``nodes/files.py``) with the browser's ``Range`` passed through, so seeking works the same.
The internal side, ``GET /internal/recordings/{interview_id}/{name}``, is here too."""

from __future__ import annotations

from aiohttp import web

from ..errors import UserError
from ..nodes.files import check
from .context import SERVICES
from .routing import PUBLIC, Routes

routes = Routes()
PASSED_ON = ("Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")


async def send(request: web.Request, record: dict, name: str, headers: dict[str, str]) -> web.StreamResponse:
    """The file ``name`` of the recording ``record`` (only one its manifest lists, or a take's playback
    file), with ``headers`` (content type, caching, disposition)."""
    recordings = request.app[SERVICES].recordings
    found = recordings.locate(record, name)
    if found is None:
        raise UserError("not_found")
    if found.path is not None:
        return web.FileResponse(found.path, headers=headers)
    if found.node == recordings.node_id or recordings.remote is None:
        raise UserError("not_found")  # ours, but not on this disk
    upstream = await recordings.remote.open(found.node, record["interview_id"], name, request.headers.get("Range"))
    try:
        response = web.StreamResponse(status=upstream.status, headers=headers)
        for header in PASSED_ON:
            if header in upstream.headers:
                response.headers[header] = upstream.headers[header]
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(256 * 1024):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        upstream.release()


@routes.get("/internal/recordings/{interview_id}/{name}", PUBLIC)
async def internal_file(request: web.Request) -> web.StreamResponse:
    """Another node asks for a file this node wrote (signed: ``nodes.files.check``); Range works."""
    services = request.app[SERVICES]
    await check(services.cluster.signer, request.path, request.headers)
    record = await services.recordings.get(request.match_info["interview_id"])
    found = services.recordings.locate(record, request.match_info["name"]) if record else None
    if found is None or found.path is None:
        raise UserError("not_found")
    return web.FileResponse(found.path, headers={"Cache-Control": "no-store"})
