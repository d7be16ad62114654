"""Importing a question bank from a zip (docs/recorded.md "Question bank"): a CSV index (题目.csv /
questions.csv: 用途, 题目, 文件) and the files it names, checked row by row. Either every row passes and
all of them are stored, or nothing is and the report says, row by row, what to fix.

The archive is read in memory, never extracted: a member's name is only ever compared with the names
the index gives. Still, a member whose name could climb out of a folder (``../``, an absolute path, a
drive letter, a NUL) makes the whole zip refused, and so does an index row that names one. Limits:
``MAX_MEMBERS`` files, ``MAX_UNPACKED`` bytes unpacked in all (declared sizes, checked before reading
anything; a member is never read past its declared size or its kind's limit).
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..i18n import message
from ..roster.csvfile import decode, read_rows
from ..roster.photos import zip_member_name
from ..store.audit import Actor
from .question_media import MAX_AUDIO_BYTES
from .questions import MAX_QUESTIONS, Draft, QuestionBank, draft

MAX_MEMBERS = 2000
MAX_UNPACKED = 1024 * 1024 * 1024
MAX_INDEX_BYTES = 5 * 1024 * 1024
INDEX_NAMES = ("题目.csv", "题库.csv", "questions.csv", "index.csv")
HEADERS: dict[str, tuple[str, ...]] = {
    "use": ("用途", "类型", "use"),
    "text": ("题目", "题目文字", "题目内容", "text"),
    "file": ("文件", "附件", "文件名", "file"),
}


@dataclass
class Row:
    line: int
    use: str
    text: str
    file: str
    reasons: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass
class ImportResult:
    """The report; ``drafts`` are the rows ready to store, only when every row and the archive passed."""

    rows: list[Row] = field(default_factory=list)
    problems: list[tuple[str, dict]] = field(default_factory=list)  # about the archive as a whole
    drafts: list[Draft] = field(default_factory=list)
    stored: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows) and all(r.ok for r in self.rows)

    def to_json(self, lang: str) -> dict[str, Any]:
        def said(reasons: list[tuple[str, dict]]) -> list[dict]:
            return [{"code": code, "message": message(code, lang, **params)} for code, params in reasons]

        return {
            "stored": self.stored,
            "rejected": sum(not r.ok for r in self.rows),
            "problems": said(self.problems),
            "rows": [
                {
                    "line": r.line,
                    "use": r.use,
                    "text": r.text[:60],
                    "file": r.file,
                    "status": "ok" if r.ok else "rejected",
                    "reasons": said(r.reasons),
                }
                for r in self.rows
            ],
        }


def unsafe(name: str) -> bool:
    """A member or index name that could point outside the archive's folder."""
    if not name or "\x00" in name:
        return True
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        return True
    return ".." in clean.split("/")


def _normal(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/").strip()).lstrip("./") if name.strip() else ""


async def import_zip(bank: QuestionBank, actor: Actor, exam_id: str, subject_id: str, data: bytes) -> ImportResult:
    """Check the zip (off the event loop: every file is decoded) and, when every row passed, store all its
    questions at once (``QuestionBank.add``: one transaction, one audit entry). The report either way."""
    subject = await bank.subject(exam_id, subject_id)
    result = await asyncio.to_thread(read_import, data, await bank.held(subject.id))
    if result.ok:
        result.stored = len(await bank.add(actor, exam_id, subject.id, result.drafts))
    return result


def read_import(data: bytes, held: int = 0) -> ImportResult:
    """Check the zip ``data`` against a bank that holds ``held`` questions (blocking: decodes every file)."""
    result = ImportResult()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise UserError("question_zip_invalid") from None
    if len(infos) > MAX_MEMBERS:
        raise UserError("question_zip_too_many", max=MAX_MEMBERS)
    if sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise UserError("question_zip_too_large", limit="1 GB")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = zip_member_name(info)
        if unsafe(name):
            result.problems.append(("question_zip_unsafe_name", {"file": name[-80:]}))
            continue
        if info.is_dir() or "__MACOSX/" in name or posixpath.basename(name).startswith("._"):
            continue
        members.setdefault(_normal(name), info)
    if result.problems:
        return result
    index = _index(members)
    if index is None:
        raise UserError("question_zip_no_index", names="、".join(INDEX_NAMES[:2]))
    if members[index].file_size > MAX_INDEX_BYTES:
        raise UserError("question_zip_invalid")
    text = decode(_read(archive, members[index], MAX_INDEX_BYTES, index))
    _, rows = read_rows(text, MAX_QUESTIONS, HEADERS, ("use",))
    if held + len(rows) > MAX_QUESTIONS:
        raise UserError("question_bank_full", max=MAX_QUESTIONS, held=held)
    by_base: dict[str, list[str]] = {}
    for name in members:
        by_base.setdefault(posixpath.basename(name).lower(), []).append(name)
    for line, cells in rows:
        row = Row(line, cells.get("use", ""), cells.get("text", ""), cells.get("file", ""))
        result.rows.append(row)
        content: bytes | None = None
        if row.file:
            found = _member(row.file, members, by_base, index)
            if isinstance(found, tuple):
                row.reasons.append(found)
            else:
                content = _content(archive, found, row)
                if content is None:
                    continue
        try:
            result.drafts.append(draft(row.use, row.text, content, row.file))
        except UserError as err:
            row.reasons.append((err.code, err.params))
    if not result.ok:
        result.drafts = []
    return result


def _index(members: dict[str, zipfile.ZipInfo]) -> str | None:
    """The CSV index: one of ``INDEX_NAMES`` (any folder), else the archive's only CSV file."""
    csvs = [n for n in members if n.lower().endswith(".csv")]
    for wanted in INDEX_NAMES:
        for name in sorted(csvs, key=len):
            if posixpath.basename(name).lower() == wanted:
                return name
    return csvs[0] if len(csvs) == 1 else None


def _member(
    wanted: str, members: dict[str, zipfile.ZipInfo], by_base: dict[str, list[str]], index: str
) -> zipfile.ZipInfo | tuple[str, dict]:
    """The member a row names (its path in the archive, or its file name when that is unique)."""
    shown = wanted[-80:]
    if unsafe(wanted):
        return ("question_file_path", {"file": shown})
    name = _normal(wanted)
    if name in members and name != index:
        return members[name]
    same = by_base.get(posixpath.basename(name).lower(), [])
    if len(same) == 1 and same[0] != index:
        return members[same[0]]
    return ("question_file_missing", {"file": shown})


def _content(archive: zipfile.ZipFile, info: zipfile.ZipInfo, row: Row) -> bytes | None:
    """The member's bytes, or None with the row's reason (over the limit, unreadable)."""
    if info.file_size > MAX_AUDIO_BYTES:  # the larger of the two kinds' limits; inspect() applies each
        row.reasons.append(("question_file_too_large", {"file": row.file[-80:], "limit": "20 MB"}))
        return None
    try:
        return _read(archive, info, MAX_AUDIO_BYTES, row.file)
    except UserError as err:
        row.reasons.append((err.code, err.params))
        return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    """A member's bytes, never more than ``limit`` (a member lying about its size is caught by the CRC)."""
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError):
        raise UserError("question_file_unreadable", file=name[-80:]) from None
    if len(data) > limit:
        raise UserError("question_file_unreadable", file=name[-80:])
    return data
