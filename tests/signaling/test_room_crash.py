"""The server process holding an interview room is killed (SIGKILL) mid-interview. Nothing is
lost: a surviving process closes the recording from the files the dead one left (every file
listed, playable, its duration matching the time recorded), and when the candidate and the
examiner come back on the surviving process the same interview goes on in the same folder."""

from __future__ import annotations

import asyncio
import time

import av
import pytest
from aiortc import RTCSessionDescription

from server.rooms import passthrough

from ..conftest import fast_settings
from ..rooms.peers import wait_for
from .conftest import server_process, url_of
from .test_rooms import media_client
from .test_sockets import candidate_peer, examiner_peer

CLAIM_TTL_S = 3  # how soon a dead process's rooms are taken over (room_claim_ttl_s)
passthrough.install()  # the client peers here count encoded frames (the media is in the other process)


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    # recordings_shared: the killed process's folder is read by the survivor, as on shared storage
    # (separate folders per node: tests/nodes/test_node_loss.py)
    return fast_settings(tmp_path, redis_url, prefix, room_claim_ttl_s=CLAIM_TTL_S, recordings_shared=True)


@pytest.fixture
async def doomed(settings, tmp_path):
    """A second server process on the same Redis, to be killed."""
    url, proc = await server_process(
        settings,
        tmp_path / "doomed",
        recordings_dir=str(tmp_path / "doomed-recordings"),
        recordings_shared="true",
        room_claim_ttl_s=str(CLAIM_TTL_S),
    )
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def decoded_seconds(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams[0]
        times = [frame.time for frame in container.decode(stream) if frame.time is not None]
    return max(times) - min(times) if times else 0.0


async def test_a_killed_room_process_loses_nothing_of_the_interview(doomed, server, services, live, peers, clients):
    url, proc = doomed
    account, candidate = await candidate_peer(peers, url, services, live, 0)
    examiner = await peers(url, "/examiner", live.examiner, {"room_id": live.room.id}, services)
    await examiner.wait_for("queue:room", lambda d: d["line"] and d["line"][0]["face_status"] == "passed")
    assert (await examiner.call("queue:call_next"))["ok"]
    await candidate.wait_for("queue:called")
    cam = media_client(candidate, account.id, "candidate", live.room.id, "red")
    exam_cam = media_client(examiner, live.examiner.id, "examiner", None, "blue")
    clients += [cam, exam_cam]
    await exam_cam.join()
    await cam.join()
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > 10, 15)
    await examiner.wait_for("room:recording", lambda d: d["state"] == "recording" and d.get("bytes"), 10)
    entry = await services.queue.entry(live.room.id, account.id)
    await asyncio.sleep(3)

    proc.kill()  # SIGKILL: no cleanup of any kind
    killed = time.time()
    proc.wait(10)
    for client in (cam, exam_cam):
        await client.close()

    # the surviving process notices (the room's claim expires) and closes the recording from disk
    deadline = time.monotonic() + 6 * CLAIM_TTL_S
    while (record := await services.recordings.get(entry.admission))["state"] == "recording":
        assert time.monotonic() < deadline, "the cut-off recording was never closed"
        await asyncio.sleep(0.3)
    assert record["state"] == "recovered", record
    tracks = record["manifest"]["tracks"]
    assert {(t["participant_id"], t["kind"]) for t in tracks} == {
        (account.id, "video"),
        (account.id, "audio"),
        (live.examiner.id, "video"),
        (live.examiner.id, "audio"),
    }
    for track in tracks:
        path = services.recordings.file(record, track["file"])  # what the admin can download
        assert path is not None and track["status"] == "recovered" and track["sha256"], track
        recorded = killed - track["started_at"]
        assert abs(track["duration_s"] - recorded) <= 2.0, (track, recorded)
        if track["kind"] == "video":
            assert abs(decoded_seconds(path) - recorded) <= 2.0, (track, recorded)
    first_files = {t["file"]: t["sha256"] for t in tracks}
    folder = record["folder"]

    # the candidate and the examiner come back, on the surviving process: same interview, same folder
    candidate = await peers(url_of(server), "/candidate", account, services=services)
    state = await candidate.wait_for("queue:snapshot")
    examiner = await examiner_peer(peers, server, services, live)
    cam = media_client(candidate, account.id, "candidate", live.room.id, "red")
    exam_cam = media_client(examiner, live.examiner.id, "examiner", None, "blue")
    clients += [cam, exam_cam]
    await exam_cam.join()
    # what the candidate's page does when its connection failed: a new one, with rtc:restart
    answer = await cam.room.restart(account.id, await cam.make_offer())
    await cam.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    assert await wait_for(lambda: exam_cam.received_from().get((account.id, "video"), 0) > 10, 15), state
    assert await wait_for(lambda: cam.received_from().get((live.examiner.id, "video"), 0) > 5, 15)
    await examiner.wait_for("room:recording", lambda d: d["state"] == "recording" and d.get("bytes"), 10)
    await asyncio.sleep(1)
    await examiner.call("queue:end", {"account_id": account.id})
    await candidate.wait_for("room:ended")

    record = await services.recordings.get(entry.admission)
    assert record["state"] == "stopped" and record["manifest"]["status"] == "closed", record
    assert record["folder"] == folder  # the same folder, though this process records elsewhere
    files = {t["file"]: t for t in record["manifest"]["tracks"]}
    for name, digest in first_files.items():  # the files of the killed process, untouched
        assert files[name]["sha256"] == digest
    resumed = [t for t in files.values() if t["file"] not in first_files]
    assert {(t["participant_id"], t["kind"]) for t in resumed} >= {(account.id, "video"), (account.id, "audio")}
    assert all(t["file"].endswith("-02.webm") and services.recordings.file(record, t["file"]) for t in resumed)
    assert record["started_at"] < killed and record["manifest"]["started_at"] < killed
