"""Errors a user can cause: a code and a message in the user's language.

Raising one changes nothing: services check before they write, and writes that
must be all-or-nothing run as one Lua script or MULTI transaction.

The code is all the domain says. The HTTP edge answers with the status that
``server/http/statuses.py`` maps the code to (default 400); socket.io answers carry no status.
"""

from __future__ import annotations

from typing import Any

from .i18n import message


class UserError(Exception):
    def __init__(self, code: str, status: int | None = None, field: str | None = None, **params: Any) -> None:
        """``status`` overrides the table; only the HTTP layer passes one (see tests/test_layers.py)."""
        super().__init__(code)
        self.code = code
        self.status_override = status
        self.field = field
        self.params = params

    @property
    def status(self) -> int:
        """The HTTP status this error answers with."""
        from .http.statuses import status_for  # the edge's table, looked up lazily: this module stays a leaf

        return status_for(self)

    def message(self, lang: str) -> str:
        return message(self.code, lang, **self.params)

    def to_json(self, lang: str) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message(lang)}
        if self.field:
            body["field"] = self.field
        return {"error": body}


def not_found(what: str) -> UserError:
    return UserError(f"{what}_not_found")
