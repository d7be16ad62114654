"""Security headers on every answer: pages, JSON, photos, the QR SVG, static files, redirects, errors,
socket.io. The pages themselves run under the CSP without inline script or style (the real-browser
proof, with a violation failing the test, is the whole tests/e2e suite: tests/e2e/conftest.py)."""

from __future__ import annotations

import re
import ssl

import aiohttp
from aiohttp import web
from yarl import URL

from server.app import create_app
from server.http.context import ROUTE_TABLE
from server.http.security_headers import MEDIA_PAGES
from tests.conftest import PASSWORD, fast_settings, jpeg, login, new_client

EVERYWHERE = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def directives(resp) -> dict[str, str]:
    policy = resp.headers.get("Content-Security-Policy", "")
    out = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value
    return out


def check_common(resp, where: str) -> dict[str, str]:
    for name, value in EVERYWHERE.items():
        assert resp.headers.get(name) == value, (where, name, resp.headers.get(name))
    csp = directives(resp)
    assert csp.get("frame-ancestors") == "'none'", (where, csp)
    assert "default-src" in csp, (where, csp)
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"], where
    assert "unsafe-eval" not in resp.headers["Content-Security-Policy"], where
    assert "Strict-Transport-Security" not in resp.headers, where  # plain HTTP
    return csp


def check_page(resp, where: str, media: bool) -> None:
    csp = check_common(resp, where)
    assert resp.content_type == "text/html", where
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", (where, csp)
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", (where, csp)
    host = URL(str(resp.url)).raw_authority
    assert csp["connect-src"].split() == ["'self'", f"ws://{host}", f"wss://{host}"], (where, csp)
    policy = resp.headers["Permissions-Policy"]
    if media:
        assert "camera=(self)" in policy and "microphone=(self)" in policy, (where, policy)
    else:
        assert "camera=()" in policy and "microphone=()" in policy, (where, policy)
    assert "geolocation=()" in policy and "display-capture=()" in policy, (where, policy)


def check_not_page(resp, where: str) -> None:
    csp = check_common(resp, where)
    assert csp["default-src"] == "'none'", (where, csp)  # a JSON answer or an image opened alone runs nothing
    assert "camera=()" in resp.headers["Permissions-Policy"], where


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=|<style\b", re.I)


def no_inline_code(page: str, where: str) -> None:
    """What the CSP would block: an inline script, an on*= handler, a style attribute or element."""
    assert not INLINE_SCRIPT.findall(page), (where, INLINE_SCRIPT.findall(page))
    assert not HANDLER_ATTR.findall(page), (where, HANDLER_ATTR.findall(page)[:3])
    assert not STYLE_ATTR.findall(page), (where, STYLE_ATTR.findall(page)[:3])
    assert "javascript:" not in page, where


async def get(client, path: str, **kw):
    return await client.get(path, allow_redirects=False, **kw)


async def test_every_page_of_every_role_has_the_page_policy_and_no_inline_code(app, http, world):
    exam, room = world.exam.id, world.rooms[0].id
    for path in ("/login", "/register", "/reset", "/aux/not-a-token"):  # the last: the aux error page
        resp = await get(http, path)
        check_page(resp, path, media=False)
        no_inline_code(await resp.text(), path)

    candidate = await world.candidate(0)
    await login(http, candidate.phone, PASSWORD)
    pages = {
        "/candidate": True,  # the identity appeal's live face check
        "/candidate/practice": True,
        f"/candidate/exams/{exam}/check": True,
        f"/candidate/exams/{exam}/interview": True,
        "/candidate/exams/exam_000000000000/check": False,  # the error page of a media route: no camera
    }
    for path, media in pages.items():
        resp = await get(http, path)
        assert resp.status in (200, 404), (path, resp.status)
        check_page(resp, path, media)
        no_inline_code(await resp.text(), path)
    qr = await get(http, f"/api/candidate/exams/{exam}/aux-qr")
    assert qr.status == 200 and qr.content_type == "image/svg+xml"
    check_not_page(qr, "aux-qr")
    assert "<script" not in await qr.text()
    aux = URL(qr.headers["X-Aux-Url"]).path
    phone = await new_client(app)  # the second phone: no session
    resp = await get(phone, aux)
    assert resp.status == 200
    check_page(resp, "aux page", media=True)
    no_inline_code(await resp.text(), "aux page")
    await phone.close()

    for role, paths in {
        "examiner": {"/examiner": False, f"/examiner/rooms/{room}": True},
        "proctor": {"/proctor": False},
        "admin": {"/admin": False, "/proctor": False},
    }.items():
        await http.post("/api/auth/logout")
        await login(http, f"{role}-one", PASSWORD)
        for path, media in paths.items():
            resp = await get(http, path)
            assert resp.status == 200, (path, resp.status)
            check_page(resp, path, media)
            no_inline_code(await resp.text(), path)
    resp = await get(http, "/candidate")  # the "no permission" page of a media route
    assert resp.status == 403
    check_page(resp, "forbidden page", media=False)


