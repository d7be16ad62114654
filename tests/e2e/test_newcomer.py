"""The demo as a newcomer meets it: `interview-server demo` started exactly as `make demo` starts it,
then a whole interview in Chromium from what its banner prints.

The server runs as a subprocess in a fresh working folder (so `data/`, `recordings/` and `models/`
are the defaults, relative to where it runs; `models` links to the checkout's model files, which
`make demo`'s setup puts there), with no INTERVIEW_* or REDIS_URL variable: default settings,
default log level, its own embedded Redis. The one difference: `--port` takes a free port, so the
test never collides with a demo a developer has running on 8080.

The candidate, on a phone-sized browser whose fake camera shows the demo candidate's ID photo
(the public-domain portrait the demo ships), logs in with the printed login, verifies identity as
printed, confirms, reads the notice, signs the pledge, books the slot running now, starts the
interview and passes the face check; the examiner, on a desktop, logs in as printed, opens the
room, calls next; both videos play; the examiner ends it; the candidate then records a take of
the demo's recorded subject and submits it; the admin sees the recording listed.
Afterwards the demo's log holds no error and no traceback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.store.embedded import free_port
from tests.e2e.conftest import REPO, TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import pass_face_check
from tests.e2e.test_interview import video_plays
from tests.e2e.test_recorded import record_take

START_TIMEOUT_S = 180  # first start: embedded Redis, face-check workers loading their models


def read_banner(out_path: Path, proc: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = out_path.read_text(errors="replace") if out_path.exists() else ""
        if "Stop with Ctrl+C" in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"the demo exited with {proc.returncode}: {text}")
        time.sleep(0.2)
    raise AssertionError(f"no banner within {timeout_s} s")


@pytest.fixture
def demo(tmp_path):
    """The running demo: (banner text, base URL, path of its log)."""
    work = tmp_path / "newcomer"
    work.mkdir()
    (work / "models").symlink_to(REPO / "models")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEW_") and k != "REDIS_URL"}
    port = free_port()
    out, err = work / "stdout.txt", work / "log.jsonl"
    command = [str(Path(sys.executable).parent / "interview-server"), "demo", "--port", str(port)]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(command, cwd=work, env=env, stdout=stdout, stderr=stderr)
    try:
        text = read_banner(out, proc, START_TIMEOUT_S)
        yield text, f"http://127.0.0.1:{port}", err
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl+C, as the banner says
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                raise AssertionError("the demo did not stop within 30 s of Ctrl+C") from None
        assert proc.returncode == 0, (proc.returncode, err.read_text(errors="replace")[-3000:])


def logins(banner: str) -> dict:
    def find(pattern: str) -> tuple[str, ...]:
        match = re.search(pattern, banner)
        assert match, f"{pattern!r} not in the banner:\n{banner}"
        return match.groups()

    phone, password = find(r"/login\s+login (\d{11})\s+password (\S+)")
    name, id_number = find(r"as: (\S+) / ([0-9X]{18})")
    examiner = find(r"/examiner\s+login (\S+)\s+password (\S+)")
    admin = find(r"/admin\s+login (\S+)\s+password (\S+)")
    (exam_id,) = find(r"\(demo exam (exam_\w+)\)")
    (room,) = find(r"open (\S+), press 叫号")
    return {
        "phone": phone,
        "password": password,
        "name": name,
        "id_number": id_number,
        "examiner": examiner,
        "admin": admin,
        "exam_id": exam_id,
        "room": room,
    }


async def staff_login(page, base: str, username: str, password: str, home: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{home}")


async def test_a_newcomer_holds_a_whole_interview_in_the_demo_as_printed(demo, browsers, cameras, shots):
    banner, base, log_path = demo
    print(banner)
    given = logins(banner)
    candidate = await browsers(cameras["grace_hopper"])  # the demo candidate's portrait in front of the camera
    candidate.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # the booking's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 120):
        started = time.monotonic()
        await candidate.goto(f"{base}/login")
        await candidate.fill("input[name=login]", given["phone"])
        await candidate.fill("input[name=password]", given["password"])
        await candidate.click("button[type=submit]")
        await candidate.wait_for_url(f"{base}/candidate")
        await candidate.fill("#identity-form input[name=name]", given["name"])
        await candidate.fill("#identity-form input[name=id_number]", given["id_number"])
        await candidate.click("#identity-form button[type=submit]")
        await candidate.wait_for_selector("#step-identity[data-state=done]")
        await candidate.click("#step-confirm button")
        await candidate.wait_for_selector("#step-confirm[data-state=done]")
        await candidate.click("#step-notice button")
        await candidate.wait_for_selector("#step-notice[data-state=done]")
        await candidate.check("#step-pledge input[name=agree]")
        await candidate.click("#step-pledge button[type=submit]")
        await candidate.wait_for_selector("#step-pledge[data-state=done]")
        await shots(candidate, "candidate-before-booking")
        running = candidate.locator("#step-booking .slot-option:not(.off)").first  # the slot running now
        assert "进行中" in await running.inner_text()
        await running.click()
        await candidate.click("#step-booking button[type=submit]")
        await candidate.wait_for_selector("#step-booking[data-state=done]")
        await candidate.wait_for_selector(f".start-block[data-exam='{given['exam_id']}'][data-state=open]")
        # the next step comes into view by itself (it sits at the top of a long page)
        await candidate.wait_for_function("""() => { const r = document.getElementById('summary').getBoundingClientRect();
                                             return r.top >= -1 && r.top < window.innerHeight / 2; }""")
        await shots(candidate, "candidate-booked", full_page=False)

        await candidate.click(f"a[href='/candidate/exams/{given['exam_id']}/interview']")
        await candidate.wait_for_selector("#interview-page[data-device=ok]")
        await candidate.wait_for_selector("#join:not([disabled])")
        await candidate.click("#join")
        await candidate.wait_for_selector("#interview-page[data-stage=queue]")
        await pass_face_check(candidate, shots, "newcomer-face-check")
        await candidate.wait_for_selector("#interview-page[data-queue-state=waiting]")

        examiner = await browsers(cameras["astronaut"], desktop=True)
        examiner.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "end the interview?"
        await staff_login(examiner, base, *given["examiner"], "/examiner")
        await examiner.locator(f"section.room:has(h2:text-is('{given['room']}')) a.button").first.click()
        await examiner.wait_for_selector("#room-page[data-rtc=connected]")
        await examiner.wait_for_selector("#queue-table tr[data-state=waiting]")
        await shots(examiner, "examiner-queue")
        await examiner.click("#call-next")
        await video_plays(examiner, "#cand-video")
        await video_plays(candidate, "#remote video")
        interview_s = time.monotonic() - started
        await candidate.wait_for_selector("#rec[data-state=recording]")
        await shots(candidate, "candidate-in-room", full_page=False)
        await shots(examiner, "examiner-in-room")
        await asyncio.sleep(2)  # some recorded media
        await examiner.click("#end")
        await candidate.wait_for_selector("#interview-page[data-end=done]")
        await shots(candidate, "candidate-end")

        # the recorded subject the banner prints (5.), as the same candidate: one formal take, submitted
        await candidate.goto(f"{base}/candidate")
        await candidate.click("#recorded-card a[data-action=formal]")
        await candidate.wait_for_selector("#recorded-page[data-stage=rules]")
        await candidate.click("#enter")
        await candidate.wait_for_selector("#recorded-page[data-stage=check]")
        await candidate.click("#start")
        await candidate.wait_for_selector("#recorded-page[data-device=ok]")
        await candidate.wait_for_selector("#recorded-page[data-face=passed]")  # the queue's check a minute ago
        await candidate.click("#to-ready")
        await candidate.wait_for_selector("#recorded-page[data-stage=ready]")
        take = await record_take(candidate, shots, "newcomer-take", stop_after_s=2.5)
        await candidate.click(f"[data-take='{take}'] input[name=pick]")
        await candidate.click("#submit")
        await candidate.wait_for_selector("#recorded-page[data-stage=done]")
        assert "已提交" in await candidate.inner_text("#stage-done")
        await shots(candidate, "newcomer-take-submitted")

        admin = await browsers(cameras["astronaut"], desktop=True)
        await staff_login(admin, base, *given["admin"], "/admin")
        await admin.goto(f"{base}/admin?exam={given['exam_id']}")
        await admin.click("[data-panel=panel-recordings]")
        await admin.wait_for_selector("#recordings-table li[data-file]", timeout=30_000)
        await shots(admin, "admin-recordings")
        print(f"newcomer: login -> both videos playing in {interview_s:.0f} s")
        assert not browsers.errors, browsers.errors

    problems = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"not JSON: {line}")
            continue
        if record.get("level") in ("error", "critical") or "exc" in record:
            problems.append(line)
    assert not problems, "\n".join(problems[:20])
