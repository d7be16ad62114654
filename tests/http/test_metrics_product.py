"""/metrics shows what the product does: the queue, the media rooms and the recorder, the face check,
the sockets and the recordings disk, each following a real change (docs/configuration.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.store.audit import Actor

from ..conftest import new_client
from ..live import FIT_DEVICE, live_world
from ..rooms.peers import wait_for
from ..signaling.conftest import clients, live, peers, server, url_of  # noqa: F401  (fixtures)
from ..signaling.test_rooms import in_room

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def documented(samples: dict) -> list[str]:
    """Families of a scrape missing from the metrics table of docs/configuration.md."""
    text = DOC.read_text(encoding="utf-8")
    families = {name: kind for (name, labels), kind in samples.items() if labels is None}
    names = [
        name + ("_total" if kind == "counter" else "")
        for name, kind in families.items()
        if not (name.endswith("_created") and name[: -len("_created")] in families)
    ]  # creation times
    return [name for name in names if f"| `{name}` |" not in text]


def parse(text: str) -> dict:
    """{(sample name, frozenset of labels): value}; the families themselves under (family, None)."""
    out: dict = {}
    for family in text_string_to_metric_families(text):
        out[(family.name, None)] = family.type
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http) -> dict:
    resp = await http.get("/metrics")
    assert resp.status == 200
    return parse(await resp.text())


async def test_every_family_is_described_and_the_disk_has_room(http):
    samples = await scrape(http)
    for family, kind in [
        ("iv_queue_call_wait_seconds", "histogram"),
        ("iv_queue_changes", "counter"),
        ("iv_media_rooms_open", "gauge"),
        ("iv_media_participants", "gauge"),
        ("iv_media_streams_forwarded", "gauge"),
        ("iv_media_frames_received", "counter"),
        ("iv_media_frames_forwarded", "counter"),
        ("iv_media_frames_dropped", "counter"),
        ("iv_media_keyframe_requests", "counter"),
        ("iv_media_plis_sent", "counter"),
        ("iv_recordings_in_progress", "gauge"),
        ("iv_recordings", "counter"),
        ("iv_recorder_failures", "counter"),
        ("iv_recorder_written_bytes", "counter"),
        ("iv_facecheck_results", "counter"),
        ("iv_sockets_connected", "gauge"),
        ("iv_recordings_disk_free_bytes", "gauge"),
        ("iv_recordings_disk_total_bytes", "gauge"),
        ("iv_queue_waiting", "gauge"),
        ("iv_queue_waiting_per_exam", "gauge"),
        ("iv_queue_longest_wait_seconds", "gauge"),
    ]:
        assert samples.get((family, None)) == kind, family
    assert value(samples, "iv_recordings_disk_free_bytes") > 0
    assert value(samples, "iv_recordings_disk_total_bytes") >= value(samples, "iv_recordings_disk_free_bytes")
    assert ("iv_sockets_connected", frozenset({("namespace", "/candidate")})) in samples
    assert value(samples, "iv_media_rooms_open") == 0 and value(samples, "iv_recordings_in_progress") == 0
    assert documented(samples) == []
    # the existing families are still there, once
    text = await (await http.get("/metrics")).text()
    assert text.count("# TYPE iv_redis_up gauge") == 1 and text.count("# TYPE iv_queue_waiting gauge") == 1


async def test_the_queue_waiting_the_wait_the_call_and_the_face_results(http, services):
    scene = await live_world(services)
    exam, room = scene.exam.id, scene.room.id
    before = await scrape(http)
    assert value(before, "iv_queue_waiting", exam=exam, room=room) == 0
    assert value(before, "iv_queue_call_wait_seconds_count", exam=exam) == 0

    account = await scene.booked(0)
    await scene.present(account)
    await services.queue.join(account, exam, scene.slot.id, FIT_DEVICE)
    await asyncio.sleep(0.05)
    joined = await scrape(http)
    assert value(joined, "iv_queue_waiting", exam=exam, room=room) == 1
    assert value(joined, "iv_queue_waiting_per_exam", exam=exam) == 1
    assert 0 < value(joined, "iv_queue_longest_wait_seconds", exam=exam, room=room) < 30
    assert value(joined, "iv_queue_changes_total", event="queue_joined") == 1

    assert await scene.pass_face(account) == "passed"
    passed = await scrape(http)
    assert value(passed, "iv_facecheck_results_total", kind="queue", outcome="passed") == 1
    assert value(passed, "iv_queue_waiting", exam=exam, room=room) == 1  # still in line, now callable

    called = await services.queue.call_next(Actor(scene.examiner.id, "examiner"), room)
    assert called.account == account.id
    after = await scrape(http)
    assert value(after, "iv_queue_call_wait_seconds_count", exam=exam) == 1
    waited = value(after, "iv_queue_call_wait_seconds_sum", exam=exam)
    assert 0 <= waited < 30
    assert value(after, "iv_queue_call_wait_seconds_bucket", exam=exam, le="+Inf") == 1
    assert value(after, "iv_queue_waiting", exam=exam, room=room) == 0  # called: out of the line
    assert value(after, "iv_queue_changes_total", event="queue_called") == 1

    other = await scene.booked(1)
    await services.queue.join(other, exam, scene.slot.id, FIT_DEVICE)
    assert await scene.pass_face(other, passed=False) == "failed"
    failed = await scrape(http)
    assert value(failed, "iv_facecheck_results_total", kind="queue", outcome="failed") == 1
    assert value(failed, "iv_queue_waiting", exam=exam, room=room) == 1


async def test_several_apps_keep_their_own_figures(tmp_path, redis_url, redis, prefix, services):
    from ..conftest import fast_settings

    other = create_app(fast_settings(tmp_path / "other", redis_url, prefix + "other:"), redis)
    client = await new_client(other)
    try:
        scene = await live_world(services)
        account = await scene.booked(0)
        await services.queue.join(account, scene.exam.id, scene.slot.id, FIT_DEVICE)
        samples = parse(await (await client.get("/metrics")).text())
        assert value(samples, "iv_queue_changes_total", event="queue_joined") == 0
        assert value(samples, "iv_queue_waiting", exam=scene.exam.id, room=scene.room.id) == 0
    finally:
        await client.close()


async def test_the_face_pool_latency_and_depth(settings, redis, face_pool):
    app = create_app(settings, redis, face_pool=face_pool)
    client = await new_client(app)
    try:
        before = parse(await (await client.get("/metrics")).text())
        assert value(before, "iv_facecheck_pending") == 0
        assert value(before, "iv_facecheck_pending_limit") == face_pool.max_pending
        assert value(before, "iv_facecheck_workers") == face_pool.workers
        await face_pool.observe_frame(np.full((160, 120, 3), 128, np.uint8), liveness=False)
        after = parse(await (await client.get("/metrics")).text())
        count = value(after, "iv_facecheck_seconds_count", kind="room")
        assert count == value(before, "iv_facecheck_seconds_count", kind="room") + 1
        assert value(after, "iv_facecheck_seconds_sum", kind="room") > value(
            before, "iv_facecheck_seconds_sum", kind="room"
        )
        assert value(after, "iv_facecheck_seconds_bucket", kind="room", le="+Inf") == count
        assert documented(after) == []
    finally:
        await client.close()


async def test_a_recorded_interview_shows_in_the_room_and_recorder_figures(server, services, live, peers, clients):  # noqa: F811
    account, candidate, examiner, cam, exam_cam = await in_room(peers, server, services, live, clients)
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > 10, 15)
    await examiner.wait_for("room:recording", lambda d: d["state"] == "recording" and d["bytes"] > 0, timeout=10)
    async with aiohttp.ClientSession() as session:

        async def get() -> dict:
            async with session.get(url_of(server) + "/metrics") as resp:
                assert resp.status == 200
                return parse(await resp.text())

        during = await get()
        assert value(during, "iv_media_rooms_open") == 1
        assert value(during, "iv_media_participants", role="candidate") == 1
        assert value(during, "iv_media_participants", role="examiner") == 1
        assert value(during, "iv_media_streams_forwarded") >= 2  # each sees the other's video at least
        assert value(during, "iv_media_frames_received_total", kind="video") > 0
        assert value(during, "iv_media_frames_forwarded_total", kind="video") > 10
        assert value(during, "iv_media_frames_forwarded_total", kind="audio") > 0
        assert value(during, "iv_recordings_in_progress") == 1
        assert value(during, "iv_recorder_written_bytes_total", kind="video") > 0
        assert value(during, "iv_sockets_connected", namespace="/candidate") == 1
        assert value(during, "iv_sockets_connected", namespace="/examiner") == 1
        assert value(during, "iv_queue_changes_total", event="queue_in_room") == 1

        assert (await examiner.call("queue:end", {"account_id": account.id}))["ok"]
        await candidate.wait_for("room:ended")

        async def closed() -> bool:
            return value(await get(), "iv_recordings_total", state="stopped") == 1

        for _ in range(50):
            if await closed():
                break
            await asyncio.sleep(0.1)
        after = await get()
        assert value(after, "iv_recordings_total", state="stopped") == 1
        assert value(after, "iv_recordings_in_progress") == 0
        assert value(after, "iv_media_participants", role="candidate") == 0
        assert value(after, "iv_recorder_failures_total", what="track") == 0
        for name, kind in [
            ("iv_media_frames_forwarded_total", "video"),
            ("iv_media_frames_received_total", "video"),
            ("iv_recorder_written_bytes_total", "video"),
        ]:  # counters never go back
            assert value(after, name, kind=kind) >= value(during, name, kind=kind), name


def test_recorder_failures_and_closes_are_counted_in_the_shared_totals(tmp_path):
    import fractions
    import shutil

    import av

    from server.rooms.recorder import InterviewRecorder
    from server.rooms.track_writer import RecorderTotals

    totals = RecorderTotals()
    folder = tmp_path / "interview"
    recorder = InterviewRecorder(folder, "int_metrics")
    recorder.share_totals(totals)
    writer = recorder.add_track("p/audio/1", "audio", "p", "candidate")
    shutil.rmtree(folder)  # the disk went away: the file cannot be opened, nor the manifest written
    packet = av.Packet(b"\xfc" + bytes(40))
    packet.pts, packet.time_base = 0, fractions.Fraction(1, 48000)
    writer.write(packet)
    assert writer.status == "failed"
    assert totals.failures["track"] == 1 and totals.failures["manifest"] >= 1
    assert totals.bytes_written["audio"] == 0
    recorder.close()
    assert totals.closed == {"stopped": 0, "failed": 1}
