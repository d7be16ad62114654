"""Drawn questions (命题作答) and guided items (指定项目) in a real phone-sized Chromium (fake camera: the candidate's
own face), and the grader's desktop.

A drawn question: the candidate presses 抽取题目; the server draws a mock question (practice draws from the mock
pool: the formal one never shows); the page shows it (text and a score image) with the preparation countdown;
a reload half-way through shows the same question with the time left, not a new one nor a fresh countdown;
recording starts by itself when the preparation ends; the take completes and keeps its question. A second phone
opens the QR code's prompt viewer and shows the same question.

A guided subject (formal): the page leads through three steps while one take records, and the take stops by
itself after the last; the candidate submits it; the grader sees the step list beside the video and a click on
step 3 plays the video from step 3's place."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from server.marking.rubrics import Rubric
from server.recorded.questions import draft
from tests.conftest import ADMIN
from tests.e2e.conftest import FIGURES, TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import log_in, pass_face_check
from tests.e2e.test_grading import SCREEN, staff_login
from tests.e2e.test_recorded import recorded_world, takes_of
from tests.recorded.media import audio, bank_zip, score
from tests.recorded.test_grading import close_window

PREPARE_S = 14
FRAME_SHOWS = """() => { const v = document.querySelector('#grading-main');
  if (!v || !v.videoWidth) return false;
  const c = document.createElement('canvas'); c.width = 64; c.height = 48;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 48);
  const d = g.getImageData(0, 0, 64, 48).data; let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
  return sum / (d.length / 4) / 3 > 40; }"""


async def open_subject(page, base: str, world, account, subject, shots, mode: str) -> None:
    """Log in, open the subject in ``mode``, 已知晓并同意, the device check."""
    await log_in(page, base, account, shots)
    await page.goto(f"{base}/candidate/exams/{world.exam.id}/recorded/{subject.id}?mode={mode}")
    await page.wait_for_selector("#recorded-page[data-stage=rules]")
    await page.click("#enter")
    await page.wait_for_selector("#recorded-page[data-stage=check]")
    await page.click("#start")
    await page.wait_for_selector("#recorded-page[data-device=ok]")


async def test_a_drawn_question_with_its_preparation_and_a_reload(live_server, services, browsers, cameras, shots):
    world, account, subject = await recorded_world(services)
    subject = await services.catalog.update_subject(
        ADMIN, world.exam.id, subject.id, form="question", prepare_s=PREPARE_S, take_max_s=10, prompt_device=True
    )
    await services.questions.add(
        ADMIN,
        world.exam.id,
        subject.id,
        [
            draft("mock", "视奏：请演奏下面的乐谱（mock）", score("mock"), "score-mock.png"),
            draft("formal", "正式考题目：不应在练习中出现", score("formal"), "score-formal.png"),
        ],
    )
    mock_q, formal_q = await services.questions.of_subject(world.exam.id, subject.id)
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await open_subject(page, live_server, world, account, subject, shots, "practice")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        assert (await page.inner_text("#take-start")).strip() == "抽取题目"
        assert "随机抽取一道题目" in await page.inner_text("#take-rule")
        # the aux card offers the question's viewer for another phone, not a camera
        assert "用另一部手机查看题目" in await page.inner_text("#aux-card summary")
        await shots(page, "ready")

        # the draw: the question and the preparation countdown, nothing recording yet
        await page.click("#take-start")
        await page.wait_for_selector("#prompt-card #prompt-text")
        await page.wait_for_function(
            "() => { const i = document.querySelector('#prompt-image'); return i && i.naturalWidth > 0; }"
        )
        assert await page.get_attribute("#recorded-page", "data-question") == mock_q.id
        assert "模拟" not in formal_q.text and "mock" in await page.inner_text("#prompt-text")
        assert await page.get_attribute("#recorded-page", "data-phase") == "prepare"
        assert await page.get_attribute("#rec", "data-state") == "none"
        take_id = await page.get_attribute("#recorded-page", "data-take-id")
        await asyncio.sleep(1.2)
        first_left = await page.inner_text("#countdown")
        await shots(page, "preparing", full_page=False)

        # a second phone scans the QR code: the viewer shows the same question (and is no camera)
        qr_url = await page.evaluate(
            """async ([exam, subject]) => (await fetch(`/api/candidate/exams/${exam}/aux-qr?prompt=${subject}`)).headers.get('X-Aux-Url')""",
            [world.exam.id, subject.id],
        )
        viewer = await browsers(cameras["grace_hopper"])
        await viewer.goto(qr_url)
        await viewer.wait_for_selector("#prompt-page[data-take] #prompt-text")
        assert await viewer.get_attribute("#prompt-page", "data-take") == take_id
        assert "mock" in await viewer.inner_text("#prompt-text")
        await viewer.wait_for_function(
            "() => { const i = document.querySelector('#prompt-image'); return i && i.naturalWidth > 0; }"
        )
        await shots(viewer, "second-phone-viewer", full_page=False)

        # a reload in the middle of the preparation: the same question, the time left (not a new draw)
        await page.reload()
        await page.wait_for_selector("#prompt-card #prompt-text", timeout=30_000)
        assert await page.get_attribute("#recorded-page", "data-question") == mock_q.id
        assert await page.get_attribute("#recorded-page", "data-take-id") == take_id
        left = await page.inner_text("#countdown")
        to_s = lambda text: int(text.split(":")[0]) * 60 + int(text.split(":")[1])  # noqa: E731
        assert to_s(left) < to_s(first_left), (first_left, left)
        await shots(page, "reloaded-preparing", full_page=False)
        stored = (await takes_of(services, await page.get_attribute("#recorded-page", "data-sitting-id")))[take_id]

        # the preparation ends: recording starts by itself, on the server's clock
        await page.wait_for_selector("#rec[data-state=recording]", timeout=PREPARE_S * 1000 + 20_000)
        assert time.time() >= stored.answer_at - 1.0
        assert await page.get_attribute("#recorded-page", "data-phase") == "answer"
        assert to_s(await page.inner_text("#take-elapsed")) < 5  # the answer's clock, not the draw's
        assert "重新连接" not in await page.inner_text("#take-status")  # its first connection, not a reconnect
        await shots(page, "answering", full_page=False)
        await page.click("#prompt-toggle")  # 隐藏题目 (002_* 26)
        assert await page.is_hidden("#prompt-body")
        await asyncio.sleep(2)
        await page.click("#take-stop")
        await page.wait_for_selector("#recorded-page[data-stage=ready]", timeout=30_000)
        await page.wait_for_selector(f"[data-take='{take_id}'] video.take-player", timeout=30_000)
        assert await page.locator("#prompt-card").count() == 0
        assert "题目：视奏" in await page.inner_text(f"[data-take='{take_id}']")  # which question the take answered
        await shots(page, "take-saved")
        await viewer.wait_for_selector("#prompt-page[data-state=waiting]", timeout=10_000)

        # the take kept its question: in Redis, in its manifest, in the audit
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        take = (await takes_of(services, sitting_id))[take_id]
        assert take.state == "complete" and take.question["id"] == mock_q.id and take.duration_s > 1
        record = await services.recordings.get(take_id)
        manifest = json.loads((Path(record["folder"]) / "manifest.json").read_text())
        assert manifest["take"]["question"]["id"] == mock_q.id
        assert await services.store.redis.sismember(
            services.store.keys.questions_drawn(subject.id, account.id, "mock"), mock_q.id
        )
        FIGURES.append(
            f"drawn question take {take_id}: preparation {PREPARE_S} s, recording began "
            f"{take.answer_at - take.started_at:.1f} s after the draw (a reload in between), {take.duration_s:.1f} s recorded"
        )
        assert not browsers.errors, browsers.errors


STEPS = [
    {"text": "请面向镜头，报出考试码", "duration_s": 4, "speak": True},
    {"text": "把杆：一位手擦地", "duration_s": 4},
    {"text": "中间：小跳", "duration_s": 4},
]


async def test_a_guided_take_and_its_steps_for_the_grader(live_server, services, browsers, cameras, shots):
    world, account, subject = await recorded_world(services)
    subject = await services.catalog.update_subject(ADMIN, world.exam.id, subject.id, form="guided", take_max_s=60)
    guide = await services.guided.upload(world.exam.id, subject.id, audio("mp3", seconds=1.5), "擦地.mp3")
    steps = [STEPS[0], {**STEPS[1], "audio_sha256": guide.sha256}, STEPS[2]]
    await services.guided.set(ADMIN, world.exam.id, subject.id, steps)
    await services.rubrics.set(
        ADMIN,
        world.exam.id,
        subject.id,
        Rubric.from_json(subject.id, {"criteria": [{"id": "all", "name": "总评", "max": 100}]}),
    )
    grader = world.staff["examiner"]
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # submit's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 60):
        await open_subject(page, live_server, world, account, subject, shots, "formal")
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        assert "共 3 项" in await page.inner_text("#take-rule")
        await page.click("#take-start")
        await page.wait_for_selector("#rec[data-state=recording]", timeout=30_000)
        seen = {}
        for index in range(3):  # the page leads through the steps by the server's clock
            await page.wait_for_selector(f"#recorded-page[data-step='{index}']", timeout=15_000)
            seen[index] = (
                await page.inner_text("#step-text"),
                await page.get_attribute("#recorded-page", "data-guide"),
            )
            await shots(page, f"step-{index + 1}", full_page=False)
        assert [text for text, _ in seen.values()] == [s["text"] for s in STEPS]
        assert seen[1][1] == "audio"  # the uploaded guide played; step 1 is spoken where the device has a voice
        take_id = await page.get_attribute("#recorded-page", "data-take-id")
        await page.wait_for_selector("#recorded-page[data-stage=ready]", timeout=20_000)  # it stops by itself
        assert await page.get_attribute("#recorded-page", "data-last-end") == "complete:steps"
        assert "全部指定项目已完成" in await page.inner_text("#take-error")
        await page.wait_for_selector(f"[data-take='{take_id}'] video.take-player", timeout=30_000)
        await page.click(f"[data-take='{take_id}'] input[name=pick]")
        await page.click("#submit")
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        await shots(page, "submitted")
        sitting_id = await page.get_attribute("#recorded-page", "data-sitting-id")
        take = (await takes_of(services, sitting_id))[take_id]
        assert [m["offset_s"] for m in take.timeline] == [0, 4, 8] and 10 < take.duration_s <= 12.5, take

        # the grader (once the subject's window has closed): the steps beside the video, a click on step 3
        # plays from there
        await close_window(services, world, subject)
        desk = await browsers(cameras["grace_hopper"], desktop=True)
        await desk.set_viewport_size(SCREEN)
        await staff_login(desk, live_server, grader.username, "/examiner")
        await desk.goto(f"{live_server}/examiner/grading")
        await desk.wait_for_selector("#grading-page[data-state=ready]")
        await desk.click("#grading-table button[data-play]")
        await desk.wait_for_selector("#take-steps li[data-step='2'] button[data-seek]:not([disabled])")
        texts = await desk.eval_on_selector_all("#take-steps li", "items => items.map((i) => i.innerText)")
        assert [s["text"] in t for s, t in zip(STEPS, texts, strict=True)] == [True] * 3, texts
        assert account.name not in await desk.inner_text("body")
        await desk.wait_for_function(
            "() => { const v = document.querySelector('#grading-main'); return v && v.readyState >= 1; }"
        )
        target = float(await desk.get_attribute("#take-steps li[data-step='2'] button", "data-seek"))
        assert 6.5 < target < 8.5, target
        await desk.click("#take-steps li[data-step='2'] button")
        await desk.wait_for_function(
            "(t) => { const v = document.querySelector('#grading-main'); return v && Math.abs(v.currentTime - t) < 1.0 && !v.paused; }",
            arg=target,
        )
        # the picture there is the candidate's (drawn from the playing video: not a black frame)
        await desk.wait_for_function(FRAME_SHOWS, timeout=10_000)
        await desk.locator("#take-steps").scroll_into_view_if_needed()
        await shots(desk, "grader-steps", full_page=False)
        FIGURES.append(
            f"guided take {take_id}: steps at {[m['offset_s'] for m in take.timeline]} s, step 3 at {target:.2f} s in the video"
        )
        assert not browsers.errors, browsers.errors


async def test_the_admin_sets_up_a_question_bank_and_guided_steps(live_server, services, browsers, cameras, shots):
    """At 1280x900: 编辑规则 makes 声乐 a drawn-question subject and 器乐 a guided one; the 题库 page adds a
    question with its score, refuses a zip with a path trick row by row (nothing stored) and imports a good
    one; the 步骤 page saves two steps, one with an uploaded audio guide."""
    world, _, singing = await recorded_world(services)
    playing = world.subjects[1]
    admin = await browsers(cameras["grace_hopper"], desktop=True)
    await admin.set_viewport_size(SCREEN)
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await staff_login(admin, live_server, world.staff["admin"].username, "/admin")
        await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
        await admin.click("[data-panel=panel-setup]")
        await admin.click(f"button[data-edit='{singing.id}']")
        form = f"form.rules-form[data-subject='{singing.id}']"
        await admin.select_option(f"{form} select[name=form]", "question")
        await admin.fill(f"{form} input[name=prepare_s]", "45")
        await admin.check(f"{form} input[name=prompt_device]")
        await shots(admin, "rules-question", full_page=False)
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector(f"a[data-content='{singing.id}']")
        saved = await services.catalog.subject(world.exam.id, singing.id)
        assert (saved.form, saved.prepare_s, saved.prompt_device) == ("question", 45, True)
        assert "命题作答" in await admin.inner_text("#subject-table")

        # 器乐 (a live interview) becomes a guided recorded subject
        await admin.click(f"button[data-edit='{playing.id}']")
        form = f"form.rules-form[data-subject='{playing.id}']"
        await admin.select_option(f"{form} select[name=kind]", "recorded")
        await admin.select_option(f"{form} select[name=form]", "guided")
        await admin.fill(f"{form} input[name=window_opens]", "2030-06-01T09:00")
        await admin.fill(f"{form} input[name=window_closes]", "2030-06-01T10:00")
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector(f"a[data-content='{playing.id}']")
        await shots(admin, "subjects-with-forms", full_page=False)

        # 题库: one question with its score, then a zip
        await admin.click(f"a[data-content='{singing.id}']")
        await admin.wait_for_selector("#content-page[data-state=ready] #bank-card:not([hidden])")
        await admin.click("#add-question summary")
        await admin.select_option("#question-form select[name=use]", "formal")
        await admin.fill("#question-form textarea[name=text]", "视奏：请演奏下面的乐谱")
        await admin.set_input_files(
            "#question-form input[name=file]", {"name": "视奏1.png", "mimeType": "image/png", "buffer": score("1")}
        )
        await admin.click("#question-form button[type=submit]")
        await admin.wait_for_selector("#content-page[data-questions='1'] #bank-table img")
        await admin.click("#import-questions summary")
        index = "用途,题目,文件\n模拟考,模唱,模唱.mp3\n正式考,越界,../secret.png\n"
        bad = bank_zip(index, {"模唱.mp3": audio()})
        await admin.set_input_files(
            "#import-form input[name=file]", {"name": "题库.zip", "mimeType": "application/zip", "buffer": bad}
        )
        await admin.click("#import-form button[type=submit]")
        await admin.wait_for_selector("#import-report[data-stored='0'] tr[data-status=rejected]")
        report = await admin.inner_text("#import-report")
        assert "未导入任何题目" in report and "不能含“..”" in report, report
        assert len(await services.questions.of_subject(world.exam.id, singing.id)) == 1
        await admin.locator("#import-report").scroll_into_view_if_needed()
        await shots(admin, "import-refused", full_page=False)
        browsers.errors[:] = [e for e in browsers.errors if "422" not in e]  # the refused import, logged by the browser
        good = bank_zip("用途,题目,文件\n模拟考,模唱,模唱.mp3\n正式考,朗读：今天天气晴。,\n", {"模唱.mp3": audio()})
        await admin.set_input_files(
            "#import-form input[name=file]", {"name": "题库.zip", "mimeType": "application/zip", "buffer": good}
        )
        await admin.click("#import-form button[type=submit]")
        await admin.wait_for_selector("#content-page[data-questions='3']")
        assert "正式考 2 题 · 模拟考 1 题" in await admin.inner_text("#bank-counts")
        await admin.evaluate("window.scrollTo(0, 0)")
        await shots(admin, "bank")

        # 步骤: two steps, the second with an audio guide
        await admin.goto(f"{live_server}/admin/exams/{world.exam.id}/subjects/{playing.id}/content")
        await admin.wait_for_selector("#content-page[data-state=ready] #steps-card:not([hidden])")
        await admin.fill("#steps-list li[data-step='0'] textarea", "请面向镜头，报出考试码")
        await admin.fill("#steps-list li[data-step='0'] input[type=number]", "10")
        await admin.click("#step-add")
        await admin.fill("#steps-list li[data-step='1'] textarea", "把杆：一位手擦地")
        await admin.set_input_files(
            "#steps-list li[data-step='1'] input.step-file",
            {"name": "擦地.mp3", "mimeType": "audio/mpeg", "buffer": audio()},
        )
        await admin.wait_for_selector("#steps-list li[data-step='1'] audio")
        await admin.fill("#steps-list li[data-step='1'] textarea", "把杆：一位手擦地")
        await admin.click("#steps-save")
        await admin.wait_for_selector("#content-page[data-steps='2']")
        steps = (await services.catalog.subject(world.exam.id, playing.id)).steps
        assert [(s["text"], s["duration_s"], bool(s["audio_sha256"])) for s in steps] == [
            ("请面向镜头，报出考试码", 10, False),
            ("把杆：一位手擦地", 30, True),
        ]
        await shots(admin, "steps")
        assert not browsers.errors, browsers.errors
