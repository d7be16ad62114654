"""Takes filmed offline and uploaded (docs/recorded.md "Upload takes"), the fallback 004_* recommends
to nervous candidates: film with the phone's own camera, then upload the file.

An upload take is a take like any other (``Sittings.start_take`` with an ``Upload``: it counts against
the takes allowed, one take runs at a time, the same face check), in state ``uploading`` while its
bytes come in chunks, ``processing`` while it is probed and made playable (``upload_media.py``, in a
thread), then ``complete`` with its playback file and sha256 (``take_playable`` / ``take_ended``, as a
streamed take: watch-back, submit, the deadline's auto-submit and the identity check apply unchanged),
or ``failed`` with the reason in ``take.upload`` (refused, cancelled, abandoned, past the deadline).

The bytes: one writer at a time (``uploadlock:{take}``, a token with a time to live), written to
``upload.part`` in the take's folder from the confirmed offset (anything past it, left by a writer
that died, is cut off first), 1 MiB at a time, the confirmed offset moved in Redis after each write
(``upload_progress.lua``: a resume after a network switch or a server restart starts there). Nothing
is ever held whole in memory. A file shorter than the offset (a machine crash lost the page cache) puts
the offset back to the file's length at the next HEAD. The HTTP protocol (tus 1.0) is ``http/uploads_api.py``.

The sweep (every ``SWEEP_S`` in every process, ``uploads:due``): an upload without bytes for
``upload_abandon_s``, or whose sitting is over, is failed and its files and lock deleted; a
``processing`` take whose process died (its lease lapsed) is taken up by another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..exams.catalog import Catalog
from ..i18n import human_size
from ..rooms.recordings import RecordingIndex
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Sitting, Take, is_id
from ..tasks import every
from . import upload_media
from .sittings import Sittings, Upload
from .take_files import main_name

log = logging.getLogger("server.recorded")

MB = 1024 * 1024
FLUSH_BYTES = 1 * MB  # received bytes written (and the offset confirmed) this many at a time
LOCK_TTL_S = 60.0  # a writer or a processing that died frees its upload after this
SWEEP_S = 5.0
SWEEP_BATCH = 50
PART = "upload.part"
EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".webm": "webm"}
TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-m4v": "mp4"}
NAME_MAX = 120
CONTROL = re.compile(r"[\x00-\x1f\x7f/\\]")

Listener = Callable[[Take, dict], Awaitable[None]]


class ChunkCut(Exception):
    """Raised by a chunk's byte source when its connection broke or went silent: the bytes that came
    are kept, and the chunk ends there (the client resumes from the confirmed offset)."""


def clean_name(name: str) -> str:
    """The file's name as the phone gave it, fit to store and show back (no path, no control characters)."""
    name = CONTROL.sub("_", (name or "").strip())[-NAME_MAX:]
    return name or "video"


def file_kind(name: str, filetype: str) -> str | None:
    """mp4, mov or webm from the name's extension or the browser's type; None for anything else."""
    return EXTENSIONS.get(Path(name).suffix.lower()) or TYPES.get((filetype or "").split(";")[0].strip().lower())


