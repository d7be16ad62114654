"""Contact codes on a real Redis: format, hashed storage, TTL, single use, attempts, limits, and that
concurrent requests and uses respect them."""

from __future__ import annotations

import asyncio

import pytest

from server.accounts.codes import CodeLimits, ContactCodes
from server.config import load_settings
from server.errors import UserError
from server.services import code_limits
from server.store.base import Store

PHONE = "13800138000"


@pytest.fixture
def store(redis, prefix):
    return Store(redis, prefix)


@pytest.fixture
def codes(store):
    s = load_settings(env={})  # the product's limits
    return ContactCodes(store, code_limits(s))


async def refused(coro) -> str:
    with pytest.raises(UserError) as err:
        await coro
    return err.value.code


async def test_a_code_is_six_digits_kept_only_as_a_salted_digest_for_five_minutes(codes, store, redis):
    code = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    assert len(code) == 6 and code.isdigit()
    key = store.keys.contact_code("register", "phone", PHONE)
    stored = await redis.hgetall(key)
    assert set(stored) == {"digest", "salt", "attempts", "account", "issued_at"}
    assert code not in "".join(stored.values())
    assert 295 <= await redis.ttl(key) <= 300
    # every Redis value under the test's prefix: the code is nowhere in clear
    async for k in redis.scan_iter(match=store.keys.prefix + "*"):
        if await redis.type(k) == "string":
            assert await redis.get(k) != code


async def test_a_code_works_once_and_only_for_its_purpose_and_destination(codes):
    code = await codes.issue("reset", "phone", PHONE, "10.0.0.1", account_id="acc_0123456789ab")
    assert await refused(codes.use("register", "phone", PHONE, code)) == "code_invalid"
    assert await refused(codes.use("reset", "phone", "13900139000", code)) == "code_invalid"
    assert await codes.use("reset", "phone", PHONE, code) == "acc_0123456789ab"
    assert await refused(codes.use("reset", "phone", PHONE, code)) == "code_invalid"  # replayed


async def test_five_wrong_tries_void_the_code(codes):
    code = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert await refused(codes.use("register", "phone", PHONE, wrong)) == "code_invalid"
    assert await refused(codes.use("register", "phone", PHONE, code)) == "code_invalid"


async def test_garbage_counts_as_a_try(codes):
    code = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    for garbage in ("", "abcdef", "1234567", "１２３４５６"):  # (full-width digits too)
        assert await refused(codes.use("register", "phone", PHONE, garbage)) == "code_invalid"
    assert await codes.use("register", "phone", PHONE, code) == ""  # the 5th try, the last allowed


async def test_a_new_code_replaces_the_old_one(codes, store, redis):
    first = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    await redis.delete(store.keys.rate_limit("code-resend", f"phone:{PHONE}"))  # the minute has passed
    second = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    if first != second:
        assert await refused(codes.use("register", "phone", PHONE, first)) == "code_invalid"
    assert await codes.use("register", "phone", PHONE, second) == ""


async def test_an_expired_code_is_refused(store):
    codes = ContactCodes(store, CodeLimits(ttl_s=1))  # a 1-second TTL: the test cannot wait five minutes
    code = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    await asyncio.sleep(1.2)
    assert await refused(codes.use("register", "phone", PHONE, code)) == "code_invalid"


async def test_one_code_per_destination_a_minute_and_ten_a_day(codes, store, redis):
    await codes.issue("register", "phone", PHONE, "10.0.0.1")
    with pytest.raises(UserError) as err:
        await codes.issue("reset", "phone", PHONE, "10.0.0.2")  # any purpose, any address
    assert err.value.code == "code_wait" and 55 <= err.value.params["seconds"] <= 60
    for _ in range(9):
        await redis.delete(store.keys.rate_limit("code-resend", f"phone:{PHONE}"))  # the minute has passed
        await codes.issue("register", "phone", PHONE, "10.0.0.1")
    await redis.delete(store.keys.rate_limit("code-resend", f"phone:{PHONE}"))
    with pytest.raises(UserError) as err:
        await codes.issue("register", "phone", PHONE, "10.0.0.1")
    assert err.value.code == "code_rate_limited" and err.value.params["minutes"] >= 23 * 60


async def test_concurrent_requests_for_one_destination_send_one_code(codes):
    results = await asyncio.gather(
        *(codes.issue("register", "phone", PHONE, f"10.0.1.{i}") for i in range(30)), return_exceptions=True
    )
    assert sum(isinstance(r, str) for r in results) == 1
    assert {r.code for r in results if isinstance(r, UserError)} == {"code_wait"}


async def test_concurrent_requests_from_one_address_stop_at_its_limit(codes):
    results = await asyncio.gather(
        *(codes.issue("register", "phone", f"139{i:08d}", "10.0.0.9") for i in range(50)), return_exceptions=True
    )
    assert sum(isinstance(r, str) for r in results) == 20
    assert {r.code for r in results if isinstance(r, UserError)} == {"code_rate_limited"}


async def test_a_refused_request_counts_nowhere(codes, store, redis):
    await codes.issue("register", "phone", PHONE, "10.0.0.1")
    await refused(codes.issue("register", "phone", PHONE, "10.0.0.2"))
    assert await redis.get(store.keys.rate_limit("code-address", "10.0.0.2")) is None
    assert await redis.get(store.keys.rate_limit("code-global", "all")) == "1"


async def test_concurrent_uses_of_one_code_let_exactly_one_through(codes):
    code = await codes.issue("register", "phone", PHONE, "10.0.0.1")
    results = await asyncio.gather(
        *(codes.use("register", "phone", PHONE, code) for _ in range(20)), return_exceptions=True
    )
    assert results.count("") == 1
    assert {r.code for r in results if isinstance(r, UserError)} == {"code_invalid"}


async def test_registrations_are_limited_per_address_and_in_total(store):
    codes = ContactCodes(store, CodeLimits(register_per_address_hour=3, register_global_hour=5))  # small to count
    results = await asyncio.gather(*(codes.take_registration("10.0.0.1") for _ in range(10)), return_exceptions=True)
    assert results.count(None) == 3
    assert [await refused(codes.take_registration("10.0.0.1"))] == ["register_rate_limited"]
    await codes.take_registration("10.0.0.2")
    await codes.take_registration("10.0.0.3")
    assert await refused(codes.take_registration("10.0.0.4")) == "register_rate_limited"  # 5 in total
