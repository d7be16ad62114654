"""Health, metrics and the API description."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..store.redis import RedisUnavailable
from .context import METRICS, SERVICES, SETTINGS
from .metrics_product import product_metrics
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


@routes.get("/healthz", PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    checks = {"redis": await redis_check(request.app), "facecheck": facecheck_check(request.app)}
    healthy = all(c["ok"] for c in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


@routes.get("/metrics", PUBLIC)
async def metrics(request: web.Request) -> web.Response:
    await redis_check(request.app)
    await product_metrics(request.app).refresh()  # the queue's figures (Redis); the rest is read while generating
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/api/openapi.yaml", PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=OPENAPI.read_text(encoding="utf-8"), content_type="application/yaml")
