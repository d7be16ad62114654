"""A staff member is never also a candidate of an exam they work on (server/exams/staff.py, issue 16 item 6),
on a real Redis. By account: a staff account cannot verify a candidate's identity. By person (the ID number
the school records on a staff account): a staff member whose number is on an exam's roster is not assigned
to it as examiner, grader or proctor; a roster row with the number of a staff member of the exam is refused;
a number on the roster of an exam the staff member works on is not recorded. The attacks: an account trying
to be both, each way, and an assignment racing a roster import (never both land)."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import UserError
from server.roster import idcard
from server.roster.photos import PhotoSource
from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD


async def refused(code: str, work) -> UserError:
    with pytest.raises(UserError) as caught:
        await work
    assert caught.value.code == code, (caught.value.code, caught.value.message("zh"))
    return caught.value


async def staff(services, role: str, username: str, number: str = ""):
    return await services.directory.create(
        role, PASSWORD, Actor.system(), name=f"老师{username}", username=username, staff_id_number=number
    )


async def import_rows(services, exam_id: str, rows: list[tuple[str, str]]):
    lines = ["姓名,身份证号,手机号,报考科目"] + [f"{name},{number},,声乐" for name, number in rows]
    return await services.importer.import_csv(ADMIN, exam_id, "\n".join(lines).encode(), PhotoSource.empty())


async def test_a_staff_account_cannot_verify_a_candidates_identity(services, world):
    """Roles never change and only a candidate account verifies an ID number: an examiner, a proctor or an
    admin trying to claim a rostered identity is refused and nothing is bound (the script checks too)."""
    name, number, _ = world.roster[0]
    for role in ("examiner", "proctor", "admin"):
        account = world.staff[role]
        account.contact_verified_at = 1.0
        error = await refused("identity_staff", services.identity.verify(account, name, number))
        assert "工作人员账号不能进行考生身份认证" in error.message("zh")
    redis, keys = services.store.redis, services.store.keys
    assert await redis.get(keys.id_claim(number)) is None
    # the script refuses on its own: a staff account given to it directly binds nothing either
    result = await services.store.script("verify_identity")(
        keys=[
            keys.id_claim(number),
            keys.account(world.staff["examiner"].id),
            keys.login("idnum", number),
            keys.audit(None),
        ],
        args=[number, world.staff["examiner"].id, name, "1.0", "event", "x"],
    )
    assert result == "staff" and await redis.get(keys.id_claim(number)) is None


async def test_a_staff_member_on_the_roster_is_not_assigned_to_the_exam(services, world):
    """The person: an examiner/grader/proctor whose recorded ID number is on the exam's roster."""
    _, number, _ = world.roster[1]
    examiner = await staff(services, "examiner", "examiner-candidate", number)
    proctor = await staff(services, "proctor", "proctor-candidate", number)
    assert examiner.staff_id_number == number
    subject = world.subjects[0]
    rooms_before = await services.catalog.rooms(world.exam.id)
    error = await refused(
        "staff_on_roster", services.catalog.create_room(ADMIN, world.exam.id, subject.id, "第九考场", [examiner.id])
    )
    assert error.message("zh").startswith("老师examiner-candidate 的证件号码在本场考试的考生名单上")
    assert await services.catalog.rooms(world.exam.id) == rooms_before  # nothing written
    await services.catalog.update_subject(
        ADMIN, world.exam.id, subject.id, kind="recorded", window_opens=1, window_closes=2
    )
    await refused("staff_on_roster", services.grading.assign(ADMIN, world.exam.id, subject.id, [examiner.id]))
    assert await services.grading.graders_of(world.exam.id, subject.id) == []
    await refused("staff_on_roster", services.proctors.assign(ADMIN, world.exam.id, [proctor.id]))
    assert await services.proctors.of_exam(world.exam.id) == [world.staff["proctor"].id]
    # another exam's roster does not hold the number: there they may work
    other_number = idcard.make("110101", "19800101", 7)
    ok = await staff(services, "examiner", "examiner-free", other_number)
    room = await services.catalog.create_room(ADMIN, world.exam.id, subject.id, "第十考场", [ok.id])
    assert room.examiners == [ok.id]
    events = [e["event"] for e in await services.audit.read(world.exam.id, count=500)]
    assert events.count("room_created") == 3  # the world's two and this one, not the refused one


async def test_the_roster_refuses_a_staff_member_of_the_exam_and_a_number_set_later_is_checked(services, world):
    examiner = world.staff["examiner"]  # on both rooms' panels
    number = idcard.make("110101", "19800101", 9)
    await services.directory.set_staff_number(examiner.id, number, ADMIN)
    report = await import_rows(
        services, world.exam.id, [("张老师", number), ("新考生", idcard.make("110101", "20060101", 60))]
    )
    staff_row, other_row = report.rows
    assert staff_row.status == "rejected" and staff_row.reasons[0][0] == "row_staff_of_exam"
    assert other_row.status == "imported"
    assert not await services.store.redis.sismember(services.store.keys.roster(world.exam.id), number)
    # a number already on the roster of an exam they work on is not recorded on the staff account
    _, rostered, _ = world.roster[2]
    error = await refused("staff_on_roster", services.directory.set_staff_number(examiner.id, rostered, ADMIN))
    assert "不能同时是本场考试的考生" in error.message("zh")
    assert (await services.directory.get(examiner.id)).staff_id_number == number  # unchanged
    await refused("id_number_checksum", services.directory.set_staff_number(examiner.id, number[:-1] + "0", ADMIN))
    await refused(
        "staff_id_candidate", services.directory.set_staff_number((await world.candidate(0)).id, number, ADMIN)
    )
    (entry, *_) = [e for e in await services.audit.read(None, count=200) if e["event"] == "staff_id_number_set"]
    assert entry["actor"] == ADMIN.account_id and entry["subject"] == examiner.id
    # cleared, the row is accepted
    await services.directory.set_staff_number(examiner.id, "", ADMIN)
    assert (await import_rows(services, world.exam.id, [("张老师", number)])).rows[0].status == "imported"


async def test_an_assignment_racing_a_roster_import_never_both_land(services, world):
    """Twenty times: an examiner with a recorded ID number is put on a new room's panel while a roster file
    with that number is imported, the two started 0-30 ms apart. Exactly one of them lands each time, never
    both (the room first: the row refused, by the file's check or, when the room landed between that check
    and the write, by the write's; the import first: the room refused)."""
    subject = world.subjects[0]
    for i in range(20):
        number = idcard.make("110101", "19800101", 100 + i)
        person = await staff(services, "examiner", f"racer-{i}", number)

        async def room(delay: float, i: int = i, person=person):
            await asyncio.sleep(delay)  # staggered, so each side is sometimes first
            return await services.catalog.create_room(ADMIN, world.exam.id, subject.id, f"竞速考场{i}", [person.id])

        outcomes = await asyncio.gather(
            room(0.0015 * i),
            import_rows(services, world.exam.id, [(f"考生{i}", number)]),
            return_exceptions=True,
        )
        on_roster = await services.store.redis.sismember(services.store.keys.roster(world.exam.id), number)
        rooms = [r for r in await services.catalog.rooms(world.exam.id) if person.id in r.examiners]
        assert bool(on_roster) != bool(rooms), (i, outcomes)
        room_result, report = outcomes
        if rooms:
            assert not isinstance(room_result, BaseException)
            refused_row = isinstance(report, UserError) and report.code == "roster_staff_conflict"
            assert refused_row or report.rows[0].reasons[0][0] == "row_staff_of_exam", report
        else:
            assert isinstance(room_result, UserError) and room_result.code == "staff_on_roster"
