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
    # "interview" (live, as before) or "recorded"; the rest is a recorded subject's rules
    # (docs/recorded.md, checked by server/recorded/rules.py), unused by live interviews
    kind: str = "interview"
    form: str = "performance"
    takes_allowed: int = 1
    take_max_s: int = 300
    window_opens: float = 0.0
    window_closes: float = 0.0
    time_limit_min: int = 0
    sittings_allowed: int = 1
    cut_take_counts: bool = False
    mock_tries: int = 0
    # a take may be a file filmed offline and uploaded (docs/recorded.md "Upload takes"), up to this size
    uploads_allowed: bool = False
    upload_max_mb: int = 500
    # artwork (作品创作): the finished work is photographed after the take (docs/recorded.md "Artwork")
    photo_time_limit_min: int = 10
    photos_min: int = 1
    photos_max: int = 6
    # drawn questions and guided items (docs/recorded.md "Forms"): the preparation before a drawn
    # question's answer, whether its prompt is read on a second device (004_* 视奏), a guided subject's steps
    prepare_s: int = 60
    prompt_device: bool = False
    steps: list = field(default_factory=list)  # [{text, duration_s, audio_sha256, speak}] (recorded/guided.py)

    @property
    def recorded(self) -> bool:
        return self.kind == "recorded"


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
    staff_id_number: str = ""  # a staff account's person, as the school recorded it (server/exams/staff.py)


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


@dataclass
class Sitting:
    """One entry of a candidate into a recorded subject (docs/recorded.md "States"). The rules the
    candidate agreed to (takes, longest take, whether a cut take counts) are copied in at entry."""

    id: str
    exam_id: str
    subject_id: str
    account_id: str
    mode: str  # formal | mock | practice
    state: str = "in_progress"  # in_progress | submitted | auto_submitted | absent | reset
    device: str = ""
    code: str = ""  # the 4-digit exam code (考试码), read aloud at the start of each take
    number: int = 1  # the candidate's n-th entry of this subject in this mode
    entered_at: float = 0.0
    deadline: float = 0.0  # 0: none (practice)
    takes_allowed: int = 1
    take_max_s: int = 300
    cut_take_counts: bool = False
    takes_used: int = 0  # takes that count against takes_allowed (a running take counts)
    takes_total: int = 0
    running: str = ""  # the take being recorded, if any
    submitted_take: str = ""
    submitted_at: float = 0.0
    ended_at: float = 0.0
    ended_by: str = ""  # the account that submitted or reset, or "system" (deadline)
    # artwork (copied at entry): the form, the photo time after a take, photos per submission
    form: str = "performance"
    photo_time_limit_min: int = 0
    photos_min: int = 0
    photos_max: int = 0
    photos_take: str = ""  # the artwork take whose photo time runs (the last one that ended complete)
    end_reason: str = ""  # auto_submitted: deadline | photo_limit

    @property
    def in_progress(self) -> bool:
        return self.state == "in_progress"


@dataclass
class Take:
    """One recording of a sitting, filmed on the candidate's phone and written on the server."""

    id: str
    sitting_id: str
    exam_id: str
    subject_id: str
    account_id: str
    mode: str
    number: int = 1  # the sitting's n-th take
    state: str = "recording"  # recording | complete | cut | failed | discarded
    device: str = ""
    camera: str = "front"  # front | rear
    orientation: str = "portrait"  # portrait | landscape
    started_at: float = 0.0
    stop_at: float = 0.0  # the media stops the take by then: the longest take or the sitting's deadline
    ended_at: float = 0.0
    duration_s: float = 0.0
    counts: bool = True  # uses up one of the sitting's takes
    files: dict = field(default_factory=dict)  # name -> {sha256, size, duration_s} once playable
    sha256: str = ""  # of the playback file (playable.webm, or playable.mp4 for some uploads)
    playable_at: float = 0.0
    # "stream" (filmed live, recorded on the server) or "upload" (a file filmed offline,
    # server/recorded/uploads.py): states uploading -> processing -> complete, or failed
    source: str = "stream"
    upload_name: str = ""  # the file's name as the phone gave it (shown back only)
    upload_length: int = 0  # bytes declared at creation
    upload_offset: int = 0  # bytes stored on the server: where the next chunk must start
    upload_touched_at: float = 0.0  # the last bytes received (the abandoned-upload sweep)
    upload: dict = field(default_factory=dict)  # the probe's figures and the outcome (or the refusal)
    # artwork: the photos of the finished work, [{id, file, sha256, size, width, height, added_at}]
    photos: list = field(default_factory=list)
    photos_until: float = 0.0  # photos may be added or removed until then (server clock)
    photos_added: int = 0  # uploads accepted for this take, removed ones included (capped)
    # the subject's form when the take started, and what it brought (docs/recorded.md "Forms")
    form: str = "performance"
    answer_at: float = 0.0  # the answer (the recording) begins: after the preparation of a drawn question
    question: dict = field(default_factory=dict)  # the drawn question (recorded/questions.py snapshot)
    steps: list = field(default_factory=list)  # a guided subject's steps, as they were at the start
    timeline: list = field(default_factory=list)  # [{index, at, offset_s}]: when each step began


@dataclass
class Question:
    """One question of a recorded subject's bank (命题作答): text, and optionally an image (a score to sight-read)
    or an audio prompt. ``use`` is the pool it is drawn for: ``formal`` or ``mock`` (mock exams and practice),
    never both, so that a mock exam never shows a formal question (001_* 5.1)."""

    id: str
    exam_id: str
    subject_id: str
    use: str = "formal"  # formal | mock
    text: str = ""
    media_kind: str = ""  # "" | image | audio
    media_sha256: str = ""
    media_type: str = ""  # image/jpeg, image/png, audio/mpeg, audio/mp4, audio/wav
    media_bytes: int = 0
    media_duration_s: float = 0.0  # audio
    media_name: str = ""  # the file name it was uploaded with
    created_at: float = 0.0
    created_by: str = ""
    drawn: int = 0  # how many takes drew it
