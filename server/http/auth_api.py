"""Register, log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web

from ..accounts.codes import destination
from ..accounts.directory import login_kind
from ..accounts.sessions import COOKIE
from ..errors import UserError
from ..store.models import Account, public
from .body import Field, check, read_json
from .context import METRICS, SERVICES, SETTINGS, account_of, session_of
from .middleware import client_address
from .routing import ANY, PUBLIC, Routes
from .security_headers import over_tls

routes = Routes()


def account_json(account: Account) -> dict:
    return public(account, "password_hash")


async def start_session(request: web.Request, account: Account, status: int = 200) -> web.Response:
    app = request.app
    token = await app[SERVICES].sessions.create(
        account.id, account.role, client_address(request), request.headers.get("User-Agent", "")
    )
    app[METRICS].sessions_created.inc()
    settings = app[SETTINGS]
    # None: Secure exactly when the page is served over TLS, here or at a trusted proxy (X-Forwarded-Proto)
    secure = settings.cookie_secure if settings.cookie_secure is not None else over_tls(request)
    response = web.json_response({"account": account_json(account)}, status=status)
    response.set_cookie(
        COOKIE, token, max_age=settings.session_ttl_s, path="/", httponly=True, samesite="Lax", secure=secure
    )
    return response


@routes.post("/api/auth/register", PUBLIC)
async def register(request: web.Request) -> web.Response:
    """A candidate registers with a phone number (or an email, for overseas candidates), the code sent
    to it (``POST /api/auth/codes`` purpose ``register``) and a password."""
    body = check(
        await read_json(request),
        {
            "phone": Field("str", required=False, max_len=20),
            "email": Field("str", required=False, max_len=254),
            "code": Field("str", max_len=10),
            "password": Field("str", max_len=128),
            "name": Field("str", required=False, max_len=50, default=""),
        },
    )
    kind, value = destination(body["phone"], body["email"])
    account = await request.app[SERVICES].contact.register(
        kind, value, body["code"], body["password"], body["name"] or "", client_address(request)
    )
    return await start_session(request, account, status=201)


@routes.post("/api/auth/login", PUBLIC)
async def login(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"login": Field("str", max_len=254), "password": Field("str", max_len=128)})
    services, metrics = request.app[SERVICES], request.app[METRICS]
    kind, name = login_kind(body["login"])
    address = client_address(request)
    limit_key = f"{kind}:{name}"
    try:
        await services.login_limits.take(limit_key, address)
    except UserError:
        metrics.logins.labels("locked").inc()
        raise
    account = await services.directory.find_by_login(body["login"])
    if not await services.passwords.verify(account.password_hash if account else None, body["password"]):
        metrics.logins.labels("failed").inc()
        raise UserError("login_failed", field="password")
    assert account is not None
    if account.disabled:
        metrics.logins.labels("disabled").inc()
        raise UserError("account_disabled")
    await services.login_limits.succeeded(limit_key, address)
    metrics.logins.labels("ok").inc()
    return await start_session(request, account)


@routes.post("/api/auth/logout", ANY)
async def logout(request: web.Request) -> web.Response:
    await request.app[SERVICES].sessions.end(session_of(request))  # its sockets are cut on every process
    request.app[METRICS].sessions_revoked.inc()
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get("/api/auth/me", ANY)
async def me(request: web.Request) -> web.Response:
    return web.json_response({"account": account_json(account_of(request))})
