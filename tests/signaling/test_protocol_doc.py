"""docs/signaling.md stays the protocol: every event a namespace accepts is documented, and every
error code the queue can give has a message in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from server.i18n import MESSAGES
from server.signaling.aux import AuxNamespace
from server.signaling.candidate import CandidateNamespace
from server.signaling.examiner import ExaminerNamespace
from server.signaling.proctor import ProctorNamespace

DOC = (Path(__file__).parents[2] / "docs" / "signaling.md").read_text(encoding="utf-8")
SOURCES = [
    Path(__file__).parents[2] / "server" / p
    for p in (
        "queue/waiting.py",
        "queue/device.py",
        "signaling/base.py",
        "signaling/candidate.py",
        "signaling/examiner.py",
        "signaling/proctor.py",
        "signaling/aux.py",
        "signaling/rooms.py",
        "signaling/media_router.py",
        "rooms/aux_tokens.py",
        "rooms/media.py",
    )
]
LUA = sorted((Path(__file__).parents[2] / "server" / "store" / "lua").glob("queue_*.lua"))


def test_every_event_is_documented():
    for namespace in (CandidateNamespace, ExaminerNamespace, ProctorNamespace, AuxNamespace):
        for event in namespace.EVENTS:
            assert f"`{event}`" in DOC, event


def test_every_error_code_has_messages_and_is_documented():
    codes = set()
    for path in SOURCES:
        codes |= set(re.findall(r'UserError\("([a-z_]+)"', path.read_text()))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', path.read_text()))
        codes |= set(re.findall(r'MediaError\("([a-z_]+)"', path.read_text()))
    for path in LUA:
        codes |= set(re.findall(r"\{'err', '([a-z_]+)'", path.read_text()))
    assert {"queue_too_early", "room_busy", "device_battery_low", "already_in_queue"} <= codes
    for code in codes:
        assert code in MESSAGES, code
    undocumented = {c for c in codes if f"`{c}`" not in DOC}
    assert undocumented == set()
