"""The passthrough patch and the Publisher/ForwardedTrack fan-out, fed by a real aiortc peer
sending VP8 over loopback."""

import asyncio
import contextlib

import aiortc
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from server.rooms import passthrough
from server.rooms.forwarding import Publisher

from .peers import ColorTrack, packet, wait_for


@contextlib.asynccontextmanager
async def video_source(size=(160, 120)):
    """(server-side received track, its receiver) from an aiortc peer sending VP8."""
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    source = ColorTrack("blue", *size)
    sender.addTransceiver(source, direction="sendonly")
    got = asyncio.get_running_loop().create_future()
    server.on("track", lambda track: got.done() or got.set_result(track))
    await sender.setLocalDescription(await sender.createOffer())
    await server.setRemoteDescription(sender.localDescription)
    await server.setLocalDescription(await server.createAnswer())
    await sender.setRemoteDescription(server.localDescription)
    track = await got
    receiver = next(t.receiver for t in server.getTransceivers() if t.receiver.track is track)
    try:
        yield track, receiver
    finally:
        await sender.close()
        await server.close()


def test_install_is_idempotent_and_version_guarded(monkeypatch):
    import aiortc.rtcrtpreceiver as receiver_module

    passthrough.install()
    patched = receiver_module.get_decoder
    passthrough.install()
    assert receiver_module.get_decoder is patched and passthrough.installed()
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(passthrough.PassthroughError, match="aiortc==1.16.0"):
        passthrough.check_version()


def test_vp8_keyframe_parsing():
    assert passthrough.vp8_keyframe_size(bytes.fromhex("5044009d012a8002e001")) == (640, 480)
    assert passthrough.vp8_keyframe_size(bytes.fromhex("5144009d012a8002e001")) is None
    assert passthrough.vp8_keyframe_size(b"\x00") is None


async def test_received_track_yields_encoded_packets():
    async with video_source(size=(320, 240)) as (track, _):
        first = await asyncio.wait_for(track.recv(), 5)
        assert isinstance(first, av.Packet)
        assert first.is_keyframe and passthrough.vp8_keyframe_size(bytes(first)) == (320, 240)
        assert first.time_base == passthrough.PassthroughDecoder("video", 90000).time_base
        second = await asyncio.wait_for(track.recv(), 5)
        assert not second.is_keyframe and second.pts > first.pts


async def test_slow_subscriber_does_not_stall_the_others():
    async with video_source() as (track, receiver):
        publisher = Publisher("video", "test")
        fast = publisher.subscribe()
        slow = publisher.subscribe(capacity=10)  # never read for a while
        publisher.attach(track, receiver)
        got = []

        async def read():
            while True:
                got.append(await fast.recv())

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(2.0)
        assert len(got) >= 45  # ~30 fps kept flowing to the fast subscriber
        assert fast.dropped == 0 and len(got) >= publisher.frames_in - 2
        assert slow.dropped > 0 and len(slow._queue) <= 10
        # when the slow one reads again it resumes on a keyframe
        first = await asyncio.wait_for(slow.recv(), 3)
        assert first.is_keyframe
        reader.cancel()
        await publisher.close()
        assert fast.readyState == "ended" and slow.readyState == "ended"


async def test_keyframe_requests_reach_the_publisher_coalesced():
    async with video_source() as (track, receiver):
        publisher = Publisher("video", "test", keyframe_interval=0.5)
        sub = publisher.subscribe()
        publisher.attach(track, receiver)
        assert await wait_for(lambda: publisher.frames_in > 10)
        before = publisher.keyframes_in
        sent = publisher.keyframe_requests_sent
        for _ in range(10):  # a burst of PLIs from a subscriber
            sub.on_keyframe_request()
        assert publisher.keyframe_requests_sent - sent <= 1
        assert await wait_for(lambda: publisher.keyframes_in > before, timeout=2)
        await asyncio.sleep(0.6)  # the coalesced rest goes out as one more request
        assert publisher.keyframe_requests_sent - sent <= 2
        assert sub.keyframe_requests == 10
        await publisher.close()


async def test_sender_pli_hook():
    publisher = Publisher("video", "test")
    sub = publisher.subscribe()

    class FakeSender:  # only the attribute aiortc calls on PLI/FIR
        def _send_keyframe(self):
            raise AssertionError("aiortc's own handler must be replaced")

    sender = FakeSender()
    sub.bind_sender(sender)
    sender._send_keyframe()
    assert sub.keyframe_requests == 1
    await publisher.close()


async def test_new_subscriber_gets_a_keyframe_first():
    async with video_source() as (track, receiver):
        publisher = Publisher("video", "test")
        publisher.attach(track, receiver)
        assert await wait_for(lambda: publisher.frames_in > 40)  # long past the first keyframe
        late = publisher.subscribe()
        t0 = asyncio.get_running_loop().time()
        first = await asyncio.wait_for(late.recv(), 3)
        assert first.is_keyframe
        assert asyncio.get_running_loop().time() - t0 < 1.0
        assert late.first_frame.is_set()
        await publisher.close()


async def test_timestamps_continue_across_a_source_switch():
    publisher = Publisher("audio", "test")
    sub = publisher.subscribe()
    sub._started = True  # as if its sender were running
    publisher._dispatch(packet(b"a", 48000, 48000, True), 1)
    publisher._dispatch(packet(b"b", 48960, 48000, True), 1)
    publisher._dispatch(packet(b"c", 0, 48000, True), 2)  # a new connection starts at 0
    pts = [(await sub.recv()).pts for _ in range(3)]
    assert pts[0] < pts[1] < pts[2]
    await publisher.close()


async def test_bounded_audio_queue_drops_oldest():
    publisher = Publisher("audio", "test")
    sub = publisher.subscribe(capacity=5)
    sub._started = True  # as if its sender were running
    for i in range(12):
        publisher._dispatch(packet(bytes([i]), i * 960, 48000, True), 1)
    assert sub.dropped >= 7 and len(sub._queue) <= 5
    await publisher.close()


async def test_frames_skip_the_decoder_thread_when_bypassed():
    """bypass_decoder_thread: packets arrive on the event loop, and the track still ends
    when the connection closes (the idle decoder thread is released)."""
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender.addTransceiver(ColorTrack("red"), direction="sendonly")
    await sender.setLocalDescription(await sender.createOffer())
    await server.setRemoteDescription(sender.localDescription)
    receiver = server.getTransceivers()[0].receiver
    assert passthrough.bypass_decoder_thread(receiver)
    await server.setLocalDescription(await server.createAnswer())
    await sender.setRemoteDescription(server.localDescription)
    first = await asyncio.wait_for(receiver.track.recv(), 5)
    assert isinstance(first, av.Packet) and first.is_keyframe
    assert not passthrough.bypass_decoder_thread(receiver)  # started: too late, refused
    await sender.close()
    await server.close()
    with pytest.raises(aiortc.mediastreams.MediaStreamError):
        while True:
            await asyncio.wait_for(receiver.track.recv(), 5)
