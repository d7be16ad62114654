"""Sending a recording's file from any node (docs/nodes.md "Recordings"): from this node's disk when it
wrote the file (or the folder is shared), else streamed from the node that wrote it (a signed internal
request, ``nodes/files.py``) with the browser's ``Range`` passed through, so seeking works the same.
A recorded take's files go the same way (``send_take_file``); an upload take's, which has no recording,
from the usual layout on this node. For graders (``blind``) the answer carries neither the file's time
nor an ETag made of it (``blind_file.py``). The internal side, ``GET /internal/recordings/{interview_id}/{name}``,
is here too."""

from __future__ import annotations

from aiohttp import web

from ..errors import UserError
from ..nodes.files import check
from ..recorded.take_files import take_file, take_source
from ..store.models import Take
from .blind_file import BlindFileResponse
from .context import SERVICES
from .routing import PUBLIC, Routes

routes = Routes()
PASSED_ON = ("Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")
TIMES = ("Last-Modified", "ETag")  # not passed on to graders (blind)


async def send(
    request: web.Request, record: dict, name: str, headers: dict[str, str], blind: bool = False
) -> web.StreamResponse:
    """The file ``name`` of the recording ``record`` (only one its manifest lists, or a take's playback
    file), with ``headers`` (content type, caching, disposition)."""
    recordings = request.app[SERVICES].recordings
    found = recordings.locate(record, name)
    if found is None:
        raise UserError("not_found")
    if found.path is not None:
        return (BlindFileResponse if blind else web.FileResponse)(found.path, headers=headers)
    if found.node == recordings.node_id or recordings.remote is None:
        raise UserError("not_found")  # ours, but not on this disk
    upstream = await recordings.remote.open(found.node, record["interview_id"], name, request.headers.get("Range"))
    try:
        response = web.StreamResponse(status=upstream.status, headers=headers)
        for header in PASSED_ON:
            if header in upstream.headers and not (blind and header in TIMES):
                response.headers[header] = upstream.headers[header]
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(256 * 1024):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        upstream.release()


async def send_take_file(
    request: web.Request, take: Take, name: str | None, headers: dict[str, str], blind: bool = False
) -> web.StreamResponse:
    """A take's file ``name`` (None: the main playback file) once the take lists it: where its recording
    is (this node or the node that wrote it), or for an upload from this node's usual layout."""
    recordings = request.app[SERVICES].recordings
    record, name = await take_source(recordings, take, name)
    if record is None:  # an upload take (docs/nodes.md: read on the node that received it)
        path = await take_file(recordings, take, name)
        return (BlindFileResponse if blind else web.FileResponse)(path, headers=headers)
    try:
        return await send(request, record, name, headers, blind)
    except UserError as err:
        raise UserError("take_file_missing") if err.code == "not_found" else err from None


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
