"""Chinese resident ID numbers (GB 11643-1999): format, birth date and ISO 7064 MOD 11-2 check digit."""

from __future__ import annotations

import datetime as dt
import re

from ..errors import UserError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
_FULLWIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


def normalize(raw: str) -> str:
    return raw.strip().replace(" ", "").translate(_FULLWIDTH).upper()


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=False)) % 11]


def validate(raw: str, field: str = "id_number") -> str:
    """The normalized ID number, or a UserError saying what is wrong with it."""
    number = normalize(raw)
    if not _SHAPE.match(number):
        raise UserError("id_number_invalid", field=field)
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise UserError("id_number_invalid", field=field) from None
    if not dt.date(1900, 1, 1) <= birth <= dt.date.today():
        raise UserError("id_number_invalid", field=field)
    if check_digit(number[:17]) != number[17]:
        raise UserError("id_number_checksum", field=field)
    return number


def looks_like(raw: str) -> bool:
    return bool(_SHAPE.match(normalize(raw)))


def make(region: str = "110101", birth: str = "20070101", sequence: int = 1) -> str:
    """A well-formed ID number (for demos and tests; such numbers are not real people)."""
    first17 = f"{region}{birth}{sequence % 1000:03d}"
    return first17 + check_digit(first17)


_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")


def validate_document(raw: str, id_type: str, field: str = "id_number") -> str:
    """ID card numbers get the full check; passports / permits only their shape."""
    if id_type == "id_card":
        return validate(raw, field)
    number = normalize(raw)
    if not _PASSPORT.match(number):
        raise UserError("id_number_invalid", field=field)
    return number


def validate_any(raw: str, field: str = "id_number") -> str:
    """A number of any document the roster takes: an ID card's full check when it has an ID card's shape,
    else a passport's or permit's shape (a staff member's ID number, server/exams/staff.py)."""
    return validate_document(raw, "id_card" if looks_like(raw) else "passport", field)
