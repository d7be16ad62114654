"""An artwork (作品创作) submission in a real phone-sized Chromium (fake camera): the candidate films the
creation (one take), then photographs the finished work within the photo time: one still from the camera
in the page, one photo from the phone's picker (a JPEG with a GPS position and a comment in its EXIF); a
third is removed again and a renamed text file is refused with a clear message. The take is submitted with
its two photos; the stored photos carry no metadata. Then the admin opens the submission's review page from
the 录制考试 table at 1280x900: the video, the two photos, the exam code, the face result, the audit."""

from __future__ import annotations

import asyncio
import time

from server.recorded.artwork import photo_file
from server.store.audit import Actor
from tests.conftest import ADMIN, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_candidate_checks import pass_face_check
from tests.e2e.test_grading import SCREEN, staff_login
from tests.e2e.test_recorded import admin_sittings, open_recorded, record_take
from tests.facecheck import faces
from tests.marking.test_take_marks import graders, set_rubric
from tests.recorded.conftest import make_recorded
from tests.recorded.test_artwork import COMMENT, GPS_MAKER, jpeg_segments, jpeg_with_metadata, png
from tests.recorded.test_grading import close_window, submission


async def artwork_world(services):
    world = await build_world(services, roster_size=1, photos=[faces.encode(faces.grace_hopper())])
    now = time.time()
    subject = await services.catalog.update_subject(
        Actor.system(),
        world.exam.id,
        world.subjects[0].id,
        kind="recorded",
        form="artwork",
        takes_allowed=2,
        take_max_s=60,
        window_opens=now - 600,
        window_closes=now + 3600,
        time_limit_min=30,
        photo_time_limit_min=10,
        photos_min=1,
        photos_max=3,
    )
    return world, await world.candidate(0), subject


