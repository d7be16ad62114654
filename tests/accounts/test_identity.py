"""Identity verification against the roster, one ID number per account, appeals decided by a proctor."""

from server.store.audit import read as read_audit
from tests.conftest import PASSWORD, login, new_client


async def verify(client, name, number):
    return await client.post("/api/candidate/identity", json={"name": name, "id_number": number})


async def candidate_client(app, world, index, phone):
    account = await world.candidate(index, verified=False, phone=phone)
    client = await new_client(app)
    await login(client, phone, PASSWORD)
    return account, client


async def test_verification_matches_name_and_id_number_on_the_roster(app, world):
    name, number, _ = world.roster[0]
    _, client = await candidate_client(app, world, 0, "13911110000")
    bad_check = number[:17] + ("0" if number[17] != "0" else "1")
    cases = [
        (name, bad_check, 400, "id_number_checksum", "id_number"),
        (name, "12345", 400, "id_number_invalid", "id_number"),
        ("别人", number, 400, "id_name_mismatch", "name"),
    ]
    for n, num, status, code, field in cases:
        resp = await verify(client, n, num)
        err = (await resp.json())["error"]
        assert (resp.status, err["code"], err.get("field")) == (status, code, field)
    from server.roster import idcard

    resp = await verify(client, name, idcard.make("310101", "20050505", 7))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "id_not_on_roster"
    # nothing above changed the account
    me = (await (await client.get("/api/auth/me")).json())["account"]
    assert me["verified_at"] == 0 and me["id_number"] == ""

    resp = await verify(client, f" {name} ", number.lower())  # spaces and a lower-case x are forgiven
    assert resp.status == 200
    me = (await resp.json())["account"]
    assert me["id_number"] == number and me["name"] == name and me["verified_at"] > 0
    # verified details cannot be changed
    resp = await verify(client, name, number)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "already_verified"
    await client.close()


async def test_second_account_claiming_an_id_gets_an_appeal_a_proctor_decides(app, http, world):
    name, number, _ = world.roster[0]
    first, first_client = await candidate_client(app, world, 0, "13911110001")
    second, second_client = await candidate_client(app, world, 0, "13911110002")
    assert (await verify(first_client, name, number)).status == 200

    resp = await verify(second_client, name, number)
    err = (await resp.json())["error"]
    assert resp.status == 409 and err["code"] == "id_claimed" and "申诉" in err["message"]
    await verify(second_client, name, number)  # trying again does not open a second appeal

    # the candidate cannot see appeals; the proctor sees exactly one
    assert (await second_client.get("/api/proctor/appeals")).status == 403
    await login(http, "proctor-one", PASSWORD)
    appeals = (await (await http.get("/api/proctor/appeals")).json())["appeals"]
    assert [(a["account_id"], a["claimed_by"], a["id_number"]) for a in appeals] == [(second.id, first.id, number)]

    resp = await http.post(
        f"/api/proctor/appeals/{appeals[0]['id']}", json={"approve": True, "comment": "本人持证核实"}
    )
    assert resp.status == 200 and (await resp.json())["appeal"]["status"] == "approved"
    assert (await (await http.get("/api/proctor/appeals")).json())["appeals"] == []
    # deciding twice is refused
    resp = await http.post(f"/api/proctor/appeals/{appeals[0]['id']}", json={"approve": False, "comment": "x"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "appeal_resolved"

    me2 = (await (await second_client.get("/api/auth/me")).json())["account"]
    me1 = (await (await first_client.get("/api/auth/me")).json())["account"]
    assert me2["id_number"] == number and me2["verified_at"] > 0
    assert me1["id_number"] == "" and me1["verified_at"] == 0
    await login(http, number, PASSWORD)  # the ID number now logs into the second account
    assert (await (await http.get("/api/auth/me")).json())["account"]["id"] == second.id

    events = [e["event"] for e in await read_audit(world.services.store.redis, world.services.store.keys, None)]
    assert {"identity_verified", "identity_appeal_opened", "identity_appeal_approved"} <= set(events)
    await first_client.close()
    await second_client.close()


async def test_rejected_appeal_leaves_the_holder_verified(app, http, world):
    name, number, _ = world.roster[1]
    first, first_client = await candidate_client(app, world, 1, "13911110003")
    second, second_client = await candidate_client(app, world, 1, "13911110004")
    await verify(first_client, name, number)
    await verify(second_client, name, number)
    await login(http, "proctor-one", PASSWORD)
    appeal = (await (await http.get("/api/proctor/appeals")).json())["appeals"][0]
    resp = await http.post(f"/api/proctor/appeals/{appeal['id']}", json={"approve": False, "comment": "非本人"})
    assert resp.status == 200
    holder = await world.services.directory.get(first.id)
    assert holder.id_number == number
    assert (await world.services.directory.get(second.id)).verified_at == 0
    await first_client.close()
    await second_client.close()