async def test_json_images_static_redirects_and_errors_have_the_headers(app, http, world):
    for path, status in {
        "/healthz": 200,
        "/metrics": 200,
        "/api/auth/me": 401,
        "/api/nothing-here": 404,
        "/nothing-here": 404,
        "/": 302,
        "/candidate": 302,
        "/static/js/common.js": 200,
        "/static/css/app.css": 200,
        "/static/favicon.svg": 200,
        "/favicon.ico": 200,
        "/static/vendor/socket.io.esm.min.js": 200,
        "/api/openapi.yaml": 200,
        "/socket.io/?EIO=4&transport=polling": 200,
    }.items():
        resp = await get(http, path)
        assert resp.status == status, (path, resp.status)
        check_not_page(resp, path)
    resp = await http.post("/api/auth/login", json={"login": "nobody", "password": "wrong-pass-1"})
    assert resp.status == 401
    check_not_page(resp, "login refused")

    await login(http, "admin-one", PASSWORD)
    sha = (await (await http.get(f"/api/admin/exams/{world.exam.id}/roster")).json())["roster"][0]["photo_sha256"]
    resp = await get(http, f"/api/staff/photos/{sha}")
    assert resp.status == 200 and resp.content_type == "image/jpeg" and await resp.read() == jpeg()
    check_not_page(resp, "ID photo")


def test_the_media_pages_are_real_routes(app):
    """A renamed page would silently lose its camera: every listed route must exist."""
    pages = {info.path for info in app[ROUTE_TABLE] if info.page}
    assert MEDIA_PAGES <= pages, MEDIA_PAGES - pages


async def test_hsts_only_over_tls(tmp_path, redis_url, prefix, redis):
    settings = fast_settings(tmp_path, redis_url, prefix, tls_self_signed=True, host="127.0.0.1")
    from server.store.embedded import free_port
    from server.tls import ssl_context

    runner = web.AppRunner(create_app(settings, redis))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context(settings)).start()
    try:
        ctx = ssl.create_default_context(cafile=str(settings.data_dir / "tls" / "selfsigned.crt"))
        async with aiohttp.ClientSession() as session:
            for path in ("/login", "/healthz", "/static/js/common.js"):
                resp = await session.get(f"https://127.0.0.1:{port}{path}", ssl=ctx)
                assert resp.headers["Strict-Transport-Security"] == "max-age=31536000", path
                assert resp.headers["X-Frame-Options"] == "DENY"
    finally:
        await runner.cleanup()


async def test_hsts_behind_a_tls_proxy_only_when_the_proxy_is_trusted(tmp_path, redis_url, prefix, redis):
    # trusted_proxies is set (the product's default trusts none): the test client on loopback plays the proxy
    settings = fast_settings(tmp_path, redis_url, prefix, trusted_proxies=("127.0.0.1",))
    client = await new_client(create_app(settings, redis))
    try:
        resp = await get(client, "/login", headers={"X-Forwarded-Proto": "https"})
        assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
        resp = await get(client, "/login", headers={"X-Forwarded-Proto": "http"})
        assert "Strict-Transport-Security" not in resp.headers
    finally:
        await client.close()
    untrusted = await new_client(create_app(fast_settings(tmp_path, redis_url, prefix), redis))
    try:  # anyone else claiming https is not believed
        resp = await get(untrusted, "/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in resp.headers
    finally:
        await untrusted.close()


async def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy_only(tmp_path, redis_url, prefix, redis):
    """cookie_secure auto: Secure when a trusted proxy says the page came over TLS, not when anyone else says so."""
    from server.accounts.sessions import COOKIE
    from server.http.context import SERVICES
    from server.store.audit import Actor

    def secure_cookie(resp) -> bool:
        return "secure" in resp.cookies[COOKIE].output().lower()

    for proxies, expected in ((("127.0.0.1",), True), ((), False)):  # trusted_proxies changed for the first case
        app = create_app(fast_settings(tmp_path, redis_url, prefix, trusted_proxies=proxies), redis)
        client = await new_client(app)
        try:
            if not await app[SERVICES].directory.find_by_login("examiner-tls"):
                await app[SERVICES].directory.create(
                    "examiner", PASSWORD, Actor.system(), name="考官", username="examiner-tls"
                )
            body = {"login": "examiner-tls", "password": PASSWORD}
            resp = await client.post("/api/auth/login", json=body, headers={"X-Forwarded-Proto": "https"})
            assert resp.status == 200, await resp.text()
            assert secure_cookie(resp) is expected, resp.cookies
        finally:
            await client.close()


async def test_a_forged_host_cannot_widen_the_policy(http):
    resp = await get(http, "/login", headers={"Host": "x; script-src *"})
    policy = resp.headers.get("Content-Security-Policy", "")
    assert "script-src *" not in policy and "script-src 'self'" in policy, policy
