"""Make aiortc hand out encoded frames instead of decoded pictures (docs/rooms.md).

aiortc 1.16 decodes every received track in a thread that looks up the module-level
``aiortc.rtcrtpreceiver.get_decoder`` for each codec. Replacing that function with one that
returns a *passthrough* "decoder" makes ``RemoteStreamTrack.recv()`` return ``av.Packet``
objects (encoded VP8 / Opus) that an ``RTCRtpSender`` packs again without encoding, and
that PyAV can mux to disk as they are. The patch is process-wide and depends on aiortc
internals, hence the exact version pin and the check in :func:`install`.
"""

from __future__ import annotations

import fractions
import logging
import threading

import av

log = logging.getLogger(__name__)

SUPPORTED_AIORTC = "1.16.0"
VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000

_installed = False
_original_get_decoder = None


class PassthroughError(RuntimeError):
    """aiortc is not the version whose internals the patch was written for."""


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if ``data`` is a VP8 keyframe, else None (RFC 6386 9.1).

    A keyframe has bit 0 of the first byte clear, a start code 9d 01 2a at bytes 3-5 and
    14-bit width/height little-endian at bytes 6-9.
    """
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


class PassthroughDecoder:
    """A "decoder" that wraps each reassembled frame into one ``av.Packet``.

    Attributes a consumer can read on the packet: ``pts`` (RTP clock, starting at 0),
    ``time_base`` (1/clock rate), ``is_keyframe`` (always True for audio). The frame size of
    the last VP8 keyframe is kept on the decoder and copied onto keyframe packets as the
    ``opaque`` tuple ``(width, height)`` so that recorders know it without parsing.
    """

    def __init__(self, kind: str, clock_rate: int) -> None:
        self.kind = kind
        self.time_base = fractions.Fraction(1, clock_rate)

    def decode(self, encoded_frame) -> list[av.Packet]:
        data = encoded_frame.data
        if not data:
            return []
        packet = av.Packet(data)
        packet.pts = encoded_frame.timestamp
        packet.time_base = self.time_base
        if self.kind == "video":
            size = vp8_keyframe_size(data)
            packet.is_keyframe = size is not None
            if size is not None:
                packet.opaque = size
        else:
            packet.is_keyframe = True
        return [packet]


def _passthrough_get_decoder(codec):
    mime = codec.mimeType.lower()
    if mime == "video/vp8":
        return PassthroughDecoder("video", codec.clockRate or VIDEO_CLOCK)
    if mime == "audio/opus":
        return PassthroughDecoder("audio", codec.clockRate or AUDIO_CLOCK)
    # Anything else is refused at negotiation (VP8 + Opus only); decode it the usual way.
    return _original_get_decoder(codec)


def check_version() -> None:
    """Raise :class:`PassthroughError` unless aiortc is exactly the supported version."""
    import aiortc

    version = getattr(aiortc, "__version__", "unknown")
    if version != SUPPORTED_AIORTC:
        raise PassthroughError(
            f"server.rooms needs aiortc=={SUPPORTED_AIORTC} (found {version}): the "
            "encoded-frame passthrough patches its receiver internals; check "
            "docs/rooms.md before changing the pin"
        )


def install() -> None:
    """Patch aiortc once per process (idempotent). Every receiver created afterwards in
    this process yields encoded packets: do not mix with code expecting decoded frames."""
    global _installed, _original_get_decoder
    if _installed:
        return
    check_version()
    import aiortc.rtcrtpreceiver as receiver_module

    if not callable(getattr(receiver_module, "get_decoder", None)):
        raise PassthroughError("aiortc.rtcrtpreceiver.get_decoder not found")
    _original_get_decoder = receiver_module.get_decoder
    receiver_module.get_decoder = _passthrough_get_decoder
    _installed = True
    log.info("aiortc %s patched for encoded-frame passthrough", SUPPORTED_AIORTC)


def installed() -> bool:
    return _installed


class _DirectQueue:
    """Stands in for a receiver's decoder queue: frames become packets on the event loop
    and go straight onto the track's queue.

    aiortc hands every reassembled frame to a decoder thread and back to the loop with
    ``run_coroutine_threadsafe``: two thread hops per frame, pointless for a "decoder"
    that only wraps bytes. The thread aiortc still starts just waits here for the end.
    """

    def __init__(self, track_queue) -> None:
        self._track_queue = track_queue
        self._decoders: dict = {}
        self._ended = threading.Event()

    def put(self, item) -> None:  # called on the event loop by the receiver
        if item is None:
            self._ended.set()
            return
        codec, encoded_frame = item
        decoder = self._decoders.get(codec.name)
        if decoder is None:
            decoder = self._decoders[codec.name] = _passthrough_get_decoder(codec)
        if not isinstance(decoder, PassthroughDecoder):
            return  # not VP8/Opus: refused at negotiation
        for packet in decoder.decode(encoded_frame):
            self._track_queue.put_nowait(packet)

    def get(self):  # called by aiortc's decoder thread: block until the receiver stops
        self._ended.wait()
        return None


def bypass_decoder_thread(receiver) -> bool:
    """Deliver ``receiver``'s frames on the event loop (see :class:`_DirectQueue`). Call
    before the receiver starts (i.e. right after setRemoteDescription). Returns False when
    aiortc's internals are not as expected (then the patched decoder thread is used)."""
    name = "_RTCRtpReceiver__decoder_queue"
    track = receiver.track
    if (track is None or getattr(receiver, "_RTCRtpReceiver__started", True)
            or not hasattr(receiver, name)):
        return False
    setattr(receiver, name, _DirectQueue(track._queue))
    return True


def shrink_jitter_buffer(receiver, capacity: int = 128) -> None:
    """Use a smaller video jitter buffer on ``receiver``.

    aiortc's 512-packet video buffer can hold output for ~5 s after one lost packet before it
    asks for a keyframe; 128 packets is still several 1 Mbit/s frames deep.
    """
    from aiortc.jitterbuffer import JitterBuffer

    name = "_RTCRtpReceiver__jitter_buffer"
    current = getattr(receiver, name, None)
    if current is not None and current.capacity > capacity and getattr(current, "_is_video", False):
        setattr(receiver, name, JitterBuffer(capacity=capacity, is_video=True))


def enlarge_socket_buffers(pc, size: int = 1 << 20) -> int:
    """Give the peer connection's UDP sockets ``size`` bytes of receive/send buffer (capped by
    net.core.rmem_max/wmem_max); returns how many sockets were changed.

    The default ~208 KB fills in a fraction of a second when the event loop is busy with a
    few 1 Mbit/s streams: the kernel then drops whole bursts of video packets (seen as
    RcvbufErrors in /proc/net/snmp). Call after setLocalDescription (sockets exist then).
    """
    import socket

    changed = 0
    seen = set()
    for transceiver in pc.getTransceivers():
        connection = getattr(transceiver.receiver.transport.transport, "_connection", None)
        for protocol in getattr(connection, "_protocols", ()):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is None or sock.fileno() in seen:
                continue
            seen.add(sock.fileno())
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
                changed += 1
            except OSError:
                pass
    return changed
