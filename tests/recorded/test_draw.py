"""The server draws a take's question (命题作答) when the take starts, in the same Lua script: from the
pool of the sitting's mode (formal, or mock for mock exams and practice), never one the candidate drew
before until the pool is exhausted, one question per take however many starts race."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from server.errors import UserError
from server.recorded.questions import draft

from ..conftest import ADMIN
from .conftest import DEVICE, events, make_recorded, pass_face


async def bank(services, world, subject, formal: int, mock: int):
    drafts = [draft("formal", f"正式题 {i}") for i in range(formal)] + [
        draft("mock", f"模拟题 {i}") for i in range(mock)
    ]
    return await services.questions.add(ADMIN, world.exam.id, subject.id, drafts) if drafts else []


async def formal_sitting(services, world, subject):
    """Candidate 0, their face check passed (the real gate), in a formal sitting of ``subject``."""
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    return account, await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)


@pytest.fixture
async def subject(services, world):
    return await make_recorded(
        services, world, form="question", prepare_s=30, take_max_s=60, takes_allowed=10, mock_tries=2
    )


async def start(services, account, sitting):
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    return await services.sittings.take_ended(take.id, "complete", 5.0), take


async def test_formal_takes_draw_formal_questions_without_repeat_until_the_pool_is_exhausted(services, world, subject):
    made = await bank(services, world, subject, formal=3, mock=3)
    formal_ids = {q.id for q in made if q.use == "formal"}
    account, sitting = await formal_sitting(services, world, subject)
    drawn = []
    for _ in range(3):
        ended, started = await start(services, account, sitting)
        assert started.form == "question" and started.question["use"] == "formal"
        assert ended.question == started.question  # the take keeps what it drew
        drawn.append(started.question["id"])
    assert set(drawn) == formal_ids  # three takes, three different questions
    ended, fourth = await start(services, account, sitting)  # exhausted: a new round
    assert fourth.question["id"] in formal_ids
    (entry,) = [e for e in await events(services, world.exam.id, "take_started") if e["data"]["take_id"] == fourth.id]
    assert entry["data"]["question_id"] == fourth.question["id"] and entry["data"]["form"] == "question"


async def test_mock_exams_and_practice_never_show_a_formal_question(services, world, subject):
    made = await bank(services, world, subject, formal=2, mock=2)
    mock_ids = {q.id for q in made if q.use == "mock"}
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    seen = []
    for mode in ("mock", "practice"):
        sitting = await services.sittings.enter(account, world.exam.id, subject.id, mode, DEVICE)
        for _ in range(2):
            _, take = await start(services, account, sitting)
            seen.append(take.question["id"])
        await services.sittings.reset(account, sitting.id)
    assert set(seen) <= mock_ids
    # practice and the mock exam share the mock pool and the candidate's draws: the two mock takes drew both
    # mock questions, so practice began a new round
    assert set(seen[:2]) == mock_ids


async def test_the_draw_is_fair_among_the_questions_not_drawn_yet(services, world, subject):
    """Many candidates' first takes: every question of the pool comes up (the choice is the server's
    random number, not the set's order)."""
    await bank(services, world, subject, formal=0, mock=4)
    first: Counter = Counter()
    accounts = [await world.candidate(i) for i in range(3)]
    for _ in range(12):  # 36 first draws: one of the 4 questions never comes up about once in 8,000 runs
        for account in accounts:
            await services.store.redis.delete(services.store.keys.questions_drawn(subject.id, account.id, "mock"))
            sitting = await services.sittings.enter(account, world.exam.id, subject.id, "practice", DEVICE)
            _, take = await start(services, account, sitting)
            first[take.question["text"]] += 1
            await services.sittings.reset(account, sitting.id)
    assert len(first) == 4, first


async def test_the_preparation_comes_before_the_answer_and_the_answer_is_capped(services, world, subject):
    await bank(services, world, subject, formal=1, mock=0)
    account, sitting = await formal_sitting(services, world, subject)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert take.answer_at == pytest.approx(take.started_at + 30, abs=0.01)
    assert take.stop_at == pytest.approx(take.answer_at + 60, abs=0.01)
    # the camera joins 10 s into the preparation ("准备好了，开始作答"): the answer begins now, 60 s from now
    begun = await services.sittings.begin_answer(take)
    assert begun.answer_at < take.answer_at - 25 and begun.stop_at == pytest.approx(begun.answer_at + 60, abs=0.01)
    again = await services.sittings.begin_answer(begun)  # a reconnect changes nothing
    assert (again.answer_at, again.stop_at) == (begun.answer_at, begun.stop_at)
    (entry,) = await events(services, world.exam.id, "take_answer_started")
    assert entry["data"] == {**entry["data"], "take_id": take.id, "early": True}


