"""Streamed downloads that fail visibly (the CSV exports, the audit CSV, a finished XLSX file).

Once a streamed response has begun, its status (200) and headers are sent; a failure while reading the
rest (a Redis outage, a corrupt record) can no longer become an error answer. Writing the end of the body
anyway would hand the admin a file that looks complete and is not; answering with a second response on the
same connection leaves the download hanging. ``stream`` logs the failure and closes the connection instead,
before the end-of-body chunk, so the browser reports the download as failed (a client sees a payload
error) and the admin downloads again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable

from aiohttp import web

log = logging.getLogger("server.http")


async def stream(request: web.Request, headers: dict[str, str], chunks: AsyncIterable[bytes]) -> web.StreamResponse:
    """Send ``chunks`` as the body of a 200 with ``headers``; a failure after the start closes the
    connection without ending the body (logged ``download broken off``). A client that went away is
    left to aiohttp as before."""
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    sent = 0
    try:
        async for chunk in chunks:
            await response.write(chunk)
            sent += len(chunk)
    except ConnectionError:
        raise  # the client went away: nothing to tell it
    except Exception:
        log.exception("download broken off", extra={"path": request.path, "bytes_sent": sent})
        if request.transport is not None:
            request.transport.close()  # aiohttp's end-of-body write now fails: the download stays broken
        return response
    await response.write_eof()
    return response
