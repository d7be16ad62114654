"""A candidate's camera published to this process for the queue-entry face check: one aiortc
peer connection, receive-only, whose video the server decodes itself (docs/facecheck.md "Live
challenge"). Short-lived: closed as soon as the check ends. Not a room: nothing is forwarded or
recorded, and the process that answers the candidate's socket holds it.

aiortc's receivers hand out encoded VP8 here (the process-wide passthrough patch, ``passthrough``);
every packet is decoded with PyAV in a thread (``asyncio.to_thread``), never on the event loop. An
unpatched aiortc (a test process that never installed the patch) hands out decoded frames: both are
taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import av
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from .sdp import MediaError, check_offer, codec_preferences

log = logging.getLogger(__name__)


class FacePublish:
    """The receiving end of one candidate's face-check publish."""

    def __init__(self, ice_servers: list[RTCIceServer]) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._track: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed = False

        @self.pc.on("track")
        def _on_track(track) -> None:
            if track.kind == "video" and not self._track.done():
                self._track.set_result(track)

    async def answer(self, offer_sdp: str) -> str:
        """Our answer to the page's offer: it must send video (VP8); audio, if offered, is not taken."""
        kinds = check_offer(offer_sdp, "candidate")
        if "video" not in kinds:
            raise MediaError("no_video", "the face check needs the camera's video")
        try:
            for kind in kinds:
                transceiver = self.pc.addTransceiver(kind, direction="recvonly")
                transceiver.setCodecPreferences(codec_preferences(kind))
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except MediaError:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise MediaError("sdp_invalid", f"offer refused: {type(exc).__name__}: {exc}") from None
        return self.pc.localDescription.sdp

    async def frames(self) -> AsyncIterator[tuple[float, av.VideoFrame]]:
        """Every decoded frame of the video as it arrives: (time.monotonic() on arrival, frame).
        Ends when the track ends or the publish is closed; a packet that does not decode is skipped."""
        try:
            track = await self._track
        except asyncio.CancelledError:
            if self.closed:  # closed before the page's video came: no frames
                return
            raise
        decoder = av.CodecContext.create("vp8", "r")
        while not self.closed:
            try:
                item = await track.recv()
            except MediaStreamError:
                return
            arrived = time.monotonic()
            if isinstance(item, av.VideoFrame):
                yield arrived, item
                continue
            try:
                decoded = await asyncio.to_thread(decoder.decode, av.Packet(bytes(item)))
            except av.FFmpegError:
                continue
            for frame in decoded:
                yield arrived, frame

    async def close(self) -> None:
        self.closed = True
        if not self._track.done():
            self._track.cancel()
        try:
            await self.pc.close()
        except Exception:
            log.exception("closing a face-check publish")
