"""Contact codes: asking for one, resetting a password with one, changing the phone/email of an
account with one; and the "forgot password" page. The rules are in ``server/accounts/codes.py``."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..accounts.codes import destination
from ..errors import UserError
from .auth_api import account_json
from .body import Field, check, read_json
from .context import ACCOUNT, LANG, METRICS, SERVICES, SETTINGS, account_of
from .middleware import client_address
from .routing import ANY, PUBLIC, Routes

routes = Routes()

CONTACT = {
    "phone": Field("str", required=False, max_len=20),
    "email": Field("str", required=False, max_len=254),
}


@routes.post("/api/auth/codes", PUBLIC)
async def request_code(request: web.Request) -> web.Response:
    """Send a code to a phone/email: ``register`` and ``reset`` for anyone, ``change`` (the new
    contact of the logged-in account) with a session. The answer is the same whether or not the
    phone/email is registered."""
    body = check(await read_json(request), {"purpose": Field("str", max_len=20), **CONTACT})
    purpose = body["purpose"]
    account = request[ACCOUNT]
    if purpose == "change" and account is None:
        raise UserError("login_required")
    kind, value = destination(body["phone"], body["email"])
    await request.app[SERVICES].contact.request(
        purpose, kind, value, client_address(request), request.get(LANG, "zh"), account if purpose == "change" else None
    )
    settings = request.app[SETTINGS]
    return web.json_response(
        {"sent": True, "resend_after_s": settings.code_resend_s, "expires_in_s": settings.code_ttl_s}
    )


@routes.post("/api/auth/password-reset", PUBLIC)
async def reset_password(request: web.Request) -> web.Response:
    """A new password with the code sent to the account's phone/email; every session of the account ends."""
    body = check(
        await read_json(request), {**CONTACT, "code": Field("str", max_len=10), "password": Field("str", max_len=128)}
    )
    kind, value = destination(body["phone"], body["email"])
    services = request.app[SERVICES]
    account = await services.contact.reset_password(kind, value, body["code"], body["password"])
    ended = await services.sessions.end_account(account.id)
    request.app[METRICS].sessions_revoked.inc(ended)
    return web.json_response({"ok": True})


@routes.post("/api/auth/contact", ANY)
async def change_contact(request: web.Request) -> web.Response:
    """Replace the phone or email of the logged-in account by one proven with a code sent to it."""
    body = check(await read_json(request), {**CONTACT, "code": Field("str", max_len=10)})
    kind, value = destination(body["phone"], body["email"])
    services = request.app[SERVICES]
    account = await services.directory.require(account_of(request).id)
    account = await services.contact.change_contact(account, kind, value, body["code"])
    return web.json_response({"account": account_json(account)})


@routes.get("/reset", PUBLIC, page=True)
@aiohttp_jinja2.template("reset.html")
async def reset_page(request: web.Request) -> dict:
    return {}
