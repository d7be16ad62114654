"""Real aiortc client peers for the room tests: they send VP8/Opus made by aiortc's own
encoders from generated pictures, and record what they receive (encoded packets, since the
passthrough patch is process-wide)."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc import sdp as aiortc_sdp
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

COLORS = {  # Y, U, V of a solid picture per participant, recognisable after decoding
    "red": (81, 90, 240),
    "green": (145, 54, 34),
    "blue": (41, 240, 110),
    "white": (235, 128, 128),
}


def yuv_to_rgb(y: int, u: int, v: int) -> tuple[int, int, int]:
    c, d, e = y - 16, u - 128, v - 128
    r = 1.164 * c + 1.596 * e
    g = 1.164 * c - 0.392 * d - 0.813 * e
    b = 1.164 * c + 2.017 * d
    return tuple(int(max(0, min(255, x))) for x in (r, g, b))


class ColorTrack(VideoStreamTrack):
    """A solid-colour picture with a small moving block, 30 fps."""

    def __init__(self, color: str = "red", width: int = 160, height: int = 120) -> None:
        super().__init__()
        y, u, v = COLORS[color]
        self.width, self.height = width, height
        self._base = np.empty((height * 3 // 2, width), np.uint8)
        self._base[:height] = y
        chroma = self._base[height:].reshape(2, height // 2, width // 2)  # u plane, v plane
        chroma[0] = u
        chroma[1] = v
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        data = self._base.copy()
        x = (self.frames * 4) % (self.width - 16)
        data[8:24, x : x + 16] = 16
        frame = av.VideoFrame.from_ndarray(data, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


@dataclass
class Received:
    track_id: str
    kind: str
    packets: list = field(default_factory=list)  # (monotonic time, is_keyframe, size)

    @property
    def count(self) -> int:
        return len(self.packets)


class Client:
    """One participant: a browser stand-in holding one peer connection to the room."""

    def __init__(
        self,
        room,
        participant_id: str,
        kind: str,
        color: str = "red",
        audio: bool = True,
        video: bool = True,
        size=(160, 120),
        config: RTCConfiguration | None = None,
    ) -> None:
        self.room = room
        self.config = config or RTCConfiguration(iceServers=[])
        self.participant_id = participant_id
        self.kind = kind
        self.color = color
        self.audio, self.video = audio, video
        self.size = size
        self.pc: RTCPeerConnection | None = None
        self.received: dict[str, Received] = {}
        self.offers = 0
        self.answered = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self.config)

        @pc.on("track")
        def on_track(track) -> None:
            rec = Received(track.id, track.kind)
            self.received[track.id] = rec
            self._tasks.append(asyncio.ensure_future(self._read(track, rec)))

        if self.audio:
            pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        if self.video:
            pc.addTransceiver(ColorTrack(self.color, *self.size), direction="sendonly")
        return pc

    async def _read(self, track, rec: Received) -> None:
        try:
            while True:
                packet = await track.recv()
                rec.packets.append((time.monotonic(), packet.is_keyframe, packet.size, bytes(packet)))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def make_offer(self) -> str:
        self.pc = self._new_pc()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def join(self) -> None:
        offer = await self.make_offer()
        answer = await self.room.join(self.participant_id, self.kind, offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def reconnect(self) -> None:
        old = self.pc
        offer = await self.make_offer()
        answer = await self.room.restart(self.participant_id, offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await old.close()

    async def on_server_offer(self, offer_sdp: str) -> None:
        """What the signaling layer does with a server offer: answer it."""
        self.offers += 1
        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.room.answer(self.participant_id, pc.localDescription.sdp)
        self.answered.set()

    def streams(self) -> dict[str, str]:
        """track id -> msid stream id, from the last server description."""
        if self.pc is None or self.pc.remoteDescription is None:
            return {}
        desc = aiortc_sdp.SessionDescription.parse(self.pc.remoteDescription.sdp)
        out = {}
        for media in desc.media:
            if media.msid and media.direction in ("sendonly", "sendrecv"):
                stream, track = media.msid.split()
                out[track] = stream
        return out

    def received_from(self) -> dict[tuple[str, str], int]:
        """(stream id, kind) -> packets received, for live server tracks."""
        streams = self.streams()
        out: dict[tuple[str, str], int] = {}
        for track_id, rec in self.received.items():
            stream = streams.get(track_id)
            if stream is not None:
                out[(stream, rec.kind)] = out.get((stream, rec.kind), 0) + rec.count
        return out

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.pc is not None:
            await self.pc.close()


class Switchboard:
    """The room's ``renegotiate`` callback, delivering server offers to clients as the
    signaling layer would (without waiting for the answer)."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.offers: list[tuple[str, str]] = []
        self._tasks: list[asyncio.Task] = []

    async def __call__(self, participant_id: str, offer_sdp: str) -> None:
        self.offers.append((participant_id, offer_sdp))
        client = self.clients.get(participant_id)
        if client is not None:
            self._tasks.append(asyncio.ensure_future(client.on_server_offer(offer_sdp)))

    def add(self, client: Client) -> Client:
        self.clients[client.participant_id] = client
        return client


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


def encode_clip(
    frames: int = 60, width: int = 160, height: int = 120, fps: int = 30, gop: int = 30, bitrate: int = 300_000
) -> list[tuple[bytes, bool]]:
    """VP8 packets (data, keyframe) of a generated clip, encoded once with PyAV."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, fps)
    enc.bit_rate = bitrate
    enc.gop_size = gop
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = np.random.default_rng(1)
    out = []
    for i in range(frames):
        data = np.full((height * 3 // 2, width), 128, np.uint8)
        data[:height] = rng.integers(60, 200, (height, width), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(data, format="yuv420p")
        frame.pts = i
        for p in enc.encode(frame):
            out.append((bytes(p), p.is_keyframe))
    for p in enc.encode(None):
        out.append((bytes(p), p.is_keyframe))
    return out


def encode_opus(packets: int = 50) -> list[bytes]:
    """20 ms Opus packets of a tone, encoded once with PyAV."""
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    enc.time_base = fractions.Fraction(1, 48000)
    t = np.arange(960 * packets) / 48000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    out = []
    for i in range(packets):
        chunk = np.repeat(pcm[i * 960 : (i + 1) * 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        out.extend(bytes(p) for p in enc.encode(frame))
    return out


def packet(data: bytes, pts: int, clock: int, keyframe: bool) -> av.Packet:
    """A packet as the passthrough decoder makes it."""
    p = av.Packet(data)
    p.pts = pts
    p.time_base = fractions.Fraction(1, clock)
    p.is_keyframe = keyframe
    return p
