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

ACCOUNT = web.RequestKey("account", object)  # Account | None
SESSION = web.RequestKey("session", object)  # Session | None
LANG = web.RequestKey("lang", str)

__all__ = ["SETTINGS", "SERVICES", "METRICS", "ROUTE_TABLE", "ACCOUNT", "SESSION", "LANG",
           "Account", "Session"]
