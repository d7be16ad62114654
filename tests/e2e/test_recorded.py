"""A recorded exam in a real phone-sized Chromium (fake camera: the candidate's own face): from the exam
list the candidate opens a recorded subject, reads the rules, presses 已知晓并同意 (the sitting's countdown
starts), passes the device check and the face check, sees the exam code, records two takes (one stopped
by hand, one stopped by the server at the take limit), plays one back from the server, submits the second
and sees 已提交 with its length and checksum. The submitted file decodes with PyAV to the recorded length;
a third take is refused. An admin's 1280x900 screen shows the sittings table and plays the submission."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av

from server.rooms.remux import PLAYABLE
from server.store.audit import Actor
from server.store.models import Take
from tests.conftest import PASSWORD, build_world
from tests.e2e.conftest import FIGURES, TEST_TIMEOUT_S, page_weight
from tests.e2e.test_candidate_checks import log_in, pass_face_check
from tests.facecheck import faces

TAKE_MAX_S = 10  # the server stops a take at this length (the shortest limit a subject may have)
ADMIN_SCREEN = {"width": 1280, "height": 900}

PLAYS_JS = """async (selector) => {
  const v = document.querySelector(selector);
  if (!v) return null;
  v.muted = true;  // muted playback needs no tap (autoplay policy)
  await v.play().catch(() => {});
  const t0 = v.currentTime;
  await new Promise((r) => setTimeout(r, 1200));
  return {t0, t1: v.currentTime, duration: v.duration, w: v.videoWidth, h: v.videoHeight};
}"""


async def recorded_world(services, roster_size: int = 1, closes_in: float = 3600, time_limit_min: int = 30):
    """Rostered candidates (ID photo: grace_hopper) whose subject 声乐 is a recorded one, open now;
    the first candidate's account (verified, confirmed, pledge signed) and the subject."""
    photos = [faces.encode(faces.grace_hopper())] * roster_size
    world = await build_world(services, roster_size=roster_size, photos=photos)
    account = await world.candidate(0)
    now = time.time()
    subject = await services.catalog.update_subject(
        Actor.system(),
        world.exam.id,
        world.subjects[0].id,
        kind="recorded",
        takes_allowed=3,
        take_max_s=TAKE_MAX_S,
        window_opens=now - 600,
        window_closes=now + closes_in,
        time_limit_min=time_limit_min,
        sittings_allowed=2,
        mock_tries=1,
    )
    return world, account, subject


def playable_file(settings, take: Take) -> Path:
    """The take's remuxed main-camera file on disk (recordings/<exam>/<candidate>/<take>/playable.webm)."""
    return settings.recordings_dir / take.exam_id / take.account_id / take.id / PLAYABLE


async def takes_of(services, sitting_id: str) -> dict[str, Take]:
    return {x.id: x for x in await services.sittings.takes(sitting_id)}


