"""The staff pages and the candidate's home in normal use, in real Chromium: no console error at all
(Chromium logs every 4xx/5xx answer as one, so a page that asks for something not there yet must get
a 200 with an empty state); Chinese labels instead of codes; times that say 北京时间; the call-next
refusal naming who is not ready and why; the roster warning for a missing ID photo; recordings named
for people; touch targets of at least 44x44 CSS px on the phone. Screenshots (1280x900 for staff
pages) go to test-artifacts/e2e/<test>/."""

from __future__ import annotations

import asyncio
import json
import re
import time

from server.roster import idcard
from server.store.audit import Actor
from tests.conftest import PASSWORD, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.facecheck import faces
from tests.live import FIT_DEVICE, LiveWorld

STAFF_VIEW = {"width": 1280, "height": 900}
RAW_CODE = re.compile(r"\b(?!acc_)[a-z]+_[a-z_]+\b")  # queue_reentered, face_liveness, waited_s ... (not account ids)
FILE_NAME = re.compile(r"\.webm\b|acc_[0-9a-f]")

TARGETS_JS = """() => {
  const out = [];
  const visible = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  for (const e of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    if (!visible(e)) continue;
    // a checkbox or radio is hit through its label
    const target = (e.type === 'checkbox' || e.type === 'radio') && e.closest('label') ? e.closest('label') : e;
    const r = target.getBoundingClientRect();
    if (r.width < 44 || r.height < 44) out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.name ? '[' + e.name + ']' : ''} "${(e.textContent || e.value || '').trim().slice(0, 20)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return out;
}"""

PLACEHOLDER_FITS_JS = """(sel) => {
  const input = document.querySelector(sel);
  const s = getComputedStyle(input);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = s.font;
  const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  return { text: ctx.measureText(input.placeholder).width, room };
}"""


def watch_console(page, errors: list[str]) -> None:
    """Every console error and page error, none ignored (favicon included)."""
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and errors.append(f"console {page.url}: {msg.text} @ {(msg.location or {}).get('url', '')}")
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror {page.url}: {exc}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status} {r.url}"))


async def normal_day(services):
    """A slot that started a minute ago with four booked candidates: 考生0 is in the face check at the
    head of the line, 考生1 failed a head turn, passed, lost the connection, came back and left again;
    a recording of an earlier interview."""
    photo = faces.encode(faces.grace_hopper())  # the app checks ID photos for a face here
    world = await build_world(services, roster_size=4, capacity=4, slot_in=-60, photos=[photo] * 4)
    live = LiveWorld(world, services)
    people = [await live.booked(i) for i in range(4)]
    queue, room = services.queue, world.rooms[0]
    second = people[1]
    await queue.join(second, world.exam.id, live.slot.id, FIT_DEVICE)
    entry = (await services.enrolments.exam_for(second, world.exam.id)).entry
    await services.face_gate.record(
        world.exam.id,
        Actor(second.id, "candidate"),
        passed=False,
        reason="face_liveness",
        distance=0.31,
        check={"check_id": "check_00000000aaaa"},
        kind="queue",
        name=entry.name,
        id_number=entry.id_number,
        photo_sha256=entry.photo_sha256,
    )
    await live.pass_face(second)

    async def away_too_long():
        await queue.sweep(room.id)  # no live socket: disconnected
        await queue.sweep(room.id, now=time.time() + services.queue.grace_s + 5)  # past the grace period: absent

    await away_too_long()
    await queue.join(second, world.exam.id, live.slot.id, FIT_DEVICE)  # back: reentered, still passed
    await away_too_long()
    await queue.join(people[0], world.exam.id, live.slot.id, FIT_DEVICE)  # in the face check
    await recorded(services, world, people[2])
    return world, people


async def recorded(services, world, account) -> None:
    """An earlier interview's files as the recorder names them (<participant>-<kind>-<nn>.webm)."""
    interview_id = "intv_00000000e2e1"
    folder = await services.recordings.started(world.exam.id, world.rooms[0].id, account.id, interview_id)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time()
    tracks = []
    for kind in ("video", "audio"):
        name = f"{account.id}-{kind}-01.webm"
        (folder / name).write_bytes(b"\x1aE\xdf\xa3" + bytes(2000))
        tracks.append(
            {
                "participant_id": account.id,
                "kind": kind,
                "label": "candidate",
                "file": name,
                "size": 2004,
                "sha256": "c" * 64,
                "started_at": start,
                "ended_at": start + 252,
            }
        )
    manifest = {"interview_id": interview_id, "status": "closed", "tracks": tracks, "ended_at": start + 252}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    await services.recordings.stopped(interview_id, manifest)