async def test_an_artwork_take_with_two_photos_and_its_review(
    live_server, services, browsers, cameras, shots, tmp_path
):
    world, account, subject = await artwork_world(services)
    page = await browsers(cameras["grace_hopper"])
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # remove's and submit's confirm()
    async with asyncio.timeout(TEST_TIMEOUT_S + 60):
        await open_recorded(page, live_server, world, account, subject, shots, "formal")
        assert "10 分钟内拍摄作品照片（1–3 张）" in await page.inner_text("#rules")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")
        await page.wait_for_selector("#recorded-page[data-stage=ready]")
        assert await page.is_hidden("#photos-card")  # nothing to photograph before a take

        # the take films the creation; then the photo card, with the server's clock
        take_id = await record_take(page, shots, "take", stop_after_s=2.5)
        await page.wait_for_selector("#photos-card:not([hidden])")
        assert await page.get_attribute("#recorded-page", "data-photo-take") == take_id
        left = (await page.inner_text("#photo-left")).strip()
        assert left.startswith(("09:", "10:")), left
        await page.eval_on_selector("#photos-card", "e => e.scrollIntoView()")
        await shots(page, "photo-card", full_page=False)

        # one still from the camera of the page
        await page.click("#photo-camera")
        await page.wait_for_function("() => document.querySelector('.photo-camera video').videoWidth > 0")
        await shots(page, "photo-camera", full_page=False)
        await page.click("#photo-snap")
        await page.wait_for_selector("#recorded-page[data-photos='1']")

        # one from the phone's picker: a JPEG with a GPS position, turned by its EXIF
        exif_jpeg = tmp_path / "IMG_0001.jpg"
        exif_jpeg.write_bytes(jpeg_with_metadata(1600, 1200))
        await page.set_input_files("#photo-file", str(exif_jpeg))
        await page.wait_for_selector("#recorded-page[data-photos='2']")
        # a third, removed again (删除重拍)
        extra = tmp_path / "extra.png"
        extra.write_bytes(png(800, 600))
        await page.set_input_files("#photo-file", str(extra))
        await page.wait_for_selector("#recorded-page[data-photos='3']")
        assert await page.is_disabled("#photo-camera")  # the most photos reached
        await page.click("#photo-list [data-photo='3'] [data-remove]")
        await page.wait_for_selector("#recorded-page[data-photos='2']")
        # a text file renamed .jpg: refused, said why, nothing added
        fake = tmp_path / "作品.jpg"
        fake.write_text("这不是照片")
        await page.set_input_files("#photo-file", str(fake))
        await page.wait_for_selector("#photo-error:not([hidden])")
        assert "不是有效的图片" in await page.inner_text("#photo-error")
        browsers.errors[:] = [e for e in browsers.errors if "400" not in e]  # the refused upload, logged by Chromium
        assert await page.get_attribute("#recorded-page", "data-photos") == "2"
        # the photos as the server keeps them: upright (1600x1200 turned by its EXIF), loaded in the page
        sizes = await page.eval_on_selector_all(
            "#photo-list img", "imgs => imgs.map((i) => [i.complete && i.naturalWidth, i.naturalHeight])"
        )
        assert len(sizes) == 2 and sizes[1] == [1200, 1600] and sizes[0][0] > 0, sizes
        await page.eval_on_selector("#photos-card", "e => e.scrollIntoView()")
        await shots(page, "photos-taken", full_page=False)
        await shots(page, "photos-taken-page")

        # submit the take with its photos
        await page.click(f"[data-take='{take_id}'] input[name=pick]")
        await page.click("#submit")
        await page.wait_for_selector("#recorded-page[data-stage=done]")
        assert (await page.inner_text("#done-photos")).strip() == "2 张"
        await shots(page, "submitted")

        take = await services.sittings.find_take(take_id)
        sitting = await services.sittings.find_sitting(take.sitting_id)
        assert sitting.state == "submitted" and sitting.submitted_take == take_id
        assert len(take.photos) == 2
        for photo in take.photos:
            data = (services.artwork.folder(take) / photo_file(photo["id"])).read_bytes()
            assert [m for m in jpeg_segments(data) if 0xE1 <= m <= 0xEF or m == 0xFE] == []
            assert GPS_MAKER.encode() not in data and COMMENT not in data
        assert (take.photos[1]["width"], take.photos[1]["height"]) == (1200, 1600)
        assert not browsers.errors, browsers.errors

        # the admin: the 录制考试 table, one click to the submission's review page
        admin = await admin_sittings(browsers, cameras, live_server, world)
        await admin.click("#sittings-table tr[data-state=submitted] a.review-link")
        await admin.wait_for_url(f"**/admin/sittings/{sitting.id}")
        await admin.wait_for_selector("#review-page[data-state=ready]")
        assert (await admin.inner_text("#review-code")).strip() == sitting.code
        facts = await admin.inner_text("#review-facts")
        assert account.name in facts and "作品创作" in facts and "已提交" in facts and "通过" in facts, facts
        card = f".review-take[data-take='{take_id}']"
        await admin.wait_for_function(
            "(sel) => { const v = document.querySelector(sel + ' video.main-player'); return v && v.videoWidth > 0; }",
            arg=card,
        )
        await admin.wait_for_function(
            "(sel) => [...document.querySelectorAll(sel + ' .photo-item img')].filter((i) => i.naturalWidth > 0).length === 2",
            arg=card,
        )
        audit = await admin.inner_text("#review-audit")
        assert audit.count("上传作品照片") == 3 and "删除作品照片" in audit and "提交考试视频" in audit, audit
        await shots(admin, "admin-review")
        await admin.eval_on_selector(f"{card} .review-photos", "e => e.scrollIntoView()")
        await shots(admin, "admin-review-photos", full_page=False)

        # 编辑规则: the admin makes the other subject (器乐, a live interview) an artwork one, photo rules checked
        other = world.subjects[1]
        await admin.goto(f"{live_server}/admin?exam={world.exam.id}")
        await admin.click("[data-panel=panel-setup]")
        await admin.click(f"button[data-edit='{other.id}']")
        form = f"form.rules-form[data-subject='{other.id}']"
        await admin.select_option(f"{form} select[name=kind]", "recorded")
        assert await admin.is_hidden(f"{form} input[name=photos_max]")  # only for the artwork form
        await admin.select_option(f"{form} select[name=form]", "artwork")
        await admin.fill(f"{form} input[name=window_opens]", "2030-06-01T09:00")
        await admin.fill(f"{form} input[name=window_closes]", "2030-06-01T10:00")
        await admin.fill(f"{form} input[name=photo_time_limit_min]", "15")
        await admin.fill(f"{form} input[name=photos_min]", "5")
        await admin.fill(f"{form} input[name=photos_max]", "4")
        await admin.click(f"{form} button[type=submit]")
        error = await admin.wait_for_selector(f"{form} .error")
        assert "最少张数（5）不能多于最多张数（4）" in await error.inner_text()
        await shots(admin, "admin-artwork-rules-refused", full_page=False)
        browsers.errors[:] = [e for e in browsers.errors if "400" not in e]  # the refused PUT, logged by the browser
        await admin.fill(f"{form} input[name=photos_min]", "2")
        await admin.click(f"{form} button[type=submit]")
        await admin.wait_for_selector("#subject-table td[data-kind=recorded] >> text=作品创作")
        changed = await services.catalog.subject(world.exam.id, other.id)
        assert (changed.form, changed.photo_time_limit_min, changed.photos_min, changed.photos_max) == (
            "artwork",
            15,
            2,
            4,
        )
        await shots(admin, "admin-artwork-rules-saved", full_page=False)
        assert not browsers.errors, browsers.errors


