"""Make aiortc hand out encoded frames instead of decoded pictures, and hold every use of a
private name of aiortc or aioice in the server (docs/rooms.md). Over ~400 lines on purpose: every
private name in one module, with the start-up check that lists them, is the point of it.

aiortc 1.16 decodes every received track in a thread that looks up the module-level
``aiortc.rtcrtpreceiver.get_decoder`` for each codec. Replacing that function with one that
returns a *passthrough* "decoder" makes ``RemoteStreamTrack.recv()`` return ``av.Packet``
objects (encoded VP8 / Opus) that an ``RTCRtpSender`` packs again without encoding, and
that PyAV can mux to disk as they are. The patch is process-wide (:func:`install`).

The rest of the server reaches aiortc/aioice internals only through the small functions
below (:func:`set_stream_id`, :func:`on_keyframe_request`, :func:`rtx_ssrcs`,
:func:`request_keyframe`, :func:`bypass_decoder_thread`, :func:`shrink_jitter_buffer`,
:func:`enlarge_socket_buffers`). :data:`INTERNALS` says which private name each one uses,
on which class, and which aiortc code must still read it; :func:`check_internals`, run when
the app starts (``server/signaling/hub.py``) and by :func:`install`, refuses to go on unless
aiortc and aioice are the pinned versions and every one of those names is in place. A
missing name fails loudly there, and these functions use the names directly (an
``AttributeError`` naming it), never a silent fallback. ``tests/rooms/test_passthrough.py``
fails when another module under ``server/`` uses one of them, or when this module's uses
and :data:`PRIVATE_NAMES` differ.
"""

from __future__ import annotations

import asyncio
import dis
import fractions
import importlib
import inspect
import logging
import socket
import threading
from dataclasses import dataclass

import av

log = logging.getLogger(__name__)

PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0"}  # as constraints.txt (tests/rooms/test_passthrough.py)
SUPPORTED_AIORTC = PINNED["aiortc"]
VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000

_installed = False
_original_get_decoder = None


@dataclass(frozen=True)
class Internal:
    """One private name of aiortc/aioice this module uses.

    ``owner`` is ``"module:Class"`` (or ``"module"`` for a module-level function); ``kind`` is
    ``"method"``, ``"function"`` or ``"attribute"`` (an instance attribute that the owner's
    ``__init__`` sets); ``read_by`` lists aiortc functions (``"module:Qual.name"``) that must
    still refer to the name, where we replace its value: a name that exists but that aiortc
    no longer reads would make the replacement silently useless.
    """

    name: str
    owner: str
    kind: str
    read_by: tuple[str, ...] = ()


_RECEIVER = "aiortc.rtcrtpreceiver:RTCRtpReceiver"
INTERNALS = (
    # install(): the decoder thread's decoder, replaced process-wide
    Internal("get_decoder", "aiortc.rtcrtpreceiver", "function", ("aiortc.rtcrtpreceiver:decoder_worker",)),
    # bypass_decoder_thread(): the queue to the decoder thread, replaced before the receiver starts
    Internal(
        "_RTCRtpReceiver__decoder_queue",
        _RECEIVER,
        "attribute",
        (f"{_RECEIVER}.receive", f"{_RECEIVER}._handle_rtp_packet"),
    ),
    Internal("_RTCRtpReceiver__started", _RECEIVER, "attribute", (f"{_RECEIVER}.receive",)),
    Internal(
        "_queue",
        "aiortc.rtcrtpreceiver:RemoteStreamTrack",
        "attribute",
        ("aiortc.rtcrtpreceiver:RemoteStreamTrack.recv",),
    ),
    # shrink_jitter_buffer(): the video jitter buffer, replaced by a smaller one
    Internal("_RTCRtpReceiver__jitter_buffer", _RECEIVER, "attribute", (f"{_RECEIVER}._handle_rtp_packet",)),
    Internal("_is_video", "aiortc.jitterbuffer:JitterBuffer", "attribute"),
    # rtx_ssrcs(), request_keyframe(): PLIs to the publishing peer (forwarding.Publisher)
    Internal("_RTCRtpReceiver__rtx_ssrc", _RECEIVER, "attribute", (f"{_RECEIVER}.receive",)),
    Internal("_send_rtcp_pli", _RECEIVER, "method"),
    # set_stream_id(): the msid stream id of a forwarded track (media.MediaRoom)
    Internal(
        "_stream_id",
        "aiortc.rtcrtpsender:RTCRtpSender",
        "attribute",
        ("aiortc.rtcpeerconnection:create_media_description_for_transceiver",),
    ),
    # on_keyframe_request(): a subscriber's PLI/FIR, replaced (forwarding.ForwardedTrack)
    Internal(
        "_send_keyframe",
        "aiortc.rtcrtpsender:RTCRtpSender",
        "method",
        ("aiortc.rtcrtpsender:RTCRtpSender._handle_rtcp_packet",),
    ),
    # enlarge_socket_buffers(): the ICE connection's UDP sockets
    Internal("_connection", "aiortc.rtcicetransport:RTCIceTransport", "attribute"),
    Internal("_protocols", "aioice.ice:Connection", "attribute"),
)
PRIVATE_NAMES = tuple(internal.name for internal in INTERNALS)