async def login(page, base: str, who: str, home: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=login]", who)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{home}")


def no_raw_codes(text: str, where: str) -> None:
    found = sorted(set(RAW_CODE.findall(text)))
    assert not found, f"{where}: raw codes {found} in {text[:400]!r}"


async def test_staff_pages_and_the_candidate_home_in_normal_use(live_server, services, browsers, cameras, shots):
    world, people = await normal_day(services)
    errors: list[str] = []
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["grace_hopper"], desktop=True)
        await page.set_viewport_size(STAFF_VIEW)
        watch_console(page, errors)

        # --- the examiner: the room, the refusal, the reasons, the remove form -------------------
        await login(page, live_server, "examiner-one", "/examiner")
        await page.wait_for_selector(".room")
        assert "北京时间" in await page.inner_text("#room-list")
        await shots(page, "examiner-rooms")
        await page.goto(f"{live_server}/examiner/rooms/{world.rooms[0].id}")
        await page.wait_for_selector("#room-page[data-socket=up]")
        await page.wait_for_selector(f"#recent-table tr[data-account='{people[1].id}']")
        await page.wait_for_selector("#room-page[data-rtc=connected]")
        reason_cell = await page.inner_text(f"#recent-table tr[data-account='{people[1].id}'] td:nth-child(3)")
        assert reason_cell == "断线超过等待时限", reason_cell
        queue_text = await page.inner_text("#queue")
        no_raw_codes(queue_text, "examiner queue")
        assert "disconnected" not in queue_text
        rec = await page.inner_text("#rec")
        assert rec == "未开始录制", rec
        await page.click("#call-next")
        await page.wait_for_selector("#action-error:not([hidden])")
        refusal = await page.inner_text("#action-error")
        assert "考生0" in refusal and "等待人脸核验" in refusal, refusal
        fits = await page.evaluate(PLACEHOLDER_FITS_JS, "#remove-form input[name=reason]")
        assert fits["text"] <= fits["room"], fits
        await shots(page, "examiner-room-1280")
        await page.set_viewport_size({"width": 390, "height": 844})
        fits = await page.evaluate(PLACEHOLDER_FITS_JS, "#remove-form input[name=reason]")
        assert fits["text"] <= fits["room"], fits
        await shots(page, "examiner-room-narrow")
        await page.set_viewport_size(STAFF_VIEW)

        # --- the proctor: live view, a candidate's timeline, the audit log ----------------------
        await login(page, live_server, "proctor-one", "/proctor")
        await page.wait_for_selector("#proctor-page[data-live=up]")
        await page.wait_for_selector(f"#cand-table tr[data-account='{people[1].id}']")
        await page.fill("#audit-form [name=exam_id]", world.exam.id)
        await page.click("#audit-form button[type=submit]")
        await page.wait_for_selector(".audit-table tbody tr")
        await page.click(f"#cand-table tr[data-account='{people[1].id}'] button")
        await page.wait_for_selector(f"#timeline ol[data-account='{people[1].id}'] li")
        timeline = await page.inner_text("#timeline")
        no_raw_codes(timeline, "timeline")
        for words in (
            "重新进入候考",
            "未检测到转头动作",
            "断线超过等待时限",
            "到达序号",
            world.rooms[0].name,
            "北京时间",
        ):
            assert words in timeline, (words, timeline)
        assert "=" not in timeline
        audit_text = await page.inner_text("#audit-log")
        no_raw_codes(audit_text, "proctor audit")
        assert "北京时间" in audit_text and "=" not in audit_text
        table_text = await page.inner_text("#cand-table")
        no_raw_codes(table_text, "proctor candidates")
        await shots(page, "proctor")

        # --- the admin: roster import with a row without an ID photo, recordings, audit -----------
        await login(page, live_server, "admin-one", "/admin")
        await page.goto(f"{live_server}/admin?exam={world.exam.id}")
        await page.wait_for_selector("#exam-detail:not([hidden])")
        await page.click("[data-panel=panel-roster]")
        await page.set_input_files(
            "#roster-form [name=file]",
            files=[
                {
                    "name": "roster.csv",
                    "mimeType": "text/csv",
                    "buffer": f"姓名,身份证号,报考科目\n新考生,{idcard.make('110101', '20060101', 50)},声乐\n".encode(),
                }
            ],
        )
        await page.click("#roster-form button[type=submit]")
        await page.wait_for_selector("#report-table tr[data-warning=true]")
        report = await page.inner_text("#roster-report")
        assert "未提供证件照，考生将无法通过人脸比对" in report and "1 人有警告" in report, report
        colour = await page.eval_on_selector("#report-table .reason-warning", "e => getComputedStyle(e).color")
        assert colour == "rgb(138, 75, 0)", colour
        assert await page.is_visible("#roster-no-photo")
        await shots(page, "admin-roster-warning")
        await page.click("[data-panel=panel-recordings]")
        await page.wait_for_selector("#recordings-table li[data-file]")
        files = await page.inner_text("#recordings-table")
        assert not FILE_NAME.search(files), files
        assert "考生2 · 视频 · 第 1 段" in files and "4分12秒" in files, files
        await page.click("#recordings-table li[data-file] button")
        title = await page.inner_text("#player h3")
        assert not FILE_NAME.search(title) and "北京时间" in title and "4分12秒" in title, title
        await shots(page, "admin-recordings")
        await page.click("[data-panel=panel-audit]")
        await page.wait_for_selector("#audit-log .audit-table tbody tr")
        admin_audit = await page.inner_text("#audit-log")
        no_raw_codes(admin_audit, "admin audit")
        assert world.rooms[0].name in admin_audit and "=" not in admin_audit
        await shots(page, "admin-audit")
        assert (await page.request.get(f"{live_server}/favicon.ico")).status == 200

        # --- the candidate's home on a phone -----------------------------------------------------
        phone = await browsers(cameras["grace_hopper"])
        watch_console(phone, errors)
        await login(phone, live_server, people[2].phone, "/candidate")
        await phone.wait_for_selector("#step-booking[data-state=done]")
        await shots(phone, "candidate-home")
        small = await phone.evaluate(TARGETS_JS)
        assert not small, f"touch targets under 44x44 px: {small}"
        home = await phone.inner_text("#candidate-page")
        assert "北京时间" in home, home
        await login(phone, live_server, people[2].phone, "/candidate")  # the login page's own targets
        await phone.goto(f"{live_server}/login")
        small = await phone.evaluate(TARGETS_JS)
        assert not small, f"login page targets under 44x44 px: {small}"

        await asyncio.sleep(1)  # late answers
        assert not errors, errors
        assert not browsers.errors, browsers.errors


