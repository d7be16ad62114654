"""Watching the candidate for the whole interview, with the real models and real aiortc peers: the
candidate's camera switches to no face, then two faces, then another person; each flag is raised
within the configured time, once, and cleared when the right face comes back; the examiners and
the exam's proctors receive them over socket.io, the audit stream and the recording's timeline keep
them, and only the exam's proctors can open the snapshot of the frame that raised one."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack

from server.accounts.sessions import COOKIE
from server.store.audit import Actor
from tests.conftest import PASSWORD

from ..facecheck import faces
from ..rooms.peers import Client
from .conftest import url_of
from .test_room_face import face_live_world
from .test_rooms import called_candidate, media_client


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


@pytest.fixture
async def live(services):
    return await face_live_world(services)


def framed(image: np.ndarray) -> np.ndarray:
    """A 640x480 camera picture of ``image``, as a phone at arm's length shows a face."""
    fitted = faces.scale(image, min(460 / image.shape[0], 620 / image.shape[1]))
    return faces.on_canvas(fitted, 640, 480, at=((640 - fitted.shape[1]) // 2, 10))


class Camera(VideoStreamTrack):
    """A camera whose picture the test switches."""

    def __init__(self, picture: np.ndarray) -> None:
        super().__init__()
        self.picture = picture

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class CameraClient(Client):
    def __init__(self, *args, camera: Camera, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.camera = camera

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(self.camera, direction="sendonly")
        return pc


async def snapshot(server, services, account, path: str) -> tuple[int, bytes]:
    token = await services.sessions.create(account.id, account.role)
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={token}"}) as http:
        async with http.get(url_of(server) + path) as response:
            return response.status, await response.read()


async def test_each_flag_is_raised_once_in_time_and_cleared_by_the_right_face(
    server, services, settings, live, peers, clients
):
    right, nobody = framed(faces.grace_hopper()), framed(faces.coffee())
    two = framed(faces.side_by_side(faces.grace_hopper(), faces.grace_hopper()))
    other = framed(faces.astronaut())
    proctor = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    camera = Camera(right)
    template = media_client(candidate, account.id, "candidate", live.room.id, "red")
    cam = CameraClient(template.room, account.id, "candidate", camera=camera)
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    clients.append(cam)
    await cam.join()
    face = await examiner.wait_for("room:face", lambda d: d["state"] != "checking", timeout=40)
    assert face["state"] == "verified", face
    await asyncio.sleep(2 * settings.monitor_interval_s)  # the right face, watched: nothing raised
    assert not examiner.seen("room:flag")

    slack = 2 * settings.monitor_interval_s + 3  # a sample's wait for a frame, the pool, the sockets
    limits = {
        "face_missing": settings.monitor_no_face_s + slack,
        "face_multiple": slack,
        "face_mismatch": settings.monitor_mismatch_samples * settings.monitor_interval_s + slack,
    }
    for picture, kind in ((nobody, "face_missing"), (two, "face_multiple"), (other, "face_mismatch")):
        camera.picture, switched = picture, time.monotonic()
        raised = await examiner.wait_for(
            "room:flag", lambda d, k=kind: d["kind"] == k and d["state"] == "raised", timeout=limits[kind] + 5
        )
        took = time.monotonic() - switched
        assert took <= limits[kind], (kind, took)
        assert raised["account_id"] == account.id and raised["room_id"] == live.room.id
        assert raised["label"]["zh"] and raised["at_s"] > 0 and "snapshot" not in raised
        # the proctors get it too, with the frame that raised it
        told = await proctor.wait_for("proctor:flag", lambda d, f=raised["flag_id"]: d["flag_id"] == f, timeout=5)
        assert told["kind"] == kind and told["exam_id"] == live.exam.id and told["snapshot_url"]
        status, jpeg = await snapshot(server, services, live.proctor, told["snapshot_url"])
        assert status == 200 and jpeg[:2] == b"\xff\xd8", status
        # the candidate hears what helps them, not which flag
        prompt = await candidate.wait_for("room:prompt", timeout=5)
        assert prompt["message"]["zh"] == "请保持正脸在画面中" and kind not in str(prompt)
        await asyncio.sleep(2 * settings.monitor_interval_s)  # still there: raised once only
        camera.picture = right
        cleared = await examiner.wait_for(
            "room:flag", lambda d, f=raised["flag_id"]: d["flag_id"] == f and d["state"] == "cleared", timeout=slack + 5
        )
        assert cleared["kind"] == kind
        await proctor.wait_for(
            "proctor:flag", lambda d, f=raised["flag_id"]: d["flag_id"] == f and d["state"] == "cleared"
        )
        candidate.events.clear()

    changes = [(d["kind"], d["state"]) for d in examiner.seen("room:flag")]
    assert changes == [
        ("face_missing", "raised"),
        ("face_missing", "cleared"),
        ("face_multiple", "raised"),
        ("face_multiple", "cleared"),
        ("face_mismatch", "raised"),
        ("face_mismatch", "cleared"),
    ], changes
    assert [(d["kind"], d["state"]) for d in proctor.seen("proctor:flag")] == changes

    # the audit stream and the recording's timeline keep them
    entries = await services.audit.read(live.exam.id, count=500, subject=account.id)
    audited = [e for e in entries if e["event"].startswith("monitor_flag_")]
    assert len(audited) == 6, audited
    entry = await services.queue.entry(live.room.id, account.id)
    record = await services.recordings.get(entry.admission)
    timeline = services.recordings.flags(record)
    assert [(f["kind"], f["state"]) for f in timeline] == changes
    assert all(f["at_s"] > 0 for f in timeline)
    assert [bool(f.get("snapshot")) for f in timeline] == [True, False] * 3
    for earlier, later in zip(timeline, timeline[1:], strict=False):
        assert earlier["at_s"] <= later["at_s"]


async def test_only_the_exams_proctors_open_a_snapshot(server, services, settings, live, peers, clients):
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    camera = Camera(framed(faces.side_by_side(faces.grace_hopper(), faces.grace_hopper())))
    template = media_client(candidate, account.id, "candidate", live.room.id, "red")
    cam = CameraClient(template.room, account.id, "candidate", camera=camera)
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    clients.append(cam)
    await cam.join()
    raised = await examiner.wait_for("room:flag", lambda d: d["kind"] == "face_multiple", timeout=40)
    record = await services.recordings.get(raised["interview_id"])
    name = services.recordings.flags(record)[0]["snapshot"]
    path = f"/api/proctor/recordings/{raised['interview_id']}/flags/{name}"
    assert (await snapshot(server, services, live.proctor, path))[0] == 200
    # a proctor of another exam, the candidate, a name the timeline does not list: refused
    stranger = await services.directory.create(
        "proctor", PASSWORD, Actor.system(), name="巡考二", username="proctor-two"
    )
    assert (await snapshot(server, services, stranger, path))[0] == 403
    assert (await snapshot(server, services, account, path))[0] == 403
    unlisted = f"/api/proctor/recordings/{raised['interview_id']}/flags/flag-999.jpg"
    assert (await snapshot(server, services, live.proctor, unlisted))[0] == 404
    # the candidate cannot clear a face flag: their page's reports touch page flags only
    for event in ("visible", "camera_live", "microphone_live"):
        assert (await candidate.call("room:device", {"room_id": live.room.id, "event": event}))["ok"]
    assert (await candidate.call("room:device", {"room_id": live.room.id, "event": "face_multiple"}))["ok"] is False
    assert (await candidate.call("room:flag", {"kind": "face_multiple", "state": "cleared"}))["ok"] is False
    await asyncio.sleep(2 * settings.monitor_interval_s)
    assert not [d for d in examiner.seen("room:flag") if d["state"] == "cleared"]


async def test_a_busy_pool_slows_sampling_to_its_floor_and_tells_the_proctors(
    server, services, settings, live, peers, clients
):
    proctor = await peers(url_of(server), "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    template = media_client(candidate, account.id, "candidate", live.room.id, "red")
    cam = CameraClient(template.room, account.id, "candidate", camera=Camera(framed(faces.grace_hopper())))
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    clients.append(cam)
    await cam.join()
    await examiner.wait_for("room:face", lambda d: d["state"] != "checking", timeout=40)
    pool = services.face_checks.pool
    frame = framed(faces.astronaut())
    busy = asyncio.Event()

    async def load() -> None:  # other rooms' work: the pool's queue stays deep
        while not busy.is_set():
            if pool.pending < 16:
                asyncio.ensure_future(pool.observe_frame(frame, liveness=False))
            await asyncio.sleep(0.005)

    loader = asyncio.ensure_future(load())
    try:
        alarm = await proctor.wait_for("proctor:alarm", lambda d: d["state"] == "raised", timeout=20)
        assert alarm["kind"] == "monitoring_degraded" and alarm["message"]["zh"]
        assert alarm["interval_s"] == settings.monitor_max_interval_s < alarm["wanted_interval_s"]
    finally:
        busy.set()
        await loader
    cleared = await proctor.wait_for("proctor:alarm", lambda d: d["state"] == "cleared", timeout=30)
    assert cleared["kind"] == "monitoring_degraded"
    assert not examiner.seen("room:flag")  # the right face all along: a slower pace raised nothing