async def test_a_take_that_cannot_draw_is_refused_and_changes_nothing(services, world, subject):
    await bank(services, world, subject, formal=0, mock=2)  # no formal question
    account, sitting = await formal_sitting(services, world, subject)
    with pytest.raises(UserError) as caught:
        await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert caught.value.code == "question_bank_empty"
    assert "题库" in caught.value.message("zh")
    after = await services.sittings.sitting_of(account, sitting.id)
    assert (after.takes_used, after.takes_total, after.running) == (0, 0, "")
    assert await events(services, world.exam.id, "take_started") == []


async def test_too_little_time_for_the_preparation_refuses_the_take(services, world):
    subject = await make_recorded(services, world, form="question", prepare_s=120, time_limit_min=1)
    await bank(services, world, subject, formal=2, mock=0)
    account, sitting = await formal_sitting(services, world, subject)
    with pytest.raises(UserError) as caught:
        await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert caught.value.code == "take_no_time"
    assert await services.store.redis.scard(services.store.keys.questions_drawn(subject.id, account.id, "formal")) == 0


async def test_racing_starts_make_one_take_and_draw_one_question(services, world, subject):
    await bank(services, world, subject, formal=5, mock=0)
    account, sitting = await formal_sitting(services, world, subject)

    async def one():
        try:
            return await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
        except UserError as err:
            return err.code

    results = await asyncio.gather(*(one() for _ in range(20)))
    takes = [r for r in results if not isinstance(r, str)]
    assert len(takes) == 1 and Counter(r for r in results if isinstance(r, str)) == {"take_running": 19}
    keys = services.store.keys
    assert await services.store.redis.smembers(keys.questions_drawn(subject.id, account.id, "formal")) == {
        takes[0].question["id"]
    }
    drawn = [
        int(await services.store.redis.hget(keys.question(q.id), "drawn") or 0)
        for q in await services.questions.of_subject(world.exam.id, subject.id)
    ]
    assert sorted(drawn) == [0, 0, 0, 0, 1]
    assert len(await events(services, world.exam.id, "take_started")) == 1


async def test_a_take_left_recording_past_its_preparation_and_answer_is_cut_by_the_next_start(services, world):
    subject = await make_recorded(services, world, form="question", prepare_s=5, take_max_s=10, takes_allowed=3)
    await bank(services, world, subject, formal=3, mock=0)
    account, sitting = await formal_sitting(services, world, subject)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    keys = services.store.keys
    # its process died long ago: the take's stop time (preparation + answer) plus the grace is past
    await services.store.redis.hset(keys.take(take.id), mapping={"stop_at": f"{time.time() - 200:.3f}"})
    second = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert (await services.sittings.find_take(take.id)).state == "cut"
    assert second.question == take.question  # a take left unfinished passes its question on


async def test_a_take_that_failed_or_was_cut_passes_its_question_to_the_next(services, world, subject):
    """Failing a take (never joining, a lost connection) is no way to draw another question: the next take of
    the sitting gets the same one; after a complete take the next draws anew."""
    made = await bank(services, world, subject, formal=4, mock=0)
    account, sitting = await formal_sitting(services, world, subject)
    first = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    await services.sittings.take_ended(first.id, "failed", 0.0)
    second = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert second.question == first.question
    await services.sittings.take_ended(second.id, "cut", 3.0)
    third = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert third.question == first.question
    await services.sittings.take_ended(third.id, "complete", 8.0)
    fourth = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    assert fourth.question["id"] != first.question["id"] and fourth.question["id"] in {q.id for q in made}
    started = await events(services, world.exam.id, "take_started")
    assert [e["data"]["again"] for e in started] == [False, True, True, False]
    assert int(await services.store.redis.hget(services.store.keys.question(first.question["id"]), "drawn")) == 3
