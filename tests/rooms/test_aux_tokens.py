"""The auxiliary camera's QR token: signed, expiring, bound to the candidate's login session and
to the interview, and a few devices per candidate and exam (at most aux_max_devices) however many
tokens are minted."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import UserError
from server.queue.entries import QueueChange
from server.rooms.aux_tokens import AuxTokens

EXAM, CANDIDATE = "exam_00000000abcd", "acct_00000000abcd"


async def session_of(services, account_id: str = CANDIDATE) -> str:
    return services.sessions.hash_of(await services.sessions.create(account_id, "candidate"))


async def admit_refused(tokens: AuxTokens, token, device: str) -> str:
    with pytest.raises(UserError) as caught:
        await tokens.admit_device(token, device)
    return caught.value.code


async def refused(tokens: AuxTokens, token) -> str:
    with pytest.raises(UserError) as caught:
        await tokens.verify(token)
    return caught.value.code


async def test_a_token_names_the_exam_and_the_candidate_until_it_expires(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    session = await session_of(services)
    token = await tokens.verify(await tokens.issue(EXAM, CANDIDATE, session))
    assert (token.exam_id, token.account_id) == (EXAM, CANDIDATE)

    expired = AuxTokens(services.store, ttl_s=-1, max_devices=3)
    assert await refused(tokens, await expired.issue(EXAM, CANDIDATE, session)) == "aux_token_invalid"


async def test_forged_truncated_and_foreign_tokens_are_refused(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    good = await tokens.issue(EXAM, CANDIDATE, await session_of(services))
    payload, signature = good.split(".")
    for bad in (None, 42, "", "no-dot", good + ".x", good[:-2], f"{payload}.{signature[::-1]}", "x" * 500):
        assert await refused(tokens, bad) == "aux_token_invalid", bad
    # same payload signed with another secret (another deployment): refused
    other_key = services.store.keys.prefix + "secret:aux"
    await services.store.redis.set(other_key, "another-secret")
    assert await refused(tokens, good) == "aux_token_invalid"


async def test_many_tokens_admit_at_most_three_devices_per_candidate_and_the_same_device_again(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    session = await session_of(services)
    minted = [await tokens.verify(await tokens.issue(EXAM, CANDIDATE, session)) for _ in range(10)]
    for i in range(3):
        await tokens.admit_device(minted[i], f"phone{i}abcdef")
    await tokens.admit_device(minted[9], "phone0abcdef")  # an admitted phone reconnects, with any token
    for token in minted:
        assert await admit_refused(tokens, token, "phone9abcdef") == "aux_device_limit"
    with pytest.raises(UserError) as caught:
        await tokens.admit_device(minted[5], "phone8abcdef")
    assert caught.value.status == 409 and "最多 3 台" in caught.value.message("zh")
    for bad in (None, "short", "has spaces in it", "x" * 65):
        assert await admit_refused(tokens, minted[0], bad) == "aux_device_invalid"
    # another candidate, or the same candidate in another exam, has devices of their own
    other = await tokens.verify(
        await tokens.issue(EXAM, "acct_00000000beef", await session_of(services, "acct_00000000beef"))
    )
    await tokens.admit_device(other, "phone9abcdef")
    elsewhere = await tokens.verify(await tokens.issue("exam_00000000beef", CANDIDATE, session))
    await tokens.admit_device(elsewhere, "phone9abcdef")


async def test_concurrent_admits_respect_the_limit(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    session = await session_of(services)
    minted = [await tokens.verify(await tokens.issue(EXAM, CANDIDATE, session)) for _ in range(40)]
    results = await asyncio.gather(
        *(tokens.admit_device(t, f"burst{i:03d}abcd") for i, t in enumerate(minted)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 3
    assert {r.code for r in results if isinstance(r, UserError)} == {"aux_device_limit"}


async def test_logout_a_new_login_and_the_end_of_the_interview_void_the_tokens(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    token = await services.sessions.create(CANDIDATE, "candidate")
    session = await services.sessions.get(token)
    code = await tokens.verify(await tokens.issue(EXAM, CANDIDATE, session.key_hash))
    grant = await tokens.admit_device(code, "phone0abcdef")
    assert await tokens.still_valid(grant)
    await tokens.usable(code)

    await services.sessions.end(session)  # logout
    assert await admit_refused(tokens, code, "phone1abcdef") == "aux_token_logged_out"
    assert await admit_refused(tokens, code, "phone0abcdef") == "aux_token_logged_out"
    assert not await tokens.still_valid(grant)
    with pytest.raises(UserError) as caught:
        await tokens.usable(code)
    assert caught.value.code == "aux_token_logged_out"

    again = await session_of(services)  # logged in again: the new login's code works, the old one stays void
    fresh = await tokens.verify(await tokens.issue(EXAM, CANDIDATE, again))
    assert fresh.generation == code.generation + 1
    await tokens.admit_device(fresh, "phone0abcdef")
    assert await admit_refused(tokens, code, "phone1abcdef") == "aux_token_replaced"

    # the interview ends: every code and device of that admission is over
    await tokens.queue_changed(QueueChange("room_00000000abcd", EXAM, "queue_done", CANDIDATE))
    assert await admit_refused(tokens, fresh, "phone0abcdef") == "aux_token_replaced"
    after = await tokens.verify(await tokens.issue(EXAM, CANDIDATE, again))
    for i in range(3):  # the next admission counts its own devices
        await tokens.admit_device(after, f"next{i}abcdef")
    await tokens.queue_changed(QueueChange("room_00000000abcd", EXAM, "queue_called", CANDIDATE))  # not an end
    await tokens.admit_device(after, "next0abcdef")


async def test_a_disabled_candidates_tokens_admit_nothing(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    code = await tokens.verify(await tokens.issue(EXAM, CANDIDATE, await session_of(services)))
    await services.store.redis.hset(services.store.keys.account(CANDIDATE), "disabled", "1")
    assert await admit_refused(tokens, code, "phone0abcdef") == "aux_token_logged_out"
