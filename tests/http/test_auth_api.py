"""Registration, login by every kind of name, rate limits, server-side sessions, cookie flags."""

import asyncio
import ssl

import aiohttp
from aiohttp import web

from server.accounts.directory import login_kind
from server.app import create_app
from server.http.context import SERVICES
from tests.conftest import PASSWORD, build_world, fast_settings, login, new_client
from tests.notify.inbox import code_for, console_code


async def register(client, caplog=None, **body):
    """POST /api/auth/register; with ``caplog``, first the code for the phone/email, asked over HTTP and
    read from the console backend (the product's default sender)."""
    if caplog is not None:
        contact = {k: body[k] for k in ("phone", "email") if k in body}
        to = login_kind(next(iter(contact.values())))[1]
        body["code"] = await code_for(client, caplog, "register", to, **contact)
    return await client.post("/api/auth/register", json=body)


async def test_register_with_phone_logs_in_with_httponly_samesite_cookie(http, caplog):
    resp = await register(http, caplog, phone="138 0013 8000", password="abc12345")
    assert resp.status == 201
    cookie = resp.headers["Set-Cookie"]
    assert "iv_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    me = await (await http.get("/api/auth/me")).json()
    assert me["account"]["phone"] == "13800138000" and me["account"]["role"] == "candidate"
    assert "password_hash" not in me["account"]


async def test_register_errors_name_the_field(http):
    cases = [
        ({"phone": "12345", "password": "abc12345"}, 400, "phone_invalid", "phone"),
        ({"phone": "13800138000", "password": "short1"}, 400, "password_weak", "password"),
        ({"phone": "13800138000", "password": "onlyletters"}, 400, "password_weak", "password"),
        ({"password": "abc12345"}, 400, "register_needs_login", "phone"),
        ({"email": "not-an-email", "password": "abc12345"}, 400, "email_invalid", "email"),
        ({"phone": "13800138000", "password": "abc12345", "code": "123456"}, 400, "code_invalid", "code"),
    ]
    cases = [({"code": "123456", **body}, *rest) for body, *rest in cases]
    cases.append(({"phone": "13800138000", "password": "abc12345"}, 400, "field_required", "code"))
    for body, status, code, field in cases:
        resp = await register(http, **body)
        err = (await resp.json())["error"]
        assert (resp.status, err["code"], err["field"]) == (status, code, field), body
        assert err["message"]


async def test_duplicate_phone_or_email_is_refused(http, caplog):
    """Refused without saying it is taken: a registered phone never gets a register code (its message
    says it is registered, tests/http/test_contact_api.py), so a second registration meets the generic
    code_invalid; phone_taken only answers a caller who proved the phone with a code."""
    assert (await register(http, caplog, phone="13800138000", password="abc12345")).status == 201
    used = console_code(caplog, "13800138000")
    for code in ("000000", used):
        resp = await register(http, phone="+86 138-0013-8000", password="abc12345", code=code)
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"
    assert (await register(http, caplog, email="Li@Example.com", password="abc12345")).status == 201
    used = console_code(caplog, "li@example.com")
    for code in ("000000", used):
        resp = await register(http, email="li@example.com", password="abc12345", code=code)
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"


async def test_login_by_phone_email_username_and_verified_id_number(app, http, world, caplog):
    candidate = await world.candidate(1)
    await login(http, candidate.phone, PASSWORD)
    await login(http, candidate.id_number, PASSWORD)
    await login(http, candidate.id_number.lower(), PASSWORD)  # a lower-case x still finds it
    await login(http, "admin-one", PASSWORD)
    overseas = await new_client(app)
    assert (await register(overseas, caplog, email="kim@example.org", password="abc12345")).status == 201
    await login(http, "KIM@example.org", "abc12345")
    await overseas.close()


async def test_id_number_login_needs_verification_first(http, world):
    await world.candidate(0, verified=False)
    _, number, _ = world.roster[0]
    resp = await http.post("/api/auth/login", json={"login": number, "password": PASSWORD})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "login_failed"


async def test_wrong_password_and_unknown_account_look_the_same(http, world):
    a = await http.post("/api/auth/login", json={"login": "admin-one", "password": "wrong-pass-1"})
    b = await http.post("/api/auth/login", json={"login": "nobody-here", "password": "wrong-pass-1"})
    assert a.status == b.status == 401
    assert (await a.json()) == (await b.json())


