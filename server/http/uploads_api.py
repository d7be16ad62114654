"""Upload takes over HTTP (docs/recorded.md "Upload takes"): the core of the tus 1.0 resumable-upload
protocol (https://tus.io/protocols/resumable-upload), spoken by the pinned tus-js-client on the page.

- ``POST /api/candidate/sittings/{sitting}/uploads`` (creation): ``Upload-Length`` and
  ``Upload-Metadata`` (filename, filetype, device, base64) start an upload take; 201 with
  ``Location``. No ``Upload-Defer-Length``, no data with the creation.
- ``HEAD /api/candidate/uploads/{take}``: ``Upload-Offset`` (the bytes the server holds) and
  ``Upload-Length``: a resume starts there.
- ``PATCH /api/candidate/uploads/{take}`` (``application/offset+octet-stream``, ``Upload-Offset``):
  one chunk, streamed to disk; 204 with the new ``Upload-Offset``; 409 at the wrong offset, 423
  while another request writes the same upload.
- ``DELETE /api/candidate/uploads/{take}`` (termination): the upload is cancelled.

Errors answer the project's JSON error body with a Chinese message and the status tus expects.
The protocol's state lives in the domain (``recorded/uploads.py``); this module reads headers and
feeds the body to it chunk by chunk, closing a chunk whose connection is silent for ``upload_stall_s``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator

from aiohttp import web

from ..errors import UserError
from ..recorded.uploads import ChunkCut
from .context import SERVICES, SETTINGS, account_of
from .recorded_api import take_json
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)
TUS_VERSION = "1.0.0"
TUS = {"Tus-Resumable": TUS_VERSION}
OFFSET_TYPE = "application/offset+octet-stream"
MAX_METADATA = 4096  # characters of Upload-Metadata
MAX_LENGTH = 1 << 50  # an Upload-Length with more digits than this is not a number we read


def _tus(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise UserError("upload_tus_version", version=TUS_VERSION)


def _number(request: web.Request, header: str, code: str) -> int:
    raw = request.headers.get(header, "")
    if not raw.isdigit() or len(raw) > 16 or int(raw) > MAX_LENGTH:
        raise UserError(code)
    return int(raw)


def metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (a key alone has an empty value)."""
    if len(header) > MAX_METADATA:
        raise UserError("upload_metadata_invalid")
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UserError("upload_metadata_invalid") from None
    return out


@routes.post("/api/candidate/sittings/{sitting_id}/uploads", CANDIDATE)
async def create(request: web.Request) -> web.Response:
    """tus creation: an upload take of ``Upload-Length`` bytes starts (the rules of any take apply)."""
    _tus(request)
    if "Upload-Defer-Length" in request.headers or "Upload-Length" not in request.headers:
        raise UserError("upload_length_required")
    length = _number(request, "Upload-Length", "upload_length_required")
    meta = metadata(request.headers.get("Upload-Metadata", ""))
    take = await request.app[SERVICES].uploads.create(
        account_of(request),
        request.match_info["sitting_id"],
        meta.get("device", ""),
        length,
        meta.get("filename", ""),
        meta.get("filetype", ""),
    )
    location = f"/api/candidate/uploads/{take.id}"
    headers = {**TUS, "Location": location, "Upload-Offset": "0"}
    return web.json_response({"take": take_json(take), "upload_url": location}, status=201, headers=headers)


@routes.add("HEAD", "/api/candidate/uploads/{take_id}", CANDIDATE)
async def offset(request: web.Request) -> web.Response:
    """tus HEAD: where a resume starts (the bytes on the server) and the declared length."""
    _tus(request)
    take = await request.app[SERVICES].uploads.offset(account_of(request), request.match_info["take_id"])
    headers = {
        **TUS,
        "Upload-Offset": str(take.upload_offset),
        "Upload-Length": str(take.upload_length),
        "Cache-Control": "no-store",
    }
    return web.Response(status=200, headers=headers)


async def _chunks(request: web.Request, stall_s: float) -> AsyncIterator[bytes]:
    """The body as it arrives; a connection that breaks or sends nothing for ``stall_s`` ends it
    (``ChunkCut``: the bytes so far are kept)."""
    while True:
        try:
            async with asyncio.timeout(stall_s):
                data = await request.content.readany()
        except TimeoutError:
            raise ChunkCut(f"no bytes for {stall_s:g} s") from None
        except (OSError, web.HTTPException) as exc:
            raise ChunkCut(type(exc).__name__) from None
        except Exception as exc:  # aiohttp's payload errors (the peer closed mid-body)
            raise ChunkCut(type(exc).__name__) from None
        if not data:
            return
        yield data


@routes.patch("/api/candidate/uploads/{take_id}", CANDIDATE)
async def patch(request: web.Request) -> web.StreamResponse:
    """tus PATCH: one chunk at ``Upload-Offset``, written to disk as it arrives."""
    _tus(request)
    if request.content_type != OFFSET_TYPE:
        raise UserError("bad_content_type", expected=OFFSET_TYPE)
    at = _number(request, "Upload-Offset", "upload_offset_invalid")
    settings = request.app[SETTINGS]
    new_offset = await request.app[SERVICES].uploads.write(
        account_of(request),
        request.match_info["take_id"],
        at,
        _chunks(request, settings.upload_stall_s),
        request.content_length,
    )
    return web.Response(status=204, headers={**TUS, "Upload-Offset": str(new_offset)})


@routes.delete("/api/candidate/uploads/{take_id}", CANDIDATE)
async def terminate(request: web.Request) -> web.StreamResponse:
    """tus termination: the upload is cancelled, its bytes deleted; the take fails and does not count."""
    _tus(request)
    await request.app[SERVICES].uploads.cancel(account_of(request), request.match_info["take_id"])
    return web.Response(status=204, headers=TUS)