async def test_a_grader_sees_the_photos_beside_the_video_by_code(live_server, services, browsers, cameras, shots):
    """The graders' page (1280x900): the artwork's photos under the video, by anonymous code; nothing on the
    page names or dates them (no photo id, file name, checksum or upload time)."""
    world = await build_world(services, roster_size=3, photos=[faces.encode(faces.grace_hopper())] * 3)
    subject = await make_recorded(services, world, form="artwork", photos_min=1, photos_max=3)
    await set_rubric(services, world, subject, markers=1)
    (grader,) = await graders(services, 1)
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    account, sitting, take = await submission(services, world, 0, subject, files=True, submit=False)
    await services.artwork.add(account, take.id, jpeg_with_metadata(1600, 1200))
    await services.artwork.add(account, take.id, png(800, 600))
    await services.sittings.submit(account, sitting.id, take.id)
    await close_window(services, world, subject)  # graders see a subject once its window has closed
    code = await services.grading.code_for(await services.sittings.find_sitting(sitting.id))
    stored = (await services.sittings.find_take(take.id)).photos
    page = await browsers(cameras["grace_hopper"], desktop=True)
    await page.set_viewport_size(SCREEN)
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await staff_login(page, live_server, grader.username, "/examiner")
        await page.goto(f"{live_server}/examiner/grading")
        await page.wait_for_selector(f"button[data-play='{code}']")
        await page.click(f"button[data-play='{code}']")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#grading-player .photo-item img')].filter((i) => i.naturalWidth > 0).length === 2"
        )
        sizes = await page.eval_on_selector_all(
            "#grading-player .photo-item img", "imgs => imgs.map((i) => [i.naturalWidth, i.naturalHeight])"
        )
        assert sizes == [[1200, 1600], [800, 600]], sizes
        html = await page.content()
        for secret in (
            account.name,
            account.id,
            take.id,  # (the 4-digit exam code could match a photo's pixel count: the API test checks it)
            *(p["file"] for p in stored),
            *(p["id"] for p in stored),
            *(p["sha256"] for p in stored),
        ):
            assert secret not in html, secret
        await page.eval_on_selector("#grading-player .grading-photos", "e => e.scrollIntoView()")
        await shots(page, "grader-photos", full_page=False)
        assert not browsers.errors, browsers.errors


async def test_the_end_of_the_photo_time_submits_the_take_with_its_photos(
    live_server, services, browsers, cameras, shots, tmp_path
):
    """Nobody presses 提交: one minute after the take (the shortest photo time) the server submits it with the
    one photo uploaded, and the page says so by itself (sitting:ended)."""
    world, account, subject = await artwork_world(services)
    subject = await services.catalog.update_subject(Actor.system(), world.exam.id, subject.id, photo_time_limit_min=1)
    page = await browsers(cameras["grace_hopper"])
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await open_recorded(page, live_server, world, account, subject, shots, "formal")
        await page.click("#start")
        await page.wait_for_selector("#recorded-page[data-device=ok]")
        await pass_face_check(page, shots, "face-check")
        await page.click("#to-ready")
        take_id = await record_take(page, shots, "take", stop_after_s=2)
        await page.wait_for_selector("#photos-card:not([hidden])")
        assert (await page.inner_text("#photo-left")).strip() in ("00:59", "01:00", "00:58")
        photo = tmp_path / "work.png"
        photo.write_bytes(png(900, 700))
        await page.set_input_files("#photo-file", str(photo))
        await page.wait_for_selector("#recorded-page[data-photos='1']")
        await page.wait_for_selector("#recorded-page[data-stage=done]", timeout=90_000)
        assert await page.get_attribute("#recorded-page", "data-done") == "auto_submitted"
        assert (await page.inner_text("#done-title")).strip() == "作品拍照时间已到，系统已自动提交"
        done = await page.inner_text("#stage-done")
        assert "作品拍照时间已到，系统已自动提交该视频和已上传的 1 张作品照片" in done, done
        await shots(page, "photo-time-over")
        take = await services.sittings.find_take(take_id)
        sitting = await services.sittings.find_sitting(take.sitting_id)
        assert (sitting.state, sitting.end_reason, sitting.submitted_take) == ("auto_submitted", "photo_limit", take_id)
        assert sitting.submitted_at - take.photos_until < 5, (sitting.submitted_at, take.photos_until)
        assert len(take.photos) == 1
        assert not browsers.errors, browsers.errors
