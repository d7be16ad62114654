"""The role pages: who may open them, what they contain, language switch, and their static assets."""

from __future__ import annotations

import re

import pytest

from server.http.context import ROUTE_TABLE
from tests.conftest import PASSWORD, login

PAGES = ("/candidate", "/examiner", "/proctor", "/admin")

# Key elements of each page: the forms and containers its module fills in, and the UI's Chinese wording.
KEY_ELEMENTS = {
    "/candidate": [
        'id="identity-form"',
        'name="name"',
        'name="id_number"',
        'id="step-confirm"',
        'id="step-notice"',
        'id="step-pledge"',
        'id="step-booking"',
        "身份证号中带有 X 请输入大写 X",
        "认证后不可更改信息",
        "预约完成后不可修改",
        "考前阅读",
        "诚信承诺书",
    ],
    "/examiner": ['id="room-list"', "我的考场", "考生按进入的顺序排队面试"],
    "/proctor": [
        'id="appeal-table"',
        'id="audit-form"',
        'name="exam_id"',
        'id="audit-log"',
        "身份认证申诉",
        "审计日志",
    ],
    "/admin": [
        'id="exam-form"',
        'name="booking_opens"',
        'name="booking_closes"',
        'id="subject-rows"',
        'id="subject-form"',
        'id="room-form"',
        'id="slot-form"',
        'id="roster-form"',
        'name="file"',
        'name="photos"',
        'id="roster-table"',
        'id="booking-table"',
        'id="audit-log"',
        'id="user-form"',
        'id="user-table"',
        "考试列表",
        "账号管理",
    ],
}
MODULE = {"/candidate": "candidate.js", "/examiner": "examiner.js", "/proctor": "proctor.js", "/admin": "admin.js"}


async def as_role(http, world, role: str) -> None:
    if role == "candidate":
        account = await world.candidate(0)
        await login(http, account.phone, PASSWORD)
    else:
        await login(http, f"{role}-one", PASSWORD)


async def get_html(http, path: str) -> str:
    resp = await http.get(path, allow_redirects=False)
    assert resp.status == 200, (path, resp.status, await resp.text())
    assert resp.content_type == "text/html"
    return await resp.text()


@pytest.mark.parametrize("path", PAGES)
async def test_page_renders_for_its_role(http, world, path):
    role = path.strip("/")
    await as_role(http, world, role)
    html = await get_html(http, path)
    for needle in KEY_ELEMENTS[path]:
        assert needle in html, (path, needle)
    assert f'<script type="module" src="/static/js/{MODULE[path]}"></script>' in html
    assert '<html lang="zh-CN">' in html


async def test_admin_may_open_the_proctor_desk(http, world):
    await as_role(http, world, "admin")
    html = await get_html(http, "/proctor")
    assert 'data-role="admin"' in html  # the module then offers a list of exams instead of a typed id


@pytest.mark.parametrize("path", PAGES)
async def test_logged_out_goes_to_login_with_next(http, world, path):
    resp = await http.get(path, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize(
    "role,path",
    [
        ("candidate", "/admin"),
        ("candidate", "/examiner"),
        ("candidate", "/proctor"),
        ("examiner", "/candidate"),
        ("examiner", "/admin"),
        ("examiner", "/proctor"),
        ("proctor", "/admin"),
        ("proctor", "/candidate"),
        ("proctor", "/examiner"),
        ("admin", "/candidate"),
        ("admin", "/examiner"),
    ],
)
async def test_wrong_role_is_refused(http, world, role, path):
    await as_role(http, world, role)
    resp = await http.get(path, allow_redirects=False)
    assert resp.status == 403 and resp.content_type == "text/html"
    assert "没有权限访问此页面" in await resp.text()


async def test_language_switch_turns_pages_english(http, world):
    html = await get_html(http, "/login")
    assert "登录" in html and '<html lang="zh-CN">' in html
    resp = await http.get("/lang/en?next=/login", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/login"
    html = await get_html(http, "/login")
    assert '<html lang="en">' in html and "Log in" in html and "登录" not in html

    await as_role(http, world, "candidate")
    html = await get_html(http, "/candidate")
    assert 'data-lang="en"' in html
    assert "Identity verification" in html and "If your ID number contains an X, enter a capital X" in html
    assert "身份认证" not in html and "预约完成后不可修改" not in html
    await http.post("/api/auth/logout")
    await as_role(http, world, "admin")
    html = await get_html(http, "/admin")
    assert "Create an exam" in html and "Import roster" in html and "考试列表" not in html

    resp = await http.get("/lang/zh?next=/candidate", allow_redirects=False)
    assert resp.status == 302
    html = await get_html(http, "/admin")  # the cookie is now zh again
    assert "考试列表" in html


def _asset_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def _module_imports(js: str) -> list[str]:
    return re.findall(r'^\s*import\s[^;]*?from\s+"([^"]+)"', js, re.M)


async def test_pages_use_only_local_assets_and_every_module_is_served(http, world):
    modules: set[str] = set()
    for path in PAGES:
        await http.post("/api/auth/logout")
        await as_role(http, world, path.strip("/"))
        html = await get_html(http, path)
        for ref in _asset_refs(html):
            if ref.startswith("#"):
                continue  # in-page links
            assert ref.startswith("/") and not ref.startswith("//"), (path, ref)  # no CDN, no other host
            if ref.startswith("/static/"):
                resp = await http.get(ref)
                assert resp.status == 200, ref
        modules |= set(re.findall(r'<script type="module" src="(/static/js/[^"]+)"', html))
    assert {f"/static/js/{m}" for m in MODULE.values()} <= modules

    # Follow the imports of every module: all of them local and served as JavaScript.
    seen: set[str] = set()
    todo = sorted(modules)
    while todo:
        src = todo.pop()
        if src in seen:
            continue
        seen.add(src)
        resp = await http.get(src)
        assert resp.status == 200, src
        assert "javascript" in resp.content_type, (src, resp.content_type)
        body = await resp.text()
        assert "http://" not in body and "https://" not in body, src
        for dep in _module_imports(body):
            if dep == "/static/vendor/socket.io.esm.min.js":  # the pinned socket.io client (test_vendor.py)
                assert (await http.get(dep)).status == 200
                continue
            assert dep.startswith("/static/js/"), (src, dep)
            todo.append(dep)
    assert "/static/js/common.js" in seen


def _route_matches(call: str, route: str) -> bool:
    a, b = call.strip("/").split("/"), route.strip("/").split("/")
    return len(a) == len(b) and all(
        x == y or (y.startswith("{") and y.endswith("}")) or x == "{}" for x, y in zip(a, b, strict=False)
    )


async def test_every_api_path_the_modules_call_exists(http, app):
    """A typo in a page's API path would only show in a browser; check them against the route table."""
    routes = [info.path for info in app[ROUTE_TABLE]]
    calls = set()
    for name in MODULE.values():
        body = await (await http.get(f"/static/js/{name}")).text()
        for raw in re.findall(r'["`](/api/[^"`?]*)', body):
            calls.add(re.sub(r"\$\{[^}]*\}", "{}", raw))
    assert len(calls) > 20
    missing = [c for c in sorted(calls) if not any(_route_matches(c, r) for r in routes)]
    assert not missing, missing
