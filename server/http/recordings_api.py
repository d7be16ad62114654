"""Recordings and the audit export for the school's admin: the list of an exam's recorded interviews
(from the Redis index, never a walk of the folder tree), each file streamed with Range support so a
browser's <video> can seek, and the exam's audit stream as a CSV file that Excel opens (UTF-8 + BOM)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from ..errors import UserError
from ..rooms.recorder import MANIFEST
from .context import SERVICES, SETTINGS
from .csvout import safe
from .recording_files import send
from .routing import Routes
from .streaming import stream

routes = Routes()
ADMIN = ("admin",)
FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,160}\.webm$")
SEGMENT = re.compile(r"-(\d+)\.webm$")  # <participant>-<kind>-<n>.webm: the n-th file of that track (a reconnect)
CSV_COLUMNS = ("id", "time", "event", "actor", "actor_role", "subject", "details")


def _manifest(record: dict) -> dict:
    """The manifest from Redis (every node's part of the interview, docs/nodes.md), else the one being
    written in the folder (still recording, before its first file)."""
    if record.get("manifest"):
        return record["manifest"]
    path = Path(record["folder"]) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _content_type(track: dict | None, name: str) -> str:
    kind = (track or {}).get("kind") or ("video" if "-video-" in name else "audio")
    return "video/webm" if kind == "video" else "audio/webm"


async def recording_json(request: web.Request, record: dict, names: dict[str, str]) -> dict:
    manifest = _manifest(record)
    base = f"/api/admin/recordings/{record['interview_id']}/files/"
    tracks = []
    for track in manifest.get("tracks", []):
        file = track.get("file") or ""
        who = track.get("participant_id") or ""
        owner = record["account_id"] if who.startswith("aux_") else who  # an aux camera is the candidate's
        tracks.append(
            {
                "file": file,
                "kind": track.get("kind"),
                "participant_id": who,
                "participant_name": names.get(owner, ""),
                "label": track.get("label"),
                "status": track.get("status"),
                "size": track.get("size"),
                "sha256": track.get("sha256"),
                "started_at": track.get("started_at"),
                "ended_at": track.get("ended_at"),
                "duration_s": track.get("duration_s") or _length(track.get("started_at"), track.get("ended_at")),
                "segment": int(m.group(1)) if (m := SEGMENT.search(file)) else None,
                "width": track.get("width"),
                "height": track.get("height"),
                "url": base + file,
                "content_type": _content_type(track, file),
            }
        )
    ended = record.get("ended_at")
    started = record.get("started_at")
    return {
        "interview_id": record["interview_id"],
        "exam_id": record["exam_id"],
        "room_id": record["room_id"],
        "account_id": record["account_id"],
        "candidate_name": names.get(record["account_id"], ""),
        "state": record["state"],
        "status": manifest.get("status"),
        "started_at": started,
        "ended_at": ended,
        "duration_s": round(ended - started, 1) if ended and started else None,
        "bytes": sum(int(t.get("size") or 0) for t in tracks),
        "tracks": tracks,
    }


def _length(started, ended) -> float | None:
    return (
        round(ended - started, 1)
        if isinstance(started, (int, float)) and isinstance(ended, (int, float)) and ended >= started
        else None
    )


async def _names(request: web.Request, account_ids: set[str]) -> dict[str, str]:
    directory = request.app[SERVICES].directory
    out = {}
    for account_id in account_ids:
        account = await directory.get(account_id)
        if account is not None:
            out[account_id] = account.name or account.username or account.phone or account_id
    return out


@routes.get("/api/admin/exams/{exam_id}/recordings", ADMIN)
async def exam_recordings(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    records = await services.recordings.of_exam(exam.id)
    people = {r["account_id"] for r in records}
    for r in records:
        people.update(t.get("participant_id") or "" for t in _manifest(r).get("tracks", []))
    names = await _names(request, {p for p in people if p and not p.startswith("aux_")})
    rooms = {room.id: room.name for room in await services.catalog.rooms(exam.id)}
    out = []
    for record in records:
        item = await recording_json(request, record, names)
        item["room_name"] = rooms.get(record["room_id"], "")
        out.append(item)
    return web.json_response({"exam_id": exam.id, "recordings": out})


@routes.get("/api/admin/recordings/{interview_id}/files/{name}", ADMIN)
async def recording_file(request: web.Request) -> web.StreamResponse:
    """One file of a recording, only if its manifest lists it; Range requests work (seeking)."""
    services = request.app[SERVICES]
    name = request.match_info["name"]
    record = await services.recordings.get(request.match_info["interview_id"])
    if record is None or not FILE_NAME.match(name):
        raise UserError("not_found")
    track = next((t for t in _manifest(record).get("tracks", []) if t.get("file") == name), None)
    headers = {
        "Content-Type": _content_type(track, name),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if request.query.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{record["interview_id"]}-{name}"'
    return await send(request, record, name, headers)  # from this node's disk, or the node that wrote it


@routes.get("/api/admin/exams/{exam_id}/audit.csv", ADMIN)
async def audit_csv(request: web.Request) -> web.StreamResponse:
    """The exam's whole audit stream, oldest first, as CSV (UTF-8 with BOM so Excel reads Chinese)."""
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    tz = ZoneInfo(request.app[SETTINGS].timezone)
    headers = {
        "Content-Type": "text/csv; charset=utf-8",
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="audit-{exam.id}.csv"',
    }

    async def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
        async for batch in services.audit.iter_range(exam.id):  # oldest first, in pages, never the whole stream
            buffer.seek(0)
            buffer.truncate()
            for entry_id, fields in batch:
                at = float(fields.get("at") or 0)
                writer.writerow(
                    [
                        entry_id,
                        datetime.fromtimestamp(at, tz).isoformat(timespec="seconds") if at else "",
                        fields.get("event", ""),
                        fields.get("actor", ""),
                        fields.get("actor_role", ""),
                        fields.get("subject", ""),
                        safe(fields.get("data") or "{}"),
                    ]
                )
            yield buffer.getvalue().encode("utf-8")

    return await stream(request, headers, chunks())
