"""Drawn-question and guided takes through the real signalling (an aiortc peer standing in for the phone): the
answer's clock and the step timeline are the server's, set when the camera joins; the question and the timeline
go into the take's manifest.json; a grader's "jump to step n" lands on step n of the playback file, also when a
reconnect cut time out of it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from server.recorded.questions import draft
from server.recorded.take_forms import steps_view
from server.rooms import passthrough
from server.rooms.remux import PLAYABLE

from ..conftest import ADMIN, fast_settings
from ..recorded.conftest import events
from .conftest import url_of
from .test_takes import DEVICE, candidate_socket, decoded_seconds, folder_of, phone

passthrough.install()
GRACE_S = 4


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    return fast_settings(tmp_path, redis_url, prefix, take_reconnect_grace_s=GRACE_S)


async def subject_of(services, live, **rules):
    now = time.time()
    return await services.catalog.update_subject(
        ADMIN,
        live.exam.id,
        live.world.subjects[0].id,
        kind="recorded",
        takes_allowed=5,
        window_opens=now - 600,
        window_closes=now + 3600,
        **rules,
    )


async def test_a_drawn_question_answered_before_its_preparation_ends(server, services, live, peers, clients):
    subject = await subject_of(services, live, form="question", prepare_s=60, take_max_s=10)
    await services.questions.add(ADMIN, live.exam.id, subject.id, [draft("mock", "模唱：请唱出听到的旋律")])
    account = await live.world.candidate(0)
    sitting = await services.sittings.enter(account, live.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert take.answer_at == pytest.approx(take.started_at + 60, abs=0.01)
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await asyncio.sleep(1)
    joined = time.time()
    await cam.join()  # "准备好了，开始作答": the answer begins now, and its 10 s with it
    first = await candidate.wait_for("take:recording", lambda d: d["state"] == "recording" and d["bytes"] > 0, 10)
    assert first["elapsed_s"] < 3 and 7 < first["remaining_s"] <= 10
    ended = await candidate.wait_for("take:ended", timeout=20)
    assert (ended["state"], ended["reason"]) == ("complete", "limit")
    assert 9.5 <= time.time() - joined < 14  # not 60 s of preparation + 10 s
    kept = await services.sittings.take_of(account, take.id)
    assert joined - 0.5 < kept.answer_at < joined + 2 and kept.stop_at == pytest.approx(kept.answer_at + 10, abs=0.01)
    (entry,) = await events(services, live.exam.id, "take_answer_started")
    assert entry["data"]["take_id"] == take.id and 0.5 < entry["data"]["prepared_s"] < 3
    await candidate.wait_for("take:playable", timeout=15)
    manifest = json.loads((folder_of(services, account, take) / "manifest.json").read_text())
    assert manifest["take"]["form"] == "question"
    assert manifest["take"]["question"] == take.question and take.question["text"].startswith("模唱")


async def test_a_guided_take_with_a_reconnect_lands_each_step_in_the_video(server, services, live, peers, clients):
    steps = [
        {"text": "报考试码", "duration_s": 4},
        {"text": "擦地", "duration_s": 4},
        {"text": "小跳", "duration_s": 4},
    ]
    subject = await subject_of(services, live, form="guided", take_max_s=60)
    await services.guided.set(ADMIN, live.exam.id, subject.id, steps)
    account = await live.world.candidate(0)
    sitting = await services.sittings.enter(account, live.exam.id, subject.id, "practice", DEVICE)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    candidate = await candidate_socket(peers, url_of(server), services, account)
    cam = phone(candidate, account.id, take.id)
    clients.append(cam)
    await cam.join()
    begun = await services.sittings.take_of(account, take.id)
    assert [m["offset_s"] for m in begun.timeline] == [0, 4, 8]
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > 3_000, 10)
    # in step 2 the phone switches networks: nothing is recorded for a while, the steps go on by the clock
    await asyncio.sleep(max(0.0, begun.answer_at + 5 - time.time()))
    await cam.pc.close()
    closed = time.time()
    await asyncio.sleep(1.5)
    await cam.reconnect()
    bytes_before = candidate.seen("take:recording")[-1]["bytes"]
    await candidate.wait_for("take:recording", lambda d: d["bytes"] > bytes_before + 2_000, 10)
    reopened = time.time()
    ended = await candidate.wait_for("take:ended", timeout=20)
    assert (ended["state"], ended["reason"]) == ("complete", "steps")
    assert ended["message"]["zh"].startswith("全部指定项目已完成")
    assert time.time() == pytest.approx(begun.answer_at + 12, abs=2)
    playable = await candidate.wait_for("take:playable", timeout=15)
    kept = await services.sittings.take_of(account, take.id)
    assert kept.files[PLAYABLE]["segments"] == 2
    view = steps_view(kept)
    at = [v["video_s"] for v in view]
    assert at[0] == pytest.approx(0, abs=0.8) and at[1] == pytest.approx(4, abs=0.8), view
    gap = reopened - closed  # at most this much was cut out of the file before step 3
    assert 8 - gap - 1.0 < at[2] < 8 - 1.0, (view, gap)
    assert at[2] < playable["duration_s"] <= 12
    assert abs(decoded_seconds(folder_of(services, account, take) / PLAYABLE) - playable["duration_s"]) < 1.0
    manifest = json.loads((folder_of(services, account, take) / "manifest.json").read_text())
    assert [m["offset_s"] for m in manifest["take"]["timeline"]] == [0, 4, 8]
    assert [s["text"] for s in manifest["take"]["steps"]] == ["报考试码", "擦地", "小跳"]
