"""What a take of a drawn-question or guided subject carries besides its video (docs/recorded.md
"Forms"), as its manifest and the staff see it: the question drawn, and the step timeline.

The timeline is kept on the server's clock (``take_begin.lua``: when each step began, and its offset
in the take). Where a step is in the playback file is worked out when it is read, from the clock that
``rooms/remux.py`` keeps with the file: the file starts at the first frame the server received and
leaves out the time between two segments (a reconnect), so a grader's "jump to step 3" lands on step 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..rooms.recorder import MANIFEST, write_manifest
from ..rooms.remux import PLAYABLE, playable_seconds
from ..store.models import Take


def manifest_part(take: Take) -> dict[str, Any]:
    """The take's form and what it brought, for ``manifest.json``."""
    part: dict[str, Any] = {"id": take.id, "form": take.form, "started_at": take.started_at}
    if take.answer_at:
        part["answer_at"] = take.answer_at
    if take.question:
        part["question"] = take.question
    if take.steps:
        part["steps"] = take.steps
        part["timeline"] = take.timeline
    return part


def write_take_part(folder: Path, take: Take) -> None:
    """Add the take's part to the ``manifest.json`` its recorder closed (blocking)."""
    path = Path(folder) / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["take"] = manifest_part(take)
    write_manifest(Path(folder), manifest)


def steps_view(take: Take) -> list[dict[str, Any]]:
    """The steps that began, in order: index, text, offset in the take (s), and where they are in the
    playback file (``video_s``, None until it is written)."""
    clock = (take.files.get(PLAYABLE) or {}).get("clock") if isinstance(take.files, dict) else None
    out = []
    for mark in take.timeline:
        index = int(mark.get("index", 0))
        step = take.steps[index] if 0 <= index < len(take.steps) else {}
        out.append(
            {
                "index": index,
                "text": step.get("text", ""),
                "duration_s": step.get("duration_s"),
                "offset_s": mark.get("offset_s"),
                "video_s": playable_seconds(clock, mark["at"]) if clock and mark.get("at") else None,
            }
        )
    return out


def question_view(take: Take) -> dict[str, Any] | None:
    """The question the take drew, as staff see it (its media is served by the caller's own route)."""
    if not take.question:
        return None
    q = take.question
    return {
        "id": q.get("id"),
        "use": q.get("use"),
        "text": q.get("text", ""),
        "media_kind": q.get("media_kind", ""),
        "media_type": q.get("media_type", ""),
    }
