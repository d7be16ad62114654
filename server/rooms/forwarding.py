"""Fan encoded frames out from one published track to many subscribers (docs/rooms.md).

A :class:`Publisher` reads ``av.Packet`` objects from a received track (see
:mod:`server.rooms.passthrough`) and offers each one to every subscriber's
:class:`ForwardedTrack` without waiting: each subscriber has its own bounded queue, so a
subscriber whose sender does not keep up loses frames (video: everything up to the next
keyframe) instead of slowing the others. A ForwardedTrack is what an ``RTCRtpSender`` sends;
aiortc packs the packets it returns into RTP without encoding.

Keyframes: aiortc's sender only honours PLI/FIR on its encoder path, so the subscriber's
requests are routed to the publisher's receiver as an RTCP PLI, coalesced to one per
``keyframe_interval``. New subscribers get no delta frame before a keyframe and trigger a
request of their own.

A publisher outlives its source: after a participant reconnects, :meth:`Publisher.attach`
points it at the new peer connection's track and subscribers keep their senders; their
timestamps are rebased so that they never go backwards.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from . import passthrough

log = logging.getLogger(__name__)

KEYFRAME_INTERVAL_S = 0.5
VIDEO_QUEUE_FRAMES = 30  # ~1 s at 30 fps
AUDIO_QUEUE_FRAMES = 50  # ~1 s of 20 ms Opus frames
STALE_START_S = 0.3  # frames older than this when a sender starts are dropped

Tap = Callable[[av.Packet], None]


class ForwardingTotals:
    """Running totals of the tracks and publishers that share it (one media room's, read by
    the metrics): frames of finished ones are added when they stop; live ones keep their own
    counts (:meth:`MediaRoom.counters` adds both). Keyframe requests are counted here at once."""

    def __init__(self) -> None:
        self.frames_in = {"audio": 0, "video": 0}  # received from publishers
        self.frames_out = {"audio": 0, "video": 0}  # handed to subscribers' senders
        self.dropped = {"audio": 0, "video": 0}  # dropped for slow or late subscribers
        self.keyframe_requests = 0  # PLI/FIR from subscribers
        self.plis_sent = 0  # PLIs sent to publishers (after coalescing)


class ForwardedTrack(MediaStreamTrack):
    """One subscriber's copy of a published track; ``recv()`` returns ``av.Packet``."""

    def __init__(self, publisher: Publisher, capacity: int) -> None:
        super().__init__()
        self.kind = publisher.kind
        self.publisher = publisher
        self.capacity = capacity
        self.waiting_keyframe = publisher.kind == "video"
        self.frames_out = 0
        self.dropped = 0
        self.keyframe_requests = 0
        self.first_frame = asyncio.Event()
        self.first_frame_at: float | None = None  # time.monotonic() of the first frame out
        self.created_at = time.monotonic()
        self._queue: collections.deque = collections.deque()
        self._ready = asyncio.Event()
        self._started = False
        # timestamp rebasing across publisher sources (reconnects)
        self._generation: int | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._last_out_at = 0.0

    # --- publisher side -------------------------------------------------------------
    def offer(self, packet: av.Packet, generation: int) -> None:
        """Queue ``packet`` unless it must be dropped; never blocks."""
        if self.readyState != "live":
            return
        queue = self._queue
        if not self._started and queue:
            # Until its sender starts (negotiation, ICE), keep only what a decoder needs.
            if self.kind == "audio" or packet.is_keyframe:
                self.dropped += len(queue)
                queue.clear()
        if self.kind == "video":
            if self.waiting_keyframe:
                if not packet.is_keyframe:
                    self.dropped += 1
                    return
                self.waiting_keyframe = False
            if len(queue) >= self.capacity:
                # Behind by a whole queue: skip to the next keyframe.
                self.dropped += len(queue)
                queue.clear()
                if not packet.is_keyframe:
                    self.dropped += 1
                    self.waiting_keyframe = True
                    self.publisher.request_keyframe()
                    return
        elif len(queue) >= self.capacity:
            queue.popleft()
            self.dropped += 1
        queue.append((packet, generation, time.monotonic()))
        self._ready.set()

    # --- sender side ----------------------------------------------------------------
    async def recv(self) -> av.Packet:
        if not self._started:
            self._started = True
            if self._queue and time.monotonic() - self._queue[0][2] > STALE_START_S:
                # a late start: skip the stale backlog rather than burst it out
                self.dropped += len(self._queue)
                self._queue.clear()
                if self.kind == "video":
                    self.waiting_keyframe = True
                    self.publisher.request_keyframe()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        packet, generation, _ = self._queue.popleft()
        packet = self._rebase(packet, generation)
        self.frames_out += 1
        if self.first_frame_at is None:
            self.first_frame_at = time.monotonic()
            self.first_frame.set()
        return packet

    def _rebase(self, packet: av.Packet, generation: int) -> av.Packet:
        now = time.monotonic()
        assert packet.pts is not None  # the passthrough decoder stamps every packet
        if generation != self._generation:
            if self._last_pts is not None:
                # New source: continue from the last timestamp sent, plus the time elapsed.
                gap = max(now - self._last_out_at, 0.001)
                step = int(gap / packet.time_base)
                self._offset = self._last_pts + max(step, 1) - packet.pts
            self._generation = generation
        self._last_out_at = now
        if self._offset:
            rebased = av.Packet(bytes(packet))
            rebased.pts = packet.pts + self._offset
            rebased.time_base = packet.time_base
            rebased.is_keyframe = packet.is_keyframe
            packet = rebased
        self._last_pts = packet.pts
        return packet

    def bind_sender(self, sender) -> None:
        """Route the subscriber's PLI/FIR to the publisher; aiortc would otherwise only set a
        flag for its own encoder (see :func:`passthrough.on_keyframe_request`)."""
        passthrough.on_keyframe_request(sender, self.on_keyframe_request)

    def on_keyframe_request(self) -> None:
        self.keyframe_requests += 1
        self.publisher.totals.keyframe_requests += 1
        self.publisher.request_keyframe()

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self.publisher.unsubscribe(self)
            totals = self.publisher.totals  # from now on this track's frames count there
            totals.frames_out[self.kind] += self.frames_out
            totals.dropped[self.kind] += self.dropped
            self._queue.clear()
            self._ready.set()

    def stats(self) -> dict:
        return {
            "kind": self.kind,
            "frames_out": self.frames_out,
            "dropped": self.dropped,
            "queued": len(self._queue),
            "keyframe_requests": self.keyframe_requests,
            "first_frame_ms": None
            if self.first_frame_at is None
            else round((self.first_frame_at - self.created_at) * 1000, 1),
        }


