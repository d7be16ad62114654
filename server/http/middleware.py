"""Request id + structured access log, metrics, error rendering, cross-site refusal, session loading."""

from __future__ import annotations

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


# Probes and static files need no session, so they answer even while Redis is away.
SESSIONLESS = ("/healthz", "/metrics", "/static/")


@web.middleware
async def session(request: web.Request, handler):
    services = request.app[SERVICES]
    request[ACCOUNT] = None
    request[SESSION] = None
    token = request.cookies.get(COOKIE)
    if token and not request.path.startswith(SESSIONLESS):
        found = await services.sessions.get(token)
        if found:
            account = await services.directory.get(found.account_id)
            if account and not account.disabled:
                request[ACCOUNT] = account
                request[SESSION] = found
    return await handler(request)


MIDDLEWARES = [access_log, errors, same_origin, session]
