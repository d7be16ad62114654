"""Importing an exam's roster from the school's CSV (plus ID photos), with a row-by-row report.

Every row is checked first; photos of accepted rows go to the PhotoStore; then all accepted
rows and their audit entries are written in ONE transaction. A file with no acceptable row
writes nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable

from redis.exceptions import WatchError

from ..errors import UserError
from ..exams.catalog import Catalog
from ..exams.staff import ExamStaff
from ..i18n import human_size
from ..phones import is_mobile, normalize_phone
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Exam, RosterEntry, Subject
from . import idcard
from .book import RosterBook
from .csvfile import decode, read_rows
from .photos import PhotoSource, PhotoStore, check_image
from .report import ImportReport, RowResult

ID_TYPES = {
    **dict.fromkeys(("", "身份证", "居民身份证", "id_card"), "id_card"),
    **dict.fromkeys(
        ("护照", "passport", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "港澳台居民居住证", "permit"),
        "passport",
    ),
}
MAX_NAME = 50
_PHOTO_FACE: dict[str, tuple[str, dict]] = {
    "face_no_face": ("row_photo_no_face", {}),
    "face_multiple": ("row_photo_faces", {}),
}
PhotoCheck = Callable[[str, bytes], Awaitable["str | None"]]  # (sha256, bytes) -> why the photo cannot serve
Progress = Callable[[str, int, int], Awaitable[None]]  # (stage, done, total)
_SUBJECT_SEP = re.compile(r"[;；,，、|]")


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


class RosterImporter:
    def __init__(
        self,
        store: Store,
        book: RosterBook,
        catalog: Catalog,
        photos: PhotoStore,
        max_rows: int,
        max_photo_bytes: int,
        photo_check: PhotoCheck | None = None,
    ) -> None:
        self.store = store
        self.photo_check = photo_check
        self.book = book
        self.catalog = catalog
        self.photos = photos
        self.max_rows = max_rows
        self.max_photo_bytes = max_photo_bytes

    async def import_csv(
        self, actor: Actor, exam_id: str, csv_bytes: bytes, photos: PhotoSource, progress: Progress | None = None
    ) -> ImportReport:
        """Check every row, then write all accepted rows at once; raises UserError for a bad file.

        ``progress(stage, done, total)`` is awaited as the long steps advance."""
        exam = await self.catalog.exam(exam_id)
        subjects = await self.catalog.subjects(exam_id)
        if progress:
            await progress("rows", 0, 0)
        # Parsing, image decoding and photo files are blocking work: off the event loop.
        results, entries = await asyncio.to_thread(self._check_file, exam, subjects, csv_bytes, photos)
        if self.photo_check:
            entries = await self._check_faces(results, entries, progress)
        entries = await self._check_staff(exam_id, results, entries)
        if progress:
            await progress("writing", len(entries), len(entries))
        if entries:
            existing = await self._write(actor, exam_id, entries, rejected=len(results) - len(entries))
            accepted = [r for r in results if r.status != "rejected"]  # in the order of ``entries``
            for result, entry in zip(accepted, entries, strict=False):
                result.status = "updated" if result.id_number in existing else "imported"
                if not entry.photo_sha256:  # none given, none kept from an earlier import
                    result.warnings.append(("row_no_photo", {}))
        return ImportReport(results)

    async def replace_photo(self, actor: Actor, exam_id: str, id_number: str, data: bytes) -> RowResult:
        """Give one roster row a new ID photo through an import's checks: size, a readable JPEG/PNG and,
        when the face check runs, one usable face (its reference is made then; else on first use, since
        references are kept by the photo's sha256). The photo is stored by sha256; a refused one changes
        nothing on the roster. Raises UserError when the exam or the row does not exist."""
        await self.catalog.exam(exam_id)
        number = idcard.normalize(id_number)
        entry = await self.book.entry(exam_id, number)
        if entry is None:
            raise UserError("roster_entry_not_found", field="id_number")
        result = RowResult(0, number, entry.name, "updated")
        source = PhotoSource({"photo": ("photo", len(data), lambda: data)}, self.max_photo_bytes)
        photo = self._check_photo("photo", number, source, result.reasons)
        if photo is None:
            result.status = "rejected"
            return result
        before = entry.photo_sha256
        entry.photo_sha256 = await asyncio.to_thread(self.photos.put, photo)
        entry.updated_at = time.time()
        if self.photo_check and not await self._check_faces([result], [entry], None):
            return result
        async with self.store.pipeline() as pipe:
            self.book.queue_put(pipe, entry)
            audit.add(
                pipe,
                self.store.keys,
                exam_id,
                "roster_photo_replaced",
                actor,
                subject=number,
                before=before,
                after=entry.photo_sha256,
            )
            await pipe.execute()
        return result

    async def _check_faces(
        self, results: list[RowResult], entries: list[RosterEntry], progress: Progress | None
    ) -> list[RosterEntry]:
        """Every ID photo must show exactly one usable face (it is the face-check reference)."""
        assert self.photo_check is not None
        photo_check = self.photo_check
        shas = sorted({e.photo_sha256 for e in entries if e.photo_sha256})
        verdicts: dict[str, str | None] = {}
        gate = asyncio.Semaphore(4)
        done = 0

        async def look(sha: str) -> None:
            nonlocal done
            async with gate:
                path = self.photos.path(sha)
                data = await asyncio.to_thread(path.read_bytes) if path else b""
                verdicts[sha] = await photo_check(sha, data)
            done += 1
            if progress:
                await progress("faces", done, len(shas))

        await asyncio.gather(*(look(sha) for sha in shas))
        accepted = [r for r in results if r.status != "rejected"]
        kept = []
        for result, entry in zip(accepted, entries, strict=False):
            reason = verdicts.get(entry.photo_sha256)
            if reason:
                result.status = "rejected"
                result.reasons.append(_PHOTO_FACE.get(reason, ("row_photo_unusable", {"detail_code": reason})))
            else:
                kept.append(entry)
        return kept

    async def _check_staff(
        self, exam_id: str, results: list[RowResult], entries: list[RosterEntry]
    ) -> list[RosterEntry]:
        """A row whose ID number is that of a staff member working on the exam is refused: a staff member is
        never also a candidate of the same exam (server/exams/staff.py; checked again as the rows are written)."""
        async with self.store.pipeline() as pipe:
            staff = await ExamStaff(self.store).staff_numbers(pipe, exam_id)
        if not staff:
            return entries
        names = {a: await self.store.redis.hget(self.store.keys.account(a), "name") or a for a in staff.values()}
        accepted = [r for r in results if r.status != "rejected"]
        kept = []
        for result, entry in zip(accepted, entries, strict=False):
            if entry.id_number in staff:
                result.status = "rejected"
                result.reasons.append(("row_staff_of_exam", {"name": names[staff[entry.id_number]]}))
            else:
                kept.append(entry)
        return kept

    def _check_file(
        self, exam: Exam, subjects: list[Subject], csv_bytes: bytes, photos: PhotoSource
    ) -> tuple[list[RowResult], list[RosterEntry]]:
        _, rows = read_rows(decode(csv_bytes), self.max_rows)
        by_name = {_fold(s.name): s.id for s in subjects}
        seen: dict[str, int] = {}
        results: list[RowResult] = []
        entries: list[RosterEntry] = []
        for line, row in rows:
            result, entry, photo = self._check_row(exam, by_name, seen, line, row, photos)
            results.append(result)
            if entry:
                if photo is not None:
                    entry.photo_sha256 = self.photos.put(photo)
                entries.append(entry)
        return results, entries

    def _check_row(
        self,
        exam: Exam,
        by_name: dict[str, str],
        seen: dict[str, int],
        line: int,
        row: dict[str, str],
        photos: PhotoSource,
    ) -> tuple[RowResult, RosterEntry | None, bytes | None]:
        reasons: list[tuple[str, dict]] = []
        name, raw_id = row["name"], row["id_number"]
        if not name:
            reasons.append(("row_name_missing", {}))
        elif len(name) > MAX_NAME:
            reasons.append(("row_name_too_long", {}))

        id_type = ID_TYPES.get(row.get("id_type", "").lower())
        if id_type is None:
            reasons.append(("row_id_type_unknown", {"value": row["id_type"]}))
        number = idcard.normalize(raw_id)
        if not raw_id:
            reasons.append(("row_id_missing", {}))
        elif id_type:
            try:
                number = idcard.validate_document(raw_id, id_type)
            except UserError as exc:
                reasons.append((exc.code, {}))
            else:
                if number in seen:
                    reasons.append(("row_duplicate", {"line": seen[number]}))
                else:
                    seen[number] = line

        phone = normalize_phone(row.get("phone", ""))
        if phone and not is_mobile(phone):
            reasons.append(("row_phone_invalid", {"value": row["phone"]}))

        subject_ids: list[str] = []
        names = [s.strip() for s in _SUBJECT_SEP.split(row["subject"]) if s.strip()]
        if not names:
            reasons.append(("row_subject_missing", {}))
        for subject_name in names:
            subject_id = by_name.get(_fold(subject_name))
            if subject_id is None:
                reasons.append(("row_subject_unknown", {"subject": subject_name}))
            elif subject_id not in subject_ids:
                subject_ids.append(subject_id)

        claimed = row.get("exam", "")
        if claimed and claimed not in (exam.name, exam.id):
            reasons.append(("row_exam_mismatch", {"exam": claimed}))

        photo = self._check_photo(row.get("photo", ""), number, photos, reasons)

        result = RowResult(line, number or raw_id, name, "rejected" if reasons else "imported", reasons)
        if reasons:
            return result, None, None
        entry = RosterEntry(
            exam_id=exam.id,
            id_number=number,
            name=name,
            phone=phone,
            id_type=id_type or "id_card",
            subjects=subject_ids,
            updated_at=time.time(),
        )
        return result, entry, photo

    def _check_photo(
        self, named: str, number: str, photos: PhotoSource, reasons: list[tuple[str, dict]]
    ) -> bytes | None:
        """The row's photo bytes. A photo is required when the row names one or an archive was given."""
        if not named and (not number or not len(photos)):
            return None
        found = None
        if named:
            found, tried = photos.find(named), named
        else:
            tried = f"{number}.jpg"
            for ext in ("jpg", "jpeg", "png"):
                if found := photos.find(f"{number}.{ext}"):
                    break
        if found is None:
            reasons.append(("row_photo_missing", {"photo": tried}))
            return None
        data = found[1]
        if data is None or len(data) > self.max_photo_bytes:
            reasons.append(("row_photo_too_large", {"limit": human_size(self.max_photo_bytes)}))
        elif check_image(data) is None:
            reasons.append(("row_photo_invalid", {}))
        else:
            return data
        return None

    async def _write(self, actor: Actor, exam_id: str, entries: list[RosterEntry], rejected: int) -> set[str]:
        """Write all entries and their audit in one MULTI; returns the ID numbers that already existed.

        The roster set is WATCHed so "updated" vs "imported" stays right under concurrent imports."""
        keys = self.store.keys
        numbers = [e.id_number for e in entries]
        async with self.store.pipeline() as pipe:
            while True:
                try:
                    await pipe.watch(keys.roster(exam_id))
                    staff = await ExamStaff(self.store).staff_numbers(pipe, exam_id)  # watched too
                    if set(numbers) & set(staff):  # a staff member assigned since the rows were checked
                        raise UserError("roster_staff_conflict")
                    existing = set(numbers) & set(await pipe.smembers(keys.roster(exam_id)))
                    for entry in entries:  # a re-import without photos keeps the photo on file
                        if entry.id_number in existing and not entry.photo_sha256:
                            entry.photo_sha256 = (
                                await pipe.hget(keys.roster_entry(exam_id, entry.id_number), "photo_sha256") or ""
                            )
                    pipe.multi()
                    for entry in entries:
                        updated = entry.id_number in existing
                        self.book.queue_put(pipe, entry)
                        audit.add(
                            pipe,
                            keys,
                            exam_id,
                            "roster_entry_updated" if updated else "roster_entry_imported",
                            actor,
                            subject=entry.id_number,
                            name=entry.name,
                            subjects=entry.subjects,
                        )
                    audit.add(
                        pipe,
                        keys,
                        exam_id,
                        "roster_imported",
                        actor,
                        imported=len(entries) - len(existing),
                        updated=len(existing),
                        rejected=rejected,
                    )
                    await pipe.execute()
                    return existing
                except WatchError:
                    continue