def _from(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def proxied_app(tmp_path, redis_url, prefix, redis, **limits):
    """The app behind a trusted proxy on loopback, so a test can speak from many client addresses
    (X-Forwarded-For) as users behind a real proxy would; limits as the product's unless given."""
    settings = fast_settings(tmp_path, redis_url, prefix, trusted_proxies=("127.0.0.1",), **limits)
    app = create_app(settings, redis)
    return app, await new_client(app)


async def test_failed_logins_lock_the_pair_then_the_address(tmp_path, redis_url, prefix, redis):
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    world = await build_world(app[SERVICES])
    here = _from("203.0.113.5")
    for _ in range(5):
        resp = await client.post(
            "/api/auth/login", json={"login": "admin-one", "password": "wrong-pass-1"}, headers=here
        )
        assert resp.status == 401
    # locked from this address now: even the right password is refused, with the wait in minutes
    resp = await client.post("/api/auth/login", json={"login": "admin-one", "password": PASSWORD}, headers=here)
    err = (await resp.json())["error"]
    assert resp.status == 429 and err["code"] == "login_locked" and "15 分钟" in err["message"]
    # the stranger's failures do not lock the account's owner out from their own address
    await client.post("/api/auth/logout")
    resp = await client.post(
        "/api/auth/login", json={"login": "admin-one", "password": PASSWORD}, headers=_from("198.51.100.7")
    )
    assert resp.status == 200
    # the address runs out over many accounts: 30 failures, then every account is refused from it
    for i in range(24):
        await client.post("/api/auth/login", json={"login": f"user-{i}", "password": "wrong-pass-1"}, headers=here)
    await client.post("/api/auth/logout")
    resp = await client.post("/api/auth/login", json={"login": "proctor-one", "password": PASSWORD}, headers=here)
    assert resp.status == 200  # the 30th attempt: still evaluated
    await client.post("/api/auth/logout")
    resp = await client.post("/api/auth/login", json={"login": "examiner-one", "password": PASSWORD}, headers=here)
    assert resp.status == 200, "a correct password gives its attempt back"
    for _ in range(2):
        await client.post("/api/auth/login", json={"login": "nobody-x", "password": "wrong-pass-1"}, headers=here)
    resp = await client.post("/api/auth/login", json={"login": "examiner-one", "password": PASSWORD}, headers=here)
    assert resp.status == 429
    await client.close()
    assert world.exam


async def test_concurrent_wrong_passwords_evaluate_at_most_the_limit(tmp_path, redis_url, prefix, redis):
    """The attack: 100 wrong passwords for one account at once, from one address. Before the
    limit was taken atomically, all 100 were evaluated."""
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    await build_world(app[SERVICES])

    async def attempt(i: int) -> int:
        body = {"login": "examiner-one", "password": f"guess-{i:04d}x"}
        resp = await client.post("/api/auth/login", json=body, headers=_from("203.0.113.9"))
        return resp.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(100)))
    assert statuses.count(401) == 5 and statuses.count(429) == 95
    # and the account's owner, elsewhere, still logs in
    resp = await client.post(
        "/api/auth/login", json={"login": "examiner-one", "password": PASSWORD}, headers=_from("198.51.100.8")
    )
    assert resp.status == 200
    await client.close()


async def test_distributed_guessing_meets_the_account_limit(tmp_path, redis_url, prefix, redis):
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    await build_world(app[SERVICES])
    statuses = []
    for i in range(105):  # 105 addresses, one guess each
        body = {"login": "examiner-one", "password": f"guess-{i:04d}x"}
        statuses.append(
            (await client.post("/api/auth/login", json=body, headers=_from(f"10.0.{i // 250}.{i % 250}"))).status
        )
    assert statuses.count(401) == 100 and statuses[100:] == [429] * 5
    await client.close()


async def test_logout_revokes_the_session_on_the_server(http, world):
    await login(http, "admin-one", PASSWORD)
    token = http.session.cookie_jar.filter_cookies(http.make_url("/"))["iv_session"].value
    assert (await http.post("/api/auth/logout")).status == 200
    resp = await http.get("/api/auth/me", headers={"Cookie": f"iv_session={token}"})
    assert resp.status == 401


async def test_forged_or_garbage_cookie_is_not_a_session(http):
    for value in ("x" * 43, "", "a" * 500):
        resp = await http.get("/api/auth/me", headers={"Cookie": f"iv_session={value}"})
        assert resp.status == 401


async def test_cookie_is_secure_under_tls(tmp_path, redis_url, prefix, redis, caplog):
    settings = fast_settings(tmp_path, redis_url, prefix, tls_self_signed=True, host="127.0.0.1")
    from server.store.embedded import free_port
    from server.tls import ssl_context

    app = create_app(settings, redis)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context(settings)).start()
    try:
        async with aiohttp.ClientSession() as session:
            resp = await session.post(
                f"https://127.0.0.1:{port}/api/auth/codes",
                json={"purpose": "register", "phone": "13900139000"},
                ssl=False,
            )
            assert resp.status == 200
            resp = await session.post(
                f"https://127.0.0.1:{port}/api/auth/register",
                json={"phone": "13900139000", "password": "abc12345", "code": console_code(caplog, "13900139000")},
                ssl=False,
            )
            assert resp.status == 201
            assert "Secure" in resp.headers["Set-Cookie"]
            # the certificate is self-signed for localhost / 127.0.0.1: a verifying client refuses it
            try:
                await session.get(f"https://127.0.0.1:{port}/healthz")
                raise AssertionError("self-signed certificate was trusted")
            except aiohttp.ClientConnectorCertificateError:
                pass
            ctx = ssl.create_default_context(cafile=str(settings.data_dir / "tls" / "selfsigned.crt"))
            assert (await session.get(f"https://127.0.0.1:{port}/healthz", ssl=ctx)).status == 200
    finally:
        await runner.cleanup()


async def test_disabled_account_cannot_log_in_and_its_sessions_end(app, http, world):
    examiner = await new_client(app)
    await login(examiner, "examiner-one", PASSWORD)
    await login(http, "admin-one", PASSWORD)
    resp = await http.patch(f"/api/admin/users/{world.staff['examiner'].id}", json={"disabled": True})
    assert resp.status == 200
    assert (await examiner.get("/api/auth/me")).status == 401
    resp = await examiner.post("/api/auth/login", json={"login": "examiner-one", "password": PASSWORD})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "account_disabled"
    await examiner.close()
