"""Artwork (作品创作, docs/recorded.md "Artwork"): after a take that filmed the whole creation, the candidate
photographs the finished work within the subject's photo time, and submits the take with its photos.

A photo is taken in by ``add``: the rules are checked first (``take_photo.lua`` in check mode: own take of
an artwork sitting in progress, complete, its photo time running, fewer photos than allowed), then the
image is cleaned in a thread (``photo_clean.py``: JPEG/PNG only, size and pixel limits, metadata gone,
re-encoded), written beside the take's recordings (``recordings/<exam>/<candidate>/<take>/photo-<id>.jpg``,
atomically) and only then listed on the take by the same script in add mode, with its audit entry. A photo
the script refuses then (another upload took the last place, the time ran out, the candidate submitted
meanwhile) is deleted again: nothing is half-stored. ``remove`` takes one off the list while the photo time
runs, and deletes its file.

At the end of a submitted sitting (any form) ``sitting_ended`` writes ``submission.json`` into the take's
folder: the submission as the school archives it (the video files and the photos with sha256, size, width
and height).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..roster.photos import write_atomic
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Sitting, Take, from_hash, is_id, new_id
from .photo_clean import clean_photo

log = logging.getLogger("server.recorded.artwork")

MAX_UPLOADS_PER_TAKE = 50  # photos accepted for one take, removed ones included: retakes, not a flood
CLEANING_AT_ONCE = 2  # images decoded at once per process (each up to ~50 MP in memory)
MAX_WAITING = 16  # uploads waiting for their turn per process; more answer photo_busy
SUBMISSION_FILE = "submission.json"


def photo_file(photo_id: str) -> str:
    return f"photo-{photo_id}.jpg"


class ArtworkPhotos:
    def __init__(self, store: Store, recordings_dir: Path, max_bytes: int, max_pixels: int) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.recordings_dir = Path(recordings_dir)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._cleaning = asyncio.Semaphore(CLEANING_AT_ONCE)
        self._waiting = 0

    def folder(self, take: Take) -> Path:
        """The take's folder (the recorder's layout); ids only, checked, never a path from a request."""
        if not (is_id(take.exam_id) and is_id(take.account_id) and is_id(take.id)):
            raise UserError("take_not_found")
        return self.recordings_dir / take.exam_id / take.account_id / take.id

    async def _take(self, take_id: str) -> Take | None:
        if not is_id(take_id):
            return None
        data = await self.redis.hgetall(self.keys.take(take_id))
        return from_hash(Take, data) if data else None

    async def _script(self, account: Account, take: Take, op: str, arg: str) -> str:
        outcome, found = await self.store.script("take_photo")(
            keys=[self.keys.take(take.id), self.keys.sitting(take.sitting_id), self.keys.audit(take.exam_id)],
            args=[
                f"{time.time():.3f}",
                account.id,
                op,
                arg,
                MAX_UPLOADS_PER_TAKE,
                *audit.base_fields(Actor(account.id, account.role), account.id),
            ],
        )
        if outcome == "err":
            raise await self._refusal(found, take)
        return found

    async def _refusal(self, code: str, take: Take) -> UserError:
        """The script's refusal with what the candidate needs to read it (the limits, the time)."""
        if code in ("photo_too_many", "photo_time_over"):
            sitting = await self.redis.hmget(self.keys.sitting(take.sitting_id), "photos_max", "photo_time_limit_min")
            return UserError(code, max=sitting[0] or "", minutes=sitting[1] or "")
        if code == "photo_uploads_exhausted":
            return UserError(code, limit=MAX_UPLOADS_PER_TAKE)
        return UserError(code)

    async def add(self, account: Account, take_id: str, data: bytes) -> tuple[dict, list[dict]]:
        """Take in one photo of the candidate's own artwork take: (the photo, the take's photos now)."""
        take = await self._take(take_id)
        if take is None or take.account_id != account.id:
            raise UserError("take_not_found")
        await self._script(account, take, "check", "")  # refuse before the work, when it is clear already
        if self._waiting >= MAX_WAITING:
            raise UserError("photo_busy")
        self._waiting += 1
        try:
            async with self._cleaning:
                clean = await asyncio.to_thread(clean_photo, data, self.max_bytes, self.max_pixels)
        except UserError as err:
            log.info("artwork photo refused", extra={"take": take.id, "code": err.code, "bytes_in": len(data)})
            raise
        finally:
            self._waiting -= 1
        photo_id = new_id("photo")
        photo = {
            "id": photo_id,
            "file": photo_file(photo_id),
            "sha256": hashlib.sha256(clean.data).hexdigest(),
            "size": len(clean.data),
            "width": clean.width,
            "height": clean.height,
            "source": clean.source,
            "added_at": round(time.time(), 3),
        }
        path = self.folder(take) / photo_file(photo_id)
        await asyncio.to_thread(write_atomic, path, clean.data)
        try:
            listed = await self._script(account, take, "add", json.dumps(photo))
        except BaseException:
            path.unlink(missing_ok=True)  # refused (or the request died): no file without its listing
            raise
        log.info(
            "artwork photo added",
            extra={"take": take.id, "photo": photo_id, "bytes_in": len(data), "bytes": photo["size"]},
        )
        return photo, json.loads(listed)

    async def remove(self, account: Account, take_id: str, photo_id: str) -> list[dict]:
        """Take one photo off the candidate's own take while its photo time runs; its file is deleted."""
        take = await self._take(take_id)
        if take is None or take.account_id != account.id:
            raise UserError("take_not_found")
        if not is_id(photo_id):
            raise UserError("photo_not_found")
        removed = json.loads(await self._script(account, take, "remove", photo_id))
        (self.folder(take) / photo_file(removed["id"])).unlink(missing_ok=True)
        after = await self._take(take.id)
        return after.photos if after else []

    def path_of(self, take: Take, photo_id: str) -> Path:
        """The file of a photo the take lists; ``photo_not_found`` for anything else."""
        for photo in take.photos:
            if isinstance(photo, dict) and photo.get("id") == photo_id:
                path = self.folder(take) / photo_file(photo_id)
                if path.is_file():
                    return path
        raise UserError("photo_not_found")

    # the end of a sitting
    async def sitting_ended(self, sitting: Sitting) -> None:
        """A submitted sitting (by the candidate or the clock): its take's folder gets ``submission.json``."""
        if sitting.state not in ("submitted", "auto_submitted") or not sitting.submitted_take:
            return
        take = await self._take(sitting.submitted_take)
        if take is None:
            return
        await asyncio.to_thread(write_atomic, self.folder(take) / SUBMISSION_FILE, submission_manifest(sitting, take))


def submission_manifest(sitting: Sitting, take: Take) -> bytes:
    """What was submitted, as a file the school can archive with the take's folder."""
    body: dict[str, Any] = {
        "sitting_id": sitting.id,
        "exam_id": sitting.exam_id,
        "subject_id": sitting.subject_id,
        "account_id": sitting.account_id,
        "mode": sitting.mode,
        "form": sitting.form,
        "state": sitting.state,
        "end_reason": sitting.end_reason or ("candidate" if sitting.state == "submitted" else "deadline"),
        "exam_code": sitting.code,
        "submitted_at": sitting.submitted_at,
        "take": {"id": take.id, "number": take.number, "duration_s": take.duration_s, "sha256": take.sha256},
        "files": take.files,
        "photos": [
            {k: p.get(k) for k in ("file", "sha256", "size", "width", "height", "added_at")}
            for p in take.photos
            if isinstance(p, dict)
        ],
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
