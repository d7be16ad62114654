"""Admin: an exam's recordings from the Redis index, each file streamed with Range support, and the
audit export as CSV (UTF-8 with BOM). Only files the manifest lists can be fetched."""

from __future__ import annotations

import csv
import io
import json

from server.store import audit
from server.store.audit import Actor
from tests.conftest import PASSWORD, login

VIDEO = bytes(range(256)) * 40  # stands in for a WebM file: the API never parses it
AUDIO = b"OpusHead" * 100


async def recorded(services, world, account_id: str, interview_id: str = "intv_0000000000aa") -> dict:
    folder = await services.recordings.started(world.exam.id, world.rooms[0].id, account_id, interview_id)
    folder.mkdir(parents=True)
    (folder / f"{account_id}-video-0.webm").write_bytes(VIDEO)
    (folder / f"{account_id}-audio-0.webm").write_bytes(AUDIO)
    (folder / "secret.webm").write_bytes(b"not listed")
    manifest = {
        "interview_id": interview_id,
        "status": "closed",
        "tracks": [
            {
                "participant_id": account_id,
                "kind": "video",
                "file": f"{account_id}-video-0.webm",
                "size": len(VIDEO),
                "sha256": "a" * 64,
                "started_at": 1.0,
                "ended_at": 11.0,
                "width": 640,
                "height": 480,
            },
            {
                "participant_id": account_id,
                "kind": "audio",
                "file": f"{account_id}-audio-0.webm",
                "size": len(AUDIO),
                "sha256": "b" * 64,
                "started_at": 1.0,
                "ended_at": 11.0,
            },
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    await services.recordings.stopped(interview_id, manifest)
    return manifest


async def test_admin_lists_plays_and_downloads_recordings(http, services, world):
    candidate = await world.candidate(0)
    await recorded(services, world, candidate.id)
    await login(http, "admin-one", PASSWORD)

    resp = await http.get(f"/api/admin/exams/{world.exam.id}/recordings")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    (rec,) = body["recordings"]
    assert (rec["interview_id"], rec["state"], rec["candidate_name"], rec["room_name"]) == (
        "intv_0000000000aa",
        "stopped",
        "考生0",
        world.rooms[0].name,
    )
    assert rec["bytes"] == len(VIDEO) + len(AUDIO)
    video, audio = rec["tracks"]
    assert video["content_type"] == "video/webm" and audio["content_type"] == "audio/webm"
    assert video["participant_name"] == "考生0"

    resp = await http.get(video["url"])
    assert resp.status == 200 and resp.content_type == "video/webm" and await resp.read() == VIDEO
    assert resp.headers.get("Accept-Ranges") == "bytes"
    resp = await http.get(video["url"], headers={"Range": "bytes=100-199"})
    assert resp.status == 206 and await resp.read() == VIDEO[100:200]
    assert resp.headers["Content-Range"] == f"bytes 100-199/{len(VIDEO)}"
    resp = await http.get(audio["url"] + "?download=1")
    assert resp.status == 200 and resp.content_type == "audio/webm"
    assert resp.headers["Content-Disposition"].startswith("attachment;")

    # only what the manifest lists; nothing from the request reaches a path
    base = "/api/admin/recordings/intv_0000000000aa/files/"
    for name in ("secret.webm", "manifest.json", "..%2Fmanifest.json", "%2E%2E%2F%2E%2E%2Fx.webm"):
        resp = await http.get(base + name)
        assert resp.status == 404, name
    assert (await http.get("/api/admin/recordings/intv_0000000000bb/files/x-video-0.webm")).status == 404
    assert (await http.get("/api/admin/recordings/nonsense/files/x-video-0.webm")).status == 404


async def test_recordings_are_for_the_admin_only(http, services, world):
    candidate = await world.candidate(0)
    manifest = await recorded(services, world, candidate.id)
    url = f"/api/admin/recordings/intv_0000000000aa/files/{manifest['tracks'][0]['file']}"
    assert (await http.get(url)).status == 401
    for who in ("proctor-one", "examiner-one"):
        await login(http, who, PASSWORD)
        assert (await http.get(url)).status == 403
        assert (await http.get(f"/api/admin/exams/{world.exam.id}/recordings")).status == 403
    await login(http, candidate.phone, PASSWORD)
    assert (await http.get(url)).status == 403


async def test_audit_export_is_csv_with_bom_oldest_first(http, services, world):
    candidate = await world.candidate(0)
    redis, keys = services.store.redis, services.store.keys
    await audit.add(
        redis,
        keys,
        world.exam.id,
        "queue_removed",
        Actor(world.staff["examiner"].id, "examiner"),
        candidate.id,
        reason='=HYPERLINK("http://x")，手机离开画面',
    )
    await login(http, "admin-one", PASSWORD)
    resp = await http.get(f"/api/admin/exams/{world.exam.id}/audit.csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "time", "event", "actor", "actor_role", "subject", "details"]
    events = [r[2] for r in rows[1:]]
    total = await redis.xlen(keys.audit(world.exam.id))
    assert len(events) == total and events[0] == "exam_created" and events[-1] == "queue_removed"
    last = rows[-1]
    assert last[5] == candidate.id and "手机离开画面" in last[6] and last[1].endswith("+08:00")
    assert not any(cell.startswith("=") for row in rows for cell in row)

    await login(http, "proctor-one", PASSWORD)
    assert (await http.get(f"/api/admin/exams/{world.exam.id}/audit.csv")).status == 403
    await login(http, "admin-one", PASSWORD)
    assert (await http.get("/api/admin/exams/exam_000000000000/audit.csv")).status == 404
