"""Application factory: settings, Redis, services, middlewares, routes, templates."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from .config import Settings
from .facecheck.models import ModelsMissing
from .facecheck.pool import InferencePool
from .http import (
    admin_api,
    artwork_api,
    auth_api,
    aux_api,
    candidate_api,
    contact_api,
    examiner_api,
    exports_api,
    facecheck_api,
    grading_api,
    marking_api,
    nodes_api,
    ops,
    pages,
    proctor_api,
    prompt_api,
    questions_api,
    recorded_api,
    recording_files,
    recordings_api,
    results_api,
    security_headers,
    take_marks_api,
    takes_api,
    uploads_api,
)
from .http.context import METRICS, SERVICES, SETTINGS
from .http.middleware import MIDDLEWARES, POLLING_MAX_BYTES
from .metrics import Metrics
from .services import Services
from .store.base import Store
from .store.redis import RedisUnavailable, connect, drop_idle, ping, redact
from .tasks import cancelled, stop
from .wiring import build_process

log = logging.getLogger("server.app")
WEB = Path(__file__).resolve().parent.parent / "web"
ROUTE_MODULES = (
    ops,
    auth_api,
    contact_api,
    candidate_api,
    aux_api,
    facecheck_api,
    examiner_api,
    admin_api,
    proctor_api,
    recordings_api,
    recorded_api,
    takes_api,
    grading_api,
    take_marks_api,
    marking_api,
    results_api,
    exports_api,
    uploads_api,
    artwork_api,
    questions_api,
    prompt_api,
    recording_files,  # the node-to-node side of recordings (docs/nodes.md)
    nodes_api,
    pages,
)


class StartupError(RuntimeError):
    """The server cannot start; the message says why and what to do."""


def create_app(
    settings: Settings, redis: aioredis.Redis | None = None, face_pool: InferencePool | None = None
) -> web.Application:
    """``face_pool``: an inference pool to share (tests); else the app starts its own when
    ``facecheck_workers`` > 0 and the model files are in place."""
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.max_upload_bytes + 1024 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    owns_client = redis is None
    client = redis or connect(settings.redis_url, settings.redis_max_connections)
    app[SERVICES] = Services.build(Store(client, settings.redis_prefix), settings)
    if face_pool is not None:  # given by the caller: usable at once, before the app starts
        app[SERVICES].attach_face_pool(face_pool)

    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(WEB / "templates"), autoescape=True, context_processors=[pages.page_context]
    )
    app.router.add_static("/static", WEB / "static", name="static")
    for module in ROUTE_MODULES:
        module.routes.register(app)

    async def redis_lifecycle(app: web.Application):
        """Refuse to start without Redis; then watch it while running; close what we opened."""
        for attempt in range(10):
            try:
                await ping(client)
                app[METRICS].redis_up.set(1)
                break
            except RedisUnavailable as exc:
                if attempt == 9:
                    raise StartupError(
                        f"Redis at {redact(settings.redis_url or '(given client)')} is unreachable: "
                        f"{exc}. Start Redis or fix REDIS_URL."
                    ) from None
                await asyncio.sleep(0.5)
        watch = asyncio.create_task(_watch_redis(app, client))
        yield
        await stop([watch])
        await app[SERVICES].store.close()
        if owns_client:
            await client.aclose()

    app.cleanup_ctx.append(redis_lifecycle)

    async def face_lifecycle(app: web.Application):
        services = app[SERVICES]
        pool, owned = face_pool, False
        if pool is None and settings.facecheck_workers > 0:
            try:
                pool = InferencePool(
                    settings.models_dir,
                    settings.facecheck_model,
                    settings.facecheck_threshold,
                    settings.facecheck_workers,
                    settings.facecheck_max_pending,
                    settings.facecheck_max_pixels,
                )
                owned = True
            except ModelsMissing as exc:
                services.face_problem = str(exc)
                log.error("face check unavailable", extra={"error": str(exc)})
        services.attach_face_pool(pool)
        warm = asyncio.create_task(pool.warm_up()) if owned and pool else None
        sweeper = asyncio.create_task(_sweep_frames(services, settings.facecheck_retention_days))
        expiry = asyncio.create_task(_expire_accounts(services))
        yield
        await stop([warm, sweeper, expiry])
        if owned and pool:
            pool.close()

    app.cleanup_ctx.append(face_lifecycle)
    sio = build_process(app, settings, app[SERVICES])  # after Redis is known reachable (its start reads Redis)
    app[POLLING_MAX_BYTES] = sio.eio.max_http_buffer_size
    security_headers.install(app)
    return app


async def _sweep_frames(services: Services, retention_days: float, every_s: float = 6 * 3600) -> None:
    """Delete captured face-check frames past their retention, at start and then every few hours."""
    while True:
        removed = await asyncio.to_thread(services.frame_archive.cleanup, retention_days)
        if removed:
            log.info("face check frames deleted after retention", extra={"checks": removed, "days": retention_days})
        await asyncio.sleep(every_s)


async def _expire_accounts(services: Services, every_s: float = 3600) -> None:
    """Delete candidate accounts that never verified an identity (accounts/expiry.py), hourly."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await services.unverified.expire()
        except RedisUnavailable:
            pass  # Redis is away (logged by _watch_redis): the next hour tries again


REDIS_WATCH_S = 0.5  # an outage's start and end are logged (and /healthz's gauge set) within a second


async def _watch_redis(app: web.Application, client: aioredis.Redis, every_s: float = REDIS_WATCH_S) -> None:
    """Log once when Redis goes away and once when it is back (with how long it was away); /healthz
    reports the same. A PING every ``every_s``, given up after ``every_s`` (a stalled Redis)."""
    up = True
    lost_at = 0.0
    metrics = app[METRICS]
    while True:
        await asyncio.sleep(every_s)
        try:
            metrics.redis_latency.observe(await ping(client, timeout_s=every_s))
            metrics.redis_up.set(1)
            if not up:
                await drop_idle(client)  # any left from before the outage
                log.warning("redis reachable again", extra={"outage_s": round(time.monotonic() - lost_at, 3)})
            up = True
        except RedisUnavailable as exc:
            if cancelled():
                raise
            metrics.redis_up.set(0)
            if up:
                lost_at = time.monotonic()
                await drop_idle(client)  # dead now: none may serve a command once Redis is back
                log.error("redis lost", extra={"error": str(exc) or type(exc).__name__})
            up = False
