"""The Content-Security-Policy in real Chromium: what an injected script (an XSS) would try is blocked,
and the suite's watcher (tests/e2e/conftest.py, which fails every browser test on a violation)
sees it. The pages themselves run under the policy in every other browser test."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import TEST_TIMEOUT_S

INJECT = """() => {
  window.ran = false;
  const s = document.createElement('script');
  s.textContent = 'window.ran = true;';
  document.body.appendChild(s);
  const d = document.createElement('div');
  d.setAttribute('onclick', 'window.ran = true;');
  d.setAttribute('style', 'color: red');
  document.body.appendChild(d);
  d.click();
  const i = document.createElement('img');
  i.src = 'https://evil.example/pixel.png';
  document.body.appendChild(i);
  return new Promise((resolve) => setTimeout(() => resolve({ ran: window.ran, red: getComputedStyle(d).color }), 500));
}"""


async def test_injected_script_style_and_beacon_are_blocked_and_reported(live_server, browsers, cameras):
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["grace_hopper"])
        beacons: list[str] = []

        async def beacon(route):
            beacons.append(route.request.url)
            await route.abort()

        await page.context.route("**://evil.example/**", beacon)
        await page.goto(f"{live_server}/login")
        result = await page.evaluate(INJECT)
        assert result["ran"] is False  # neither the inline script nor the handler attribute ran
        assert result["red"] != "rgb(255, 0, 0)"  # the style attribute was not applied
        assert not beacons  # the image from another host was never requested
        seen = "\n".join(browsers.csp_violations)
        assert "script-src-elem" in seen and "script-src-attr" in seen, seen
        assert "style-src-attr" in seen and "img-src" in seen, seen
        browsers.csp_violations.clear()  # expected here; any other test fails on them
        browsers.errors.clear()
