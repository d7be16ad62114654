"""Candidate accounts that never verify an identity expire, and free their phone number."""

import asyncio

from server.store.audit import Actor
from server.store.audit import read as read_audit
from tests.conftest import PASSWORD, new_client

DAY = 86400


async def test_an_unverified_account_expires_and_frees_its_phone(app, world):
    services = world.services
    idle = await world.candidate(0, verified=False, phone="13700001111")
    kept = await world.candidate(1, phone="13700002222")  # verified: never expires
    client = await new_client(app)
    try:
        resp = await client.post("/api/auth/login", json={"login": "13700001111", "password": PASSWORD})
        assert resp.status == 200
        assert await services.unverified.expire() == []  # not old enough
        removed = await services.unverified.expire(now=idle.created_at + 31 * DAY)
        assert removed == [idle.id]
        assert await services.directory.get(idle.id) is None
        assert await services.directory.find_by_login("13700001111") is None
        assert (await client.get("/api/auth/me")).status == 401  # its session went with it
        assert (await services.directory.get(kept.id)).verified_at > 0
        # the phone can register again
        again = await services.directory.create("candidate", PASSWORD, Actor.system(), phone="13700001111")
        assert again.id != idle.id
        events = [
            e
            for e in await read_audit(services.store.redis, services.store.keys, None)
            if e["event"] == "account_expired"
        ]
        assert [e["subject"] for e in events] == [idle.id]
    finally:
        await client.close()


async def test_verifying_while_the_sweep_runs_keeps_the_account(world):
    services = world.services
    name, number, _ = world.roster[0]
    account = await world.candidate(0, verified=False, phone="13700003333")
    verified, removed = await asyncio.gather(
        services.identity.verify(account, name, number),
        services.unverified.expire(now=account.created_at + 31 * DAY),
        return_exceptions=True,
    )
    if removed == [account.id]:  # the sweep was first: the verification found no account, and left none
        assert getattr(verified, "code", "") == "account_not_found"
        assert await services.directory.get(account.id) is None
        assert not await services.store.redis.exists(services.store.keys.id_claim(number))
    else:
        assert removed == [] and (await services.directory.get(account.id)).verified_at > 0


async def test_a_sweep_first_then_a_verification_leaves_no_half_account(world):
    services = world.services
    name, number, _ = world.roster[0]
    account = await world.candidate(0, verified=False, phone="13700004444")
    assert await services.unverified.expire(now=account.created_at + 31 * DAY) == [account.id]
    try:
        await services.identity.verify(account, name, number)  # the page's stale account object
        raise AssertionError("verified a deleted account")
    except Exception as exc:  # noqa: BLE001 - the code is the assertion
        assert getattr(exc, "code", "") == "account_not_found"
    assert not await services.store.redis.exists(services.store.keys.account(account.id))
    assert not await services.store.redis.exists(services.store.keys.id_claim(number))
