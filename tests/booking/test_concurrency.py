"""200 candidates race for one slot of capacity 10 from several OS processes."""

import time

from bench.booking import double_booked, overbooked, race
from server.roster import idcard
from server.roster.photos import PhotoSource
from server.store.audit import Actor
from tests.conftest import ADMIN


async def test_200_candidates_4_processes_capacity_10_gives_exactly_10(services, redis_url, prefix):
    now = time.time()
    exam = await services.catalog.create_exam(
        ADMIN,
        school="学院",
        name="抢号",
        booking_opens=now - 60,
        booking_closes=now + 3600,
        subjects=[{"name": "声乐", "interview_minutes": 10}],
    )
    subject = (await services.catalog.subjects(exam.id))[0]
    room = await services.catalog.create_room(ADMIN, exam.id, subject.id, "考场", [])
    slot = await services.catalog.create_slot(ADMIN, exam.id, room.id, now + 86400, now + 90000, 10)
    numbers = [idcard.make("110101", f"200601{1 + i // 100:02d}", i % 100) for i in range(200)]
    csv = "姓名,身份证号,报考科目\n" + "\n".join(f"考生{i},{n},声乐" for i, n in enumerate(numbers))
    assert (await services.importer.import_csv(ADMIN, exam.id, csv.encode(), PhotoSource.empty())).rejected == 0
    pw = await services.passwords.hash("password-123")
    jobs = []
    for i, number in enumerate(numbers):
        account = await services.directory.create(
            "candidate", "", Actor.system(), phone=f"137{i:08d}", password_hash=pw, contact_verified_at=1.0
        )
        account = await services.identity.verify(account, f"考生{i}", number)
        await services.enrolments.confirm(account, exam.id)
        await services.enrolments.read_notice(account, exam.id)
        await services.enrolments.sign_pledge(account, exam.id, True)
        jobs.append((account.id, number, slot.id))
    # each candidate also tries twice, so a duplicate attempt races with its own first one
    jobs += jobs[:50]

    results, _ = race(redis_url, prefix, exam.id, jobs, processes=4, concurrency=40)

    outcome = [code for _, _, code in results]
    assert outcome.count("ok") == 10
    assert set(outcome) <= {"ok", "slot_full", "already_booked"}
    booked = await services.store.redis.zrange(services.store.keys.slot_booked(slot.id), 0, -1)
    assert len(booked) == 10 and len(set(booked)) == 10
    assert await overbooked(services.store, [slot.id]) == 0
    assert await double_booked(services.store, [j[0] for j in jobs]) == 0
    winners = {a for a, _, code in results if code == "ok"}
    assert winners == set(booked)
    for account_id in winners:
        assert await services.bookings.of_candidate(account_id) == {subject.id: slot.id}
    audit = await services.store.redis.xrange(services.store.keys.audit(exam.id))
    assert sum(1 for _, e in audit if e["event"] == "slot_booked") == 10
