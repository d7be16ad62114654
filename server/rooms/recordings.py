"""The index of recorded interviews in Redis: where each one's files are, whether it is still
being written, and its manifest (tracks, times, sizes, sha256) once it is closed.

Files stay on disk under ``recordings/<exam>/<candidate>/<interview>/``; Redis only points at
them, so a list of an exam's recordings never walks the folder tree.

Several nodes (docs/nodes.md "Recordings"): each node writes into its own ``recordings_dir`` (unless
``recordings_shared``), so one interview may have a *part* on each node that recorded it (the one that
held its room, then the one that took the room over after a crash). Each part's manifest is mirrored
into the record (``part:<node>``) whenever the recorder saves it, every track names its node, and
:meth:`get` shows the parts merged; a file is read where it is (:meth:`locate`): here, or fetched from
its node (``remote``, ``server/nodes/files.py``). A part cut off by a crash is completed by its own node
(its disk) when it runs again (``recordings:open:{node}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import is_id
from .recorder import MANIFEST, SNAPSHOT, recover_manifest

log = logging.getLogger("server.rooms")
LOCK_S = 300  # longer than hashing and demuxing the largest interview takes
PART = "part:"  # record field prefix: one node's part of the interview (its manifest, JSON)
TAKE_FILES = re.compile(r"^(playable|aux-[1-9][0-9]?)\.webm$")  # a take's playback files (rooms/remux.py)


@dataclass(frozen=True)
class Located:
    """Where a file of a recording is: on ``node``; ``path`` when this node reads it itself."""

    node: str
    path: Path | None


async def _always(process: str) -> bool:
    return True


class RecordingIndex:
    def __init__(self, store: Store, root: Path, node_id: str = "", shared: bool = False, process: str = "") -> None:
        self.store = store
        self.keys = store.keys
        self.root = Path(root)
        self.node_id = node_id  # this node (docs/nodes.md): whose parts it writes and completes
        self.shared = shared  # recordings_dir is one folder every node reads
        self.process = process  # this process: a part it is writing is not a crashed one
        # told (the record, its manifest now closed) after a recording cut off by a crash was closed
        # here: a recorded take's media decides whether the take goes on (server/signaling/recorded.py)
        self.on_recovered: list[Callable[[dict], Awaitable[None]]] = []
        self.alive: Callable[[str], Awaitable[bool]] = _always  # is a process a live node (server/wiring.py)
        self.remote: Any = None  # fetches files from other nodes (server/nodes/files.py; server/wiring.py)
        self._mirrors: set[asyncio.Task] = set()

    def folder(self, exam_id: str, account_id: str, interview_id: str) -> Path:
        return self.root / exam_id / account_id / interview_id

    async def started(self, exam_id: str, room_id: str, account_id: str, interview_id: str, process: str = "") -> Path:
        """Index an interview being recorded by ``process`` (the room's holder). An interview that
        was already recorded (its process died, or stopped, and the candidate came back) is
        resumed: same folder, same start, its earlier files kept (see InterviewRecorder)."""
        earlier = await self.get(interview_id)
        if earlier is None:
            folder = self.folder(exam_id, account_id, interview_id)
        else:
            folder = self.local_folder(earlier)
        folders = dict(earlier["folders"]) if earlier else {}
        folders.setdefault(self.node_id, str(folder))
        now = time.time()
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.recording(interview_id),
                mapping={
                    "interview_id": interview_id,
                    "exam_id": exam_id,
                    "room_id": room_id,
                    "account_id": account_id,
                    "folder": earlier["folder"] if earlier else str(folder),
                    "folders": json.dumps(folders),
                    "node": self.node_id,
                    "state": "recording",
                    "process": process,
                    "ended_at": "",
                    "manifest": "",
                    **({} if earlier else {"started_at": f"{now:.3f}"}),
                },
            )
            pipe.zadd(self.keys.exam_recordings(exam_id), {interview_id: now}, nx=True)
            pipe.sadd(self.keys.open_recordings(), interview_id)
            pipe.sadd(self.keys.open_parts(self.node_id), interview_id)
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

    async def stopped(self, interview_id: str, manifest: dict | None, node: str | None = None) -> None:
        """The interview's recording is over (``manifest``: the last part's, written by ``node``,
        this one by default)."""
        record = await self.get(interview_id)
        if record is None:
            return
        node = self.node_id if node is None else node
        status = (manifest or {}).get("status") or "stopped"
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.recording(interview_id),
                mapping={
                    "state": status if status in ("failed", "recovered") else "stopped",
                    "ended_at": f"{(manifest or {}).get('ended_at') or time.time():.3f}",
                    "manifest": json.dumps(manifest or {}, ensure_ascii=False),
                    PART + node: self._part(manifest, record.get("process") or "", node),
                },
            )
            pipe.srem(self.keys.open_recordings(), interview_id)
            pipe.srem(self.keys.open_parts(node), interview_id)
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
        interview (see :meth:`locked`), and it is idempotent. With separate recordings folders a
        part is completed only by the node that wrote it (its disk): another node's part waits for
        that node to run again."""
        count = 0
        ids = await self.store.redis.smembers(self.keys.open_recordings())
        ids |= await self.store.redis.smembers(self.keys.open_parts(self.node_id))
        for interview_id in sorted(ids):
            async with self.locked(interview_id) as mine:
                if not mine:
                    continue  # another process is completing or resuming it
                record = await self.get(interview_id)
                if record is None:
                    await self._forget_open(interview_id)
                    continue
                count += await self._recover_one(record)
        return count

    async def _recover_one(self, record: dict) -> int:
        interview_id = record["interview_id"]
        writing = record["state"] == "recording"
        if writing:
            holder = await self.store.redis.get(self.keys.media_owner(record["room_id"]))
            # being recorded by a live process, or cut off by a crash
            writing = holder is not None and holder == record.get("process") and await self.alive(holder)
            # the whole record is closed here when its files are readable here (else their node does it)
            if not writing and (self.shared or record.get("node") in ("", self.node_id)):
                manifest = await self._recovered(self.local_folder(record))
                await self.stopped(interview_id, manifest, record.get("node") or self.node_id)
                for listener in self.on_recovered:
                    try:
                        await listener({**record, "manifest": manifest})
                    except Exception:  # a listener's failure must not stop the recovery of the others
                        log.exception("recovered-recording listener failed", extra={"interview": interview_id})
                return 1
        else:
            await self.store.redis.srem(self.keys.open_recordings(), interview_id)
        # this node's own part, written by a process of this node that died (the interview went on elsewhere)
        part = record["parts"].get(self.node_id)
        if part is None or not await self.store.redis.sismember(self.keys.open_parts(self.node_id), interview_id):
            return 0
        if part.get("process") == self.process or (writing and record.get("process") == part.get("process")):
            return 0  # being written here now, or by the live writer of the record
        manifest = await self._recovered(self.local_folder(record))
        await self.part_closed(interview_id, manifest, part.get("process") or "")
        log.info("recording part completed after a crash", extra={"interview": interview_id, "node": self.node_id})
        return 1

    async def _recovered(self, folder: Path) -> dict:
        if (folder / MANIFEST).exists():
            return await asyncio.to_thread(recover_manifest, folder)
        return {"status": "failed", "error": "no manifest", "tracks": []}

    async def _forget_open(self, interview_id: str) -> None:
        async with self.store.pipeline() as pipe:
            pipe.srem(self.keys.open_recordings(), interview_id)
            pipe.srem(self.keys.open_parts(self.node_id), interview_id)
            await pipe.execute()

    # --- one node's part of an interview -------------------------------------------------------
    def _part(self, manifest: dict | None, process: str, node: str | None = None) -> str:
        node = self.node_id if node is None else node
        return json.dumps({**(manifest or {}), "node": node, "process": process}, ensure_ascii=False)

    def mirror(self, interview_id: str) -> Callable[[dict], None]:
        """A recorder's ``on_saved``: each save of its manifest (event loop or a worker thread) is
        written to the record as this node's part, so the other nodes know its files at once."""
        loop = asyncio.get_running_loop()

        def saved(manifest: dict) -> None:
            loop.call_soon_threadsafe(lambda: self._spawn(self.part_saved(interview_id, manifest)))

        return saved

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    async def part_saved(self, interview_id: str, manifest: dict) -> None:
        try:
            await self.store.redis.hset(
                self.keys.recording(interview_id), PART + self.node_id, self._part(manifest, self.process)
            )
        except Exception as exc:  # the next save writes it again; the folder's manifest is the truth
            log.warning("recording part not mirrored", extra={"interview": interview_id, "error": str(exc)})

    async def part_closed(self, interview_id: str, manifest: dict | None, process: str | None = None) -> None:
        """This node's part is complete (its room given up, or completed after a crash); the record's
        state is the writer's business."""
        async with self.store.pipeline() as pipe:
            pipe.hset(
                self.keys.recording(interview_id),
                PART + self.node_id,
                self._part(manifest, self.process if process is None else process),
            )
            pipe.srem(self.keys.open_parts(self.node_id), interview_id)
            await pipe.execute()

    async def elsewhere(self, interview_id: str) -> dict:
        """What other nodes recorded of the interview in their own folders: its start and their file
        names (a part resumed here keeps the interview's clock and never reuses a name)."""
        record = await self.get(interview_id)
        if record is None:
            return {}
        files = {
            t.get("file")
            for node, part in record["parts"].items()
            if node != self.node_id and not self.shared
            for t in part.get("tracks", [])
        }
        return {"started_at": record.get("started_at"), "files": sorted(f for f in files if f)}

    def local_folder(self, record: dict) -> Path:
        """The interview's folder as this node writes and reads it: the shared one, or this node's own."""
        if self.shared:
            return Path(record["folder"])
        mine = record.get("folders", {}).get(self.node_id)
        if mine:
            return Path(mine)
        if record.get("node") in ("", None) and not record.get("folders"):
            return Path(record["folder"])  # written before nodes were recorded: this node's
        return self.folder(record["exam_id"], record["account_id"], record["interview_id"])

    async def files_made(self, interview_id: str) -> None:
        """A take's playback files were written here (``rooms.remux``): they are read from this node."""
        await self.store.redis.hset(self.keys.recording(interview_id), "files_node", self.node_id)

    # --- reading ---------------------------------------------------------------------------------
    @staticmethod
    def _record(data: dict) -> dict | None:
        """A recording's hash as read: its nodes' parts, the manifest merged from them, its folders."""
        if not data:
            return None
        parts: dict[str, dict] = {}
        for key in [k for k in data if k.startswith(PART)]:
            try:
                parts[key[len(PART) :]] = json.loads(data.pop(key))
            except ValueError:
                continue
        data["parts"] = parts
        closed = json.loads(data["manifest"]) if data.get("manifest") else None
        data["manifest"] = merged(closed, parts, data.get("node") or "")
        try:
            data["folders"] = json.loads(data.get("folders") or "{}")
        except ValueError:
            data["folders"] = {}
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

    def _manifest(self, record: dict) -> dict:
        manifest = record.get("manifest")
        if manifest is None:
            folder = self.local_folder(record)
            if (folder / MANIFEST).exists():
                manifest = json.loads((folder / MANIFEST).read_text())
        return manifest or {}

    def _track(self, record: dict, name: str) -> dict | None:
        return next((t for t in self._manifest(record).get("tracks", []) if t.get("file") == name), None)

    def flags(self, record: dict) -> list[dict]:
        """The interview's timeline of flags (``recorder.add_flag``), from its manifest."""
        return [f for f in self._manifest(record).get("flags") or [] if isinstance(f, dict)]

    def locate(self, record: dict, name: str) -> Located | None:
        """Where a file of the recording is: a track its manifest lists, or a take's playback file. None
        for anything else (no path from the request is trusted)."""
        if TAKE_FILES.match(name):
            node = record.get("files_node") or record.get("node") or ""
        elif SNAPSHOT.match(name):  # a flag's snapshot, written by the node holding the room then
            if not any(f.get("snapshot") == name for f in self.flags(record)):
                return None
            node = record.get("node") or ""
        else:
            track = self._track(record, name)
            if track is None:
                return None
            node = track.get("node") or record.get("node") or ""
        if self.shared or node in ("", self.node_id):
            path = self.local_folder(record) / name
            return Located(node or self.node_id, path if path.is_file() else None)
        return Located(node, None)

    async def local_copy(self, record: dict, name: str) -> Path:
        """The file as a path on this node: its own, or a copy fetched from the node that wrote it into
        this node's folder of the interview (a take's playback file read by the identity check).
        Raises ``UserError`` ``recording_node_offline`` when that node does not answer."""
        found = self.locate(record, name)
        dest = self.local_folder(record) / name
        if found is None or found.path is not None:
            return found.path if found is not None and found.path is not None else dest
        if not dest.is_file() and self.remote is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            await self.remote.download(found.node, record["interview_id"], name, dest)
        return dest

    async def gather(self, interview_id: str, folder: Path, manifest: dict | None) -> Path:
        """Before a take's playback files are made here: its tracks written on other nodes (a booth that
        moved after a crash) are copied into ``folder``; a node that does not answer leaves its tracks
        out (logged)."""
        if self.shared or self.remote is None:
            return folder
        for track in (manifest or {}).get("tracks", []):
            node, name = track.get("node"), track.get("file")
            if not node or node == self.node_id or not name or (folder / name).is_file():
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                await self.remote.download(node, interview_id, name, folder / name)
            except Exception as exc:
                log.warning(
                    "track of another node not fetched",
                    extra={"interview": interview_id, "node": node, "error": str(exc)},
                )
        return folder

    def file(self, record: dict, name: str) -> Path | None:
        """A file of the recording that this node reads itself, only if the manifest lists it."""
        found = self.locate(record, name)
        return found.path if found is not None else None


