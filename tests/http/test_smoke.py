from tests.conftest import PASSWORD, login


async def test_world_builds_and_candidate_logs_in(http, world):
    account = await world.candidate(0)
    me = await login(http, account.phone, PASSWORD)
    assert me["id"] == account.id and "password_hash" not in me
    resp = await http.get("/api/candidate/exams")
    assert resp.status == 200
    body = await resp.json()
    assert [e["exam"]["id"] for e in body["exams"]] == [world.exam.id]
