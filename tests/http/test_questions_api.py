"""Drawn questions and guided items over HTTP on a running app (server/http/questions_api.py, prompt_api.py): the
admin's rules, question bank (add, import a zip, preview, delete) and guided steps; the candidate's take with its
drawn question (and nothing of the bank before the draw); the second phone's prompt viewer; the grader's view.
Bad input answers a clear Chinese message and changes nothing."""

from __future__ import annotations

import time

import aiohttp

from server.recorded.questions import draft
from tests.conftest import ADMIN, PASSWORD, login, new_client
from tests.http.test_grading_api import as_user, error
from tests.recorded.conftest import DEVICE, events, make_recorded, pass_face
from tests.recorded.media import audio, bank_zip, score
from tests.recorded.test_grading import close_window, examiner, submission


def upload(**fields) -> aiohttp.FormData:
    """multipart/form-data as a browser's FormData sends it: (file name, bytes) for a file, text otherwise."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.add_field(name, value[1], filename=value[0], content_type="application/octet-stream")
        else:
            form.add_field(name, value, content_type="text/plain; charset=utf-8")
    return form


async def question_subject(services, world, **rules):
    return await make_recorded(services, world, form="question", prepare_s=20, takes_allowed=3, **rules)


async def bank_admin(app, services, world, **rules):
    """A drawn-question subject, its bank's URL, and the admin's logged-in client."""
    subject = await question_subject(services, world, **rules)
    base = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/questions"
    return subject, base, await as_user(app, "admin-one")


async def test_the_admin_sets_a_forms_rules_and_bad_rules_change_nothing(app, world, services):
    admin = await as_user(app, "admin-one")
    try:
        url = f"/api/admin/exams/{world.exam.id}/subjects/{world.subjects[0].id}"
        now = time.time()
        body = {"kind": "recorded", "window_opens": now - 60, "window_closes": now + 3600}
        resp = await admin.put(url, json={**body, "form": "question", "prepare_s": 45, "prompt_device": True})
        assert resp.status == 200, await resp.text()
        subject = (await resp.json())["subject"]
        assert (subject["form"], subject["prepare_s"], subject["prompt_device"]) == ("question", 45, True)
        assert await error(await admin.put(url, json={"prepare_s": 601}), 400, "field_range") == (
            "准备时间（秒）应在 0 到 600 之间"
        )
        await error(await admin.put(url, json={"form": "essay"}), 400, "subject_form_invalid")
        await error(await admin.put(url, json={"prompt_device": "yes"}), 400, "field_type")
        after = await services.catalog.subject(world.exam.id, world.subjects[0].id)
        assert (after.form, after.prepare_s, after.prompt_device) == ("question", 45, True)
        resp = await admin.put(url, json={"form": "guided"})
        assert (await resp.json())["subject"]["form"] == "guided"
    finally:
        await admin.close()


async def test_the_admin_keeps_a_question_bank(app, world, services):
    subject, base, admin = await bank_admin(app, services, world)
    try:
        resp = await admin.post(base, data=upload(use="formal", text="朗读：今天天气晴。"))
        assert resp.status == 201, await resp.text()
        text = (await resp.json())["question"]
        resp = await admin.post(base, data=upload(use="formal", text="视奏", file=("视奏.png", score())))
        image = (await resp.json())["question"]
        resp = await admin.post(base, data=upload(use="mock", file=("模唱.mp3", audio())))
        sound = (await resp.json())["question"]
        assert (text["media_url"], image["media_kind"], sound["media_type"]) == (None, "image", "audio/mpeg")
        listing = await (await admin.get(base)).json()
        assert [q["id"] for q in listing["questions"]] == [text["id"], image["id"], sound["id"]]
        assert listing["counts"] == {"formal": 2, "mock": 1}
        resp = await admin.get(image["media_url"])
        assert resp.status == 200 and resp.content_type == "image/png" and (await resp.read())[:4] == b"\x89PNG"
        resp = await admin.get(sound["media_url"], headers={"Range": "bytes=0-9"})
        assert resp.status == 206 and len(await resp.read()) == 10

        # bad input: a clear message, nothing stored
        await error(
            await admin.post(base, data=upload(use="formal", file=("a.png", b"\x89PNG\r\n\x1a\nx"))),
            400,
            "question_image_invalid",
        )
        await error(await admin.post(base, data=upload(use="正式期末", text="题")), 400, "question_use_invalid")
        await error(await admin.post(base, data=upload(use="formal", text=" ")), 400, "question_empty")
        await error(
            await admin.post(
                base, data=upload(use="formal", file=("big.wav", b"RIFF" + b"\0" * (20 * 1024 * 1024 + 1)))
            ),
            413,
            "body_too_large",
        )
        await error(await admin.post(base, json={"use": "formal", "text": "题"}), 415, "bad_content_type")
        assert len((await (await admin.get(base)).json())["questions"]) == 3

        # another subject's or exam's question, a forged or malformed id
        other = world.subjects[1]
        await error(
            await admin.get(f"/api/admin/exams/{world.exam.id}/subjects/{other.id}/questions/{image['id']}/media"),
            404,
            "question_not_found",
        )
        await error(await admin.delete(f"{base}/ques_000000000000"), 404, "question_not_found")
        await error(await admin.delete(f"{base}/..%2F..%2Fetc"), 404, "question_not_found")
        await error(
            await admin.get(f"/api/admin/exams/{world.exam.id}/subjects/{other.id}/questions"),
            409,
            "sitting_not_recorded",
        )

        resp = await admin.delete(f"{base}/{text['id']}")
        assert resp.status == 200
        assert (await (await admin.get(base)).json())["counts"] == {"formal": 1, "mock": 1}
    finally:
        await admin.close()


async def test_a_zip_import_is_all_or_nothing_with_its_report(app, world, services):
    subject = await question_subject(services, world)
    url = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/questions/import"
    index = "用途,题目,文件\n正式考,视奏,视奏.png\n模拟考,模唱,模唱.mp3\n"
    admin = await as_user(app, "admin-one")
    try:
        bad = bank_zip(index + "正式考,越界,../secret.png\n", {"视奏.png": score(), "模唱.mp3": audio()})
        resp = await admin.post(url, data=upload(file=("bank.zip", bad)))
        assert resp.status == 422
        report = await resp.json()
        assert report["stored"] == 0 and [r["status"] for r in report["rows"]] == ["ok", "ok", "rejected"]
        assert report["rows"][2]["reasons"][0]["code"] == "question_file_path"
        missing = bank_zip(index, {"视奏.png": score()})
        report = await (await admin.post(url, data=upload(file=("bank.zip", missing)))).json()
        assert report["rows"][1]["reasons"][0]["message"] == "压缩包中找不到文件“模唱.mp3”"
        await error(await admin.post(url, data=upload(file=("bank.zip", b"not a zip"))), 400, "question_zip_invalid")
        await error(await admin.post(url, data=upload(other=("x", b"x"))), 400, "field_required")
        assert await services.questions.of_subject(world.exam.id, subject.id) == []

        good = bank_zip(index, {"视奏.png": score(), "模唱.mp3": audio()})
        resp = await admin.post(url, data=upload(file=("bank.zip", good)))
        assert resp.status == 200
        assert (await resp.json())["stored"] == 2
    finally:
        await admin.close()


async def test_the_candidate_gets_only_the_question_their_take_drew(app, world, services):
    subject, base, admin = await bank_admin(app, services, world)
    try:
        for i in range(2):
            await admin.post(base, data=upload(use="formal", text=f"正式题{i}", file=(f"{i}.png", score(str(i)))))
        await admin.post(base, data=upload(use="mock", text="模拟题"))
    finally:
        await admin.close()
    account = await world.candidate(0)
    other = await world.candidate(2)
    await pass_face(services, world.exam.id, account)
    candidate = await new_client(app)
    await login(candidate, account.phone, PASSWORD)
    try:
        # the bank is the admin's: a candidate asking for it is refused, and learns nothing
        await error(await candidate.get(base), 403, "forbidden")
        qid = (await services.questions.of_subject(world.exam.id, subject.id))[0].id
        await error(await candidate.get(f"{base}/{qid}/media"), 403, "forbidden")
        resp = await candidate.post(
            f"/api/candidate/exams/{world.exam.id}/recorded/{subject.id}/sittings",
            json={"mode": "formal", "device": DEVICE},
        )
        sitting = (await resp.json())["sitting"]
        state = await (await candidate.get(f"/api/candidate/sittings/{sitting['id']}")).json()
        assert state["takes"] == [] and "正式题" not in str(state)  # nothing of the bank before the draw

        resp = await candidate.post(
            f"/api/candidate/sittings/{sitting['id']}/takes",
            json={"device": DEVICE, "camera": "front", "orientation": "portrait"},
        )
        assert resp.status == 201, await resp.text()
        take = (await resp.json())["take"]
        assert take["form"] == "question" and take["question"]["text"].startswith("正式题")
        assert take["answer_at"] - take["started_at"] == 20
        resp = await candidate.get(f"/api/candidate/takes/{take['id']}/question")
        assert resp.status == 200 and resp.content_type == "image/png"
        # a reload during the preparation: the same question and the same answer time
        state = await (await candidate.get(f"/api/candidate/sittings/{sitting['id']}")).json()
        (again,) = state["takes"]
        assert (again["question"], again["answer_at"]) == (take["question"], take["answer_at"])
        # starting again while the take runs draws nothing new
        await error(
            await candidate.post(
                f"/api/candidate/sittings/{sitting['id']}/takes",
                json={"device": DEVICE, "camera": "front", "orientation": "portrait"},
            ),
            409,
            "take_running",
        )
        assert len(await events(services, world.exam.id, "take_started")) == 1
    finally:
        await candidate.close()
    # another candidate cannot reach that take's question
    stranger = await new_client(app)
    await login(stranger, other.phone, PASSWORD)
    try:
        await error(await stranger.get(f"/api/candidate/takes/{take['id']}/question"), 404, "take_not_found")
    finally:
        await stranger.close()


async def test_the_second_phone_shows_the_running_takes_question_and_is_no_camera(app, world, services):
    subject, base, admin = await bank_admin(app, services, world, prompt_device=True)
    try:
        await admin.post(base, data=upload(use="mock", text="视奏谱", file=("score.png", score())))
    finally:
        await admin.close()
    account = await world.candidate(0)
    candidate = await new_client(app)
    await login(candidate, account.phone, PASSWORD)
    try:
        resp = await candidate.get(f"/api/candidate/exams/{world.exam.id}/aux-qr?prompt={subject.id}")
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        token = resp.headers["X-Aux-Url"].rsplit("/aux/", 1)[1]
        camera = (await candidate.get(f"/api/candidate/exams/{world.exam.id}/aux-qr")).headers["X-Aux-Url"]
        await error(
            await candidate.get(f"/api/candidate/exams/{world.exam.id}/aux-qr?prompt={world.subjects[1].id}"),
            404,
            "not_found",
        )
        viewer = await new_client(app)  # the second phone: no login
        try:
            page = await viewer.get(f"/aux/{token}")
            assert page.status == 200 and "查看题目" in await page.text()
            state = await (await viewer.get(f"/api/prompt/{token}")).json()
            assert state["state"] == "waiting" and state["question"] is None
            await error(await viewer.get(f"/api/prompt/{token}/media"), 404, "take_no_question")
            await error(await viewer.get(f"/api/prompt/{camera.rsplit('/aux/', 1)[1]}"), 403, "aux_token_invalid")
            await error(await viewer.get(f"/api/prompt/{token[:-3]}abc"), 403, "aux_token_invalid")

            sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
            take = await services.sittings.start_take(account, sitting.id, DEVICE, "rear", "landscape")
            state = await (await viewer.get(f"/api/prompt/{token}")).json()
            assert state["state"] == "preparing" and state["take_id"] == take.id
            assert state["question"]["text"] == "视奏谱" and state["question"]["media_kind"] == "image"
            resp = await viewer.get(state["question"]["media_url"])
            assert resp.status == 200 and resp.content_type == "image/png"
            # not a device of the aux cameras' limit, not a take
            keys = services.store.keys
            assert await services.store.redis.scard(keys.aux_devices(world.exam.id, account.id)) == 0
            assert (await services.sittings.sitting_of(account, sitting.id)).takes_total == 1
            await services.sittings.take_ended(take.id, "complete", 3.0)
            assert (await (await viewer.get(f"/api/prompt/{token}")).json())["state"] == "waiting"
            # the candidate logs out: the viewer's code is void
            await candidate.post("/api/auth/logout")
            await error(await viewer.get(f"/api/prompt/{token}"), 403, "aux_token_logged_out")
        finally:
            await viewer.close()
    finally:
        await candidate.close()


async def test_guided_steps_over_http(app, world, services):
    subject = await make_recorded(services, world, form="guided", take_max_s=120)
    base = f"/api/admin/exams/{world.exam.id}/subjects/{subject.id}/steps"
    admin = await as_user(app, "admin-one")
    try:
        resp = await admin.post(f"{base}/audio", data=upload(file=("擦地.m4a", audio("m4a"))))
        assert resp.status == 201, await resp.text()
        guide = await resp.json()
        assert guide["type"] == "audio/mp4" and len(guide["sha256"]) == 64
        await error(
            await admin.post(f"{base}/audio", data=upload(file=("s.png", score()))), 400, "guided_step_audio_type"
        )
        steps = [
            {"text": "报考试码", "duration_s": 5, "speak": True},
            {"text": "擦地", "duration_s": 20, "audio_sha256": guide["sha256"]},
        ]
        resp = await admin.put(base, json={"steps": steps})
        assert resp.status == 200, await resp.text()
        assert [s["audio_type"] for s in (await resp.json())["subject"]["steps"]] == ["", "audio/mp4"]
        message = await error(
            await admin.put(base, json={"steps": [{"text": "", "duration_s": 5}]}), 400, "guided_step_text"
        )
        assert message == "请填写第 1 步的文字"
        await error(await admin.put(base, json={"steps": "all"}), 400, "field_type")
        resp = await admin.get(f"{base}/audio/{guide['sha256']}")
        assert resp.status == 200 and resp.content_type == "audio/mp4"
        await error(await admin.get(f"{base}/audio/{'0' * 64}"), 404, "not_found")
        image = (
            await services.questions.add(ADMIN, world.exam.id, subject.id, [draft("formal", "", score(), "s.png")])
        )[0]
        await error(await admin.get(f"{base}/audio/{image.media_sha256}"), 404, "not_found")  # an image is no guide
    finally:
        await admin.close()
    account = await world.candidate(0)
    candidate = await new_client(app)
    await login(candidate, account.phone, PASSWORD)
    try:
        sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
        take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
        resp = await candidate.get(f"/api/candidate/takes/{take.id}/steps/1/audio")
        assert resp.status == 200 and resp.content_type == "audio/mp4"
        await error(await candidate.get(f"/api/candidate/takes/{take.id}/steps/0/audio"), 404, "not_found")
        await error(await candidate.get(f"/api/candidate/takes/{take.id}/steps/9/audio"), 404, "not_found")
        await error(await candidate.get(f"/api/candidate/takes/{take.id}/question"), 404, "take_no_question")
    finally:
        await candidate.close()


async def test_a_grader_sees_the_question_and_the_steps_but_not_the_candidate(app, world, services):
    subject = await question_subject(services, world)
    await services.questions.add(ADMIN, world.exam.id, subject.id, [draft("formal", "视奏第三首", score(), "s.png")])
    grader = await examiner(services, "grader-q")
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    account, sitting, take = await submission(services, world, 0, subject, files=True)
    await close_window(services, world, subject)  # graders see a subject once its window has closed
    client = await as_user(app, "grader-q")
    try:
        (row,) = (await (await client.get("/api/grader/submissions")).json())["submissions"]
        assert row["form"] == "question" and row["question"]["text"] == "视奏第三首"
        assert row["steps"] == [] and row["question"]["media_url"].endswith("/question")
        assert account.name not in str(row) and sitting.code not in str(row) and take.id not in str(row)
        resp = await client.get(row["question"]["media_url"])
        assert resp.status == 200 and resp.content_type == "image/png"
        await error(await client.get("/api/grader/submissions/S-22222/question"), 404, "submission_not_found")
    finally:
        await client.close()