def merged(closed: dict | None, parts: dict[str, dict], current: str) -> dict | None:
    """The interview's manifest over every node's part: the tracks of all parts (each naming its node;
    a file listed twice, e.g. a shared folder's earlier tracks, once: the most complete entry, else the
    current writer's), with the status and times of the closed manifest, else of the current writer's
    part."""
    if not parts:
        return closed

    def first_start(item: tuple[str, dict]) -> float:
        return min((t.get("started_at") or 0 for t in item[1].get("tracks", [])), default=0)

    tracks: dict[str, dict] = {}  # in the order of the parts (the earliest first), each part in its own order
    for node, part in sorted(parts.items(), key=first_start):
        for track in part.get("tracks", []):
            name = track.get("file")
            if not name:
                continue
            entry = {**track, "node": track.get("node") or node}
            known = tracks.get(name)
            if known is None or (entry.get("sha256") and not known.get("sha256")):
                tracks[name] = entry
            elif bool(entry.get("sha256")) == bool(known.get("sha256")) and node == current:
                tracks[name] = entry
    base = closed if closed is not None else parts.get(current) or next(iter(parts.values()))
    out = {k: v for k, v in base.items() if k not in ("tracks", "node", "process")}
    out["tracks"] = list(tracks.values())
    return out


def _bytes(manifest: dict | None) -> int:
    return sum(int(t.get("size") or t.get("bytes") or 0) for t in (manifest or {}).get("tracks", []))
