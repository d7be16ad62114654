"""Open redirects in real Chromium: a real login with a hostile ``next`` stays on this site and lands on
the role's home page; so does the language switch. Chromium reads ``/\\evil.example`` and
``/<tab>/evil.example`` as ``//evil.example`` (another host), which is what made them work. The
attacker's site is a page that records who reached it (the browser never resolves the name)."""

from __future__ import annotations

import asyncio

from tests.conftest import PASSWORD, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.facecheck import faces

HOSTILE = ["/%5Cevil.example", "/%09/evil.example", "/%5C/evil.example", "%09//evil.example", "//evil.example"]


async def attacker_site(page) -> list[str]:
    reached: list[str] = []

    async def evil(route):
        reached.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<h1>evil</h1>")

    await page.context.route("**://evil.example/**", evil)
    return reached


async def log_out(page) -> None:
    """Leave the home page first (its API calls would answer 401 once the cookie is gone), then forget the session."""
    await page.goto("about:blank")
    await page.context.clear_cookies()


async def log_in(page, base: str, phone: str, next_value: str | None = None) -> None:
    await page.goto(f"{base}/login" + (f"?next={next_value}" if next_value is not None else ""))
    await page.fill("input[name=login]", phone)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def test_a_login_with_a_hostile_next_stays_on_the_site(live_server, services, browsers, cameras, shots):
    world = await build_world(services, roster_size=1, photos=[faces.encode(faces.grace_hopper())])
    account = await world.candidate(0)
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["grace_hopper"])
        reached = await attacker_site(page)
        for value in HOSTILE:
            await log_in(page, live_server, account.phone, value)
            await page.wait_for_url(f"{live_server}/candidate")
            assert not reached, (value, reached)
            await log_out(page)
        await shots(page, "home-after-hostile-next")

        # a page of this site is kept
        await log_in(page, live_server, account.phone, "/candidate/practice")
        await page.wait_for_url(f"{live_server}/candidate/practice")
        await log_out(page)

        # the page's own check, should the server ever hand it a hostile target: the browser's parser decides
        for target in ("/\\evil.example", "/\t/evil.example", "https://evil.example/", "javascript:alert(1)"):
            await page.goto(f"{live_server}/login")
            await page.evaluate("(t) => { document.getElementById('login-form').dataset.next = t; }", target)
            await log_in_here(page, account.phone)
            await page.wait_for_url(f"{live_server}/candidate")
            assert not reached, (target, reached)
            await log_out(page)

        # the language switch, logged out and logged in
        for value in HOSTILE:
            await page.goto(f"{live_server}/lang/en?next={value}")
            await page.wait_for_url(f"{live_server}/login")
        await log_in(page, live_server, account.phone)
        await page.wait_for_url(f"{live_server}/candidate")
        await page.goto(f"{live_server}/lang/zh?next=/%09/evil.example")
        await page.wait_for_url(f"{live_server}/candidate")
        assert not reached, reached
        assert not browsers.errors, browsers.errors


async def log_in_here(page, phone: str) -> None:
    await page.fill("input[name=login]", phone)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
