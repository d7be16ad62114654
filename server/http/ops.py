"""Health, metrics and the API description."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..store.redis import RedisUnavailable
from .context import ACCOUNT, METRICS, SERVICES, SETTINGS
from .metrics_product import product_metrics
from .middleware import load_session
from .routing import PUBLIC, Routes

routes = Routes()
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


async def redis_check(app: web.Application) -> dict:
    metrics = app[METRICS]
    try:
        seconds = await app[SERVICES].ping()
    except RedisUnavailable as exc:
        metrics.redis_up.set(0)
        return {"ok": False, "error": f"redis unreachable: {exc}"}
    metrics.redis_up.set(1)
    metrics.redis_latency.observe(seconds)
    return {"ok": True, "latency_ms": round(seconds * 1000, 2)}


def facecheck_check(app: web.Application) -> dict:
    pool = app[SERVICES].face_checks.pool
    if pool is not None:
        return {"ok": True, "model": pool.model_name, "workers": pool.workers, "pending": pool.pending}
    if app[SETTINGS].facecheck_workers <= 0:
        return {"ok": True, "disabled": True}
    return {"ok": False, "error": app[SERVICES].face_problem or "starting"}


STAFF = ("examiner", "proctor", "admin")


async def is_staff(request: web.Request) -> bool:
    """Whether the caller is logged in as staff; /healthz reads the session itself (the session
    middleware skips it so that it answers while Redis is away)."""
    try:
        await load_session(request)
    except RedisUnavailable:
        return False
    account = request.get(ACCOUNT)
    return account is not None and account.role in STAFF


@routes.get("/healthz", PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    """Anyone (a load balancer, a candidate's network check) learns only ok / unavailable: how deep
    the face-check queue is, or what is broken, is nobody else's business. Staff who are logged in
    also get the checks; the figures are on /metrics (iv_facecheck_pending, iv_redis_up, ...)."""
    checks = {"redis": await redis_check(request.app), "facecheck": facecheck_check(request.app)}
    healthy = all(c["ok"] for c in checks.values())
    body: dict = {"status": "ok" if healthy else "unavailable"}
    if checks["redis"]["ok"] and await is_staff(request):
        body["checks"] = checks
    return web.json_response(body, status=200 if healthy else 503)


@routes.get("/metrics", PUBLIC)
async def metrics(request: web.Request) -> web.Response:
    await redis_check(request.app)
    await product_metrics(request.app).refresh()  # the queue's figures (Redis); the rest is read while generating
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/api/openapi.yaml", PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=OPENAPI.read_text(encoding="utf-8"), content_type="application/yaml")
