"""Contact codes over real HTTP against the running app: registration with a code, password reset,
changing the phone/email, the limits under attack, and answers that never tell whether a phone or an
email is registered. Codes are read from the sender the app uses: the console backend (the product's
default) through the log, the HTTP SMS adapter through a small real provider server, the SMTP sender
through aiosmtpd on loopback."""

from __future__ import annotations

import asyncio
import re
import time

from server.app import create_app
from server.http.context import SERVICES, SETTINGS
from server.store.audit import Actor
from tests.conftest import PASSWORD, fast_settings, login, new_client
from tests.notify.inbox import SmsInbox, SmtpInbox, ask_code, code_for, console_code, console_messages

PHONE = "13800138000"


def _from(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def proxied_app(tmp_path, redis_url, prefix, redis, **changes):
    """The app behind a trusted proxy on loopback (trusted_proxies changed for that), so that a test
    can speak from many client addresses (X-Forwarded-For) as users behind a real proxy do."""
    settings = fast_settings(tmp_path, redis_url, prefix, trusted_proxies=("127.0.0.1",), **changes)
    app = create_app(settings, redis)
    return app, await new_client(app)


async def register(client, caplog, phone=PHONE, password="abc12345", **extra):
    code = await code_for(client, caplog, "register", phone, phone=phone)
    return await client.post("/api/auth/register", json={"phone": phone, "code": code, "password": password, **extra})


# --- registration ---------------------------------------------------------------------------


async def test_register_with_a_code_sent_to_the_phone(http, caplog, services):
    resp = await ask_code(http, "register", phone="138 0013 8000")
    assert resp.status == 200
    assert await resp.json() == {"sent": True, "resend_after_s": 60, "expires_in_s": 300}
    [sent] = console_messages(caplog, PHONE)
    assert sent.channel == "sms" and sent.kind == "code_register"
    code = sent.params["code"]
    assert re.fullmatch(r"\d{6}", code) and code in sent.text and "5 分钟" in sent.text
    before = time.time()
    resp = await http.post("/api/auth/register", json={"phone": PHONE, "code": code, "password": "abc12345"})
    assert resp.status == 201, await resp.text()
    account = (await resp.json())["account"]
    assert account["phone"] == PHONE and account["contact_verified_at"] >= before - 1
    assert (await services.directory.get(account["id"])).contact_verified_at == account["contact_verified_at"]
    assert (await (await http.get("/api/auth/me")).json())["account"]["id"] == account["id"]


async def test_register_needs_the_right_code(http, caplog):
    body = {"phone": PHONE, "password": "abc12345"}
    resp = await http.post("/api/auth/register", json=body)
    err = (await resp.json())["error"]
    assert (resp.status, err["code"], err["field"]) == (400, "field_required", "code")
    # no code was ever sent, a wrong one, an expired/used one: one answer
    nothing = await http.post("/api/auth/register", json={**body, "code": "123456"})
    code = await code_for(http, caplog, "register", PHONE, phone=PHONE)
    wrong = await http.post("/api/auth/register", json={**body, "code": f"{(int(code) + 1) % 10**6:06d}"})
    answers = [(r.status, await r.json()) for r in (nothing, wrong)]
    assert answers[0] == answers[1] and answers[0][0] == 400 and answers[0][1]["error"]["code"] == "code_invalid"
    assert "验证码" in answers[0][1]["error"]["message"]
    assert (await http.post("/api/auth/register", json={**body, "code": code})).status == 201


async def test_a_used_code_cannot_be_replayed(app, http, caplog):
    code = await code_for(http, caplog, "register", PHONE, phone=PHONE)
    body = {"phone": PHONE, "code": code, "password": "abc12345"}
    assert (await http.post("/api/auth/register", json=body)).status == 201
    other = await new_client(app)
    resp = await other.post("/api/auth/register", json=body)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"  # not phone_taken
    await other.close()


async def test_six_wrong_codes_void_the_code(http, caplog):
    code = await code_for(http, caplog, "register", PHONE, phone=PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = {"phone": PHONE, "password": "abc12345"}
    for _ in range(5):
        resp = await http.post("/api/auth/register", json={**body, "code": wrong})
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"
    resp = await http.post("/api/auth/register", json={**body, "code": code})  # the right one, too late
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"


async def test_a_weak_password_keeps_the_code(http, caplog):
    code = await code_for(http, caplog, "register", PHONE, phone=PHONE)
    resp = await http.post("/api/auth/register", json={"phone": PHONE, "code": code, "password": "short"})
    assert (await resp.json())["error"]["code"] == "password_weak"
    resp = await http.post("/api/auth/register", json={"phone": PHONE, "code": code, "password": "abc12345"})
    assert resp.status == 201


async def test_register_by_email_with_a_real_smtp_server(tmp_path, redis_url, prefix, redis):
    with SmtpInbox() as inbox:
        # the email backend set to SMTP, to a real server on loopback without TLS (the default is console)
        settings = fast_settings(
            tmp_path,
            redis_url,
            prefix,
            email_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_security="none",
            smtp_from="招生办 <noreply@school.example>",
        )
        client = await new_client(create_app(settings, redis))
        resp = await ask_code(client, "register", email="Kim@Example.org")
        assert resp.status == 200, await resp.text()
        await inbox.wait(1)
        mail = inbox.messages[0]
        assert mail["To"] == "kim@example.org" and "验证码" in mail["Subject"]
        code = re.search(r"验证码 (\d{6})", mail.get_content()).group(1)
        resp = await client.post(
            "/api/auth/register", json={"email": "kim@example.org", "code": code, "password": "abc12345"}
        )
        assert resp.status == 201
        await login(client, "KIM@example.org", "abc12345")
        await client.close()


async def test_register_by_phone_through_the_http_sms_provider(tmp_path, redis_url, prefix, redis):
    provider = await SmsInbox().start()
    try:
        # the SMS backend set to the HTTP adapter, to a local provider (the default is console)
        settings = fast_settings(
            tmp_path,
            redis_url,
            prefix,
            sms_backend="http",
            sms_http_url=provider.url,
            sms_http_auth_value="Bearer t0ken",
            sms_http_body='{"mobile": "{to}", "tpl": "{kind}", "vars": {"code": "{code}"}}',
        )
        client = await new_client(create_app(settings, redis))
        assert (await ask_code(client, "register", phone=PHONE)).status == 200
        [sent] = provider.requests
        assert sent["headers"]["Authorization"] == "Bearer t0ken"
        assert sent["body"]["mobile"] == PHONE and sent["body"]["tpl"] == "code_register"
        code = sent["body"]["vars"]["code"]
        resp = await client.post("/api/auth/register", json={"phone": PHONE, "code": code, "password": "abc12345"})
        assert resp.status == 201
        # the provider failing: a clear 503, whatever the phone
        provider.status = 500
        resp = await ask_code(client, "register", phone="13900139000")
        err = (await resp.json())["error"]
        assert resp.status == 503 and err["code"] == "notify_failed" and "发送失败" in err["message"]
        await client.close()
    finally:
        await provider.stop()


# --- nothing tells whether a phone or email is registered ----------------------------------


async def test_register_code_answers_the_same_for_a_taken_and_a_free_phone(app, http, caplog, services):
    await services.directory.create("candidate", PASSWORD, Actor.system(), phone=PHONE)
    other = await new_client(app)
    taken = await ask_code(http, "register", phone=PHONE)
    free = await ask_code(other, "register", phone="13900139000")
    assert (taken.status, await taken.json()) == (free.status, await free.json())
    # the taken phone is told it is registered, with no code
    [notice] = console_messages(caplog, PHONE)
    assert notice.kind == "register_taken" and "code" not in notice.params
    assert "已注册" in notice.text and "忘记密码" in notice.text and not re.search(r"\d{6}", notice.text)
    # and so registering it again meets only the generic answer
    resp = await http.post("/api/auth/register", json={"phone": PHONE, "code": "000000", "password": "abc12345"})
    assert (await resp.json())["error"]["code"] == "code_invalid"
    # the same limits hold for both: the second request in the minute waits, either way
    again_taken, again_free = (
        await ask_code(http, "register", phone=PHONE),
        await ask_code(other, "register", phone="13900139000"),
    )
    assert again_taken.status == again_free.status == 429
    assert (await again_taken.json())["error"]["code"] == (await again_free.json())["error"]["code"] == "code_wait"
    await other.close()


async def test_a_phone_registered_after_its_code_was_sent_is_taken(http, caplog, services):
    code = await code_for(http, caplog, "register", PHONE, phone=PHONE)
    await services.directory.create("candidate", PASSWORD, Actor.system(), phone=PHONE)  # registered meanwhile
    resp = await http.post("/api/auth/register", json={"phone": PHONE, "code": code, "password": "abc12345"})
    # the caller holds the phone (the code proves it): telling them it is registered reveals nothing
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "phone_taken"


async def test_reset_code_answers_the_same_for_a_known_and_an_unknown_phone(app, http, caplog, services):
    await services.directory.create("candidate", PASSWORD, Actor.system(), phone=PHONE)
    other = await new_client(app)
    known = await ask_code(http, "reset", phone=PHONE)
    unknown = await ask_code(other, "reset", phone="13900139000")
    assert (
        (known.status, await known.json())
        == (unknown.status, await unknown.json())
        == (
            200,
            {"sent": True, "resend_after_s": 60, "expires_in_s": 300},
        )
    )
    assert "code" in console_messages(caplog, PHONE)[0].params
    [notice] = console_messages(caplog, "13900139000")
    assert notice.kind == "reset_unknown" and "code" not in notice.params and "尚未注册" in notice.text
    # guessing a code for the unknown phone: the generic answer
    resp = await other.post(
        "/api/auth/password-reset", json={"phone": "13900139000", "code": "000000", "password": "new-pass-12"}
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"
    await other.close()


# --- password reset and changing the contact ----------------------------------------------------


async def test_password_reset_ends_every_session(app, http, caplog, world):
    candidate = await world.candidate(0)
    phone_b = await new_client(app)
    await login(http, candidate.phone, PASSWORD)
    await login(phone_b, candidate.phone, PASSWORD)
    stranger = await new_client(app)
    code = await code_for(stranger, caplog, "reset", candidate.phone, phone=candidate.phone)
    assert "重置" in console_messages(caplog, candidate.phone)[-1].text
    body = {"phone": candidate.phone, "code": code, "password": "weak"}
    assert (await (await stranger.post("/api/auth/password-reset", json=body)).json())["error"][
        "code"
    ] == "password_weak"
    resp = await stranger.post("/api/auth/password-reset", json={**body, "password": "new-pass-12"})
    assert resp.status == 200 and await resp.json() == {"ok": True}
    assert (await http.get("/api/auth/me")).status == 401
    assert (await phone_b.get("/api/auth/me")).status == 401
    resp = await stranger.post("/api/auth/login", json={"login": candidate.phone, "password": PASSWORD})
    assert resp.status == 401
    account = await login(stranger, candidate.phone, "new-pass-12")
    assert account["contact_verified_at"] > 0 and "password_hash" not in account
    resp = await stranger.post("/api/auth/password-reset", json={**body, "password": "other-pass-3"})
    assert (await resp.json())["error"]["code"] == "code_invalid"  # used
    events = [e["event"] for e in await app[SERVICES].audit.read(None)]
    assert "password_reset" in events
    for client in (phone_b, stranger):
        await client.close()


async def test_change_phone_with_a_code_sent_to_the_new_phone(app, http, caplog, world, services):
    candidate = await world.candidate(0)
    new_phone = "13700137000"
    resp = await ask_code(http, "change", phone=new_phone)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "login_required"
    resp = await http.post("/api/auth/contact", json={"phone": new_phone, "code": "000000"})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "login_required"
    await login(http, candidate.phone, PASSWORD)
    code = await code_for(http, caplog, "change", new_phone, phone=new_phone)
    # the code is for this account only
    other = await new_client(app)
    await login(other, "examiner-one", PASSWORD)
    resp = await other.post("/api/auth/contact", json={"phone": new_phone, "code": code})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "code_invalid"
    # that use spent the code: a new one, a minute later (the resend counter removed instead of waiting)
    await services.store.redis.delete(services.store.keys.rate_limit("code-resend", f"phone:{new_phone}"))
    code = await code_for(http, caplog, "change", new_phone, phone=new_phone)
    resp = await http.post("/api/auth/contact", json={"phone": new_phone, "code": code})
    assert resp.status == 200, await resp.text()
    account = (await resp.json())["account"]
    assert account["phone"] == new_phone and account["contact_verified_at"] > 0
    await login(other, new_phone, PASSWORD)
    resp = await other.post("/api/auth/login", json={"login": candidate.phone, "password": PASSWORD})
    assert resp.status == 401  # the old phone is no login any more
    assert "contact_changed" in [e["event"] for e in await services.audit.read(None)]
    await other.close()


async def test_change_to_a_taken_phone_answers_as_for_a_free_one(app, http, caplog, world):
    first, second = await world.candidate(0), await world.candidate(1)
    await login(http, first.phone, PASSWORD)
    taken = await ask_code(http, "change", phone=second.phone)
    free = await ask_code(http, "change", phone="13700137000")
    assert (taken.status, await taken.json()) == (free.status, await free.json())
    [notice] = console_messages(caplog, second.phone)
    assert notice.kind == "change_taken" and "code" not in notice.params


async def test_code_requests_are_checked(http):
    cases = [
        ({"purpose": "register"}, "register_needs_login", "phone"),
        ({"purpose": "register", "phone": "12345"}, "phone_invalid", "phone"),
        ({"purpose": "register", "email": "nope"}, "email_invalid", "email"),
        ({"purpose": "register", "phone": PHONE, "email": "a@b.cn"}, "contact_one_only", "email"),
        ({"purpose": "spam", "phone": PHONE}, "code_purpose_invalid", "purpose"),
        ({"phone": PHONE}, "field_required", "purpose"),
    ]
    for body, code, field in cases:
        resp = await http.post("/api/auth/codes", json=body)
        err = (await resp.json())["error"]
        assert (resp.status, err["code"], err.get("field")) == (400, code, field), body
        assert err["message"]


# --- attacks ---------------------------------------------------------------------------------


async def test_200_registrations_from_one_address_only_the_limit_passes(tmp_path, redis_url, prefix, redis, caplog):
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    # 200 phones, each with a code asked from its own address (the per-address code limit aside)
    phones = [f"139{i:08d}" for i in range(200)]
    codes = {}
    for i, phone in enumerate(phones):
        resp = await ask_code(client, "register", _from(f"198.51.{i // 250}.{i % 250 + 1}"), phone=phone)
        assert resp.status == 200, await resp.text()
        codes[phone] = console_code(caplog, phone)
    start = time.perf_counter()
    statuses = []
    for phone in phones:  # every registration from one address, each with its valid code
        resp = await client.post(
            "/api/auth/register",
            json={"phone": phone, "code": codes[phone], "password": "abc12345"},
            headers=_from("203.0.113.7"),
        )
        statuses.append((resp.status, (await resp.json()).get("error", {}).get("code")))
        client.session.cookie_jar.clear()
    elapsed = time.perf_counter() - start
    accepted = statuses.count((201, None))
    print(f"registrations from one address: {accepted} of 200 accepted in {elapsed:.1f} s")
    assert accepted == app[SETTINGS].register_per_address_hour == 10
    assert set(statuses[10:]) == {(429, "register_rate_limited")}
    # another address still registers
    resp = await client.post(
        "/api/auth/register",
        json={"phone": phones[-1], "code": codes[phones[-1]], "password": "abc12345"},
        headers=_from("203.0.113.8"),
    )
    assert resp.status == 201
    await client.close()


async def test_concurrent_code_requests_respect_the_limits(tmp_path, redis_url, prefix, redis, caplog):
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    # 30 at once for one phone, from 30 addresses: one code
    resps = await asyncio.gather(
        *(ask_code(client, "register", _from(f"198.51.100.{i + 1}"), phone=PHONE) for i in range(30))
    )
    assert sorted(r.status for r in resps) == [200] + [429] * 29
    assert len(console_messages(caplog, PHONE)) == 1
    # 50 at once from one address, for 50 phones: the address's 20 an hour
    resps = await asyncio.gather(
        *(ask_code(client, "register", _from("203.0.113.9"), phone=f"137{i:08d}") for i in range(50))
    )
    assert sorted(r.status for r in resps) == [200] * 20 + [429] * 30
    bodies = [await r.json() for r in resps if r.status == 429]
    assert {b["error"]["code"] for b in bodies} == {"code_rate_limited"}
    assert "分钟" in bodies[0]["error"]["message"]
    await client.close()


async def test_guessing_codes_is_bounded_by_the_registration_limit(tmp_path, redis_url, prefix, redis, caplog):
    app, client = await proxied_app(tmp_path, redis_url, prefix, redis)
    here = _from("203.0.113.10")
    phones = [f"136{i:08d}" for i in range(12)]
    for phone in phones:
        assert (await ask_code(client, "register", _from("198.51.100.200"), phone=phone)).status in (200, 429)
    answers = []
    for phone in phones:
        resp = await client.post(
            "/api/auth/register", json={"phone": phone, "code": "000000", "password": "abc12345"}, headers=here
        )
        answers.append((await resp.json())["error"]["code"])
    # wrong codes count as registration attempts: the 11th try from the address is refused before any code
    assert answers[:10] == ["code_invalid"] * 10 and answers[10:] == ["register_rate_limited"] * 2
    await client.close()


# --- pages -----------------------------------------------------------------------------------


async def test_register_and_reset_pages_have_the_code_field_and_load_modules_only(http):
    login_page = await (await http.get("/login")).text()
    assert 'href="/reset"' in login_page and "忘记密码" in login_page
    for path, form, module in (("/register", "register-form", "register.js"), ("/reset", "reset-form", "reset.js")):
        resp = await http.get(path)
        assert resp.status == 200
        html = await resp.text()
        assert f'id="{form}"' in html and 'name="code"' in html and 'autocomplete="one-time-code"' in html
        assert 'id="send-code"' in html and "获取验证码" in html
        assert f'<script type="module" src="/static/js/{module}"></script>' in html
        # no inline code: every <script> is a module loaded by src, or JSON data
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="' in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\son[a-z]+=", html)
        assert (await http.get(f"/static/js/{module}")).status == 200
    assert (await http.get("/static/js/contact-code.js")).status == 200
    english = await (await http.get("/reset", headers={"Cookie": "lang=en"})).text()
    assert "Reset password" in english and "Send code" in english