def webm_seconds(path) -> float:
    """The length of a WebM by decoding it: last video frame's time minus the first's."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream) if frame.pts is not None]
    assert len(times) > 10, times
    return max(times) - min(times)


async def take_ids(page) -> list[str]:
    return await page.eval_on_selector_all("#take-list [data-take]", "items => items.map((i) => i.dataset.take)")


async def record_take(page, shots, step: str, *, stop_after_s: float | None, switch_network: bool = False) -> str:
    """Press 开始录制, see the 3-2-1 and the recorder's state from the server, stop by hand (or wait for the
    limit); returns the take's id. ``switch_network``: half-way the phone changes networks (Wi-Fi -> 4G)
    and the page makes a new connection for the take by itself (take:restart)."""
    before = len(await take_ids(page))
    await page.click("#take-start")
    await page.wait_for_selector("#recorded-page[data-stage=take]")
    await page.wait_for_selector("#countdown:not([hidden])")
    await shots(page, f"{step}-countdown", full_page=False)
    await page.wait_for_selector("#recorded-page[data-taking='1']", timeout=30_000)
    await page.wait_for_selector("#rec[data-state=recording]", timeout=15_000)  # pushed by the server's recorder
    take_id = await page.get_attribute("#recorded-page", "data-take-id")
    if switch_network:
        await asyncio.sleep(1.5)
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await page.wait_for_selector("#recorded-page[data-reconnected='1']", timeout=15_000)
        assert "已重新连接，录制继续" in await page.inner_text("#take-status")
        await shots(page, f"{step}-reconnected", full_page=False)
        await page.wait_for_selector("#rec[data-state=recording]")
    if stop_after_s is not None:
        await asyncio.sleep(stop_after_s)
        await shots(page, f"{step}-recording", full_page=False)
        await page.click("#take-stop")
        reason = "stopped"
    else:
        await asyncio.sleep(2)
        await shots(page, f"{step}-recording", full_page=False)
        reason = "limit"
    await page.wait_for_selector("#recorded-page[data-stage=ready]", timeout=30_000)
    assert await page.get_attribute("#recorded-page", "data-last-end") == f"complete:{reason}"
    assert len(await take_ids(page)) == before + 1
    # the playback file is remuxed on the server at once: the list shows a player for it
    await page.wait_for_selector(f"[data-take='{take_id}'] video.take-player", timeout=30_000)
    await shots(page, f"{step}-saved")
    return take_id


async def test_candidate_records_plays_back_and_submits(live_server, services, settings, browsers, cameras, shots):
    world, account, subject = await recorded_world(services)
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # submit's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 60):
        await log_in(page, live_server, account, shots)

        # the exam list: the recorded subject offers 去考试 / 去模拟考 / 练习 instead of booking
        block = f"#recorded-card [data-subject='{subject.id}']"
        await page.wait_for_selector(f"{block} a[data-action=formal]")
        assert await page.is_visible(f"{block} a[data-action=mock]")
        assert await page.is_visible(f"{block} a[data-action=practice]")
        await page.eval_on_selector("#recorded-card", "e => e.scrollIntoView()")
        await shots(page, "exam-list", full_page=False)
        await page.click(f"{block} a[data-action=formal]")
        await page.wait_for_url(f"**/candidate/exams/{world.exam.id}/recorded/{subject.id}?mode=formal")

        # the rules, then 已知晓并同意: the sitting starts
        await page.wait_for_selector("#recorded-page[data-stage=rules]")
        rules = await page.inner_text("#rules")
        assert "可录制次数：3 次" in rules and "10秒" in rules and "30 分钟" in rules, rules
        await shots(page, "rules")
        await page_weight(page, "/candidate/exams/{exam}/recorded/{subject}")
        await page.click("#enter")
        await page.wait_for_selector("#recorded-page[data-stage=check]")
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        assert sitting_id
        left = await page.inner_text("#sitting-left")
        assert left.startswith(("29:", "30:")), left  # the countdown runs: 30 minutes from entering

        # device check, face check (the exam's queue check and its 3 strikes)
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device]")
        await shots(page, "device-check")
        statuses = await page.eval_on_selector_all(
            ".check-item", "items => items.map(i => [i.dataset.item, i.dataset.status])"
        )
        assert await page.get_attribute("#recorded-page", "data-device") == "ok", (statuses, browsers.errors)
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")

        # the exam code, large, with the instruction to say it
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        code = (await page.inner_text("#exam-code")).strip()
        assert len(code) == 4 and code.isdigit(), code
        assert "请在每次录制开始时清晰报出考试码" in await page.inner_text("#stage-ready")
        await shots(page, "exam-code")

        # two takes: one stopped by hand after ~3 s, one stopped by the server at the 10 s limit
        first = await record_take(page, shots, "take-1", stop_after_s=2.5, switch_network=True)
        second = await record_take(page, shots, "take-2", stop_after_s=None)
        assert "已达到本次最长录制时间" in await page.inner_text("#take-error")
        takes = await takes_of(services, sitting_id)
        assert takes[first].state == takes[second].state == "complete", takes
        assert abs(takes[second].duration_s - TAKE_MAX_S) < 1.5, takes[second]
        assert takes[first].duration_s < TAKE_MAX_S - 0.5, takes[first]
        # the network switch: one take, two segments of the candidate's camera in its folder
        record = await services.recordings.get(first)
        segments = [
            t for t in record["manifest"]["tracks"] if t["participant_id"] == account.id and t["kind"] == "video"
        ]
        assert len(segments) == 2, record["manifest"]["tracks"]

        # play the first back from the server: the page's <video> advances
        player = f"[data-take='{first}'] video.take-player"
        await page.eval_on_selector(player, "v => v.scrollIntoView({block: 'center'})")
        played = await page.evaluate(PLAYS_JS, player)
        assert played and played["t1"] > played["t0"] + 0.5 and played["w"] > 0, played
        await shots(page, "playback", full_page=False)

        # choose the second and submit (confirm: 一经提交，不得更改)
        await page.click(f"[data-take='{second}'] input[name=pick]")
        await page.click("#submit")
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        done = await page.inner_text("#stage-done")
        assert "已提交" in done and "没有任何内容需要上传" in done, done
        sha = (await page.inner_text("#done-sha")).strip()
        await shots(page, "submitted")

        # the submission's file: the take the candidate chose, decoding to the recorded length
        sitting = await services.sittings.sitting_of(account, sitting_id)
        assert (sitting.state, sitting.submitted_take) == ("submitted", second), sitting
        chosen = (await takes_of(services, sitting_id))[second]
        assert sha == chosen.sha256, (sha, chosen)
        seconds = webm_seconds(playable_file(settings, chosen))
        assert abs(seconds - chosen.duration_s) < 1, (seconds, chosen.duration_s)
        FIGURES.append(
            f"recorded take {second}: limit {TAKE_MAX_S} s, recorded {chosen.duration_s:.2f} s, "
            f"the remuxed file decodes to {seconds:.2f} s"
        )

        # a third take after submitting: refused with a clear message, in the page and by the server
        assert await page.is_hidden("#take-start")
        refused = await page.evaluate(
            """async (id) => { const { api } = await import('/static/js/common.js');
              try { await api('POST', `/api/candidate/sittings/${id}/takes`, {device: 'dev_x', camera: 'front', orientation: 'portrait'});
                return null; } catch (err) { return err; } }""",
            sitting_id,
        )
        assert refused and refused["code"] == "sitting_over", refused
        assert any("\u4e00" <= c <= "\u9fff" for c in refused["message"]), refused
        # the browser logs the refused request (409) as a console error: expected here
        browsers.errors[:] = [e for e in browsers.errors if "409" not in e]
        await page.reload()
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        assert await page.is_hidden("#take-start")
        await shots(page, "after-reload")

        # the mock exam (模拟考) of the same subject: its own sitting, the same flow, 30 minutes from entering
        await page.goto(f"{live_server}/candidate/exams/{world.exam.id}/recorded/{subject.id}?mode=mock")
        await page.wait_for_selector("#recorded-page[data-stage=rules]")
        assert "剩余模拟考次数：1 次" in await page.inner_text("#rules")
        await page.click("#enter")
        await page.wait_for_selector("#recorded-page[data-stage=check]")
        assert await page.get_attribute("#recorded-page", "data-sitting-id") != sitting_id
        assert (await page.inner_text("#sitting-left")).startswith(("29:", "30:"))
        await shots(page, "mock-entered")
        assert not browsers.errors, browsers.errors

        # the admin's sittings table at 1280x900: state, exam code, takes, submission; playback
        admin = await admin_sittings(browsers, cameras, live_server, world)
        row = "#sittings-table tr[data-state=submitted]"
        text = await admin.inner_text(row)
        assert code in text and "已提交" in text, text
        assert await admin.get_attribute("#sittings-csv", "href") == f"/api/admin/exams/{world.exam.id}/submissions.csv"
        await admin.click(f"{row} li[data-take='{second}'] button")
        await admin.wait_for_function(
            "() => { const v = document.querySelector('#sitting-player video'); return v && v.videoWidth > 0; }"
        )
        await shots(admin, "admin-sittings")

        # the admin makes the other subject (器乐, a live interview) a recorded one in the rules editor
        other = world.subjects[1]
        await admin.click("[data-panel=panel-setup]")
        await admin.click(f"button[data-edit='{other.id}']")
        form = f"form.rules-form[data-subject='{other.id}']"
        await admin.select_option(f"{form} select[name=kind]", "recorded")
        await admin.fill(f"{form} input[name=takes_allowed]", "2")
        await admin.fill(f"{form} input[name=take_max_s]", "5")  # below the shortest take: refused, said why
        await admin.fill(f"{form} input[name=window_opens]", "2030-06-01T09:00")
        await admin.fill(f"{form} input[name=window_closes]", "2030-06-01T10:00")
        await admin.fill(f"{form} input[name=time_limit_min]", "50")
        await admin.click(f"{form} button[type=submit]")
        error = await admin.wait_for_selector(f"{form} .error")
        assert "10" in await error.inner_text(), await error.inner_text()
        await shots(admin, "admin-rules-refused", full_page=False)
        browsers.errors[:] = [e for e in browsers.errors if "400" not in e]  # the refused PUT, logged by the browser
        await admin.fill(f"{form} input[name=take_max_s]", "180")
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector("#subject-table td[data-kind=recorded] >> text=可录 2 次")
        changed = await services.catalog.subject(world.exam.id, other.id)
        assert (changed.kind, changed.takes_allowed, changed.take_max_s, changed.time_limit_min) == (
            "recorded",
            2,
            180,
            50,
        )
        assert changed.window_closes - changed.window_opens == 3600
        await shots(admin, "admin-rules-saved", full_page=False)

        # the candidate's audit timeline, one click from their row: every take and the submission
        await admin.click("#sittings-tab")
        await admin.click(f"{row} a.audit-link")
        await admin.wait_for_url(f"**/proctor?exam={world.exam.id}&subject={account.id}#audit")
        await admin.wait_for_selector("#audit-log >> text=提交考试视频")
        timeline = await admin.inner_text("#audit-log")
        assert timeline.count("开始录制视频") >= 2, timeline
        await shots(admin, "admin-audit-timeline")
        assert not browsers.errors, browsers.errors


async def admin_sittings(browsers, cameras, live_server, world):
    """An admin's 1280x900 browser, logged in, on the exam's 录制考试 tab with a submitted row shown."""
    admin = await browsers(cameras["grace_hopper"], desktop=True)
    await admin.set_viewport_size(ADMIN_SCREEN)
    await admin.goto(f"{live_server}/login")
    await admin.fill("input[name=login]", world.staff["admin"].username)
    await admin.fill("input[name=password]", PASSWORD)
    await admin.click("button[type=submit]")
    await admin.wait_for_url(f"{live_server}/admin")
    await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
    await admin.click("#sittings-tab")
    await admin.wait_for_selector("#sittings-table tr[data-state=submitted]")
    return admin


async def test_the_demo_offers_the_recorded_subject_now(services, settings):
    """`interview-server demo`: the demo exam has a recorded subject open now, with the demo candidate on
    its roster, and the banner prints its URL."""
    from server.demo import CANDIDATES, RECORDED, seed_demo
    from server.demo_banner import banner

    now = time.time()
    demo = await seed_demo(services, settings)
    recorded = demo["recorded"]
    assert recorded and recorded["name"] == RECORDED
    assert recorded["window_opens"] <= now and recorded["window_closes"] - now > 20 * 3600
    subject = await services.catalog.subject(demo["exam_id"], recorded["subject_id"])
    assert (subject.kind, subject.takes_allowed, subject.take_max_s) == ("recorded", 3, 120)
    assert (subject.time_limit_min, subject.sittings_allowed, subject.mock_tries) == (50, 3, 2)
    roster = {e.name: e.subjects for e in await services.roster.entries(demo["exam_id"])}
    assert subject.id in roster[CANDIDATES[0][0]]
    text = banner(settings, demo, addresses=[])
    assert f"/candidate/exams/{demo['exam_id']}/recorded/{subject.id}?mode=formal" in text
    assert not (await seed_demo(services, settings))["created"]  # kept on the next start


async def open_recorded(page, base: str, world, account, subject, shots, mode: str) -> None:
    """Log in and open the recorded subject's page in ``mode`` from the exam list; press 已知晓并同意."""
    await log_in(page, base, account, shots)
    await page.click(f"#recorded-card [data-subject='{subject.id}'] a[data-action={mode}]")
    await page.wait_for_url(f"**/recorded/{subject.id}?mode={mode}")
    await page.wait_for_selector("#recorded-page[data-stage=rules]")
    await page.click("#enter")
    await page.wait_for_selector("#recorded-page[data-stage=check]")


