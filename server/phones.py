"""Mainland mobile numbers, as candidates type them and schools list them."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Without spaces, dashes and a leading +86."""
    phone = re.sub(r"[\s-]", "", raw.strip())
    return phone[3:] if phone.startswith("+86") else phone


def is_mobile(phone: str) -> bool:
    """True for a normalized 11-digit mainland mobile number."""
    return bool(_MOBILE.match(phone))
