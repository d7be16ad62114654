"""A candidate's phone (headless Chromium, 390x844, fake camera) through the deployment kit: nginx
with TLS (a self-signed certificate for interview.test, which the browser is told to accept) in front
of an `interview-server run` node started as its systemd unit starts it, on Redis from redis.conf.
The candidate logs in over HTTPS, opens the interview page, passes the device check and joins the
waiting queue, whose socket.io connection goes through nginx as a WebSocket (the page's, nginx's
and the node's view of it agree)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.deploy import kit
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, FLAGS, STEP_TIMEOUT_MS, VIEWPORT, Shots, watch_csp
from tests.e2e.test_interview import open_interview, running_world

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (scripts/setup.sh)")


async def test_a_candidate_joins_the_queue_through_nginx_over_websocket(proxy, nodes, deployed_services):
    from playwright.async_api import async_playwright

    world, account = await running_world(deployed_services)
    shots = Shots(ARTIFACTS / "deploy_candidate_through_nginx")
    base = proxy.url("").rstrip("/")
    sockets: list[dict] = []
    errors: list[str] = []
    violations: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                *FLAGS,
                f"--host-resolver-rules=MAP {kit.SITE} 127.0.0.1",  # the school's DNS name, here
                "--ignore-certificate-errors",  # the test's self-signed certificate; the page stays https
            ],
        )
        try:
            context = await browser.new_context(
                viewport=VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
            )
            context.set_default_timeout(STEP_TIMEOUT_MS)
            await watch_csp(context, violations)
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def opened(ws) -> None:
                record = {"url": ws.url, "received": [], "sent": []}
                sockets.append(record)
                ws.on("framereceived", lambda frame: record["received"].append(str(frame)))
                ws.on("framesent", lambda frame: record["sent"].append(str(frame)))

            page.on("websocket", opened)
            async with asyncio.timeout(120):
                await open_interview(page, base, world, account, shots)
                await page.wait_for_selector("#interview-page[data-queue-state=waiting_face_check]")
                await shots(page, "in-queue-through-nginx")
                assert await page.inner_text("#q-position") == "第 1 位"
                assert await page.evaluate("() => window.isSecureContext && location.protocol") == "https:"
        finally:
            await browser.close()
    assert not errors and not violations, (errors, violations)

    # the page's socket.io: one WebSocket to the site through nginx, carrying the queue
    queue_sockets = [s for s in sockets if "/socket.io/" in s["url"]]
    assert queue_sockets, [s["url"] for s in sockets]
    for s in queue_sockets:
        assert re.match(
            rf"wss://{re.escape(kit.SITE)}:{proxy.https_port}/socket\.io/\?EIO=4&transport=websocket", s["url"]
        )
    received = "".join(frame for s in queue_sockets for frame in s["received"])
    assert "40/candidate," in received and "queue:snapshot" in received, received[:500]
    assert any("queue:join" in frame for s in queue_sockets for frame in s["sent"])

    # nginx saw the upgrade (101) and no long-polling request; the node saw the browser's address
    entries = [json.loads(line) for line in proxy.access_log.read_text().splitlines()]
    socket_entries = [e for e in entries if e["path"] == "/socket.io/"]
    assert socket_entries and all(e["transport"] == "websocket" and e["status"] == 101 for e in socket_entries), (
        socket_entries
    )
    assert {e["request_id"] for e in entries if e["path"] == "/candidate"}  # one id per request, in both logs
    records = [json.loads(line) for line in kit.logged(nodes) if line.startswith("{")]
    pages = [r for r in records if r.get("path") == f"/candidate/exams/{world.exam.id}/interview"]
    assert pages and pages[-1]["address"] == "127.0.0.1" and pages[-1]["status"] == 200
    nginx_ids = {e["request_id"] for e in entries}
    assert pages[-1]["request_id"] in nginx_ids  # the same request, followed from nginx into the node's log
    # the queue in Redis agrees with what the page shows
    (entry,) = await deployed_services.queue.entries_of(account.id)
    assert entry.state == "waiting_face_check"
