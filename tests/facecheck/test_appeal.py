"""The squatted identity recovered over real HTTP: the real candidate's appeal carries their live
face check against the roster photo, the proctor sees it beside the photo and approves, and the
identity moves. A stranger's face files nothing."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import PASSWORD, login, new_client
from tests.facecheck import faces
from tests.facecheck.test_checks import ASTRONAUT, GRACE, face_world, turning_burst


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


async def appeal_burst(client, challenge_id, frames):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("challenge_id", challenge_id)
    for i, data in enumerate(frames):
        form.add_field("frame", data, filename=f"{i}.jpg", content_type="image/jpeg")
    return await client.post("/api/candidate/identity/appeal", data=form)


async def test_the_real_candidate_recovers_a_squatted_identity_with_a_face_check(app, services, face_engine):
    world = await face_world(services, [faces.encode(GRACE)])
    name, number, _ = world.roster[0]
    squatter = await world.candidate(0, phone="13800000001")  # verified the victim's identity first
    victim_account = await world.candidate(0, verified=False, phone="13800000002")
    victim, stranger_client, proctor, squatter_client = [await new_client(app) for _ in range(4)]
    try:
        await login(squatter_client, "13800000001", PASSWORD)
        await login(victim, "13800000002", PASSWORD)
        resp = await victim.post("/api/candidate/identity", json={"name": name, "id_number": number})
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "id_claimed"
        assert (await (await victim.get("/api/candidate/identity/appeal")).json()) == {"appeal": None}

        # a stranger (another face) cannot file it: the check fails and nothing is filed
        stranger = await world.candidate(0, verified=False, phone="13800000003")
        await login(stranger_client, "13800000003", PASSWORD)
        ch = await (
            await stranger_client.post(
                "/api/candidate/identity/appeal/challenge", json={"name": name, "id_number": number}
            )
        ).json()
        resp = await appeal_burst(
            stranger_client, ch["challenge_id"], await turning_burst(face_engine, ASTRONAUT, ch["direction"])
        )
        body = await resp.json()
        assert resp.status == 200 and body["appeal"] is None and body["check"]["reason"] == "face_mismatch"
        assert body["check"]["message"] and body["check"]["advice"]
        assert await services.identity.open_appeals() == [] and stranger

        # the real candidate passes it: the appeal is filed with the evidence
        resp = await victim.post("/api/candidate/identity/appeal/challenge", json={"name": name, "id_number": number})
        assert resp.status == 201
        ch = await resp.json()
        frames = await turning_burst(face_engine, GRACE, ch["direction"])
        resp = await appeal_burst(victim, ch["challenge_id"], frames)
        body = await resp.json()
        assert resp.status == 201 and body["appeal"]["status"] == "open" and body["check"]["passed"] is True
        assert "claimed_by" not in body["appeal"]  # the appellant is not told who holds it
        # a replayed burst finds its challenge used
        again = await appeal_burst(victim, ch["challenge_id"], frames)
        assert (await again.json())["error"]["code"] == "challenge_expired"

        # the proctor sees the roster photo beside the appellant's frames
        await login(proctor, "proctor-one", PASSWORD)
        [appeal] = (await (await proctor.get("/api/proctor/appeals")).json())["appeals"]
        assert appeal["account_id"] == victim_account.id and appeal["claimed_by"] == squatter.id
        assert appeal["evidence"]["passed"] is True and len(appeal["frame_urls"]) == len(frames)
        photo = await proctor.get(appeal["photo_url"])
        frame = await proctor.get(appeal["frame_urls"][0])
        assert photo.status == frame.status == 200 and frame.content_type == "image/jpeg"
        assert (await victim.get(appeal["frame_urls"][0])).status == 403  # not for candidates

        resp = await proctor.post(f"/api/proctor/appeals/{appeal['id']}", json={"approve": True, "comment": "人脸一致"})
        assert resp.status == 200
        me = (await (await victim.get("/api/auth/me")).json())["account"]
        assert me["id_number"] == number and me["verified_at"] > 0
        status = (await (await victim.get("/api/candidate/identity/appeal")).json())["appeal"]
        assert status["status"] == "approved"
        assert (await services.directory.get(squatter.id)).id_number == ""
        # the squatter is logged out: their session is gone
        assert (await squatter_client.get("/api/auth/me")).status == 401
    finally:
        for client in (victim, stranger_client, proctor, squatter_client):
            await client.close()