class PassthroughError(RuntimeError):
    """aiortc/aioice are not the versions, or lack the internals, this module was written for."""


def _versions() -> dict[str, str]:
    import aioice
    import aiortc

    return {"aiortc": getattr(aiortc, "__version__", "unknown"), "aioice": getattr(aioice, "__version__", "unknown")}


def _pins_text() -> str:
    return " and ".join(f"{name}=={version}" for name, version in PINNED.items())


def _found_text(found: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in found.items())


def check_version() -> None:
    """Raise :class:`PassthroughError` unless aiortc and aioice are exactly the pinned versions."""
    found = _versions()
    if found != PINNED:
        raise PassthroughError(
            f"server.rooms needs {_pins_text()} (found {_found_text(found)}): the encoded-frame "
            "passthrough uses their private names (server/rooms/passthrough.py); check "
            "docs/rooms.md before changing the pin"
        )


def _resolve(path: str):
    """``"module:Qual.name"`` (or ``"module"``) -> the object."""
    module_name, _, qualname = path.partition(":")
    target = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        target = getattr(target, part)
    return target


def _code_names(code) -> set[str]:
    """Every attribute/global name a code object (and the code nested in it) refers to.
    Name-mangled names appear here mangled (``_RTCRtpReceiver__started``), as we spell them."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _stored_by_init(cls, name: str) -> bool:
    """Whether ``cls.__init__`` itself assigns ``self.<name>`` (a STORE_ATTR in its bytecode)."""
    init = inspect.unwrap(cls.__init__)
    code = getattr(init, "__code__", None)
    return code is not None and any(
        ins.opname == "STORE_ATTR" and ins.argval == name for ins in dis.get_instructions(code)
    )


def _problem(internal: Internal) -> str | None:
    """Why ``internal`` is not as expected, or None."""
    try:
        owner = _resolve(internal.owner)
    except (ImportError, AttributeError):
        return f"{internal.owner} not found (needed for {internal.name})"
    where = internal.owner.replace(":", ".")
    if internal.kind == "function" and not callable(getattr(owner, internal.name, None)):
        return f"{where}.{internal.name}() not found"
    if internal.kind == "method" and not callable(inspect.getattr_static(owner, internal.name, None)):
        return f"method {where}.{internal.name}() not found"
    if internal.kind == "attribute" and not _stored_by_init(owner, internal.name):
        return f"{where}.__init__ no longer sets self.{internal.name}"
    for reader in internal.read_by:
        try:
            function = inspect.unwrap(_resolve(reader))
        except (ImportError, AttributeError):
            return f"{reader.replace(':', '.')} not found (it should read {internal.name})"
        if internal.name not in _code_names(function.__code__):
            return f"{reader.replace(':', '.')} no longer reads {internal.name}"
    return None


def check_internals() -> None:
    """The start-up check: raise :class:`PassthroughError` unless aiortc and aioice are the
    pinned versions and every name of :data:`INTERNALS` is where this module expects it.

    How names are checked, and why so: methods and module functions with ``getattr`` on the
    class or module. Instance attributes exist only on constructed objects, and constructing
    an ``RTCRtpReceiver`` needs a DTLS transport (an ICE gatherer, a certificate: side
    effects at start-up), so the check reads the owner's ``__init__`` bytecode instead: it
    must assign the attribute (``STORE_ATTR``; name mangling is done by the compiler, so the
    mangled name is what the bytecode holds, exactly as this module spells it). Where we
    *replace* a value, the aiortc function that uses it must still refer to the name
    (``read_by``): a name that exists but is no longer read would turn the patch into a silent
    no-op. This is static and cheap (no sockets, no objects), and it fails loudly on a rename
    or a move; what it cannot see (what the values mean) is covered by the exact version pin
    and by ``tests/rooms`` on real loopback connections.
    """
    check_version()
    problems = [problem for problem in map(_problem, INTERNALS) if problem]
    if problems:
        raise PassthroughError(
            f"{_found_text(_versions())}: internals used by server/rooms/passthrough.py are missing: "
            + "; ".join(problems)
            + ". Re-read docs/rooms.md before changing the pin"
        )


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
    assert _original_get_decoder is not None  # set by install() before this is called
    return _original_get_decoder(codec)


def install() -> None:
    """Patch aiortc once per process (idempotent), after :func:`check_internals`. Every
    receiver created afterwards in this process yields encoded packets: do not mix with code
    expecting decoded frames."""
    global _installed, _original_get_decoder
    if _installed:
        return
    check_internals()
    import aiortc.rtcrtpreceiver as receiver_module

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
    before the receiver starts (i.e. right after setRemoteDescription). Returns False when it
    is too late (the receiver has started) or the receiver has no track; then the patched
    decoder thread is used."""
    track = receiver.track
    if track is None or receiver._RTCRtpReceiver__started:
        return False
    receiver._RTCRtpReceiver__decoder_queue = _DirectQueue(track._queue)
    return True


