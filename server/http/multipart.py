"""Reading a multipart/form-data upload: the named parts only, each within its own limit and all within
the request's, with the file name the browser gave; a malformed body is ``bad_multipart``."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from ..errors import UserError
from ..i18n import human_size


@dataclass
class Part:
    data: bytes
    filename: str = ""

    @property
    def text(self) -> str:
        try:
            return self.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UserError("bad_text") from None


async def _read(part: BodyPartReader, room: int, limit: int) -> bytes:
    """One part; ``room`` is what is left of ``limit``, which is the part's (or the upload's) own."""
    data = bytearray()
    while chunk := await part.read_chunk(1 << 16):
        data += chunk
        if len(data) > room:
            raise UserError("body_too_large", limit=human_size(limit))
    return bytes(data)


async def read_form(request: web.Request, limits: dict[str, int], total: int, field: str) -> dict[str, Part]:
    """The parts named in ``limits`` (name -> most bytes; the first of each name), at most ``total`` bytes in
    all; parts of other names are skipped. ``field`` is the form field a malformed upload is reported on."""
    if not request.content_type.startswith("multipart/"):
        raise UserError("bad_content_type", expected="multipart/form-data")
    parts: dict[str, Part] = {}
    used = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a multipart nested in the form: not an upload of ours
                raise UserError("bad_multipart", field=field)
            name = part.name or ""
            if name in limits and name not in parts:
                room = min(limits[name], total - used)
                data = await _read(part, room, limits[name] if limits[name] <= total - used else total)
                parts[name] = Part(data, part.filename or "")
                used += len(data)
            else:
                await part.release()
    # what aiohttp raises on a body that is not multipart, or a part whose headers are not HTTP headers
    except (ValueError, AssertionError, KeyError, BadHttpMessage) as exc:
        raise UserError("bad_multipart", field=field) from exc
    return parts
