"""The question bank of a recorded subject (命题作答, docs/recorded.md "Question bank"): the admin's
questions, each drawn for formal sittings or for mock sittings and practice, never both (001_* 5.1:
模拟考和正式考使用的考试题目不一样).

A question is a text, an image (a score to sight-read) or an audio prompt, or a text with one of them.
Its record is ``question:{id}``; the subject lists its questions in ``questions:{subject}`` and each
pool in ``questions:{subject}:{use}``, the set a take's draw reads (``take_start.lua``). Adding,
importing and deleting are one MULTI each with their audit entry. Nothing here is ever shown to a
candidate: a candidate sees only the question a take of theirs drew (``Take.question``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ..errors import UserError
from ..exams.catalog import Catalog
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Question, Subject, from_hash, is_id, new_id, to_hash
from .question_media import Media, MediaFiles, inspect

USES = ("formal", "mock")
MAX_TEXT = 5000  # characters: a news script to read aloud fits
MAX_QUESTIONS = 2000  # per subject


@dataclass
class Draft:
    """A question checked and ready to store (its file, if any, with it)."""

    use: str
    text: str
    media: Media | None = None
    data: bytes = b""
    name: str = ""


def use_of(value: str) -> str:
    """``formal`` or ``mock`` from what an admin writes (English or the platform's words)."""
    words = {"formal": "formal", "正式": "formal", "正式考": "formal", "mock": "mock", "模拟": "mock", "模拟考": "mock"}
    found = words.get((value or "").strip().lower())
    if found is None:
        raise UserError("question_use_invalid", field="use")
    return found


def draft(use: str, text: str, data: bytes | None = None, name: str = "") -> Draft:
    """Check one question (blocking when it has a file: the file is decoded); raises the first rule broken."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise UserError("field_too_long", field="text", label="question_text", max=MAX_TEXT)
    media = inspect(data, name) if data is not None else None
    if not text and media is None:
        raise UserError("question_empty", field="text")
    return Draft(use_of(use), text, media, data or b"", name[-120:])


async def recorded_subject(catalog: Catalog, exam_id: str, subject_id: str) -> Subject:
    """The exam's recorded subject whose bank or steps are asked for (``exam_not_found``,
    ``subject_not_found``, ``sitting_not_recorded``)."""
    await catalog.exam(exam_id)
    subject = await catalog.subject(exam_id, subject_id)
    if not subject.recorded:
        raise UserError("sitting_not_recorded")
    return subject


class QuestionBank:
    def __init__(self, store: Store, catalog: Catalog, files: MediaFiles) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.files = files

    async def subject(self, exam_id: str, subject_id: str) -> Subject:
        return await recorded_subject(self.catalog, exam_id, subject_id)

    async def of_subject(self, exam_id: str, subject_id: str) -> list[Question]:
        subject = await self.subject(exam_id, subject_id)
        ids = await self.redis.zrange(self.keys.subject_questions(subject.id), 0, -1)
        pipe = self.store.pipeline(transaction=False)
        for question_id in ids:
            pipe.hgetall(self.keys.question(question_id))
        return [from_hash(Question, d) for d in (await pipe.execute() if ids else []) if d]

    async def held(self, subject_id: str) -> int:
        """How many questions the subject's bank holds."""
        return int(await self.redis.zcard(self.keys.subject_questions(subject_id)))

    async def counts(self, subject_id: str) -> dict[str, int]:
        """Questions per pool: ``{formal: n, mock: n}``."""
        pipe = self.store.pipeline(transaction=False)
        for use in USES:
            pipe.scard(self.keys.question_pool(subject_id, use))
        return dict(zip(USES, await pipe.execute(), strict=True))

    async def get(self, exam_id: str, subject_id: str, question_id: str) -> Question:
        """The question of that exam and subject; another's, a forged id or none: ``question_not_found``."""
        data = await self.redis.hgetall(self.keys.question(question_id)) if is_id(question_id) else {}
        question = from_hash(Question, data) if data else None
        if question is None or question.exam_id != exam_id or question.subject_id != subject_id:
            raise UserError("question_not_found")
        return question

    async def add(self, actor: Actor, exam_id: str, subject_id: str, drafts: list[Draft]) -> list[Question]:
        """Store checked questions at once (one transaction, one audit entry): all or none. Their files
        are written first, only once every question passed; a failure after that leaves unreferenced
        content-addressed files, never a question without its file."""
        subject = await self.subject(exam_id, subject_id)
        if not drafts:
            raise UserError("question_empty", field="text")
        held = await self.held(subject.id)
        if held + len(drafts) > MAX_QUESTIONS:
            raise UserError("question_bank_full", max=MAX_QUESTIONS, held=held)
        await asyncio.to_thread(self._write_files, drafts)
        now = time.time()
        questions = [
            Question(
                id=new_id("ques"),
                exam_id=exam_id,
                subject_id=subject.id,
                use=d.use,
                text=d.text,
                media_kind=d.media.kind if d.media else "",
                media_sha256=d.media.sha256 if d.media else "",
                media_type=d.media.type if d.media else "",
                media_bytes=d.media.size if d.media else 0,
                media_duration_s=d.media.duration_s if d.media else 0.0,
                media_name=d.name if d.media else "",
                created_at=now,
                created_by=actor.account_id,
            )
            for d in drafts
        ]
        async with self.store.pipeline() as tx:
            for n, q in enumerate(questions):
                tx.hset(self.keys.question(q.id), mapping=to_hash(q))
                tx.zadd(self.keys.subject_questions(subject.id), {q.id: now + n / 1e6})
                tx.sadd(self.keys.question_pool(subject.id, q.use), q.id)
            audit.add(
                tx,
                self.keys,
                exam_id,
                "question_added" if len(questions) == 1 else "questions_imported",
                actor,
                subject_id=subject.id,
                uses={use: sum(q.use == use for q in questions) for use in USES},
                count=len(questions),
                question_id=questions[0].id if len(questions) == 1 else None,
            )
            await tx.execute()
        return questions

    def _write_files(self, drafts: list[Draft]) -> None:
        for d in drafts:
            if d.media is not None:
                self.files.put(d.data)

    async def delete(self, actor: Actor, exam_id: str, subject_id: str, question_id: str) -> None:
        """Remove a question from its pool and the bank (audited). Takes that drew it keep their copy."""
        question = await self.get(exam_id, subject_id, question_id)
        async with self.store.pipeline() as tx:
            tx.srem(self.keys.question_pool(question.subject_id, question.use), question.id)
            tx.zrem(self.keys.subject_questions(question.subject_id), question.id)
            tx.delete(self.keys.question(question.id))
            audit.add(
                tx,
                self.keys,
                exam_id,
                "question_deleted",
                actor,
                subject_id=question.subject_id,
                question_id=question.id,
                use=question.use,
                drawn=question.drawn,
            )
            await tx.execute()