def shrink_jitter_buffer(receiver, capacity: int = 128) -> None:
    """Use a smaller video jitter buffer on ``receiver``.

    aiortc's 512-packet video buffer can hold output for ~5 s after one lost packet before it
    asks for a keyframe; 128 packets is still several 1 Mbit/s frames deep.
    """
    from aiortc.jitterbuffer import JitterBuffer

    current = receiver._RTCRtpReceiver__jitter_buffer
    if current.capacity > capacity and current._is_video:
        receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=capacity, is_video=True)


def set_stream_id(sender, stream_id: str) -> None:
    """The msid stream id ``sender``'s track is announced with in our offers (aiortc gives every
    sender of a connection the same one; browsers group tracks into MediaStreams by it)."""
    sender._stream_id = stream_id


def on_keyframe_request(sender, callback) -> None:
    """Call ``callback()`` when the receiving peer asks ``sender`` for a keyframe (PLI/FIR).

    aiortc calls ``sender._send_keyframe()``, which only sets a flag read on its encoder path:
    on the packet path (forwarding) the request would be lost.
    """
    sender._send_keyframe = callback


def rtx_ssrcs(receiver) -> frozenset[int]:
    """The retransmission (rtx) SSRCs of ``receiver``'s remote stream (no PLI goes to them)."""
    return frozenset(receiver._RTCRtpReceiver__rtx_ssrc)


def request_keyframe(receiver, ssrcs) -> int:
    """Send the peer publishing on ``receiver`` one RTCP PLI per media SSRC of ``ssrcs``
    (scheduled on the loop, not awaited); returns how many."""
    count = 0
    for ssrc in ssrcs:
        asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))
        count += 1
    return count


def _ice_protocols(pc):
    """aioice's protocols (one per local candidate: host UDP sockets, TURN) of ``pc``'s ICE
    transports; with max-bundle every transceiver shares one."""
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection  # aioice.Connection
        yield from connection._protocols


def enlarge_socket_buffers(pc, size: int = 1 << 20) -> int:
    """Give the peer connection's UDP sockets ``size`` bytes of receive/send buffer (capped by
    net.core.rmem_max/wmem_max); returns how many sockets were changed.

    The default ~208 KB fills in a fraction of a second when the event loop is busy with a
    few 1 Mbit/s streams: the kernel then drops whole bursts of video packets (seen as
    RcvbufErrors in /proc/net/snmp). Call after setLocalDescription (sockets exist then).
    """
    changed = 0
    seen = set()
    for protocol in _ice_protocols(pc):
        transport = getattr(protocol, "transport", None)  # public, set once its socket exists
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or sock.fileno() in seen:
            continue
        seen.add(sock.fileno())
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
            changed += 1
        except OSError:
            pass  # e.g. not permitted: the kernel's default stays
    return changed
