"""The auxiliary camera's QR token: signed, expiring, a few devices per token (at most aux_max_devices)."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.rooms.aux_tokens import AuxTokens


async def refused(tokens: AuxTokens, token) -> str:
    with pytest.raises(UserError) as caught:
        await tokens.verify(token)
    return caught.value.code


async def test_a_token_names_the_exam_and_the_candidate_until_it_expires(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    token = await tokens.verify(await tokens.issue("exam_00000000abcd", "acct_00000000abcd"))
    assert (token.exam_id, token.account_id) == ("exam_00000000abcd", "acct_00000000abcd")

    expired = AuxTokens(services.store, ttl_s=-1, max_devices=3)
    assert await refused(tokens, await expired.issue("exam_00000000abcd", "acct_00000000abcd")) == "aux_token_invalid"


async def test_forged_truncated_and_foreign_tokens_are_refused(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    good = await tokens.issue("exam_00000000abcd", "acct_00000000abcd")
    payload, signature = good.split(".")
    for bad in (None, 42, "", "no-dot", good + ".x", good[:-2], f"{payload}.{signature[::-1]}", "x" * 500):
        assert await refused(tokens, bad) == "aux_token_invalid", bad
    # same payload signed with another secret (another deployment): refused
    other_key = services.store.keys.prefix + "secret:aux"
    await services.store.redis.set(other_key, "another-secret")
    assert await refused(tokens, good) == "aux_token_invalid"


async def test_a_replayed_token_admits_at_most_three_devices_and_the_same_device_again(services):
    tokens = AuxTokens(services.store, ttl_s=600, max_devices=3)
    token = await tokens.verify(await tokens.issue("exam_00000000abcd", "acct_00000000abcd"))
    for i in range(3):
        await tokens.admit_device(token, f"phone{i}abcdef")
    await tokens.admit_device(token, "phone0abcdef")  # an admitted phone reconnects
    with pytest.raises(UserError) as caught:
        await tokens.admit_device(token, "phone9abcdef")
    assert caught.value.code == "aux_device_limit" and caught.value.status == 409
    for bad in (None, "short", "has spaces in it", "x" * 65):
        with pytest.raises(UserError) as caught:
            await tokens.admit_device(token, bad)
        assert caught.value.code == "aux_device_invalid"
