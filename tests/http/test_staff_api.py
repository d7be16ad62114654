"""A staff member is never also a candidate of an exam they work on, over HTTP (server/exams/staff.py): the admin
records a staff account's ID number when creating it or later; a number on the roster of an exam the staff member
works on is refused with a Chinese message naming them, nothing changed; a staff session trying to verify a
candidate's identity is refused."""

from __future__ import annotations

from server.roster import idcard
from tests.http.test_grading_api import as_user, error


async def test_the_admin_records_a_staff_id_number_and_a_candidates_number_is_refused(app, services, world):
    admin = await as_user(app, "admin-one")
    examiner = await as_user(app, "examiner-one")
    try:
        number = idcard.make("110101", "19800101", 5)
        resp = await admin.post(
            "/api/admin/users",
            json={
                "role": "proctor",
                "name": "巡考乙",
                "username": "proctor-two",
                "password": "secret123",
                "staff_id_number": number,
            },
        )
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["user"]["staff_id_number"] == number
        bad = {
            "role": "proctor",
            "name": "巡考丙",
            "username": "proctor-three",
            "password": "secret123",
            "staff_id_number": "123",
        }
        await error(await admin.post("/api/admin/users", json=bad), 400, "id_number_invalid")
        # the world's examiner sits on both rooms' panels: a rostered number is refused, with whom and why
        target = world.staff["examiner"].id
        url = f"/api/admin/users/{target}/staff-id-number"
        _, rostered, _ = world.roster[0]
        message = await error(await admin.put(url, json={"staff_id_number": rostered}), 409, "staff_on_roster")
        assert message == "examiner 的证件号码在本场考试的考生名单上：工作人员不能同时是本场考试的考生"
        assert (await services.directory.get(target)).staff_id_number == ""
        resp = await admin.put(url, json={"staff_id_number": number})
        assert resp.status == 200 and (await resp.json())["user"]["staff_id_number"] == number
        await error(await admin.put(url, json={"staff_id_number": 5}), 400, "field_type")
        assert (await examiner.put(url, json={"staff_id_number": ""})).status == 403  # admins only
        # a staff session cannot verify a candidate's identity (it is not a candidate account)
        name, _, _ = world.roster[1]
        resp = await examiner.post("/api/candidate/identity", json={"name": name, "id_number": world.roster[1][1]})
        assert resp.status == 403
        assert await services.store.redis.get(services.store.keys.id_claim(world.roster[1][1])) is None
    finally:
        await admin.close()
        await examiner.close()
