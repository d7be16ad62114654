"""An exam's exports for the admin (docs/marking.md "Exports"): ``GET
/api/admin/exams/{exam_id}/exports/{kind}.{fmt}``, kind ``marks`` / ``attendance`` / ``bookings`` / ``results``, fmt
``csv`` / ``xlsx``.

CSV is streamed as the pages come from Redis (UTF-8 with a BOM, every cell formula-safe:
``csvout.py``); a failure midway breaks the download off (``streaming.py``) rather than end a partial file. An XLSX must be whole before it is sent (a zip with its directory at the end): openpyxl's
write-only workbook writes each page of rows to a temporary file in a worker thread, the finished file
is streamed and removed. Either way memory stays flat whatever the number of rows."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from openpyxl import Workbook

from ..errors import UserError
from ..marking.exports import KINDS, Exports, Row
from .context import SERVICES, SETTINGS
from .csvout import encode_rows, safe
from .routing import Routes
from .streaming import stream

routes = Routes()
ADMIN = ("admin",)
FORMATS = ("csv", "xlsx")
CHUNK = 256 * 1024
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TITLES = {"marks": "评分明细", "attendance": "出勤", "bookings": "预约", "results": "成绩"}


def disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def xlsx_cells(row: Row) -> list[str | float | int]:
    """Strings formula-safe (openpyxl would store "=..." as a formula), numbers as numbers."""
    return [safe(c) if isinstance(c, str) else c for c in row]


def _exports(request: web.Request) -> Exports:
    services = request.app[SERVICES]
    timezone = request.app[SETTINGS].timezone
    return Exports(services.store, services.catalog, services.rubrics, timezone, results=services.results)


@routes.get("/api/admin/exams/{exam_id}/exports/{kind}.{fmt}", ADMIN)
async def export(request: web.Request) -> web.StreamResponse:
    kind, fmt = request.match_info["kind"], request.match_info["fmt"]
    if kind not in KINDS or fmt not in FORMATS:
        raise UserError("export_unknown", what=f"{kind}.{fmt}")
    exam_id = request.match_info["exam_id"]
    exports = _exports(request)
    exam = await request.app[SERVICES].catalog.exam(exam_id)
    pages = exports.pages(exam.id, kind)
    stamp = datetime.now(ZoneInfo(request.app[SETTINGS].timezone)).strftime("%Y%m%d-%H%M")
    filename = f"{exam.name}-{TITLES[kind]}-{stamp}.{fmt}"
    headers = {
        "Content-Type": CONTENT_TYPES[fmt],
        "Cache-Control": "private, no-store",
        "Content-Disposition": disposition(filename),
        "X-Content-Type-Options": "nosniff",
    }
    if fmt == "csv":
        return await stream(request, headers, _csv(exports.columns(kind), pages))
    path = await write_xlsx(TITLES[kind], exports.columns(kind), pages)  # a failure here is a clean 500
    try:
        headers["Content-Length"] = str(os.path.getsize(path))
        return await stream(request, headers, _file(path))
    finally:
        os.unlink(path)


async def _csv(columns: tuple[str, ...], pages) -> AsyncIterator[bytes]:
    yield encode_rows([columns], bom=True)
    async for rows in pages:
        yield encode_rows(rows)


async def _file(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk


async def write_xlsx(title: str, columns: tuple[str, ...], pages) -> str:
    """A finished XLSX file of the pages (a temporary file the caller removes): openpyxl's write-only
    workbook streams each row to its own temporary file, so memory does not grow with the rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))

    def append(rows: list[Row]) -> None:
        for row in rows:
            sheet.append(xlsx_cells(row))

    handle, path = tempfile.mkstemp(prefix="export-", suffix=".xlsx")
    os.close(handle)
    try:
        async for rows in pages:
            await asyncio.to_thread(append, rows)
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        os.unlink(path)
        with contextlib.suppress(Exception):  # the sheet's own temporary file closed now, not at garbage collection
            sheet.close()
        raise
    return path
