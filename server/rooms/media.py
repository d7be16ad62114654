"""The media side of one interview room: one aiortc peer connection per participant, encoded
frames forwarded between them by the room's rules, every published track recorded
(docs/rooms.md).

Negotiation: the participant offers first (its camera/microphone); the server answers with
receive-only sections. Tracks the participant should receive are added afterwards in
server offers, sent through the ``renegotiate(participant_id, offer_sdp)`` callback once the
participant's connection is up (so the answer to its own offer has surely arrived); the
signaling layer returns the browser's answer through :meth:`MediaRoom.answer`. One server
offer is outstanding per participant; changes made meanwhile go into the next one. What an
offer or answer must contain, and how server offers are renumbered, is :mod:`server.rooms.sdp`.

Longer than our ~400-line guide on purpose: it is one class whose methods all work on the same
peers, publishers and pending negotiations; the parts with a job of their own are already
elsewhere (``sdp``, ``forwarding``, ``recorder``/``track_writer``, ``passthrough``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from . import passthrough
from .forwarding import ForwardedTrack, ForwardingTotals, Publisher
from .recorder import InterviewRecorder
from .sdp import (  # MediaError: callers import it from here
    MAX_SDP_BYTES,
    PUBLISHES,
    MediaError,
    apply_sections,
    check_answer,
    check_offer,
    codec_preferences,
    negotiated_sections,
    stream_id,
)
from .track_writer import RecorderTotals, TrackWriter

log = logging.getLogger(__name__)

RECEIVES_FROM = {"candidate": {"examiner"}, "examiner": {"candidate", "aux", "examiner"}, "aux": set()}

Renegotiate = Callable[[str, str], Awaitable[None]]


def may_receive(subscriber_kind: str, publisher_kind: str) -> bool:
    """Room rule: examiners see everyone, the candidate sees the examiners, aux sees nobody."""
    return publisher_kind in RECEIVES_FROM.get(subscriber_kind, ())


@dataclass
class _Outgoing:
    publisher_id: str
    kind: str
    transceiver: object
    track: ForwardedTrack


@dataclass
class _Peer:
    participant_id: str
    kind: str
    pc: RTCPeerConnection
    joined_at: float = field(default_factory=time.monotonic)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    outgoing: dict = field(default_factory=dict)  # (publisher_id, kind) -> _Outgoing
    dirty: bool = False
    negotiation: asyncio.Task | None = None
    offers_sent: int = 0
    sections: dict = field(default_factory=dict)  # see negotiated_sections()


class MediaRoom:
    """One interview room's media, in this process.

    ``renegotiate(participant_id, offer_sdp)`` delivers a server offer to a participant;
    ``ice_servers`` are the only STUN/TURN servers contacted (none: host candidates only), or a
    function giving them for each new peer (time-limited TURN credentials outlive no room);
    ``recorder``, when given, records every published track (see :meth:`set_recorder`).
    """

    def __init__(
        self,
        room_id: str,
        renegotiate: Renegotiate,
        ice_servers: Sequence[RTCIceServer] | Callable[[], Sequence[RTCIceServer]] = (),
        recorder: InterviewRecorder | None = None,
        max_sdp_bytes: int = MAX_SDP_BYTES,
    ) -> None:
        passthrough.install()
        self.room_id = room_id
        self._ice_servers = ice_servers
        self.max_sdp_bytes = max_sdp_bytes
        self._renegotiate = renegotiate
        self._peers: dict[str, _Peer] = {}
        self._pending: set[str] = set()
        self._publishers: dict[tuple[str, str], Publisher] = {}
        self._recorder: InterviewRecorder | None = None
        self._writers: dict[tuple[str, str], TrackWriter] = {}
        self._closed = False
        self._tasks: set[asyncio.Task] = set()
        self.totals = ForwardingTotals()  # running totals for the metrics, see counters()
        self.recorder_totals = RecorderTotals()
        if recorder is not None:
            self.set_recorder(recorder)

    # --- joining and leaving ------------------------------------------------------------
    async def join(self, participant_id: str, kind: str, offer_sdp: str) -> str:
        """Answer a participant's first offer; its tracks are forwarded and recorded, and the
        tracks it may receive follow in a server offer once it is connected."""
        self._check_open()
        if kind not in PUBLISHES:
            raise MediaError("bad_kind", f"unknown participant kind {kind!r}")
        if participant_id in self._peers or participant_id in self._pending:
            raise MediaError("already_joined", participant_id)
        kinds = check_offer(offer_sdp, kind, self.max_sdp_bytes)
        self._pending.add(participant_id)
        try:
            peer, answer = await self._open_peer(participant_id, kind, offer_sdp, kinds)
            if self._closed:
                await peer.pc.close()
                raise MediaError("room_closed")
            self._peers[participant_id] = peer
        finally:
            self._pending.discard(participant_id)
        self._attach_publishers(peer)
        self._update_subscriptions()
        return answer

    async def restart(self, participant_id: str, offer_sdp: str) -> str:
        """Replace a participant's peer connection (reconnect after a network change):
        subscribers keep their senders, the participant's recording continues in a new
        segment, and what it receives is offered again on the new connection."""
        self._check_open()
        old = self._peers.get(participant_id)
        if old is None:
            raise MediaError("unknown_participant", participant_id)
        kinds = check_offer(offer_sdp, old.kind, self.max_sdp_bytes)
        peer, answer = await self._open_peer(participant_id, old.kind, offer_sdp, kinds)
        if self._closed or self._peers.get(participant_id) is not old:
            await peer.pc.close()
            raise MediaError("room_closed" if self._closed else "unknown_participant")
        self._peers[participant_id] = peer
        self._attach_publishers(peer)
        self._update_subscriptions()
        await self._close_peer(old)
        return answer

    async def leave(self, participant_id: str) -> None:
        """Close a participant's connection; others stop receiving its tracks."""
        peer = self._peers.pop(participant_id, None)
        if peer is None:
            return
        for kind in ("audio", "video"):
            publisher = self._publishers.pop((participant_id, kind), None)
            if publisher is not None:
                await publisher.close()
            self._stop_writer((participant_id, kind))
        await self._close_peer(peer)
        self._update_subscriptions()

    async def answer(self, participant_id: str, answer_sdp: str) -> None:
        """The participant's answer to the last server offer."""
        self._check_open()
        peer = self._peers.get(participant_id)
        if peer is None:
            raise MediaError("unknown_participant", participant_id)
        check_answer(answer_sdp, peer.kind, self.max_sdp_bytes)
        async with peer.lock:
            if peer.pc.signalingState != "have-local-offer":
                raise MediaError("unexpected_answer", "no server offer is waiting for an answer")
            try:
                await peer.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
            except Exception as exc:
                raise MediaError("sdp_invalid", f"answer refused: {exc}") from None
        if peer.dirty:
            self._schedule_negotiation(peer)

    async def _open_peer(self, participant_id, kind, offer_sdp, kinds) -> tuple[_Peer, str]:
        # max-bundle: tracks added later share the connection's one transport (with the
        # default policy a first video sender would get a new, never-connected transport)
        servers = list(self._ice_servers() if callable(self._ice_servers) else self._ice_servers)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        peer = _Peer(participant_id, kind, pc)

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                peer.connected.set()
                if peer.dirty:
                    self._schedule_negotiation(peer)

        try:
            # Receive-only sections with our codec preferences, matched to the offer's
            # sections in order, so that the answer carries VP8/Opus only.
            for media_kind in kinds:
                transceiver = pc.addTransceiver(media_kind, direction="recvonly")
                transceiver.setCodecPreferences(codec_preferences(media_kind))
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            passthrough.enlarge_socket_buffers(pc)
            peer.sections = negotiated_sections(pc.localDescription.sdp)
        except MediaError:
            await pc.close()
            raise
        except Exception as exc:
            await pc.close()
            raise MediaError("sdp_invalid", f"offer refused: {type(exc).__name__}: {exc}") from None
        return peer, pc.localDescription.sdp

    async def _close_peer(self, peer: _Peer) -> None:
        if peer.negotiation is not None:
            peer.negotiation.cancel()
        for out in peer.outgoing.values():
            out.track.stop()
        peer.outgoing.clear()
        try:
            await peer.pc.close()
        except Exception:
            log.exception("closing peer connection of %s", peer.participant_id)

    # --- publishing and subscriptions ---------------------------------------------------
    def _attach_publishers(self, peer: _Peer) -> None:
        for transceiver in peer.pc.getTransceivers():
            track = transceiver.receiver.track
            if track is None:
                continue
            key = (peer.participant_id, track.kind)
            publisher = self._publishers.get(key)
            if publisher is None:
                publisher = Publisher(track.kind, f"{peer.participant_id}/{track.kind}", totals=self.totals)
                self._publishers[key] = publisher
            passthrough.shrink_jitter_buffer(transceiver.receiver)
            passthrough.bypass_decoder_thread(transceiver.receiver)
            publisher.attach(track, transceiver.receiver)
            self._start_writer(key, publisher, peer.kind)

    def _wanted(self, peer: _Peer) -> set[tuple[str, str]]:
        wanted = set()
        for publisher_id, kind in self._publishers:
            source = self._peers.get(publisher_id)
            if source is None or publisher_id == peer.participant_id:
                continue
            if may_receive(peer.kind, source.kind):
                wanted.add((publisher_id, kind))
        return wanted

    def _update_subscriptions(self) -> None:
        for peer in list(self._peers.values()):
            wanted = self._wanted(peer)
            changed = False
            for key in list(peer.outgoing):
                if key not in wanted or peer.outgoing[key].track.readyState != "live":
                    out = peer.outgoing.pop(key)
                    out.track.stop()
                    out.transceiver.direction = "inactive"
                    changed = True
            for key in sorted(wanted - set(peer.outgoing)):
                publisher = self._publishers[key]
                track = publisher.subscribe()
                transceiver = peer.pc.addTransceiver(track, direction="sendonly")
                transceiver.setCodecPreferences(codec_preferences(track.kind))
                passthrough.set_stream_id(transceiver.sender, stream_id(key[0]))
                track.bind_sender(transceiver.sender)
                peer.outgoing[key] = _Outgoing(key[0], key[1], transceiver, track)
                changed = True
            if changed:
                peer.dirty = True
                self._schedule_negotiation(peer)

    def _schedule_negotiation(self, peer: _Peer) -> None:
        if peer.negotiation is None or peer.negotiation.done():
            peer.negotiation = asyncio.ensure_future(self._negotiate(peer))

    async def _negotiate(self, peer: _Peer) -> None:
        await peer.connected.wait()
        async with peer.lock:
            if not peer.dirty or self._closed or self._peers.get(peer.participant_id) is not peer:
                return
            if peer.pc.signalingState != "stable":
                return  # answer() schedules the next round
            peer.dirty = False
            offer = await peer.pc.createOffer()
            offer = RTCSessionDescription(apply_sections(offer.sdp, peer.sections), "offer")
            await peer.pc.setLocalDescription(offer)
            sdp = peer.pc.localDescription.sdp
            peer.offers_sent += 1
        try:
            await self._renegotiate(peer.participant_id, sdp)
        except Exception:
            log.exception("renegotiate callback failed for %s", peer.participant_id)

    # --- recording --------------------------------------------------------------------
    def set_recorder(self, recorder: InterviewRecorder | None) -> None:
        """Record every published track into ``recorder`` from now on (None: stop feeding
        the current one; closing it is the caller's, see :meth:`stop_recording`)."""
        for key in list(self._writers):
            self._stop_writer(key)
        self._recorder = recorder
        if recorder is not None:
            recorder.share_totals(self.recorder_totals)
            for key, publisher in self._publishers.items():
                peer = self._peers.get(key[0])
                if peer is not None and publisher.source_live:
                    self._start_writer(key, publisher, peer.kind)

    async def stop_recording(self) -> dict | None:
        """Stop and close the current recorder; returns its final manifest."""
        recorder = self._recorder
        self.set_recorder(None)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if recorder is None:
            return None
        return await recorder.aclose()

    def _start_writer(self, key, publisher: Publisher, participant_kind: str) -> None:
        self._stop_writer(key)
        if self._recorder is None or self._recorder.closed:
            publisher.set_tap(None)
            return
        participant_id, kind = key
        writer = self._recorder.add_track(
            f"{participant_id}/{kind}/{publisher.generation}", kind, participant_id, participant_kind
        )
        self._writers[key] = writer
        publisher.set_tap(writer.write)

    def _stop_writer(self, key) -> None:
        writer = self._writers.pop(key, None)
        publisher = self._publishers.get(key)
        if publisher is not None:
            publisher.set_tap(None)
        if writer is not None:
            writer.stop()
            task = asyncio.ensure_future(asyncio.to_thread(writer.finish))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def recorder(self) -> InterviewRecorder | None:
        """The recorder fed now (None: not recording)."""
        return self._recorder

    def recording_state(self) -> dict | None:
        return None if self._recorder is None else self._recorder.state()

    # --- face-check frames --------------------------------------------------------------
    async def sample_frames(
        self, participant_id: str, count: int = 3, timeout: float = 3.0, interval: float = 0.0
    ) -> list[np.ndarray]:
        """Decode ``count`` frames (RGB, HxWx3 uint8) of a participant's live video, at
        least ``interval`` s apart, starting at a keyframe (one is requested). Returns what
        it has when ``timeout`` expires (possibly nothing)."""
        publisher = self._publishers.get((participant_id, "video"))
        if publisher is None:
            raise MediaError("no_video", participant_id)
        track = publisher.subscribe()
        decoder = av.CodecContext.create("vp8", "r")
        frames: list[np.ndarray] = []
        last = None
        try:
            async with asyncio.timeout(timeout):
                while len(frames) < count:
                    packet = await track.recv()
                    decoded = await asyncio.to_thread(decoder.decode, av.Packet(bytes(packet)))
                    for frame in decoded:
                        now = time.monotonic()
                        if last is None or now - last >= interval:
                            frames.append(frame.to_ndarray(format="rgb24"))
                            last = now
        except (TimeoutError, MediaStreamError):
            pass
        finally:
            track.stop()
        return frames[:count]

    # --- state ----------------------------------------------------------------------
    @property
    def participants(self) -> dict[str, str]:
        return {pid: peer.kind for pid, peer in self._peers.items()}

    def subscriber_track(self, subscriber_id: str, publisher_id: str, kind: str) -> ForwardedTrack | None:
        """The track forwarding ``publisher_id``'s ``kind`` to ``subscriber_id`` (its
        ``first_frame`` event tells when the sender took the first frame)."""
        peer = self._peers.get(subscriber_id)
        out = peer.outgoing.get((publisher_id, kind)) if peer else None
        return out.track if out else None

    def publisher(self, participant_id: str, kind: str) -> Publisher | None:
        return self._publishers.get((participant_id, kind))

    def stats(self) -> dict:
        participants = {}
        for pid, peer in self._peers.items():
            participants[pid] = {
                "kind": peer.kind,
                "connection": peer.pc.connectionState,
                "signaling": peer.pc.signalingState,
                "offers_sent": peer.offers_sent,
                "stream_id": stream_id(pid),
                "receives": {f"{k[0]}/{k[1]}": out.track.stats() for k, out in peer.outgoing.items()},
            }
        return {
            "room_id": self.room_id,
            "participants": participants,
            "publishers": {f"{k[0]}/{k[1]}": p.stats() for k, p in self._publishers.items()},
            "recording": self.recording_state(),
        }

    def counters(self) -> dict:
        """What the metrics read (no I/O): current figures and running totals since the room
        opened, by kind; totals add what finished tracks and recorders counted to the live ones'."""
        t = self.totals
        frames_in, frames_out, dropped = dict(t.frames_in), dict(t.frames_out), dict(t.dropped)
        for publisher in self._publishers.values():
            if publisher.closed:  # counted in the totals already
                continue
            frames_in[publisher.kind] += publisher.frames_in
            for sub in publisher.subscribers:  # live tracks; stopped ones are in the totals
                frames_out[sub.kind] += sub.frames_out
                dropped[sub.kind] += sub.dropped
        participants: dict[str, int] = {}
        for peer in self._peers.values():
            participants[peer.kind] = participants.get(peer.kind, 0) + 1
        recorder = self._recorder
        r = self.recorder_totals
        return {
            "participants": participants,
            "streams": sum(len(peer.outgoing) for peer in self._peers.values()),
            "frames_in": frames_in,
            "frames_out": frames_out,
            "dropped": dropped,
            "keyframe_requests": t.keyframe_requests,
            "plis_sent": t.plis_sent,
            "recording": recorder is not None and not recorder.closed,
            "recorded_bytes": dict(r.bytes_written),
            "recorder_failures": dict(r.failures),
            "recordings_closed": dict(r.closed),
        }

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("room_closed", self.room_id)

    async def close(self) -> dict | None:
        """Close every connection and the recorder; returns the recorder's manifest."""
        if self._closed:
            return None
        self._closed = True
        manifest = await self.stop_recording()
        for publisher in self._publishers.values():
            await publisher.close()
        self._publishers.clear()
        peers, self._peers = list(self._peers.values()), {}
        for peer in peers:
            await self._close_peer(peer)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return manifest