async def test_a_new_candidate_with_nothing_yet_logs_no_error(live_server, services, browsers, cameras, shots):
    """Before identity verification (nothing exists yet for the account): the home page's lookups
    answer 200 with an empty state. Then a candidate at the pledge: its checkbox is a big enough target."""
    photo = faces.encode(faces.grace_hopper())
    world = await build_world(services, roster_size=2, photos=[photo, photo])
    account = await world.candidate(0, verified=False)
    pledging = await world.candidate(1, enrolled=False)
    await services.enrolments.confirm(pledging, world.exam.id)
    await services.enrolments.read_notice(pledging, world.exam.id)
    errors: list[str] = []
    async with asyncio.timeout(TEST_TIMEOUT_S):
        phone = await browsers(cameras["grace_hopper"])
        watch_console(phone, errors)
        await login(phone, live_server, account.phone, "/candidate")
        await phone.wait_for_selector("#identity-form")
        await asyncio.sleep(1)
        await shots(phone, "candidate-new")
        small = await phone.evaluate(TARGETS_JS)
        assert not small, f"touch targets under 44x44 px: {small}"
        await login(phone, live_server, pledging.phone, "/candidate")
        await phone.wait_for_selector("#step-pledge input[type=checkbox]")
        await shots(phone, "candidate-pledge")
        box = await phone.eval_on_selector(
            "#step-pledge input[type=checkbox]",
            "b => { const r = b.closest('label').getBoundingClientRect(); return [r.width, r.height]; }",
        )
        assert box[0] >= 44 and box[1] >= 44, box
        small = await phone.evaluate(TARGETS_JS)
        assert not small, f"touch targets under 44x44 px: {small}"
        assert not errors, errors
