"""Real-browser tests: Debian's headless Chromium driven by Playwright against a running server.

- The server is the real app (real Redis, the real face-check worker pool with the real models)
  listening on 127.0.0.1 on a free port.
- Each browser is its own Chromium process with a fresh profile and a fake camera: a .y4m clip of a
  real face turning its head, made here from photos that ship in packages (tests/e2e/fakecam.py).
- Screenshots of every step go to test-artifacts/e2e/<test>/ (kept after the run).
- Skipped, with the reason, only when /usr/bin/chromium is missing (scripts/setup.sh installs it).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from server.app import create_app
from server.facecheck.models import ModelsMissing, check_models
from tests.e2e import fakecam
from tests.facecheck import faces

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "e2e"
TURNS = ARTIFACTS / "cameras" / "grace_hopper-turns"  # written by the cameras fixture (fakecam.write_turn_pictures)
VIEWPORT = {"width": 390, "height": 844}  # a phone
DESKTOP = {"width": 1366, "height": 900}  # an examiner's screen
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
STEP_TIMEOUT_MS = 20_000  # any single wait in a page
TEST_TIMEOUT_S = 240  # a whole browser test


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (scripts/setup.sh installs Debian's chromium)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("INTERVIEW_MODELS_DIR") or REPO / "models").absolute()
    try:
        check_models(path, "Dlib")
    except ModelsMissing as exc:
        pytest.fail(str(exc))
    return path


@pytest.fixture(scope="session")
def face_pool(models_dir):
    from server.facecheck.pool import InferencePool

    pool = InferencePool(models_dir, "Dlib", workers=2, max_pending=32)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def cameras(models_dir) -> dict[str, Path]:
    """name -> .y4m: ``grace_hopper`` (the ID photo of the tests' candidate) and ``astronaut`` (someone else);
    ``grace_hopper_turns``: a folder of that face turned by steps (the driven camera, fakecam.py)."""
    from server.facecheck.engine import FaceEngine

    folder = ARTIFACTS / "cameras"
    folder.mkdir(parents=True, exist_ok=True)
    engine = FaceEngine.load(models_dir)
    try:
        observe = lambda image: engine.observe(image, embed=False)  # noqa: E731
        made = {
            name: fakecam.make_camera(folder / f"{name}.y4m", photo, observe)
            for name, photo in (("grace_hopper", faces.grace_hopper()), ("astronaut", faces.astronaut()))
        }
        # the candidate's face turned by steps, for the camera that follows the live check's moves
        made["grace_hopper_turns"] = fakecam.write_turn_pictures(TURNS, faces.grace_hopper(), observe)
        return made
    finally:
        engine.close()


@pytest.fixture
async def app(settings, redis, face_pool):
    return create_app(settings, redis, face_pool=face_pool)


@pytest.fixture
async def live_server(app):
    """The app on a real socket: http://127.0.0.1:<free port> (a secure context for getUserMedia)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


class Shots:
    """Numbered screenshots of each step under test-artifacts/e2e/<test>/."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0

    async def __call__(self, page, step: str, full_page: bool = True) -> Path:
        """full_page=False: only what the phone's screen shows."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name))


@pytest.fixture
async def browsers(tmp_path):
    """``await browsers(camera_y4m)`` -> a page in a new Chromium (own process, fresh profile, 390x844)."""
    from playwright.async_api import async_playwright

    contexts = []
    errors: list[str] = []
    violations: list[str] = []
    async with async_playwright() as pw:

        async def open_browser(camera: Path, lang: str = "zh-CN", user_agent: str | None = None, desktop: bool = False):
            """desktop=True: an examiner's or proctor's 1366x900 desktop instead of a phone."""
            profile = tmp_path / f"profile-{len(contexts)}"
            context = await pw.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*FLAGS, f"--use-file-for-fake-video-capture={camera}", "--autoplay-policy=user-gesture-required"],
                viewport=DESKTOP if desktop else VIEWPORT,
                device_scale_factor=1 if desktop else 2,
                is_mobile=not desktop,
                has_touch=not desktop,
                locale=lang,
                user_agent=user_agent,
                timeout=60_000,
            )
            contexts.append(context)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            await watch_csp(context, violations)
            # the camera the live face check can drive (fakecam.py): the y4m's video until a test loads faces
            await context.add_init_script(fakecam.DRIVEN_CAMERA_JS)
            page = context.pages[0] if context.pages else await context.new_page()
            # every load fetches everything, so the page weights below are a first visit's
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    msg.type == "error"
                    and "favicon" not in (msg.location or {}).get("url", "")
                    and errors.append(f"console {page.url}: {msg.text}")
                ),
            )
            return page

        open_browser.errors = errors
        open_browser.csp_violations = violations
        try:
            yield open_browser
        finally:
            for context in contexts:
                await asyncio.wait_for(context.close(), 30)
        # the pages run under the server's real Content-Security-Policy: anything it blocked fails the test
        assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


# Every page of a browser reports what the CSP blocked (an inline script or style, a handler attribute,
# a connection or an image from elsewhere): the event, before the page's own scripts run, and
# Chromium's console line for it.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(
  [e.effectiveDirective, e.blockedURI || '(inline)', e.sourceFile + ':' + e.lineNumber, e.sample].join(' | ')), true);"""


async def watch_csp(context, violations: list[str]) -> None:
    await context.expose_binding(
        "__cspViolation", lambda source, text: violations.append(f"{source['page'].url}: {text}")
    )
    await context.add_init_script(CSP_LISTENER)

    def console(msg) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            violations.append(f"console: {msg.text}")

    context.on("console", console)


FIGURES: list[str] = []  # printed at the end of the run (pytest_terminal_summary)


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("e2e figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


async def page_weight(page, label: str) -> dict:
    """What loading the page transferred (the browser's cache is off: a first visit), split into the
    page itself (HTML, CSS, JS modules) and the API calls it made; kept for the end-of-run summary."""
    weight = await page.evaluate("""() => {
      const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      const isApi = (e) => new URL(e.name).pathname.startsWith('/api/');
      const sum = (list) => list.reduce((n, e) => n + (e.transferSize || 0), 0);
      const files = all.filter((e) => !isApi(e)), api = all.filter(isApi);
      return { files: files.map((e) => [new URL(e.name).pathname, e.transferSize]),
               static_bytes: sum(files), api_bytes: sum(api), api_calls: api.length };
    }""")
    line = (
        f"page weight {label}: {weight['static_bytes'] / 1024:.1f} KB transferred for {len(weight['files'])} files "
        f"(HTML, CSS, JS; uncompressed, headers included) + {weight['api_bytes'] / 1024:.1f} KB for "
        f"{weight['api_calls']} API calls; "
        + ", ".join(f"{p.rsplit('/', 1)[-1] or p} {b / 1024:.1f}" for p, b in weight["files"])
    )
    print(line)
    FIGURES.append(line)
    return weight
