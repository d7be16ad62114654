"""Upload takes over HTTP on a running app (server/http/uploads_api.py, server/recorded/uploads.py): a file
filmed offline goes up in tus chunks, resumes from the server's offset after the connection is cut
mid-chunk (and after a server restart), is probed, copied or re-encoded, and becomes a complete take
that is submitted like a streamed one. Every bad input answers a clear Chinese message and stores
nothing: a renamed or cut-off file, a file over the limit (declared, or bytes past the declared
length), a chunk at the wrong offset, another candidate's upload or a forged id, an upload after the
deadline or after submitting, concurrent chunks to one upload; an abandoned upload is swept."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.http.context import SERVICES
from server.i18n import message
from server.store.models import Take, from_hash
from tests.conftest import PASSWORD, login
from tests.http.test_grading_api import error
from tests.recorded.clips import codecs, make_clip, video_packets
from tests.recorded.conftest import DEVICE, make_recorded, pass_face

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(http, sitting_id: str, length: int, name="IMG_0001.mp4", filetype="video/mp4", device=DEVICE):
    headers = {
        **TUS,
        "Upload-Length": str(length),
        "Upload-Metadata": metadata(filename=name, filetype=filetype, device=device),
    }
    return await http.post(f"/api/candidate/sittings/{sitting_id}/uploads", headers=headers)


async def patch(http, url: str, offset: int, data):
    headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
    return await http.patch(url, data=data, headers=headers)


async def offset_of(http, url: str) -> int:
    resp = await http.head(url, headers=TUS)
    assert resp.status == 200, resp.status
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Tus-Resumable"] == "1.0.0"
    return int(resp.headers["Upload-Offset"])


async def started(http, sitting_id: str, data: bytes, **kwargs) -> str:
    resp = await create(http, sitting_id, len(data), **kwargs)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Location"] == (await resp.json())["upload_url"]
    return resp.headers["Location"]


async def cut_patch(http, url: str, offset: int, data: bytes, send: int) -> None:
    """A PATCH declaring all of ``data`` whose connection drops after ``send`` bytes (a network switch)."""
    host, port = http.server.host, http.server.port
    cookie = "; ".join(f"{c.key}={c.value}" for c in http.session.cookie_jar)
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"PATCH {url} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data[:send])
    await writer.drain()
    await asyncio.sleep(0.3)  # the bytes are on the server's side of the socket
    writer.transport.abort()


async def wait_offset(http, url: str, expected: int, within_s: float = 5.0) -> int:
    deadline = time.monotonic() + within_s
    while True:
        found = await offset_of(http, url)
        if found == expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def take_of(services, url: str) -> Take:
    data = await services.store.redis.hgetall(services.store.keys.take(url.rsplit("/", 1)[1]))
    return from_hash(Take, data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def sitting(app, http, world, services):
    """A candidate logged in, face check passed, in a formal sitting of a subject taking uploads (5 MB, 2 takes)."""
    await make_recorded(services, world, uploads_allowed=True, upload_max_mb=5, takes_allowed=2, take_max_s=60)
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    await pass_face(services, world.exam.id, account)
    url = f"/api/candidate/exams/{world.exam.id}/recorded/{world.subjects[0].id}/sittings"
    resp = await http.post(url, json={"mode": "formal", "device": DEVICE})
    assert resp.status == 201, await resp.text()
    return account, (await resp.json())["sitting"]


async def test_an_upload_cut_at_40_percent_resumes_from_the_servers_offset_and_completes(
    http, services, sitting, tmp_path
):
    account, current = sitting
    data = make_clip(tmp_path / "IMG_0001.mp4", seconds=3.0).read_bytes()
    url = await started(http, current["id"], data)
    take = await take_of(services, url)
    assert (take.state, take.source, take.upload_length, take.upload_offset) == ("uploading", "upload", len(data), 0)
    assert await offset_of(http, url) == 0

    cut = len(data) * 40 // 100
    await cut_patch(http, url, 0, data, send=cut)
    assert await wait_offset(http, url, cut) == cut  # the bytes that came before the cut are kept
    folder = services.uploads.folder(take)
    assert (folder / "upload.part").read_bytes() == data[:cut]

    resp = await patch(http, url, cut, data[cut:])  # the client resumes from the server's offset
    assert resp.status == 204, await resp.text()
    assert int(resp.headers["Upload-Offset"]) == len(data)
    await services.uploads.idle()

    take = await take_of(services, url)
    assert take.state == "complete" and take.playable_at and take.counts
    figures = take.upload
    assert figures["sha256"] == sha256(data) and figures["size"] == len(data)
    assert (figures["container"], figures["video_codec"], figures["audio_codec"]) == ("mp4", "h264", "aac")
    assert (figures["width"], figures["height"], figures["fps"]) == (320, 240, 30.0)
    assert figures["duration_s"] == pytest.approx(3.0, abs=0.05) and take.duration_s == pytest.approx(3.0, abs=0.05)
    assert (figures["video"], figures["audio"]) == ("copied", "copied")
    assert set(take.files) == {"playable.mp4"} and take.sha256 == take.files["playable.mp4"]["sha256"]
    # not re-encoded: the playback file holds the very packets of the upload; the copy replaced the original
    assert video_packets(folder / "playable.mp4") == video_packets(tmp_path / "IMG_0001.mp4")
    assert sorted(p.name for p in folder.iterdir()) == ["playable.mp4"]

    resp = await http.get(f"/api/candidate/sittings/{current['id']}")
    (listed,) = (await resp.json())["takes"]
    assert listed["video_url"] == f"/api/candidate/takes/{take.id}/video" and listed["source"] == "upload"
    resp = await http.get(listed["video_url"], headers={"Range": "bytes=0-99"})
    assert resp.status == 206 and resp.headers["Content-Type"] == "video/mp4"
    resp = await http.post(f"/api/candidate/sittings/{current['id']}/submit", json={"take_id": take.id})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["sitting"]["state"] == "submitted"
    # after submitting: no new upload, no bytes to the finished one
    message = await error(await create(http, current["id"], 100), 409, "sitting_over")
    assert "不能再录制" in message
    await error(await patch(http, url, len(data), b"x"), 410, "upload_over")
    kinds = [e["event"] for e in await services.audit.read(take.exam_id, subject=account.id)]
    assert {"take_started", "take_uploaded", "take_upload_checked", "take_playable", "take_ended"} <= set(kinds)


async def test_hevc_from_an_iphone_is_reencoded_and_its_original_kept(http, services, sitting, tmp_path):
    _, current = sitting
    src = make_clip(
        tmp_path / "IMG_0002.MOV", "mov", "libx265", "aac", seconds=2.0, width=640, height=360, rotation=-90
    )
    data = src.read_bytes()
    url = await started(http, current["id"], data, name="IMG_0002.MOV", filetype="video/quicktime")
    half = len(data) // 2
    assert (await patch(http, url, 0, data[:half])).status == 204
    assert (await patch(http, url, half, data[half:])).status == 204
    await services.uploads.idle()
    take = await take_of(services, url)
    assert take.state == "complete" and take.orientation == "portrait"
    assert (take.upload["video_codec"], take.upload["video"], take.upload["rotation"]) == ("hevc", "encoded", -90)
    folder = services.uploads.folder(take)
    assert codecs(folder / "playable.mp4") == ("h264", "aac")
    assert take.files["original.mov"] == {"kind": "original", "size": len(data), "sha256": sha256(data)}
    assert (folder / "original.mov").read_bytes() == data


async def test_files_that_are_not_playable_fail_with_the_reason_and_leave_nothing(http, services, sitting, tmp_path):
    _, current = sitting
    full = make_clip(tmp_path / "full.mp4").read_bytes()
    cases = [
        (b"PK\x03\x04 not a video at all, renamed to .mp4 " * 40, "upload_not_video", "不是视频"),
        (full[: len(full) * 6 // 10], "upload_truncated", "不完整"),
    ]
    for data, reason, words in cases:
        url = await started(http, current["id"], data)
        assert (await patch(http, url, 0, data)).status == 204
        await services.uploads.idle()
        take = await take_of(services, url)
        assert (take.state, take.counts, take.upload["error"]) == ("failed", False, reason)
        assert not services.uploads.folder(take).exists()  # nothing half-stored
        assert not await services.store.redis.exists(services.store.keys.upload_lock(take.id))
        assert (await http.head(url, headers=TUS)).status == 410  # HEAD answers no body: the status says it
        assert words in message(reason)
    resp = await http.get(f"/api/candidate/sittings/{current['id']}")
    assert (await resp.json())["sitting"]["takes_left"] == 2  # failed uploads do not count


async def test_too_long_for_the_subject_is_refused_with_both_lengths(http, services, world, sitting, tmp_path):
    _, current = sitting
    data = make_clip(tmp_path / "long.mp4", seconds=65, width=64, height=48, fps=2).read_bytes()
    url = await started(http, current["id"], data)
    assert (await patch(http, url, 0, data)).status == 204
    await services.uploads.idle()
    take = await take_of(services, url)
    assert take.upload["error"] == "upload_too_long"
    assert take.upload["params"] == {"duration": "1 分 05 秒", "max": "1 分 00 秒"}


async def test_over_the_limit_is_refused_at_creation_and_bytes_past_the_length_are_not_kept(
    http, services, sitting, tmp_path
):
    _, current = sitting
    message = await error(await create(http, current["id"], 5 * 1024 * 1024 + 1), 413, "upload_too_large")
    assert message == "视频文件过大（5 MB），单个视频文件不能超过 5 MB；请将相机设置为 720P、30fps 后重新录制"
    await error(
        await create(http, current["id"], 1000, name="clip.avi", filetype="video/x-msvideo"), 415, "upload_format"
    )
    resp = await http.post(f"/api/candidate/sittings/{current['id']}/uploads", headers=TUS)
    await error(resp, 400, "upload_length_required")
    resp = await http.post(
        f"/api/candidate/sittings/{current['id']}/uploads", headers={"Upload-Length": "10", "Tus-Resumable": "0.2.2"}
    )
    await error(resp, 412, "upload_tus_version")
    resp = await http.get(f"/api/candidate/sittings/{current['id']}")
    assert (await resp.json())["takes"] == []  # none of these started a take

    url = await started(http, current["id"], b"x" * 1000)
    await error(await patch(http, url, 0, b"y" * 1001), 413, "upload_exceeds_length")

    async def body():  # no declared length (chunked): found out while reading
        for _ in range(11):
            yield b"z" * 100

    await error(await patch(http, url, 0, body()), 413, "upload_exceeds_length")
    assert await offset_of(http, url) == 0
    take = await take_of(services, url)
    part = services.uploads.folder(take) / "upload.part"
    assert not part.exists() or part.stat().st_size == 0
    resp = await http.patch(
        url, data=b"ok", headers={**TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "0"}
    )
    await error(resp, 415, "bad_content_type")


async def test_a_chunk_at_the_wrong_offset_or_for_someone_elses_upload_changes_nothing(
    app, http, world, services, sitting, tmp_path
):
    _, current = sitting
    url = await started(http, current["id"], b"a" * 4000)
    assert (await patch(http, url, 0, b"a" * 1000)).status == 204
    message = await error(await patch(http, url, 500, b"b" * 100), 409, "upload_offset_mismatch")
    assert message == "上传位置不一致：服务器已收到 1000 字节，请从该位置继续上传"
    await error(await patch(http, url, 2000, b"b" * 100), 409, "upload_offset_mismatch")
    resp = await http.patch(url, data=b"b", headers={**TUS, "Content-Type": "application/offset+octet-stream"})
    await error(resp, 400, "upload_offset_invalid")
    take = await take_of(services, url)
    assert (services.uploads.folder(take) / "upload.part").read_bytes() == b"a" * 1000

    other = await world.candidate(2)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await login(client, other.phone, PASSWORD)
        await error(await patch(client, url, 1000, b"c" * 10), 404, "upload_not_found")
        assert (await client.head(url, headers=TUS)).status == 404
        await error(await client.delete(url, headers=TUS), 404, "upload_not_found")
    finally:
        await client.close()
    await error(await patch(http, "/api/candidate/uploads/take_ffffffffffff", 0, b"c"), 404, "upload_not_found")
    await error(await patch(http, "/api/candidate/uploads/../../etc", 0, b"c"), 404, "not_found")
    assert await offset_of(http, url) == 1000
    assert (services.uploads.folder(take) / "upload.part").read_bytes() == b"a" * 1000


async def test_concurrent_chunks_to_one_upload_one_is_written(http, services, sitting):
    _, current = sitting
    data = bytes(range(256)) * 800  # 200 KB
    url = await started(http, current["id"], data * 2)

    async def slow():  # a slow phone: the chunks overlap in time
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]
            await asyncio.sleep(0.01)

    answers = await asyncio.gather(*(patch(http, url, 0, slow()) for _ in range(8)))
    statuses = sorted(r.status for r in answers)
    assert statuses.count(204) == 1, statuses
    for resp in answers:
        if resp.status != 204:
            body = await resp.json()
            assert body["error"]["code"] in ("upload_busy", "upload_offset_mismatch"), body
    assert "upload_busy" in [(await r.json())["error"]["code"] for r in answers if r.status != 204]
    assert await offset_of(http, url) == len(data)
    take = await take_of(services, url)
    assert (services.uploads.folder(take) / "upload.part").read_bytes() == data


async def test_no_upload_after_the_deadline(http, services, sitting):
    _, current = sitting
    url = await started(http, current["id"], b"d" * 3000)
    assert (await patch(http, url, 0, b"d" * 1000)).status == 204
    # the sitting's deadline has passed (the clock moved on): written as the deadline, not waited for
    keys, past = services.store.keys, time.time() - 1
    await services.store.redis.hset(keys.sitting(current["id"]), "deadline", f"{past:.3f}")
    await services.store.redis.zadd(keys.sittings_due(), {current["id"]: past})
    message = await error(await patch(http, url, 1000, b"d" * 1000), 410, "upload_sitting_over")
    assert "不能再上传" in message
    assert await offset_of(http, url) == 1000
    await services.sittings.expire_due()  # the deadline sweep ends the sitting: the upload fails with it
    take = await take_of(services, url)
    assert (take.state, take.upload["error"]) == ("failed", "upload_sitting_over")
    assert not services.uploads.folder(take).exists()
    sitting_now = await services.sittings.find_sitting(current["id"])
    assert sitting_now.state == "absent"


async def test_one_take_at_a_time_counted_with_the_face_check(app, http, world, services, sitting):
    account, current = sitting
    url = await started(http, current["id"], b"e" * 100)
    await error(await create(http, current["id"], 100), 409, "take_running")
    takes_url = f"/api/candidate/sittings/{current['id']}/takes"
    body = {"device": DEVICE, "camera": "front", "orientation": "portrait"}
    await error(await http.post(takes_url, json=body), 409, "take_running")
    await error(await http.post(f"/api/candidate/sittings/{current['id']}/reset", json={}), 409, "take_running")
    state = await (await http.get(f"/api/candidate/sittings/{current['id']}")).json()
    assert state["sitting"]["takes_left"] == 1  # an upload counts while it runs
    resp = await http.delete(url, headers=TUS)
    assert resp.status == 204 and resp.headers["Tus-Resumable"] == "1.0.0"
    take = await take_of(services, url)
    assert (take.state, take.counts, take.upload["error"]) == ("failed", False, "upload_cancelled")
    state = await (await http.get(f"/api/candidate/sittings/{current['id']}")).json()
    assert state["sitting"]["takes_left"] == 2 and state["sitting"]["running"] == ""
    await error(await http.delete(url, headers=TUS), 410, "upload_over")
    # another device of the same account, and a subject without uploads
    await error(await create(http, current["id"], 100, device="device-cccc-0003"), 409, "sitting_other_device")
    await make_recorded(services, world, uploads_allowed=False)
    message = await error(await create(http, current["id"], 100), 409, "upload_not_allowed")
    assert message == "本科目不支持上传本地视频，请在页面上直接录制"


async def test_the_face_check_gates_an_upload_like_a_take(http, world, services):
    await make_recorded(services, world, uploads_allowed=True)
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    url = f"/api/candidate/exams/{world.exam.id}/recorded/{world.subjects[0].id}/sittings"
    current = (await (await http.post(url, json={"mode": "formal", "device": DEVICE})).json())["sitting"]
    await error(await create(http, current["id"], 100), 409, "take_face_check")


async def test_an_abandoned_upload_is_swept_files_and_keys(http, services, settings, sitting):
    _, current = sitting
    url = await started(http, current["id"], b"f" * 5000)
    assert (await patch(http, url, 0, b"f" * 2000)).status == 204
    take = await take_of(services, url)
    keys = services.store.keys
    assert await services.store.redis.zscore(keys.uploads_due(), take.id)
    assert await services.uploads.sweep() == 0  # bytes came just now: not abandoned
    later = time.time() + settings.upload_abandon_s + 1  # no bytes for upload_abandon_s
    assert await services.uploads.sweep(now=later) == 1
    take = await take_of(services, url)
    assert (take.state, take.counts, take.upload["error"]) == ("failed", False, "upload_abandoned")
    assert not services.uploads.folder(take).exists()
    assert await services.store.redis.zscore(keys.uploads_due(), take.id) is None
    assert not await services.store.redis.exists(keys.upload_lock(take.id))
    assert (await services.sittings.find_sitting(current["id"])).running == ""
    assert (await http.head(url, headers=TUS)).status == 410


async def test_a_resume_after_a_server_restart_starts_from_the_offset_in_redis(
    app, http, services, settings, redis, sitting, tmp_path
):
    _, current = sitting
    data = make_clip(tmp_path / "clip.mp4").read_bytes()
    url = await started(http, current["id"], data)
    third = len(data) // 3
    assert (await patch(http, url, 0, data[:third])).status == 204
    await http.close()  # the first process is gone
    restarted = create_app(settings, redis)
    client = TestClient(TestServer(restarted))
    await client.start_server()
    try:
        await login(client, (await services.directory.get(current["account_id"])).phone, PASSWORD)
        assert await offset_of(client, url) == third
        assert (await patch(client, url, third, data[third:])).status == 204
        await restarted[SERVICES].uploads.idle()
        take = await take_of(restarted[SERVICES], url)
        assert take.state == "complete" and take.upload["sha256"] == sha256(data)
        assert Path(services.uploads.folder(take) / "playable.mp4").is_file()
    finally:
        await client.close()