class Uploads:
    """``on_progress`` hears a processing take's stage and share done (about every second);
    ``on_finished`` every upload take that ended: complete (``{"state": "complete", "files"}``) or
    failed (``{"state": "failed", "reason", "params"}``). The signalling side tells the page."""

    def __init__(
        self,
        store: Store,
        sittings: Sittings,
        catalog: Catalog,
        recordings: RecordingIndex,
        abandon_s: float = 1800,
        chunk_max_bytes: int = 16 * MB,
        processing_max_s: float = 1800,
        encode_threads: int = 2,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.sittings = sittings
        self.catalog = catalog
        self.recordings = recordings
        self.abandon_s = abandon_s
        self.chunk_max_bytes = chunk_max_bytes
        self.processing_max_s = processing_max_s
        self.encode_threads = encode_threads
        self.on_progress: list[Listener] = []
        self.on_finished: list[Listener] = []
        self._encoding = asyncio.Semaphore(1)  # one re-encode at a time in a process (a copy needs none)
        self._tasks: set[asyncio.Task] = set()

    # --- reading ----------------------------------------------------------------------------------
    def folder(self, take: Take) -> Path:
        return self.recordings.folder(take.exam_id, take.account_id, take.id)

    async def take_of(self, account: Account, take_id: str) -> Take:
        """The candidate's own upload take; another's, a streamed take or a forged id: ``upload_not_found``."""
        take = await self.sittings.find_take(take_id) if is_id(take_id) else None
        if take is None or take.account_id != account.id or take.source != "upload":
            raise UserError("upload_not_found")
        return take

    # --- creation (tus POST) ----------------------------------------------------------------------
    async def create(
        self, account: Account, sitting_id: str, device: str, length: int, name: str, filetype: str
    ) -> Take:
        """Start an upload take of ``length`` bytes: refused before anything is stored when the subject
        takes no uploads, the file is not mp4/mov/webm or is over the subject's size; then the rules of
        any take (``take_start.lua``)."""
        sitting = await self.sittings.sitting_of(account, sitting_id)
        subject = await self.catalog.subject(sitting.exam_id, sitting.subject_id)
        if not subject.uploads_allowed:
            raise UserError("upload_not_allowed")
        name = clean_name(name)
        if file_kind(name, filetype) is None:
            raise UserError("upload_format", format=Path(name).suffix.lstrip(".") or filetype or "?")
        limit = subject.upload_max_mb * MB
        if length > limit:
            raise UserError("upload_too_large", size=human_size(length), limit=human_size(limit))
        if length <= 0:
            raise UserError("upload_empty")
        take = await self.sittings.start_take(
            account, sitting.id, device, "", "", upload=Upload(length, name, self.abandon_s)
        )
        log.info(
            "upload take started",
            extra={"take": take.id, "sitting": sitting.id, "bytes": length, "limit_bytes": limit},
        )
        return take

    # --- the offset (tus HEAD) --------------------------------------------------------------------
    async def offset(self, account: Account, take_id: str) -> Take:
        """The take with the offset a resume starts from. While uploading, a file shorter than the
        confirmed offset (a machine crash lost what was not on disk) puts the offset back to it."""
        take = await self.take_of(account, take_id)
        if take.state == "failed":
            raise UserError("upload_over")
        if take.state != "uploading":
            take.upload_offset = take.upload_length  # all in: processing or complete
            return take
        on_disk = await asyncio.to_thread(_size, self.folder(take) / PART)
        if on_disk < take.upload_offset:
            log.warning(
                "upload file shorter than its confirmed offset: resuming from the file",
                extra={"take": take.id, "offset": take.upload_offset, "on_disk": on_disk},
            )
            token = await self._lock(take.id)
            if token:
                try:
                    await self._confirm(take, token, on_disk)
                    take.upload_offset = on_disk
                finally:
                    await self._unlock(take.id, token)
        return take

    # --- bytes (tus PATCH) ------------------------------------------------------------------------
    async def write(
        self, account: Account, take_id: str, offset: int, chunks: AsyncIterator[bytes], declared: int | None
    ) -> int:
        """Store the bytes of one chunk at ``offset`` (which must be the confirmed offset); returns the
        new offset. Refused with nothing written: another's or a forged upload, an upload no longer
        receiving, a sitting over or past its deadline, a chunk larger than the limit or past the
        declared length, a wrong offset, another writer at work. A chunk whose connection breaks keeps
        the bytes that arrived (the client resumes from there)."""
        take = await self.take_of(account, take_id)
        await self._receiving(take)
        if declared is not None and declared > self.chunk_max_bytes:
            raise UserError("upload_chunk_too_large", limit=human_size(self.chunk_max_bytes))
        if declared is not None and offset + declared > take.upload_length:
            raise UserError("upload_exceeds_length", length=take.upload_length)
        token = await self._lock(take.id)
        if token is None:
            raise UserError("upload_busy")
        try:
            take = await self.take_of(account, take_id)  # as it is now that this writer holds the lock
            await self._receiving(take)
            if offset != take.upload_offset:
                raise UserError("upload_offset_mismatch", offset=take.upload_offset)
            new_offset, received = await self._receive(take, token, offset, chunks)
        finally:
            await self._unlock(take.id, token)
        if received:  # the file is whole: made playable here, now that the lock is free for it
            self._spawn(self.process(take.id))
        return new_offset

    async def _receiving(self, take: Take) -> None:
        if take.state != "uploading":
            raise UserError("upload_over")
        sitting = await self.sittings.find_sitting(take.sitting_id)
        if sitting is None or not sitting.in_progress or (sitting.deadline and time.time() >= sitting.deadline):
            raise UserError("upload_sitting_over")

    async def _receive(self, take: Take, token: str, offset: int, chunks: AsyncIterator[bytes]) -> tuple[int, bool]:
        """Write the chunk's bytes from ``offset``: (the confirmed offset after it, whether the file is
        whole). A connection that breaks (``ChunkCut``, or the request cancelled) keeps what came."""
        path = self.folder(take) / PART
        on_disk = await asyncio.to_thread(_size, path)
        if on_disk < offset:  # a machine crash lost bytes that were confirmed: resume from the file
            await self._confirm(take, token, on_disk)
            raise UserError("upload_offset_mismatch", offset=on_disk)
        fh = await asyncio.to_thread(_open_at, path, offset)
        buffer = bytearray()
        at = offset  # bytes before this are written
        outcome = "ok"
        try:
            try:
                async for data in chunks:
                    total = at - offset + len(buffer) + len(data)
                    if total > self.chunk_max_bytes or offset + total > take.upload_length:
                        # a chunk without a declared length turned out too large: none of it is kept
                        await asyncio.to_thread(_cut, fh, offset)
                        await self._confirm(take, token, offset)
                        if total > self.chunk_max_bytes:
                            raise UserError("upload_chunk_too_large", limit=human_size(self.chunk_max_bytes))
                        raise UserError("upload_exceeds_length", length=take.upload_length)
                    buffer += data
                    if len(buffer) >= FLUSH_BYTES:
                        at, outcome = await self._store(fh, buffer, take, token, at, sync=False)
                        if outcome not in ("ok", "received"):
                            break
            except ChunkCut as cut:
                log.info(
                    "upload chunk cut off, its bytes kept",
                    extra={"take": take.id, "offset": at + len(buffer), "why": str(cut)},
                )
            except UserError:
                raise
            except BaseException:  # the request was cancelled: what came is kept all the same
                await asyncio.shield(self._store(fh, buffer, take, token, at, sync=True))
                raise
            if outcome in ("ok", "received"):
                at, outcome = await self._store(fh, buffer, take, token, at, sync=True)
        finally:
            await asyncio.to_thread(fh.close)
        if outcome not in ("ok", "received"):
            raise UserError(outcome)
        return at, outcome == "received"

    async def _store(self, fh: Any, buffer: bytearray, take: Take, token: str, at: int, sync: bool) -> tuple[int, str]:
        """Write ``buffer`` at ``at`` (on disk too with ``sync``), then confirm the new offset."""
        data = bytes(buffer)
        buffer.clear()
        await asyncio.to_thread(_write, fh, data, sync)
        at += len(data)
        return at, await self._confirm(take, token, at)

    async def _confirm(self, take: Take, token: str, offset: int) -> str:
        k = self.keys
        result = await self.store.script("upload_progress")(
            keys=[
                k.take(take.id),
                k.upload_lock(take.id),
                k.sitting(take.sitting_id),
                k.uploads_due(),
                k.audit(take.exam_id),
            ],
            args=[
                f"{time.time():.3f}",
                token,
                offset,
                int(LOCK_TTL_S * 1000),
                self.abandon_s,
                self.processing_max_s,
                LOCK_TTL_S,
                *audit.base_fields(Actor(take.account_id, "candidate"), take.account_id),
            ],
        )
        return str(result)

    # --- termination (tus DELETE) -----------------------------------------------------------------
    async def cancel(self, account: Account, take_id: str) -> Take:
        """The candidate gives up an upload: the take fails (it does not count) and its bytes are deleted.
        An upload that is whole (being made playable, or done) cannot be cancelled."""
        take = await self.take_of(account, take_id)
        if take.state != "uploading":
            raise UserError("upload_over")
        token = await self._lock(take.id)
        if token is None:
            raise UserError("upload_busy")
        try:
            take = await self.take_of(account, take_id)
            if take.state != "uploading":
                raise UserError("upload_over")
            return await self._fail(take, "upload_cancelled", actor=Actor(account.id, account.role))
        finally:
            await self._unlock(take.id, token)

    # --- processing -------------------------------------------------------------------------------
    async def process(self, take_id: str) -> None:
        """Probe the whole file and make it playable (a copy, or a re-encode: one at a time), then the
        take is complete; refused files fail with the reason. One process at a time per take (a lease
        refreshed while it works); a process that died leaves it to the sweep of another."""
        token = await self._lock(take_id)
        if token is None:
            return
        lease = asyncio.create_task(self._hold(take_id, token))
        try:
            take = await self.sittings.find_take(take_id)
            if take is None or take.source != "upload" or take.state != "processing":
                return
            try:
                await self._make_playable(take)
            except upload_media.Refused as refused:
                log.info("upload refused", extra={"take": take.id, "reason": refused.code, **refused.params})
                await self._fail(take, refused.code, refused.params)
            except Exception:
                log.exception("making an upload playable failed", extra={"take": take.id})
                await self._fail(take, "upload_processing_failed")
        finally:
            lease.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease
            await self._unlock(take_id, token)

    async def _make_playable(self, take: Take) -> None:
        folder = self.folder(take)
        if take.playable_at and main_name(take.files):  # written before a crash: only the end is left
            await self._complete(take, take.files, float(take.duration_s))
            return
        sitting = await self.sittings.find_sitting(take.sitting_id)
        max_s = float(sitting.take_max_s if sitting else 3600)
        original = folder / f"original.{file_kind(take.upload_name, '') or 'mp4'}"
        if await asyncio.to_thread((folder / PART).is_file):  # else renamed by a process that died since
            await asyncio.to_thread(os.replace, folder / PART, original)
        await self._tell(take, "checking", 0.0)
        figures = await asyncio.to_thread(upload_media.probe, original, max_s)
        plan = upload_media.plan_for(figures)
        await self._record_figures(take, figures, plan)
        progress: dict[str, Any] = {"stage": "copying", "fraction": 0.0}

        def tell(stage: str, fraction: float) -> None:  # from the worker thread: read by the loop below
            progress.update(stage=stage, fraction=fraction)

        encoding = plan.video == "encode" or plan.audio == "encode"
        async with self._encoding if encoding else contextlib.nullcontext():
            work = asyncio.create_task(
                asyncio.to_thread(upload_media.make_playable, original, folder, figures, tell, self.encode_threads)
            )
            while not work.done():
                await self._tell(take, str(progress["stage"]), float(progress["fraction"]))
                await asyncio.wait({work}, timeout=1.0)
            files = work.result()
        if plan.video == "copy" and plan.audio != "encode":
            await asyncio.to_thread(original.unlink)  # the playable file holds the same packets
        else:  # re-encoded: the candidate's own file is kept beside it
            files[original.name] = {"kind": "original", "size": figures.size, "sha256": figures.sha256}
        await self._complete(take, files, figures.duration_s)

    async def _record_figures(self, take: Take, figures: upload_media.Probe, plan: upload_media.Plan) -> None:
        upload = {
            **figures.to_json(),
            "name": take.upload_name,
            "video": "copied" if plan.video == "copy" else "encoded",
            "audio": {"copy": "copied", "encode": "encoded"}.get(plan.audio, "none"),
        }
        take.upload = upload
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.take(take.id),
                mapping={"upload": json.dumps(upload, ensure_ascii=False), "orientation": upload["orientation"]},
            )
            audit.add(
                pipe,
                self.keys,
                take.exam_id,
                "take_upload_checked",
                Actor.system(),
                take.account_id,
                take_id=take.id,
                sitting_id=take.sitting_id,
                container=figures.container,
                video_codec=figures.video_codec,
                audio_codec=figures.audio_codec,
                duration_s=figures.duration_s,
                width=figures.width,
                height=figures.height,
                fps=figures.fps,
                sha256=figures.sha256,
                video=upload["video"],
                audio=upload["audio"],
            )
            await pipe.execute()

    async def _complete(self, take: Take, files: dict, duration_s: float) -> None:
        await self.sittings.take_playable(take.id, files)
        ended = await self.sittings.take_ended(take.id, "complete", duration_s)
        log.info("upload take complete", extra={"take": take.id, "duration_s": duration_s, "files": len(files)})
        await self._finished(ended, {"state": "complete", "files": files})

    async def _fail(self, take: Take, reason: str, params: dict | None = None, actor: Actor | None = None) -> Take:
        """The take fails with ``reason`` (it does not count); its files and lock go, nothing half-stored."""
        params = params or {}
        upload = {**take.upload, "error": reason, "params": params, "name": take.upload_name}
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.take(take.id), "upload", json.dumps(upload, ensure_ascii=False))
            pipe.zrem(self.keys.uploads_due(), take.id)
            audit.add(
                pipe,
                self.keys,
                take.exam_id,
                "take_upload_failed",
                actor or Actor.system(),
                take.account_id,
                take_id=take.id,
                sitting_id=take.sitting_id,
                reason=reason,
                bytes=take.upload_offset,
            )
            await pipe.execute()
        ended = await self.sittings.take_ended(take.id, "failed", 0.0)
        await asyncio.to_thread(shutil.rmtree, self.folder(take), True)
        log.info("upload take failed", extra={"take": take.id, "reason": reason, "bytes": take.upload_offset})
        await self._finished(ended, {"state": "failed", "reason": reason, "params": params})
        return ended

    async def _tell(self, take: Take, stage: str, fraction: float) -> None:
        body = {"stage": stage, "percent": round(100 * max(0.0, min(1.0, fraction)))}
        await self._notify(self.on_progress, take, body)

    async def _finished(self, take: Take, body: dict) -> None:
        await self._notify(self.on_finished, take, body)

    async def _notify(self, listeners: list[Listener], take: Take, body: dict) -> None:
        for listener in listeners:
            try:
                await listener(take, body)
            except Exception:
                log.exception("an upload listener failed", extra={"take": take.id})

    # --- the sweep --------------------------------------------------------------------------------
    async def sweep(self, now: float | None = None) -> int:
        """Abandoned uploads failed (no bytes for ``abandon_s``, or their sitting over), a dead process's
        processing taken up; returns how many were looked at."""
        now = time.time() if now is None else now
        k = self.keys
        due = await self.redis.zrangebyscore(k.uploads_due(), "-inf", now, start=0, num=SWEEP_BATCH)
        for take_id in due:
            take = await self.sittings.find_take(take_id)
            if take is None or take.state not in ("uploading", "processing"):
                await self.redis.zrem(k.uploads_due(), take_id)
                continue
            if take.state == "processing":
                await self._sweep_processing(take, now)
            else:
                await self._sweep_uploading(take, now)
        return len(due)

    async def _sweep_uploading(self, take: Take, now: float) -> None:
        sitting = await self.sittings.find_sitting(take.sitting_id)
        over = sitting is None or not sitting.in_progress or bool(sitting.deadline and now >= sitting.deadline)
        idle_until = take.upload_touched_at + self.abandon_s
        if not over and now < idle_until:
            await self.redis.zadd(self.keys.uploads_due(), {take.id: idle_until})
            return
        token = await self._lock(take.id)
        if token is None:  # a writer is at work: it moves the time itself
            await self.redis.zadd(self.keys.uploads_due(), {take.id: now + LOCK_TTL_S})
            return
        try:
            take = await self.sittings.find_take(take.id) or take
            if take.state == "uploading":
                await self._fail(take, "upload_sitting_over" if over else "upload_abandoned")
        finally:
            await self._unlock(take.id, token)

    async def _sweep_processing(self, take: Take, now: float) -> None:
        if await self.redis.exists(self.keys.upload_lock(take.id)):
            await self.redis.zadd(self.keys.uploads_due(), {take.id: now + LOCK_TTL_S})
            return
        if take.stop_at and now >= take.stop_at:
            token = await self._lock(take.id)
            if token is not None:
                try:
                    await self._fail(take, "upload_processing_failed")
                finally:
                    await self._unlock(take.id, token)
            return
        log.info("upload processing taken up (its process is gone)", extra={"take": take.id})
        await self.redis.zadd(self.keys.uploads_due(), {take.id: now + LOCK_TTL_S})
        self._spawn(self.process(take.id))

    async def sitting_ended(self, sitting: Sitting) -> None:
        """``Sittings.on_ended``: an upload still coming in when its sitting ended (the deadline) fails now."""
        if not sitting.running:
            return
        take = await self.sittings.find_take(sitting.running)
        if take is None or take.source != "upload" or take.state != "uploading":
            return
        token = await self._lock(take.id)
        if token is None:
            return  # its writer finds the sitting over; the sweep ends it
        try:
            take = await self.sittings.find_take(take.id) or take
            if take.state == "uploading":
                await self._fail(take, "upload_sitting_over")
        finally:
            await self._unlock(take.id, token)

    async def run(self) -> None:
        await every(SWEEP_S, self.sweep, "upload sweep", log)

    # --- the lock -------------------------------------------------------------------------------
    async def _lock(self, take_id: str) -> str | None:
        token = secrets.token_hex(8)
        got = await self.redis.set(self.keys.upload_lock(take_id), token, nx=True, px=int(LOCK_TTL_S * 1000))
        return token if got else None

    async def _unlock(self, take_id: str, token: str) -> None:
        await self.store.script("lock_release")(keys=[self.keys.upload_lock(take_id)], args=[token])

    async def _hold(self, take_id: str, token: str) -> None:
        """Keep a processing's lease while it works (and the sweep off it)."""
        while True:
            await asyncio.sleep(LOCK_TTL_S / 3)
            await self.store.script("claim_refresh")(
                keys=[self.keys.upload_lock(take_id)], args=[token, int(LOCK_TTL_S)]
            )
            await self.redis.zadd(self.keys.uploads_due(), {take_id: time.time() + LOCK_TTL_S})

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for the processing started here (tests, a stopping process)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _open_at(path: Path, offset: int) -> Any:
    """The upload's file opened for writing at ``offset``, anything after it cut off (bytes a writer
    wrote but never confirmed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o640), "wb", closefd=True)
    fh.truncate(offset)
    fh.seek(offset)
    return fh


def _write(fh: Any, data: bytes, sync: bool) -> None:
    fh.write(data)
    if sync:
        fh.flush()
        os.fsync(fh.fileno())


def _cut(fh: Any, offset: int) -> None:
    fh.flush()
    fh.truncate(offset)
    fh.seek(offset)
