"""Health, metrics, request ids, and what users see when Redis goes away and comes back."""

import json
import logging

from server.app import create_app
from server.store.embedded import EmbeddedRedis
from server.store.redis import connect
from tests.conftest import PASSWORD, fast_settings, login, new_client


async def test_healthz_tells_outsiders_only_ok(http, world):
    """The public answer is ok / unavailable and nothing else: not how deep the face-check queue is,
    not what is broken (before: every check, the pool's pending images included, to anyone)."""
    resp = await http.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    candidate = await world.candidate(0)
    await login(http, candidate.phone, PASSWORD)
    assert await (await http.get("/healthz")).json() == {"status": "ok"}  # a candidate is not staff


async def test_healthz_gives_staff_the_checks(http, world):
    for role in ("admin", "proctor", "examiner"):
        await login(http, f"{role}-one", PASSWORD)
        resp = await http.get("/healthz")
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "ok" and body["checks"]["redis"]["ok"] is True, role
        assert body["checks"]["redis"]["latency_ms"] >= 0
        assert body["checks"]["facecheck"] == {"ok": True, "disabled": True}  # fast_settings: no face workers
        await http.post("/api/auth/logout")


async def test_metrics_count_requests_logins_and_redis(http, world):
    await login(http, "admin-one", PASSWORD)
    await http.post("/api/auth/login", json={"login": "admin-one", "password": "wrong-pass-1"})
    text = await (await http.get("/metrics")).text()
    assert 'iv_http_requests_total{method="POST",route="/api/auth/login",status="200"} 1.0' in text
    assert 'iv_logins_total{outcome="failed"} 1.0' in text
    assert "iv_sessions_created_total 1.0" in text
    assert "iv_redis_up 1.0" in text and "iv_redis_latency_seconds_count" in text


async def test_every_answer_has_a_request_id_and_a_json_log_line(http, caplog):
    caplog.set_level(logging.INFO, logger="server.http")
    resp = await http.get("/api/auth/me", headers={"X-Request-Id": "abc123"})
    assert resp.headers["X-Request-Id"] == "abc123"
    records = [r for r in caplog.records if r.getMessage() == "request" and getattr(r, "path", "") == "/api/auth/me"]
    assert records and records[-1].status == 401
    from server.logs import JsonFormatter, request_id

    token = request_id.set("abc123")
    try:
        line = json.loads(JsonFormatter().format(records[-1]))
    finally:
        request_id.reset(token)
    assert line["event"] == "request" and line["status"] == 401 and line["request_id"] == "abc123"
    assert (await http.get("/healthz")).headers["X-Request-Id"]


async def test_redis_lost_while_running_gives_503_and_recovers(tmp_path, prefix):
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    client = connect(server.url)
    app = create_app(fast_settings(tmp_path, server.url, prefix), client)
    http = await new_client(app)
    from server.http.context import SERVICES
    from server.store.audit import Actor

    await app[SERVICES].directory.create("admin", PASSWORD, Actor.system(), username="admin-one")
    await login(http, "admin-one", PASSWORD)
    port = server.port
    server.stop()

    resp = await http.get("/healthz")
    body = await resp.json()
    assert resp.status == 503 and body == {"status": "unavailable"}  # the reason is in the log ("redis lost")
    resp = await http.get("/api/admin/exams")
    err = (await resp.json())["error"]
    assert resp.status == 503 and err["code"] == "storage_unavailable" and "稍后再试" in err["message"]

    # same port, same AOF folder: the data and the session are back
    server = EmbeddedRedis(tmp_path / "redis", port=port, persist=True).start()
    try:
        assert (await http.get("/healthz")).status == 200
        assert (await http.get("/api/admin/exams")).status == 200
    finally:
        await http.close()
        await client.aclose()
        server.stop()


async def test_app_refuses_to_start_without_redis(tmp_path, prefix):
    from server.app import StartupError
    from server.store.embedded import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(fast_settings(tmp_path, url, prefix))
    try:
        await new_client(app)
        raise AssertionError("started without Redis")
    except StartupError as exc:
        assert "unreachable" in str(exc) and "REDIS_URL" in str(exc)


async def test_missing_models_are_unavailable_to_outsiders_and_named_to_staff(tmp_path, redis_url, prefix, redis):
    # face workers on (fast_settings turns them off) and no model files: the face check cannot start
    settings = fast_settings(tmp_path, redis_url, prefix, facecheck_workers=2, models_dir=tmp_path / "no-models")
    client = await new_client(create_app(settings, redis))
    try:
        from server.http.context import SERVICES
        from server.store.audit import Actor

        resp = await client.get("/healthz")
        assert resp.status == 503 and await resp.json() == {"status": "unavailable"}
        await client.server.app[SERVICES].directory.create("admin", PASSWORD, Actor.system(), username="admin-one")
        await login(client, "admin-one", PASSWORD)
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["checks"]["redis"]["ok"] is True
        assert "interview-server fetch-models" in body["checks"]["facecheck"]["error"]
    finally:
        await client.close()
