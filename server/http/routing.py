"""Routes declare who may call them; the check happens before the handler runs.

``roles`` is ``PUBLIC`` (anyone), ``ANY`` (any logged-in account) or a tuple of roles.
The table of every route and its roles is kept on the app for the route x role test.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

from ..errors import UserError
from ..i18n import MESSAGES
from ..store.models import ROLES, is_id
from .context import ACCOUNT, ROUTE_TABLE

PUBLIC = "public"
ANY = "any"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    roles: str | tuple[str, ...]
    page: bool  # HTML page (redirects to login) rather than JSON API

    def allows(self, role: str | None) -> bool:
        if self.roles == PUBLIC:
            return True
        if role is None:
            return False
        return self.roles == ANY or role in self.roles


class Routes:
    def __init__(self) -> None:
        self.entries: list[tuple[RouteInfo, Handler]] = []

    def add(self, method: str, path: str, roles: str | tuple[str, ...], page: bool = False):
        if isinstance(roles, tuple):
            assert all(r in ROLES for r in roles), roles

        def decorate(handler: Handler) -> Handler:
            self.entries.append((RouteInfo(method, path, roles, page), handler))
            return handler

        return decorate

    def get(self, path: str, roles, page: bool = False):
        return self.add("GET", path, roles, page)

    def post(self, path: str, roles):
        return self.add("POST", path, roles)

    def put(self, path: str, roles):
        return self.add("PUT", path, roles)

    def patch(self, path: str, roles):
        return self.add("PATCH", path, roles)

    def delete(self, path: str, roles):
        return self.add("DELETE", path, roles)

    def register(self, app: web.Application) -> None:
        table = app.setdefault(ROUTE_TABLE, [])
        for info, handler in self.entries:
            app.router.add_route(info.method, info.path, _guard(info, handler))
            table.append(info)


def _guard(info: RouteInfo, handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        account = request.get(ACCOUNT)
        if not info.allows(account.role if account else None):
            if account is None:
                if info.page:
                    raise web.HTTPFound("/login?next=" + request.path_qs.replace("&", "%26"))
                raise UserError("login_required")
            if info.page:
                return aiohttp_jinja2.render_template("error.html", request, {"code": "forbidden"}, status=403)
            raise UserError("forbidden")
        for name, value in request.match_info.items():  # ids become Redis key parts: shape first
            if name.endswith("_id") and not is_id(value):
                code = name[:-3] + "_not_found"
                raise UserError(code if code in MESSAGES else "not_found")
        return await handler(request)

    return guarded
