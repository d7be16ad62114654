"""Errors a user can cause: a code, an HTTP status, and a message in the user's language.

Raising one changes nothing: services check before they write, and writes that
must be all-or-nothing run as one Lua script or MULTI transaction.
"""

from __future__ import annotations

from typing import Any

from .i18n import message


class UserError(Exception):
    def __init__(self, code: str, status: int = 400, field: str | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.field = field
        self.params = params

    def message(self, lang: str) -> str:
        return message(self.code, lang, **self.params)

    def to_json(self, lang: str) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message(lang)}
        if self.field:
            body["field"] = self.field
        return {"error": body}


def not_found(what: str) -> UserError:
    return UserError(f"{what}_not_found", 404)
