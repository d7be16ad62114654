"""Request id + structured access log, metrics, error rendering, socket.io polling size limit, cross-site
refusal, session loading."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from aiohttp import web

from ..accounts.sessions import COOKIE
from ..errors import UserError
from ..i18n import human_size, pick_lang
from ..logs import request_id
from ..store.redis import RedisUnavailable
from .context import ACCOUNT, LANG, METRICS, SERVICES, SESSION, SETTINGS
from .statuses import status_for

log = logging.getLogger("server.http")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def client_address(request: web.Request) -> str:
    remote = request.remote or ""
    if remote in request.app[SETTINGS].trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return remote


def route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def access_log(request: web.Request, handler):
    rid = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
    token = request_id.set(rid)
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        elapsed = time.perf_counter() - start
        route = route_name(request)
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.request_seconds.labels(request.method, route).observe(elapsed)
        account = request.get(ACCOUNT)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "ms": round(elapsed * 1000, 1),
                "account": account.id if account else None,
                "address": client_address(request),
            },
        )
        request_id.reset(token)


def _json_error(err: UserError, lang: str) -> web.Response:
    return web.json_response(err.to_json(lang), status=status_for(err))


@web.middleware
async def errors(request: web.Request, handler):
    settings = request.app[SETTINGS]
    lang = pick_lang(request.cookies.get("lang"), request.headers.get("Accept-Language"), settings.default_lang)
    request[LANG] = lang
    try:
        return await handler(request)
    except UserError as err:
        return _json_error(err, lang)
    except web.HTTPException as exc:
        if exc.status in (404, 405) and request.path.startswith("/api/"):
            code = "not_found" if exc.status == 404 else "method_not_allowed"
            return _json_error(UserError(code), lang)
        if exc.status == 413:
            return _json_error(UserError("body_too_large", limit=human_size(settings.max_upload_bytes)), lang)
        raise
    except RedisUnavailable as exc:
        request.app[METRICS].redis_up.set(0)
        log.error("redis unreachable", extra={"error": str(exc)})
        return _json_error(UserError("storage_unavailable"), lang)
    except Exception:
        log.exception("unhandled error")
        return _json_error(UserError("internal", request_id=request_id.get()), lang)


@web.middleware
async def same_origin(request: web.Request, handler):
    """Refuse state-changing requests from other sites (SameSite cookies are the first line)."""
    if request.method in UNSAFE:
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            host = origin.split("://", 1)[-1]
            if host != request.host:
                raise UserError("cross_origin")
        elif request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise UserError("cross_origin")
    return await handler(request)


# The largest long-polling POST socket.io accepts (engineio's max_http_buffer_size), set by app.py.
POLLING_MAX_BYTES = web.AppKey("polling_max_bytes", int)
SOCKETIO = "/socket.io/"


# A polling POST hands its packets to background tasks and answers at once; only engine.io's wait
# described below takes longer.
POLLING_POST_S = 3.0


@web.middleware
async def polling_limit(request: web.Request, handler):
    """Refuse at once a socket.io long-polling POST without a length or over the limit, and never
    let one hang.

    engine.io reads exactly Content-Length bytes (0 when there is none). For a body over its limit,
    or a packet it refuses (an unknown type), it disconnects the session and then waits for the
    client to fetch the close packet with a GET poll: with none pending the POST hung until the
    server stopped. Over the limit: 413 at once. Otherwise, past ``POLLING_POST_S``: engine.io's
    own 400, and the wait is cancelled (the session is already closed; engine.io's sweep drops it).
    Either way the connection is closed behind the answer."""
    limit = request.app.get(POLLING_MAX_BYTES)
    if request.method != "POST" or limit is None or not request.path.startswith(SOCKETIO):
        return await handler(request)
    length = request.content_length
    if length is None or length > limit:
        response = _json_error(UserError("body_too_large", limit=human_size(limit)), request.get(LANG, "zh"))
        response.force_close()
        return response
    try:
        async with asyncio.timeout(POLLING_POST_S):
            return await handler(request)
    except TimeoutError:
        log.warning("socket.io polling post refused and left waiting", extra={"seconds": POLLING_POST_S})
        response = web.Response(status=400, text="Bad Request")
        response.force_close()
        return response


# Probes and static files need no session, so they answer even while Redis is away; socket.io's
# requests neither: each namespace reads the session itself (server/signaling/base.py) and refuses a
# connection while Redis is away with connect_error storage_unavailable, not a bare 503.
SESSIONLESS = ("/healthz", "/metrics", "/static/", SOCKETIO)


async def load_session(request: web.Request) -> None:
    """Set the caller's account and session on the request from the session cookie (Redis)."""
    services = request.app[SERVICES]
    token = request.cookies.get(COOKIE)
    if token:
        found = await services.sessions.get(token)
        if found:
            account = await services.directory.get(found.account_id)
            if account and not account.disabled:
                request[ACCOUNT] = account
                request[SESSION] = found


@web.middleware
async def session(request: web.Request, handler):
    request[ACCOUNT] = None
    request[SESSION] = None
    if not request.path.startswith(SESSIONLESS):
        await load_session(request)
    return await handler(request)


MIDDLEWARES = [access_log, errors, polling_limit, same_origin, session]