async def test_practice_needs_no_face_check_and_has_no_deadline(live_server, services, browsers, cameras, shots):
    world, account, subject = await recorded_world(services)
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await open_recorded(page, live_server, world, account, subject, shots, "practice")
        assert await page.is_hidden("#face-card")
        assert (await page.inner_text("#sitting-left")).strip() == "不限时"
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await page.click("#to-ready")  # no face check in practice
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        await page.check("input[name=orientation][value=landscape]")
        take = await record_take(page, shots, "practice-take", stop_after_s=2)
        # practice: unlimited, never submitted; 重新练习 starts over
        assert await page.inner_text("#reset") == "重新练习" and await page.is_hidden("#submit")
        assert await page.get_attribute("#take-preview", "data-orientation") == "landscape"
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        stored = (await takes_of(services, sitting_id))[take]
        assert (stored.mode, stored.state, stored.orientation) == ("practice", "complete", "landscape"), stored

        # the page is reloaded in the middle of a take: the take goes on as its next segment (继续录制)
        await page.click("#take-start")
        await page.wait_for_selector("#rec[data-state=recording]", timeout=30_000)
        cut = await page.get_attribute("#recorded-page", "data-take-id")
        await asyncio.sleep(1.5)
        await page.reload()
        await page.wait_for_selector("#recorded-page[data-stage=check]")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await page.click("#to-ready")
        await page.wait_for_selector("#take-resume:not([hidden])")
        await shots(page, "resume-offered")
        await page.click("#take-resume")
        await page.wait_for_selector("#recorded-page[data-taking='1']", timeout=30_000)
        await page.wait_for_selector("#rec[data-state=recording]")
        await asyncio.sleep(1.5)
        await page.click("#take-stop")
        await page.wait_for_selector(f"[data-take='{cut}'] video.take-player", timeout=30_000)
        await shots(page, "resumed-saved")
        assert (await takes_of(services, sitting_id))[cut].state == "complete"
        record = await services.recordings.get(cut)
        segments = [
            t for t in record["manifest"]["tracks"] if t["participant_id"] == account.id and t["kind"] == "video"
        ]
        assert len(segments) == 2, record["manifest"]["tracks"]
        # the same page in English (the language switch keeps ?mode=practice)
        await page.click("a[href^='/lang/en']")
        await page.wait_for_selector("html[lang=en]")
        await page.wait_for_url(f"**/recorded/{subject.id}?mode=practice")
        await page.wait_for_selector("#recorded-page[data-stage=check]")
        assert "Practice" in await page.inner_text("h1")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        assert "Say the exam code clearly" in await page.inner_text("#stage-ready")
        await shots(page, "english")
        assert not browsers.errors, browsers.errors


