"""Proctors watch only the exams an admin assigned them to: the live view, the audit log, the face
reviews and the identity appeals of other exams are refused (403) or left out of their lists;
admins stay school-wide. The attack: a proctor of one school's exam reading and deciding another's."""

from __future__ import annotations

import pytest

from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD, build_world, login, new_client

EVIDENCE = {"passed": True, "check_id": "check_000000000001", "exam_id": "", "frames": 0}


async def other_exam_with_work(services, world):
    """A second exam (its own roster) with an open face review and an open identity appeal."""
    other = await build_world(services, roster_size=1, staff=world.staff, first_roster_row=50)
    await services.proctors.assign(ADMIN, other.exam.id, [])  # nobody watches it yet
    name, number, _ = other.roster[0]
    holder = await other.candidate(0, phone="13600000001")
    appellant = await other.candidate(0, verified=False, phone="13600000002")
    entry = await services.identity.appeal_target(appellant, name, number)
    appeal = await services.identity.open_appeal(appellant, entry, {**EVIDENCE, "exam_id": other.exam.id})
    for _ in range(3):  # three failed checks open a manual review
        await services.face_gate.record(
            other.exam.id,
            Actor(holder.id, "candidate"),
            passed=False,
            reason="face_mismatch",
            distance=0.8,
            check={"check_id": f"check_{_:012d}"},
            kind="queue",
            name=name,
            id_number=number,
            photo_sha256=entry.photo_sha256,
        )
    [review] = [r for r in await services.face_gate.open_reviews() if r.exam_id == other.exam.id]
    return other, appeal, review


@pytest.fixture
async def setup(app, services):
    world = await build_world(services)
    other, appeal, review = await other_exam_with_work(services, world)
    proctor = await new_client(app)
    await login(proctor, "proctor-one", PASSWORD)
    yield world, other, appeal, review, proctor
    await proctor.close()


async def test_a_proctor_neither_sees_nor_decides_another_exams_work(setup, services):
    world, other, appeal, review, proctor = setup
    # not in the lists
    assert (await (await proctor.get("/api/proctor/appeals")).json())["appeals"] == []
    assert (await (await proctor.get("/api/proctor/reviews")).json())["reviews"] == []
    # by id: refused, and nothing changes
    for method, path, body in (
        ("GET", f"/api/staff/exams/{other.exam.id}/audit", None),
        ("GET", f"/api/proctor/reviews/{review.id}", None),
        ("POST", f"/api/proctor/reviews/{review.id}", {"approve": True, "comment": "x"}),
        ("POST", f"/api/proctor/appeals/{appeal.id}", {"approve": True, "comment": "x"}),
        ("GET", f"/api/proctor/appeals/{appeal.id}/frames/0", None),
    ):
        resp = await proctor.request(method, path, json=body)
        err = (await resp.json())["error"]
        assert (resp.status, err["code"]) == (403, "not_exam_proctor"), (method, path)
        assert "巡考" in err["message"]
    assert (await services.identity.appeal(appeal.id)).status == "open"
    assert (await services.face_gate.review(review.id)).status == "open"
    # the proctor page offers only the assigned exam
    page = await (await proctor.get("/proctor")).text()
    assert world.exam.id in page and other.exam.id not in page
    # their own exam works
    assert (await proctor.get(f"/api/staff/exams/{world.exam.id}/audit")).status == 200


async def test_an_assignment_opens_the_exam_and_an_admin_sees_everything(app, setup, services):
    world, other, appeal, review, proctor = setup
    admin = await new_client(app)
    try:
        await login(admin, "admin-one", PASSWORD)
        assert [a["id"] for a in (await (await admin.get("/api/proctor/appeals")).json())["appeals"]] == [appeal.id]
        proctor_id = world.staff["proctor"].id
        resp = await admin.put(f"/api/admin/exams/{other.exam.id}/proctors", json={"proctors": [proctor_id]})
        assert resp.status == 200 and (await resp.json())["proctors"] == [proctor_id]
        exam = await (await admin.get(f"/api/admin/exams/{other.exam.id}")).json()
        assert exam["proctors"] == [proctor_id]
        # an examiner is not a proctor
        resp = await admin.put(
            f"/api/admin/exams/{other.exam.id}/proctors", json={"proctors": [world.staff["examiner"].id]}
        )
        assert (await resp.json())["error"]["code"] == "proctor_invalid"
        assert await services.proctors.of_exam(other.exam.id) == [proctor_id]  # the refusal changed nothing
    finally:
        await admin.close()
    assert [a["id"] for a in (await (await proctor.get("/api/proctor/appeals")).json())["appeals"]] == [appeal.id]
    resp = await proctor.post(f"/api/proctor/appeals/{appeal.id}", json={"approve": False, "comment": "非本人"})
    assert resp.status == 200
