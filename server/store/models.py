"""Records kept in Redis hashes, and their conversion to and from hash fields."""

from __future__ import annotations

import functools
import json
import re
import secrets
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

ROLES = ("candidate", "examiner", "proctor", "admin")
STAFF_ROLES = ("examiner", "proctor", "admin")

T = TypeVar("T")


_ID = re.compile(r"^[a-z]{3,8}_[0-9a-f]{12}$")


def new_id(kind: str) -> str:
    """Short random ids (no counter: any number of processes can mint them)."""
    return f"{kind}_{secrets.token_hex(6)}"


def is_id(value: object) -> bool:
    """True for an id ``new_id`` could have made. Ids become parts of Redis keys, so anything
    else (``exam_x:rooms``) must never reach a key."""
    return isinstance(value, str) and bool(_ID.match(value))


def to_hash(record: Any) -> dict[str, str]:
    out = {}
    for key, value in asdict(record).items():
        if isinstance(value, (list, dict)):
            out[key] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif value is None:
            out[key] = ""
        else:
            out[key] = str(value)
    return out


def _json_or(empty: type) -> Any:
    return lambda raw: json.loads(raw) if raw else empty()


@functools.cache
def _converters(cls: type) -> tuple[tuple[str, Any], ...]:
    """How to read each field of ``cls`` back from its hash string (type hints resolved once per class:
    resolving them is slow, and hot paths read thousands of records a second)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        kind = hints[f.name]
        origin = typing.get_origin(kind) or kind
        if kind is int:
            convert: Any = lambda raw: int(raw or 0)  # noqa: E731
        elif kind is float:
            convert = lambda raw: float(raw or 0)  # noqa: E731
        elif kind is bool:
            convert = lambda raw: raw == "1"  # noqa: E731
        elif origin in (list, dict):
            convert = _json_or(origin)
        else:
            convert = None
        out.append((f.name, convert))
    return tuple(out)


def from_hash(cls: type[T], data: dict[str, str]) -> T:
    kwargs: dict[str, Any] = {}
    for name, convert in _converters(cls):  # type: ignore[arg-type]  # a class is hashable
        if name in data:
            kwargs[name] = convert(data[name]) if convert else data[name]
    return cls(**kwargs)


def public(record: Any, *hidden: str) -> dict[str, Any]:
    """The record as JSON for an API answer, without the named fields."""
    return {k: v for k, v in asdict(record).items() if k not in hidden}


@dataclass
class Exam:
    id: str
    school: str
    name: str
    booking_opens: float
    booking_closes: float
    notice: str = ""
    pledge: str = ""
    created_at: float = 0.0
    # a slot that has started may still be booked while at least this many minutes of it remain;
    # 0 keeps the usual rule (a started slot cannot be booked). The demo exam uses it.
    late_booking_min: int = 0


@dataclass
class Subject:
    id: str
    exam_id: str
    name: str
    interview_minutes: int = 10


@dataclass
class Room:
    id: str
    exam_id: str
    subject_id: str
    name: str
    examiners: list[str] = field(default_factory=list)


@dataclass
class Slot:
    id: str
    exam_id: str
    subject_id: str
    room_id: str
    starts_at: float
    ends_at: float
    capacity: int
    booked: int = 0  # derived from slot:{id}:booked, never stored


@dataclass
class Account:
    id: str
    role: str
    name: str = ""
    phone: str = ""
    email: str = ""
    username: str = ""
    id_number: str = ""
    password_hash: str = ""
    created_at: float = 0.0
    verified_at: float = 0.0
    disabled: bool = False
    contact_verified_at: float = 0.0  # when the phone/email was last proven with a code (0: never)


@dataclass
class RosterEntry:
    exam_id: str
    id_number: str
    name: str
    phone: str = ""
    id_type: str = "id_card"
    subjects: list[str] = field(default_factory=list)
    photo_sha256: str = ""
    updated_at: float = 0.0


@dataclass
class Enrolment:
    exam_id: str
    account_id: str
    confirmed_at: float = 0.0
    notice_read_at: float = 0.0
    pledge_signed_at: float = 0.0
    pledge_sha256: str = ""


@dataclass
class Appeal:
    id: str
    account_id: str
    id_number: str
    name: str
    claimed_by: str
    created_at: float
    status: str = "open"  # open | approved | rejected
    resolved_by: str = ""
    resolved_at: float = 0.0
    comment: str = ""
    # the appellant's face check against the roster photo: passed, distance, threshold, check id
    evidence: dict = field(default_factory=dict)
