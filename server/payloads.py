"""Payload specs and checks shared by the edges: an HTTP body (``http/body.py`` reads it) and a
socket.io event's payload (``signaling/base.py``) are checked field by field against one spec, with
per-field messages."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from .errors import UserError


@dataclass(frozen=True)
class Field:
    kind: str  # str | int | bool | time | dict | list[str] | list[dict]
    required: bool = True
    max_len: int | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    blank: bool = True  # an optional str may be sent as "" (False: if sent, it must say something)
    label: str | None = None  # the field's label in messages, when not its name


EARLIEST, LATEST = 946684800.0, 4102444800.0  # 2000-01-01 .. 2100-01-01 UTC


def parse_time(value: Any, tz: str) -> float:
    """Epoch seconds, or an ISO 8601 date-time (local to ``tz`` when it has no offset), 2000-2099."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        epoch = float(value)
    elif isinstance(value, str) and value.strip():
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(tz))
        epoch = moment.timestamp()
    else:
        raise ValueError(value)
    if not EARLIEST <= epoch < LATEST:
        raise ValueError(value)
    return epoch


def check(body: dict, spec: dict[str, Field], tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """The fields of ``spec`` from ``body``, converted; unknown or bad fields raise UserError."""
    for name in body:
        if name not in spec:
            raise UserError("field_unknown", field=name, name=name)
    out: dict[str, Any] = {}
    for name, f in spec.items():
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip() and f.kind != "str"):
            if f.required:
                raise UserError("field_required", field=name, label=f.label or name)
            out[name] = f.default
            continue
        out[name] = _convert(name, f, value, tz)
    return out


def _convert(name: str, f: Field, value: Any, tz: str) -> Any:
    def bad(code: str = "field_type", **params: Any) -> UserError:
        return UserError(code, field=name, label=f.label or name, **params)

    if f.kind == "str":
        if not isinstance(value, str):
            raise bad()
        value = value.strip()
        if not value and (f.required or not f.blank):
            raise bad("field_required")
        if f.max_len is not None and len(value) > f.max_len:
            raise bad("field_too_long", max=f.max_len)
        return value
    if f.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
            raise bad("field_range", min=int(f.min or 0), max=int(f.max or 0))
        return value
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if f.kind == "time":
        try:
            return parse_time(value, tz)
        except (ValueError, TypeError, OverflowError):
            raise bad("field_invalid") from None
    if f.kind == "dict":
        if not isinstance(value, dict):
            raise bad()
        return value
    if f.kind in ("list[str]", "list[dict]"):
        item_type = str if f.kind == "list[str]" else dict
        if not isinstance(value, list) or not all(isinstance(i, item_type) for i in value):
            raise bad()
        if f.max_len is not None and len(value) > f.max_len:
            raise bad("field_too_long", max=f.max_len)
        return value
    raise AssertionError(f.kind)
