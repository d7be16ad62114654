"""Two tabs, two devices, two server processes: the same candidate's requests from three OS processes
at once. Exactly one sitting, one take, one submission wins; the others get their refusal."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from pathlib import Path

from server.errors import UserError
from server.exams.catalog import Catalog
from server.exams.enrolment import Enrolments
from server.facecheck.gate import FaceGate
from server.recorded.questions import draft
from server.recorded.sittings import Sittings
from server.roster.book import RosterBook
from server.store.base import Store
from server.store.models import Account
from server.store.redis import connect

from ..conftest import ADMIN
from .conftest import events, make_recorded, pass_face

PROCESSES, EACH = 3, 7  # 21 at once


async def _attempts(redis_url: str, prefix: str, account: dict, action: str, args: list, n: int) -> list[str]:
    client = connect(redis_url)
    store = Store(client, prefix)
    catalog = Catalog(store)
    sittings = Sittings(store, catalog, Enrolments(store, catalog, RosterBook(store)), FaceGate(store), Path("."))
    who = Account(**account)

    async def one(i: int) -> str:
        try:
            if action == "enter":
                exam_id, subject_id = args
                await sittings.enter(who, exam_id, subject_id, "formal", f"device-{n}-{i:03d}")
            elif action == "start":
                sitting_id, device = args
                await sittings.start_take(who, sitting_id, device, "front", "portrait")
            else:
                sitting_id, take_ids = args
                await sittings.submit(who, sitting_id, take_ids[i % len(take_ids)])
            return "ok"
        except UserError as err:
            return err.code

    try:
        return await asyncio.gather(*(one(i) for i in range(EACH)))
    finally:
        await client.aclose()


def _worker(job) -> list[str]:
    return asyncio.run(_attempts(*job))


def race(pool, redis_url: str, prefix: str, account: Account, action: str, *args) -> Counter:
    fields = {
        "id": account.id,
        "role": account.role,
        "id_number": account.id_number,
        "verified_at": account.verified_at,
    }
    jobs = [(redis_url, prefix, fields, action, list(args), n) for n in range(PROCESSES)]
    return Counter(code for part in pool.map(_worker, jobs) for code in part)


async def test_three_processes_one_sitting_one_take_one_submission(services, world, redis_url, prefix):
    subject = await make_recorded(services, world, takes_allowed=3)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        pool.map(abs, range(PROCESSES))  # interpreters up before the race

        def run(action, *args):
            return loop.run_in_executor(None, lambda: race(pool, redis_url, prefix, account, action, *args))

        entered = await run("enter", world.exam.id, subject.id)
        assert entered == Counter({"ok": 1, "sitting_other_device": PROCESSES * EACH - 1})
        (entry,) = await events(services, world.exam.id, "sitting_entered")
        sitting_id = entry["data"]["sitting_id"]
        device = (await services.sittings.sitting_of(account, sitting_id)).device
        # the winning device goes on: 21 tabs of it start a take at once
        started = await run("start", sitting_id, device)
        assert started == Counter({"ok": 1, "take_running": PROCESSES * EACH - 1})
        (first,) = await services.sittings.takes(sitting_id)
        await services.sittings.take_ended(first.id, "complete", 10)
        second = await services.sittings.start_take(account, sitting_id, device, "rear", "portrait")
        await services.sittings.take_ended(second.id, "complete", 11)
        submitted = await run("submit", sitting_id, [first.id, second.id])
        assert submitted == Counter({"ok": 1, "sitting_over": PROCESSES * EACH - 1})
    assert device.startswith("device-")
    assert len(await events(services, world.exam.id, "take_started")) == 2
    assert len(await events(services, world.exam.id, "sitting_submitted")) == 1
    done = await services.sittings.sitting_of(account, sitting_id)
    assert done.state == "submitted" and done.submitted_take in (first.id, second.id)


async def test_three_processes_starting_a_drawn_question_take_draw_one_question(services, world, redis_url, prefix):
    """21 starts of a drawn-question take from three OS processes: one take, one question drawn once."""
    subject = await make_recorded(services, world, form="question", takes_allowed=3)
    await services.questions.add(ADMIN, world.exam.id, subject.id, [draft("formal", f"题{i}") for i in range(5)])
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", "device-q-000001")
    loop = asyncio.get_running_loop()
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        pool.map(abs, range(PROCESSES))
        started = await loop.run_in_executor(
            None, lambda: race(pool, redis_url, prefix, account, "start", sitting.id, sitting.device)
        )
    assert started == Counter({"ok": 1, "take_running": PROCESSES * EACH - 1})
    (take,) = await services.sittings.takes(sitting.id)
    keys = services.store.keys
    assert await services.store.redis.smembers(keys.questions_drawn(subject.id, account.id, "formal")) == {
        take.question["id"]
    }
    drawn = [q.drawn for q in await services.questions.of_subject(world.exam.id, subject.id)]
    assert sorted(drawn) == [0, 0, 0, 0, 1]
