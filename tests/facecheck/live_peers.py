"""aiortc peers that publish a camera to the live face check (server/signaling/face_live.py), as a
candidate's page does: a driven face that follows the server's moves, a replayed clip, and broken
cameras. Frames are real pictures (tests/facecheck/faces.py, tests/e2e/fakecam.py) encoded by
aiortc's VP8 encoder and decoded by the server."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from server.signaling.fanout import CANDIDATE
from tests.e2e import fakecam
from tests.facecheck import faces

FPS = 15
PEAK_DEG = 35.0
TURN_DEG_PER_S = 90.0  # a brisk but human head turn


class CameraTrack(MediaStreamTrack):
    """A camera at FPS frames a second; ``picture(t)`` (t: seconds since the first frame) draws each."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.started: float | None = None
        self.count = 0
        self.rng = np.random.default_rng(1)
        self.noise = [
            self.rng.normal(0.0, 1.5, (fakecam.HEIGHT, fakecam.WIDTH, 3)).astype(np.float32) for _ in range(6)
        ]
        self.sent: list[tuple[float, np.ndarray]] = []  # (t, picture): what this camera showed
        self.keep = False

    def picture(self, t: float) -> np.ndarray | None:
        raise NotImplementedError

    def noisy(self, image: np.ndarray) -> np.ndarray:
        """Sensor noise, different in every frame, as a real camera's."""
        noise = self.noise[self.count % len(self.noise)]
        return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)

    async def recv(self) -> av.VideoFrame:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        due = self.started + self.count / FPS
        if due > now:
            await asyncio.sleep(due - now)
        t = self.count / FPS
        image = self.picture(t)
        while image is None:  # a camera that shows nothing (yet)
            await asyncio.sleep(0.05)
            image = self.picture(time.monotonic() - self.started)
        if self.keep:
            self.sent.append((t, image))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = self.count * (90000 // FPS), fractions.Fraction(1, 90000)
        self.count += 1
        return frame


class Renders:
    """A portrait on a 640x480 canvas, turned by whole degrees (faces.turn_head), cached."""

    def __init__(self, photo: np.ndarray, observe) -> None:
        self.frontal = fakecam.portrait_on_canvas(photo)
        seen = observe(self.frontal)
        assert seen.reason is None, seen.reason
        self.box, self.keypoints = seen.box, seen.keypoints
        self.cache: dict[int, np.ndarray] = {0: self.frontal}

    def at(self, degrees: float) -> np.ndarray:
        key = int(round(degrees / 5.0) * 5)
        if key not in self.cache:
            self.cache[key] = faces.turn_head(self.frontal, self.box, self.keypoints, key)
        return self.cache[key]

    def warm(self) -> None:
        for d in range(-int(PEAK_DEG), int(PEAK_DEG) + 1, 5):
            self.at(d)


class DrivenFace(CameraTrack):
    """A face that turns when told (``turn(direction)``), back to the front after ``hold_s``."""

    def __init__(self, renders: Renders, delay_s: float = 0.3, hold_s: float = 0.8) -> None:
        super().__init__()
        self.renders, self.delay_s, self.hold_s = renders, delay_s, hold_s
        self.angle, self.target = 0.0, 0.0
        self.last_t = 0.0
        self.plan: list[tuple[float, float]] = []  # (monotonic time, target angle from then)

    def turn(self, direction: str) -> None:
        now = time.monotonic()
        peak = PEAK_DEG if direction == "left" else -PEAK_DEG  # > 0: the person's own left
        self.plan += [(now + self.delay_s, peak), (now + self.delay_s + self.hold_s, 0.0)]

    def picture(self, t: float) -> np.ndarray:
        now = time.monotonic()
        while self.plan and self.plan[0][0] <= now:
            self.target = self.plan.pop(0)[1]
        step = TURN_DEG_PER_S * max(0.0, t - self.last_t)
        self.last_t = t
        self.angle += max(-step, min(step, self.target - self.angle))
        return self.noisy(self.renders.at(self.angle))


class Replay(CameraTrack):
    """A clip played as the camera, in a loop, from ``offset_s`` into it."""

    def __init__(self, clip: list[np.ndarray], offset_s: float = 0.0, fps: float = FPS, noise: bool = False) -> None:
        super().__init__()
        self.clip, self.offset_s, self.fps, self.add_noise = clip, offset_s, fps, noise

    def picture(self, t: float) -> np.ndarray:
        image = self.clip[int((t + self.offset_s) * self.fps) % len(self.clip)]
        return self.noisy(image) if self.add_noise else image


class Still(CameraTrack):
    """One picture, or a function of time (e.g. a size change)."""

    def __init__(self, draw) -> None:
        super().__init__()
        self.draw = draw

    def picture(self, t: float) -> np.ndarray | None:
        return self.draw(t)


class Publisher:
    """The page's side: a socket.io client (tests/signaling/conftest.py Peer) and one aiortc peer
    sending ``track``; ``start()`` asks for the live check and returns its ack."""

    def __init__(self, socket, exam_id: str, track: CameraTrack) -> None:
        self.socket, self.exam_id, self.track = socket, exam_id, track
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(track, direction="sendonly")

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def start(self) -> dict:
        ack = await self.socket.call("face:live", {"exam_id": self.exam_id, "sdp": await self.offer()})
        if "sdp" in ack:
            await self.pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
        return ack

    async def result(self, timeout: float = 40.0) -> dict:
        return await self.socket.wait_for("face:result", timeout=timeout)

    async def close(self) -> None:
        await self.pc.close()


def follow(socket, track: DrivenFace) -> None:
    """The driven candidate: every ``face:move`` the server sends turns the face that way."""

    async def on_move(data) -> None:
        track.turn(data["move"])

    socket.handlers["face:move"] = on_move


__all__ = ["CANDIDATE", "DrivenFace", "Publisher", "Renders", "Replay", "Still", "follow"]
