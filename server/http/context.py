"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from aiohttp import web

from ..accounts.sessions import Session
from ..config import Settings
from ..metrics import Metrics
from ..services import Services
from ..store.models import Account

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", Metrics)
ROUTE_TABLE = web.AppKey("route_table", list)

# None for an anonymous caller; the session middleware sets both on every request.
ACCOUNT = web.RequestKey[Account | None]("account")
SESSION = web.RequestKey[Session | None]("session")
LANG = web.RequestKey("lang", str)


def account_of(request: web.Request) -> Account:
    """The caller's account, on a route whose guard admits logged-in accounts only."""
    account = request[ACCOUNT]
    assert account is not None, "the route guard lets no anonymous caller through"
    return account


def session_of(request: web.Request) -> Session:
    """The caller's session, on a route whose guard admits logged-in accounts only."""
    session = request[SESSION]
    assert session is not None, "the route guard lets no anonymous caller through"
    return session


__all__ = [
    "SETTINGS",
    "SERVICES",
    "METRICS",
    "ROUTE_TABLE",
    "ACCOUNT",
    "SESSION",
    "LANG",
    "account_of",
    "session_of",
    "Account",
    "Session",
]
