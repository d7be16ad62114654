"""Reading request bodies: size limits and JSON objects. The field checks live in ``server/payloads.py``
(shared with the socket.io events) and are re-exported here."""

from __future__ import annotations

import json

from aiohttp import web

from ..errors import UserError
from ..i18n import human_size
from ..payloads import Field, check, parse_time
from .context import SETTINGS

__all__ = ["Field", "check", "parse_time", "read_json", "human_size", "query_int"]


async def read_json(request: web.Request) -> dict:
    limit = request.app[SETTINGS].max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise UserError("body_too_large", limit=human_size(limit))
    ctype = request.content_type
    if ctype != "application/json":
        raise UserError("bad_content_type", expected="application/json")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise UserError("body_too_large", limit=human_size(limit))
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UserError("bad_json") from None
    if not isinstance(body, dict):
        raise UserError("bad_json")
    try:  # "\ud800" is valid JSON but no text: a lone surrogate cannot be stored, logged or shown
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("bad_text") from None
    return body


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body (an uploaded file), refused with ``body_too_large`` past ``limit`` bytes, by the
    announced length before anything is read, or while reading."""
    if (request.content_length or 0) > limit:
        raise UserError("body_too_large", limit=human_size(limit))
    data = bytearray()
    while chunk := await request.content.read(1 << 16):
        data += chunk
        if len(data) > limit:
            raise UserError("body_too_large", limit=human_size(limit))
    return bytes(data)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter between ``low`` and ``high`` (``default`` when absent); anything else
    is ``field_type`` / ``field_range`` with the parameter's name."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError("field_type", field=name, label=name) from None
    if not low <= value <= high:
        raise UserError("field_range", field=name, label=name, min=low, max=high)
    return value
