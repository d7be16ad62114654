"""A recorded subject's rules: their ranges, their checks, and the deadline of a sitting.

The ranges are one table (``RANGES``) that the admin's HTTP body spec reuses, so the API, the
domain and the docs (docs/recorded.md "Configuration") say the same numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import UserError
from ..store.models import Subject

KINDS = ("interview", "recorded")
FORMS = ("performance", "question", "guided", "artwork")  # 001_* 5.2: 自备展示, 命题作答, 指定项目, 作品创作
MODES = ("formal", "mock", "practice")
CAMERAS = ("front", "rear")
ORIENTATIONS = ("portrait", "landscape")

# field -> (min, max) for the integer rules
RANGES: dict[str, tuple[int, int]] = {
    "takes_allowed": (1, 10),
    "take_max_s": (10, 3600),
    "time_limit_min": (0, 600),
    "sittings_allowed": (1, 5),
    "mock_tries": (0, 10),
    "interview_minutes": (1, 240),
    "upload_max_mb": (1, 4096),
    # artwork (作品创作): minutes to photograph the work after a take, photos per submission
    "photo_time_limit_min": (1, 120),
    "photos_min": (1, 20),
    "photos_max": (1, 20),
    "prepare_s": (0, 600),  # a drawn question's preparation (命题作答)
}
# prompt_device: a drawn question is read on a second device (004_* 视奏)
BOOLEANS = ("cut_take_counts", "uploads_allowed", "prompt_device")
RULES = ("kind", "form", *RANGES, "window_opens", "window_closes", *BOOLEANS)
MAX_WINDOW_S = 31 * 86400  # an exam window longer than a month is a typo


def apply(subject: Subject, **rules: Any) -> Subject:
    """``subject`` with ``rules`` applied, checked as a whole; raises the first rule broken.

    Nothing is written: the caller stores the result. A live interview keeps whatever recorded
    fields it has (they are unused), so switching a subject back and forth loses nothing."""
    unknown = set(rules) - set(RULES)
    if unknown:
        name = sorted(unknown)[0]
        raise UserError("field_unknown", field=name, name=name)
    for name, (low, high) in RANGES.items():
        value = rules.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError("field_type", field=name, label=name)
        if not low <= value <= high:
            raise UserError("field_range", field=name, label=name, min=low, max=high)
    for name in BOOLEANS:
        if name in rules and rules[name] is not None and not isinstance(rules[name], bool):
            raise UserError("field_type", field=name, label=name)
    for name in ("window_opens", "window_closes"):
        value = rules.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise UserError("field_invalid", field=name, label=name)
    if "kind" in rules and rules["kind"] not in KINDS:
        raise UserError("subject_kind_invalid", field="kind")
    if "form" in rules and rules["form"] not in FORMS:
        raise UserError("subject_form_invalid", field="form")
    out = replace(subject, **{k: v for k, v in rules.items() if v is not None})
    if out.photos_min > out.photos_max:
        raise UserError("artwork_photos_range", field="photos_min", min=out.photos_min, max=out.photos_max)
    if out.recorded:
        if not (out.window_opens and out.window_closes):
            raise UserError("recorded_window_required", field="window_opens")
        if out.window_closes <= out.window_opens:
            raise UserError("recorded_window_times", field="window_closes")
        if out.window_closes - out.window_opens > MAX_WINDOW_S:
            raise UserError("recorded_window_too_long", field="window_closes", days=MAX_WINDOW_S // 86400)
    return out


def deadline(
    mode: str,
    entered_at: float,
    time_limit_min: int,
    window_closes: float,
    take_max_s: int = 300,
    takes_allowed: int = 1,
) -> float:
    """When a sitting entered at ``entered_at`` ends; 0 for practice (no deadline).

    Formal: the earlier of entry + the personal limit and the window's end (001_* 5.3: window
    9:00-10:00, 50 min: entering at 9:00 gives 9:50, at 9:30 gives 10:00); no limit: the window's
    end. Mock: no window, entry + the limit, or, with no limit, twice the longest takes allowed."""
    if mode == "practice":
        return 0.0
    limit_s = time_limit_min * 60
    if mode == "mock":
        return entered_at + (limit_s if limit_s > 0 else take_max_s * takes_allowed * 2)
    if limit_s <= 0:
        return float(window_closes)
    return float(min(entered_at + limit_s, window_closes))