class Publisher:
    """Reads one participant's track of one kind and fans it out.

    ``source_name`` only labels logs and stats. ``tap`` (e.g. a recorder's write) is called
    with every packet; its exceptions are logged and the tap is dropped, forwarding goes on.
    ``totals``: running totals shared with the other publishers of a room (its own otherwise).
    """

    def __init__(
        self,
        kind: str,
        source_name: str = "",
        keyframe_interval: float = KEYFRAME_INTERVAL_S,
        totals: ForwardingTotals | None = None,
    ):
        if kind not in ("audio", "video"):
            raise ValueError(f"unknown kind {kind!r}")
        self.kind = kind
        self.totals = totals if totals is not None else ForwardingTotals()
        self.source_name = source_name
        self.keyframe_interval = keyframe_interval
        self.frames_in = 0
        self.keyframes_in = 0
        self.bytes_in = 0
        self.keyframe_requests_sent = 0
        self.keyframe_requests_coalesced = 0
        self.generation = 0
        self.last_frame_at: float | None = None
        self._subscribers: list[ForwardedTrack] = []
        self._tap: Tap | None = None
        self._track: MediaStreamTrack | None = None
        self._receiver = None
        self._reader: asyncio.Task | None = None
        self._last_request = -1e9
        self._request_timer: asyncio.TimerHandle | None = None
        self._closed = False

    # --- source -----------------------------------------------------------------------
    def attach(self, track: MediaStreamTrack, receiver=None) -> None:
        """Start reading ``track`` (replacing any previous source). ``receiver`` is the
        ``RTCRtpReceiver`` used to send PLIs to the publishing peer."""
        if self._closed:
            raise RuntimeError("publisher closed")
        if track.kind != self.kind:
            raise ValueError(f"{track.kind} track attached to a {self.kind} publisher")
        if self._reader is not None:
            self._reader.cancel()
        self.generation += 1
        self._track = track
        self._receiver = receiver
        self._reader = asyncio.ensure_future(self._read(track, self.generation))
        if self.kind == "video" and self._subscribers:
            # subscribers continue from a new encoder state: resynchronise on a keyframe
            for sub in self._subscribers:
                sub.waiting_keyframe = True
            self.request_keyframe()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def source_live(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def _read(self, track: MediaStreamTrack, generation: int) -> None:
        try:
            while True:
                try:
                    packet = await track.recv()
                except MediaStreamError:
                    break
                if not isinstance(packet, av.Packet):
                    log.error(
                        "%s: got %s, not av.Packet: passthrough.install() not called",
                        self.source_name,
                        type(packet).__name__,
                    )
                    break
                self._dispatch(packet, generation)
        except asyncio.CancelledError:
            pass

    def _dispatch(self, packet: av.Packet, generation: int) -> None:
        self.frames_in += 1
        self.bytes_in += packet.size
        self.last_frame_at = time.monotonic()
        keyframe = packet.is_keyframe
        if keyframe and self.kind == "video":
            self.keyframes_in += 1
        waiting = False
        for sub in self._subscribers:
            sub.offer(packet, generation)
            waiting = waiting or sub.waiting_keyframe
        if waiting and not keyframe:
            self.request_keyframe()
        tap = self._tap
        if tap is not None:
            try:
                tap(packet)
            except Exception:
                log.exception("%s: tap failed, detached", self.source_name)
                self._tap = None

    # --- keyframes --------------------------------------------------------------------
    def request_keyframe(self) -> None:
        """Ask the publishing peer for a keyframe: at most one PLI per keyframe_interval;
        a request inside the interval is sent when the interval ends."""
        if self.kind != "video" or self._closed:
            return
        now = time.monotonic()
        wait = self._last_request + self.keyframe_interval - now
        if wait > 0:
            self.keyframe_requests_coalesced += 1
            if self._request_timer is None:
                loop = asyncio.get_running_loop()
                self._request_timer = loop.call_later(wait, self._timer_fired)
            return
        self._send_pli(now)

    def _timer_fired(self) -> None:
        self._request_timer = None
        if not self._closed:
            self._send_pli(time.monotonic())

    def _send_pli(self, now: float) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        self._last_request = now
        rtx = passthrough.rtx_ssrcs(receiver)
        ssrcs = [s.source for s in receiver.getSynchronizationSources() if s.source not in rtx]
        sent = passthrough.request_keyframe(receiver, ssrcs)
        self.keyframe_requests_sent += sent
        self.totals.plis_sent += sent

    # --- subscribers ------------------------------------------------------------------
    def subscribe(self, capacity: int | None = None) -> ForwardedTrack:
        if self._closed:
            raise RuntimeError("publisher closed")
        if capacity is None:
            capacity = VIDEO_QUEUE_FRAMES if self.kind == "video" else AUDIO_QUEUE_FRAMES
        sub = ForwardedTrack(self, capacity)
        self._subscribers.append(sub)
        self.request_keyframe()
        return sub

    def unsubscribe(self, sub: ForwardedTrack) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @property
    def subscribers(self) -> list[ForwardedTrack]:
        return list(self._subscribers)

    def set_tap(self, tap: Tap | None) -> None:
        self._tap = tap

    async def close(self) -> None:
        """Stop reading and end every subscriber's track (their senders stop)."""
        if not self._closed:  # a cancelled reader dispatches nothing more: its frames count in the totals now
            self.totals.frames_in[self.kind] += self.frames_in
        self._closed = True
        if self._request_timer is not None:
            self._request_timer.cancel()
        if self._reader is not None:
            self._reader.cancel()
        for sub in list(self._subscribers):
            sub.stop()
        self._tap = None
        if self._reader is not None:
            try:
                await self._reader
            except asyncio.CancelledError:
                pass

    def stats(self) -> dict:
        return {
            "kind": self.kind,
            "source": self.source_name,
            "live": self.source_live,
            "generation": self.generation,
            "frames_in": self.frames_in,
            "keyframes_in": self.keyframes_in,
            "bytes_in": self.bytes_in,
            "keyframe_requests_sent": self.keyframe_requests_sent,
            "keyframe_requests_coalesced": self.keyframe_requests_coalesced,
            "subscribers": [s.stats() for s in self._subscribers],
        }
