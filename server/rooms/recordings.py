"""The index of recorded interviews in Redis: where each one's files are, whether it is still
being written, and its manifest (tracks, times, sizes, sha256) once it is closed.

Files stay on disk under ``recordings/<exam>/<candidate>/<interview>/``; Redis only points at
them, so a list of an exam's recordings never walks the folder tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import is_id
from .recorder import MANIFEST, recover_manifest

log = logging.getLogger("server.rooms")
LOCK_S = 300  # longer than hashing and demuxing the largest interview takes


class RecordingIndex:
    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.keys = store.keys
        self.root = Path(root)
        # told (the record, its manifest now closed) after a recording cut off by a crash was closed
        # here: a recorded take's media decides whether the take goes on (server/signaling/recorded.py)
        self.on_recovered: list[Callable[[dict], Awaitable[None]]] = []

    def folder(self, exam_id: str, account_id: str, interview_id: str) -> Path:
        return self.root / exam_id / account_id / interview_id

    async def started(self, exam_id: str, room_id: str, account_id: str, interview_id: str, process: str = "") -> Path:
        """Index an interview being recorded by ``process`` (the room's holder). An interview that
        was already recorded (its process died, or stopped, and the candidate came back) is
        resumed: same folder, same start, its earlier files kept (see InterviewRecorder)."""
        earlier = await self.get(interview_id)
        folder = Path(earlier["folder"]) if earlier else self.folder(exam_id, account_id, interview_id)
        now = time.time()
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.recording(interview_id),
                mapping={
                    "interview_id": interview_id,
                    "exam_id": exam_id,
                    "room_id": room_id,
                    "account_id": account_id,
                    "folder": str(folder),
                    "state": "recording",
                    "process": process,
                    "ended_at": "",
                    "manifest": "",
                    **({} if earlier else {"started_at": f"{now:.3f}"}),
                },
            )
            pipe.zadd(self.keys.exam_recordings(exam_id), {interview_id: now}, nx=True)
            pipe.sadd(self.keys.open_recordings(), interview_id)
            audit.add(
                pipe,
                self.keys,
                exam_id,
                "recording_started",
                Actor.system(),
                account_id,
                interview_id=interview_id,
                room_id=room_id,
                folder=str(folder),
                resumed=bool(earlier),
            )
            await pipe.execute()
        return folder

    async def stopped(self, interview_id: str, manifest: dict | None) -> None:
        record = await self.get(interview_id)
        if record is None:
            return
        status = (manifest or {}).get("status") or "stopped"
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.recording(interview_id),
                mapping={
                    "state": status if status in ("failed", "recovered") else "stopped",
                    "ended_at": f"{(manifest or {}).get('ended_at') or time.time():.3f}",
                    "manifest": json.dumps(manifest or {}, ensure_ascii=False),
                },
            )
            pipe.srem(self.keys.open_recordings(), interview_id)
            audit.add(
                pipe,
                self.keys,
                record["exam_id"],
                "recording_stopped",
                Actor.system(),
                record["account_id"],
                interview_id=interview_id,
                status=status,
                tracks=len((manifest or {}).get("tracks", [])),
                bytes=_bytes(manifest),
            )
            await pipe.execute()

    @contextlib.asynccontextmanager
    async def locked(self, interview_id: str, wait_s: float = 0.0):
        """Yields True while this process alone completes or resumes the interview's folder
        (False if another held it for ``wait_s``): recovery and a resuming recorder never
        work on one folder at once."""
        key, token = self.keys.recording_lock(interview_id), secrets.token_hex(8)
        deadline = time.monotonic() + wait_s
        got = await self.store.redis.set(key, token, nx=True, ex=LOCK_S)
        while not got and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            got = await self.store.redis.set(key, token, nx=True, ex=LOCK_S)
        try:
            yield bool(got)
        finally:
            if got:
                await self.store.script("lock_release")(keys=[key], args=[token])

    async def recover(self) -> int:
        """Interviews still marked "recording" whose process no longer holds their room were cut
        off by a crash; their files are playable (docs/rooms.md): close their manifests from
        disk. Every process runs this at start and then periodically; one at a time per
        interview (see :meth:`locked`), and it is idempotent."""
        count = 0
        for interview_id in await self.store.redis.smembers(self.keys.open_recordings()):
            async with self.locked(interview_id) as mine:
                if not mine:
                    continue  # another process is completing or resuming it
                record = await self.get(interview_id)
                if record is None or record["state"] != "recording":
                    await self.store.redis.srem(self.keys.open_recordings(), interview_id)
                    continue
                holder = await self.store.redis.get(self.keys.media_owner(record["room_id"]))
                if holder is not None and holder == record.get("process"):
                    continue  # being recorded by a live process
                folder = Path(record["folder"])
                manifest = (
                    await asyncio.to_thread(recover_manifest, folder)
                    if (folder / MANIFEST).exists()
                    else {"status": "failed", "error": "no manifest", "tracks": []}
                )
                await self.stopped(interview_id, manifest)
                count += 1
                for listener in self.on_recovered:
                    try:
                        await listener({**record, "manifest": manifest})
                    except Exception:  # a listener's failure must not stop the recovery of the others
                        log.exception("recovered-recording listener failed", extra={"interview": interview_id})
        return count

    @staticmethod
    def _record(data: dict) -> dict | None:
        if not data:
            return None
        data["manifest"] = json.loads(data["manifest"]) if data.get("manifest") else None
        for key in ("started_at", "ended_at"):
            data[key] = float(data[key]) if data.get(key) else None
        return data

    async def get(self, interview_id: str) -> dict | None:
        if not is_id(interview_id):
            return None
        return self._record(await self.store.redis.hgetall(self.keys.recording(interview_id)))

    async def get_many(self, interview_ids: list[str]) -> list[dict | None]:
        """``get`` of many interviews in one round trip."""
        pipe = self.store.redis.pipeline(transaction=False)
        for interview_id in interview_ids:
            pipe.hgetall(self.keys.recording(interview_id))
        found = await pipe.execute() if interview_ids else []
        return [self._record(d) if is_id(i) else None for i, d in zip(interview_ids, found, strict=True)]

    async def of_exam(self, exam_id: str) -> list[dict]:
        ids = await self.store.redis.zrevrange(self.keys.exam_recordings(exam_id), 0, -1)
        return [r for r in [await self.get(i) for i in ids] if r]

    def file(self, record: dict, name: str) -> Path | None:
        """A file of the recording, only if the manifest lists it (no path from the request is trusted)."""
        folder = Path(record["folder"])
        manifest = record.get("manifest")
        if manifest is None and (folder / MANIFEST).exists():
            manifest = json.loads((folder / MANIFEST).read_text())
        names = {t.get("file") for t in (manifest or {}).get("tracks", [])}
        if name in names and (folder / name).is_file():
            return folder / name
        return None


def _bytes(manifest: dict | None) -> int:
    return sum(int(t.get("size") or t.get("bytes") or 0) for t in (manifest or {}).get("tracks", []))
