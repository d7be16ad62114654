"""The live pages render for their role with what the browser needs, in the page's language; a room
page is only for an examiner on its panel; the proctor's exam picker is rendered by the server."""

from server.store.audit import Actor
from tests.conftest import PASSWORD, login


async def test_interview_page_for_the_candidates_own_exam(http, world):
    candidate = await world.candidate(0)
    await login(http, candidate.phone, PASSWORD)
    resp = await http.get(f"/candidate/exams/{world.exam.id}/interview")
    html = await resp.text()
    assert resp.status == 200
    for needle in (
        'id="video" autoplay muted playsinline',
        'id="self-video" autoplay muted playsinline',
        'id="join"',
        'id="face-box"',
        'id="aux-qr"',
        'src="/static/js/interview.js"',
        "开启声音并进入候考",
        "考生的前一位考生进入面试后，系统会发出语音提醒",
        "双机位",
        "在浏览器中打开",
    ):
        assert needle in html, needle
    resp = await http.get("/candidate/exams/exam_000000000000/interview")
    assert resp.status == 404 and "考试不存在" in await resp.text()
    html = await (await http.get(f"/candidate/exams/{world.exam.id}/interview", cookies={"lang": "en"})).text()
    assert "Turn on sound and join the queue" in html and '<html lang="en">' in html


async def test_room_page_only_for_an_examiner_on_its_panel(http, services, world):
    await login(http, "examiner-one", PASSWORD)
    resp = await http.get(f"/examiner/rooms/{world.rooms[0].id}")
    html = await resp.text()
    assert resp.status == 200
    for needle in (
        'id="call-next"',
        'id="cand-video"',
        'id="aux-video"',
        'id="self-video" autoplay playsinline muted',
        'id="queue-table"',
        'id="remove-form"',
        'data-length-s="600"',
        "叫号",
    ):
        assert needle in html, needle
    other = await services.directory.create("examiner", PASSWORD, Actor.system(), name="other", username="examiner-two")
    await login(http, other.username, PASSWORD)
    resp = await http.get(f"/examiner/rooms/{world.rooms[0].id}")
    assert resp.status == 404 and "考场不存在" in await resp.text()
    assert (await http.get("/examiner/rooms/room_000000000000")).status == 404


async def test_proctor_desk_lists_the_exams_for_the_live_view(http, world):
    await login(http, "proctor-one", PASSWORD)
    html = await (await http.get("/proctor")).text()
    assert f'<option value="{world.exam.id}">' in html and 'src="/static/js/proctor-live.js"' in html
    assert 'id="rooms-grid"' in html and 'id="state-filter"' in html
