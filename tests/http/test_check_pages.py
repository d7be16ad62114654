"""The candidate's practice page and pre-queue check page (device check + face check): who may open
them, what they contain, the language switch, and the modules they load (all local, all served)."""

from __future__ import annotations

import re
import time

from server.http.context import ROUTE_TABLE
from tests.conftest import ADMIN, PASSWORD, login
from tests.http.test_pages import _asset_refs, _module_imports, _route_matches, get_html

# Shared by both pages: the preview (playsinline for iOS) with its framing oval, the microphone
# meter, the device check, the in-app-browser and blocked-camera notices, dead-camera recovery.
COMMON = [
    '<video id="video" autoplay muted playsinline>',
    'class="guide"',
    'id="mic-level"',
    'id="device-list"',
    'id="start"',
    'id="in-app"',
    'id="camera-blocked"',
    'id="camera-dead"',
    'id="camera-restart"',
    '<script type="module" src="/static/js/check.js"></script>',
    "设备检测",
    "麦克风",
    "重新打开摄像头",
    "在浏览器中打开",
    "务必退出、关闭微信、QQ、录屏",
]
NEW_MODULES = ("check.js", "camera.js", "device.js", "facecheck.js")


async def as_candidate(http, world, index=0, **kwargs):
    account = await world.candidate(index, **kwargs)
    await login(http, account.phone, PASSWORD)
    return account


async def test_practice_page(http, world):
    await as_candidate(http, world)
    html = await get_html(http, "/candidate/practice")
    for needle in COMMON + ["考前练习", "考前练习仅供考生熟悉机位摆放", 'data-exam-id=""']:
        assert needle in html, needle
    assert 'id="face-card"' not in html  # practice: no examiner, no face check
    assert '<html lang="zh-CN">' in html


async def test_check_page_of_an_exam(http, world):
    await as_candidate(http, world)
    html = await get_html(http, f"/candidate/exams/{world.exam.id}/check")
    for needle in COMMON + [
        f'data-exam-id="{world.exam.id}"',
        'id="face-card"',
        'id="face-box"',
        "人脸比对",
        world.exam.name,
        "进入面试前，考生应完成机位架设、通过人脸比对",
        'id="booking-info"',
    ]:
        assert needle in html, needle


async def test_candidate_home_links_to_practice(http, world):
    await as_candidate(http, world)
    html = await get_html(http, "/candidate")
    assert 'href="/candidate/practice"' in html and "进入考前练习" in html


async def test_check_page_of_someone_elses_exam_is_a_clear_404_page(http, services, world):
    now = time.time()  # an exam this candidate is not on
    other = await services.catalog.create_exam(
        ADMIN,
        school="另一所学院",
        name="另一场面试",
        booking_opens=now - 60,
        booking_closes=now + 3600,
        notice="",
        pledge="",
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    await as_candidate(http, world)
    resp = await http.get(f"/candidate/exams/{other.id}/check", allow_redirects=False)
    assert resp.status == 404 and resp.content_type == "text/html"
    html = await resp.text()
    assert "考试不存在" in html and other.name not in html
    resp = await http.get("/candidate/exams/not-an-id!/check", allow_redirects=False)
    assert resp.status == 404


async def test_check_page_needs_identity_verification_first(http, world):
    await as_candidate(http, world, verified=False)
    resp = await http.get(f"/candidate/exams/{world.exam.id}/check", allow_redirects=False)
    assert resp.status == 403 and resp.content_type == "text/html"
    assert "请先完成身份认证" in await resp.text()


async def test_pages_in_english(http, world):
    await as_candidate(http, world)
    await http.get("/lang/en?next=/candidate/practice", allow_redirects=False)
    html = await get_html(http, "/candidate/practice")
    assert '<html lang="en">' in html and 'data-lang="en"' in html
    for needle in ("Practice", "Device check", "Camera and framing", "Restart camera", "Open in browser"):
        assert needle in html, needle
    html = await get_html(http, f"/candidate/exams/{world.exam.id}/check")
    assert "Face check" in html and "Before the interview" in html
    assert not re.search(r"[\u4e00-\u9fff]", html.replace(world.exam.name, "").replace("中文", "").replace("考生0", ""))


async def test_logged_out_and_wrong_roles(http, world):
    for path in ("/candidate/practice", f"/candidate/exams/{world.exam.id}/check"):
        resp = await http.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == f"/login?next={path}"
    await login(http, "examiner-one", PASSWORD)
    resp = await http.get("/candidate/practice", allow_redirects=False)
    assert resp.status == 403 and "没有权限访问此页面" in await resp.text()


async def test_modules_are_local_served_and_call_existing_routes(http, app, world):
    await as_candidate(http, world)
    html = await get_html(http, f"/candidate/exams/{world.exam.id}/check")
    for ref in _asset_refs(html):
        if ref.startswith("/static/"):
            assert (await http.get(ref)).status == 200, ref
    todo = re.findall(r'<script type="module" src="(/static/js/[^"]+)"', html)
    seen: dict[str, str] = {}
    while todo:
        src = todo.pop()
        if src in seen:
            continue
        resp = await http.get(src)
        assert resp.status == 200 and "javascript" in resp.content_type, src
        seen[src] = body = await resp.text()
        assert "http://" not in body and "https://" not in body, src
        for dep in _module_imports(body) + re.findall(r'\bimport\("([^"]+)"\)', body):  # static and dynamic
            if dep.startswith("/static/vendor/"):  # a vendored client (socket.io), installed by setup.sh
                assert (await http.get(dep)).status == 200, (src, dep)
                continue
            assert dep.startswith("/static/js/"), (src, dep)
            todo.append(dep)
    assert {f"/static/js/{m}" for m in NEW_MODULES} <= set(seen)
    # every API path the new modules call exists (a typo would only show in a browser)
    routes = [info.path for info in app[ROUTE_TABLE]]
    calls = {
        re.sub(r"\$\{[^}]*\}", "{}", raw)
        for name in NEW_MODULES
        for raw in re.findall(r'["`](/api/[^"`?]*)', seen[f"/static/js/{name}"])
    }
    assert len(calls) >= 3  # the exam, its slots, its face-check state (the check itself is over the socket)
    assert not [c for c in calls if not any(_route_matches(c, r) for r in routes)]
    assert "/healthz" in seen["/static/js/device.js"]  # the network check's round trip
