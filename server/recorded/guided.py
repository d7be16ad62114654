"""A guided subject's steps (指定项目, 001_* 5.2: "根据系统指导音完成，考生只需要按步骤完成指定动作"), docs/recorded.md
"Guided items": an ordered list, each step a text the page shows, a length in seconds, and a guide the
page plays when the step begins: an audio file the admin uploaded, or the text spoken by the browser's
zh-CN speech synthesis, or nothing.

The steps are a field of the subject (``subject:{subject}`` ``steps``, JSON), written whole with their
audit entry; a take copies them when it starts (``take_start.lua``), so changing them never changes a
take being filmed. One take records every step; its timeline is set when the camera joins
(``take_begin.lua``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import UserError
from ..exams.catalog import Catalog
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Subject
from .question_media import Media, MediaFiles, inspect
from .questions import recorded_subject

MAX_STEPS = 30
MAX_STEP_TEXT = 500
STEP_SECONDS = (3, 600)
MAX_TOTAL_S = 3600


def _step(n: int, raw: Any, files: MediaFiles) -> dict[str, Any]:
    """One step, checked (blocking: an audio guide is decoded again to be sure it is one)."""
    where = f"steps.{n}"
    if not isinstance(raw, dict) or set(raw) - {"text", "duration_s", "audio_sha256", "audio_type", "speak"}:
        raise UserError("guided_step_invalid", field=where, n=n + 1)
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError("guided_step_text", field=f"{where}.text", n=n + 1)
    if len(text) > MAX_STEP_TEXT:
        raise UserError("field_too_long", field=f"{where}.text", label="step_text", max=MAX_STEP_TEXT)
    seconds = raw.get("duration_s")
    low, high = STEP_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise UserError("field_range", field=f"{where}.duration_s", label="step_duration", min=low, max=high)
    speak = raw.get("speak", False)
    if not isinstance(speak, bool):
        raise UserError("field_type", field=f"{where}.speak", label="step_speak")
    audio, audio_type = raw.get("audio_sha256") or "", ""
    if audio:
        path = files.path(audio) if isinstance(audio, str) else None
        try:
            media = inspect(path.read_bytes(), path.name) if path is not None else None
        except UserError:
            media = None
        if media is None or media.kind != "audio":
            raise UserError("guided_step_audio", field=f"{where}.audio_sha256", n=n + 1)
        audio_type = media.type
    return {
        "text": text.strip(),
        "duration_s": seconds,
        "audio_sha256": audio,
        "audio_type": audio_type,
        "speak": speak and not audio,
    }


class GuidedSteps:
    def __init__(self, store: Store, catalog: Catalog, files: MediaFiles) -> None:
        self.store = store
        self.keys = store.keys
        self.catalog = catalog
        self.files = files

    async def subject(self, exam_id: str, subject_id: str) -> Subject:
        return await recorded_subject(self.catalog, exam_id, subject_id)

    async def set(self, actor: Actor, exam_id: str, subject_id: str, steps: Any) -> Subject:
        """Replace the subject's steps (1..MAX_STEPS, at most MAX_TOTAL_S in all); audited ``guided_steps_set``.
        A refusal names the step and changes nothing."""
        subject = await self.subject(exam_id, subject_id)
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
            raise UserError("guided_steps_count", field="steps", max=MAX_STEPS)
        checked = await asyncio.to_thread(lambda: [_step(n, raw, self.files) for n, raw in enumerate(steps)])
        total = sum(s["duration_s"] for s in checked)
        if total > MAX_TOTAL_S:
            raise UserError("guided_steps_too_long", field="steps", max=MAX_TOTAL_S // 60)
        async with self.store.pipeline() as tx:
            tx.hset(self.keys.subject(subject.id), "steps", json.dumps(checked, ensure_ascii=False))
            audit.add(
                tx,
                self.keys,
                exam_id,
                "guided_steps_set",
                actor,
                subject_id=subject.id,
                steps=len(checked),
                total_s=total,
            )
            await tx.execute()
        subject.steps = checked
        return subject

    async def upload(self, exam_id: str, subject_id: str, data: bytes, name: str) -> Media:
        """Keep an audio guide for a step (checked like a question's audio); the step names it by sha256."""
        await self.subject(exam_id, subject_id)
        media = await asyncio.to_thread(inspect, data, name)
        if media.kind != "audio":
            raise UserError("guided_step_audio_type", field="file")
        await asyncio.to_thread(self.files.put, data)
        return media