async def test_the_deadline_submits_the_last_take_or_marks_absent(live_server, services, browsers, cameras, shots):
    """The window closes ~50 s after entering: one candidate with a take is auto-submitted, the other, with
    none, is absent; each page says which, by itself (sitting:ended)."""
    world, account, subject = await recorded_world(services, roster_size=2, closes_in=50, time_limit_min=30)
    other = await world.candidate(1)
    page = await browsers(cameras["grace_hopper"])
    idle = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await open_recorded(page, live_server, world, account, subject, shots, "formal")
        await open_recorded(idle, live_server, world, other, subject, shots, "formal")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        take = await record_take(page, shots, "take", stop_after_s=2)
        # nobody presses anything more: the deadline passes (the window's end, before the 30-minute limit)
        for p in (page, idle):
            await p.wait_for_selector("#recorded-page[data-stage=done]", timeout=70_000)
        await shots(page, "auto-submitted")
        await shots(idle, "absent")
        assert await page.get_attribute("#recorded-page", "data-done") == "auto_submitted"
        assert "系统已自动提交" in await page.inner_text("#stage-done")
        assert await idle.get_attribute("#recorded-page", "data-done") == "absent"
        assert "缺考" in await idle.inner_text("#stage-done")
        sittings = {
            r["account_id"]: r for r in await services.sittings.for_exam(world.exam.id, subject.id) if r["account_id"]
        }
        assert sittings[account.id]["state"] == "auto_submitted"
        assert sittings[account.id]["submission"]["take"]["id"] == take
        assert sittings[other.id]["state"] == "absent"
        assert not browsers.errors, browsers.errors
