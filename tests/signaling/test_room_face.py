"""The face check on room entry, on frames decoded from the candidate's forwarded video, with the
real models: the right face is verified for the examiners; another face sends the candidate back
to the face check and out of the room's media."""

from __future__ import annotations

import asyncio

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack

from ..facecheck import faces
from ..live import live_world
from ..rooms.peers import Client
from .test_rooms import called_candidate, media_client


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


async def face_live_world(services):
    """Two candidates whose ID photo is grace_hopper, booked into a running slot."""
    grace = faces.encode(faces.grace_hopper())
    return await live_world(services, size=2, photos=[grace, grace])


@pytest.fixture
async def live(services):
    return await face_live_world(services)


class FaceTrack(VideoStreamTrack):
    """A camera that shows one face, as a phone held at arm's length would; with ``flowing``, its
    first frame comes only once that is set (a camera that stalled: the track is there, no frame)."""

    def __init__(self, image, flowing: asyncio.Event | None = None) -> None:
        super().__init__()
        fitted = faces.scale(image, 460 / image.shape[0])
        self.frame = faces.on_canvas(fitted, 640, 480, at=((640 - fitted.shape[1]) // 2, 10))
        self.flowing = flowing

    async def recv(self) -> av.VideoFrame:
        if self.flowing is not None:
            await self.flowing.wait()
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.frame, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class FaceClient(Client):
    def __init__(self, *args, image, flowing: asyncio.Event | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.image, self.flowing = image, flowing

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(FaceTrack(self.image, self.flowing), direction="sendonly")
        return pc


def decided(face: dict) -> bool:
    return face["state"] != "checking"


async def enter_with(image, server, services, live, peers, clients, flowing: asyncio.Event | None = None):
    account, candidate, examiner = await called_candidate(peers, server, services, live)
    template = media_client(candidate, account.id, "candidate", live.room.id, "red")
    cam = FaceClient(template.room, account.id, "candidate", image=image, flowing=flowing)
    candidate.handlers["rtc:offer"] = lambda data: cam.on_server_offer(data["sdp"])
    clients.append(cam)
    await cam.join()
    return account, candidate, examiner


async def test_the_right_face_is_verified_in_the_room(server, services, live, peers, clients):
    account, candidate, examiner = await enter_with(faces.grace_hopper(), server, services, live, peers, clients)
    face = await examiner.wait_for("room:face", decided, timeout=40)  # after "checking"
    assert face["passed"] is True and face["state"] == "verified" and face["account_id"] == account.id, face
    assert (await candidate.wait_for("room:face"))["passed"] is True
    assert (await services.queue.entry(live.room.id, account.id)).state == "in_room"


async def test_another_face_goes_back_to_the_face_check(server, services, live, peers, clients):
    account, candidate, examiner = await enter_with(faces.astronaut(), server, services, live, peers, clients)
    face = await examiner.wait_for("room:face", decided, timeout=40)
    assert face["passed"] is False and face["reason"] == "face_mismatch" and face["message"]["zh"]
    state = await candidate.wait_for(
        "queue:state", lambda d: d["state"] == "waiting_face_check" and d["reason"], timeout=10
    )
    assert state["reason"] == "face_room_failed" and state["position"] == 1
    people = await examiner.wait_for(
        "room:participants", lambda d: not any(p["kind"] == "candidate" for p in d["participants"]), timeout=10
    )
    assert people["room_id"] == live.room.id
    room = await examiner.wait_for("queue:room", lambda d: d["current"] is None)
    assert room["line"][0]["account_id"] == account.id  # back at the head of the line
