"""server/rooms/rtp_rewrite.py: one subscriber's RTP stream rewritten from a publisher's packets, read
back with aiortc's own parsers (``RtpPacket``, ``VpxPayloadDescriptor``): SSRC, payload type,
sequence/timestamp/picture-ID continuity across a change of source and across wrap-around,
header extensions kept and renumbered, and hostile packets dropped and counted."""

from __future__ import annotations

import struct

from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket

from server.rooms import rtp_rewrite
from server.rooms.rtp_rewrite import StreamRewriter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def vp8_packet(seq, ts, ssrc=1111, pic=None, tl0=None, pt=96, body=b"frame", **extra) -> bytes:
    descriptor = bytes(VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=pic, tl0picidx=tl0))
    return RtpPacket(
        payload_type=pt, marker=1, sequence_number=seq, timestamp=ts, ssrc=ssrc, payload=descriptor + body, **extra
    ).serialize()


def video_rewriter(clock=None, **kw) -> StreamRewriter:
    return StreamRewriter(5555, 90000, {96: 120}, vp8=True, clock=clock or Clock(), **kw)


def out(rewriter: StreamRewriter, data: bytes):
    result = rewriter.rewrite(data)
    assert result is not None, rewriter.counts
    packet = RtpPacket.parse(result)
    descriptor, rest = VpxPayloadDescriptor.parse(packet.payload)
    return packet, descriptor, rest


def test_ssrc_and_payload_type_are_the_subscribers_and_the_payload_is_unchanged():
    rw = video_rewriter()
    packet, descriptor, rest = out(rw, vp8_packet(10, 1000, pic=5, body=b"\x10\x02\x9d\x01\x2a"))
    assert packet.ssrc == 5555 and packet.payload_type == 120 and packet.marker == 1
    assert rest == b"\x10\x02\x9d\x01\x2a" and descriptor.partition_start == 1
    assert rw.counts["forwarded"] == 1


def test_sequence_and_timestamp_keep_their_steps_and_wrap():
    rw = video_rewriter()
    first, _, _ = out(rw, vp8_packet(65534, 2**32 - 1000))
    seqs, stamps = [first.sequence_number], [first.timestamp]
    for seq, ts in [(65535, 2**32 - 1000), (0, 2000), (1, 2000)]:
        packet, _, _ = out(rw, vp8_packet(seq, ts))
        seqs.append(packet.sequence_number)
        stamps.append(packet.timestamp)
    assert [(s - seqs[0]) & 0xFFFF for s in seqs] == [0, 1, 2, 3]
    assert [(t - stamps[0]) & 0xFFFFFFFF for t in stamps] == [0, 0, 3000, 3000]


def test_a_new_source_continues_the_stream():
    clock = Clock()
    rw = video_rewriter(clock)
    last = None
    for i in range(5):
        last, last_desc, _ = out(rw, vp8_packet(100 + i, 9000 * i, ssrc=1111, pic=120 + i, tl0=7))
    clock.now += 0.5  # the publisher reconnects half a second later, from scratch
    packet, descriptor, _ = out(rw, vp8_packet(40000, 777, ssrc=2222, pic=3, tl0=200))
    assert packet.sequence_number == (last.sequence_number + 1) & 0xFFFF
    assert (packet.timestamp - last.timestamp) & 0xFFFFFFFF == 45000  # 0.5 s at 90 kHz
    assert descriptor.picture_id == (last_desc.picture_id + 1) & 0x7FFF
    assert descriptor.tl0picidx == (last_desc.tl0picidx + 1) & 0xFF
    following, descriptor2, _ = out(rw, vp8_packet(40001, 777 + 3000, ssrc=2222, pic=4, tl0=200))
    assert following.sequence_number == (packet.sequence_number + 1) & 0xFFFF
    assert following.timestamp - packet.timestamp == 3000
    assert descriptor2.picture_id == descriptor.picture_id + 1 and descriptor2.tl0picidx == descriptor.tl0picidx


def test_reordered_packets_pass_in_their_order_and_duplicates_and_stale_ones_are_dropped():
    rw = video_rewriter()
    base, _, _ = out(rw, vp8_packet(500, 0))
    late_ok = [out(rw, vp8_packet(seq, 0))[0].sequence_number for seq in (502, 503, 501)]
    assert [(s - base.sequence_number) & 0xFFFF for s in late_ok] == [2, 3, 1]
    assert rw.rewrite(vp8_packet(501, 0)) is None  # a duplicate of a reordered one
    assert rw.rewrite(vp8_packet(503, 0)) is None  # a duplicate of the newest
    out(rw, vp8_packet(503 + rtp_rewrite.MAX_MISORDER + 5, 0))
    assert rw.rewrite(vp8_packet(503, 0)) is None  # long gone: stale
    assert rw.counts["dropped_duplicate"] == 2 and rw.counts["dropped_stale"] == 1


def test_hostile_packets_are_dropped_and_counted_never_raised():
    rw = video_rewriter()
    good = vp8_packet(1, 0, pic=9000, tl0=1)
    hostile = [
        b"",
        good[:11],  # shorter than a header
        bytes([0x40]) + good[1:],  # RTP version 1
        bytes([good[0] | 0x0F]) + good[1:16],  # 15 CSRCs announced, none there
        bytes([good[0] | 0x10]) + good[1:12] + b"\xbe\xde\x00\x09",  # an extension longer than the packet
        bytes([good[0] | 0x20]) + good[1:] + b"\x00",  # padding length 0
        bytes([good[0] | 0x20]) + good[1:] + b"\xff",  # padding longer than the packet
        good[:12] + b"\x90\x80\x80",  # VP8 descriptor cut inside a 15-bit picture ID
        good[:12] + b"\x80",  # VP8 descriptor cut after X
        vp8_packet(2, 0, pt=97),  # a payload type the subscriber did not negotiate
        bytes([good[0] | 0x20]) + good[1:12] + b"\x00\x00\x03",  # padding only
    ]
    for data in hostile:
        assert rw.rewrite(data) is None, data.hex()
    assert rw.counts["dropped_malformed"] == 9
    assert rw.counts["dropped_payload_type"] == 1 and rw.counts["dropped_empty"] == 1
    assert rw.rewrite(good) is not None and rw.counts["forwarded"] == 1


def test_only_negotiated_header_extensions_are_kept_with_the_subscribers_ids():
    def with_extensions(profile: int, elements: bytes) -> bytes:
        elements += b"\x00" * (-len(elements) % 4)
        body = vp8_packet(7, 0)
        return (
            bytes([body[0] | 0x10])
            + body[1:12]
            + struct.pack("!HH", profile, len(elements) // 4)
            + elements
            + body[12:]
        )

    # one-byte form: id 1 (3 bytes, abs-send-time), id 3 (1 byte, audio level), id 4 (2 bytes)
    one_byte = with_extensions(0xBEDE, b"\x12abc" + b"\x30z" + b"\x41xy")
    rw = video_rewriter(extension_ids={1: 2, 4: 9})
    result = rw.rewrite(one_byte)
    assert result is not None
    profile, words = struct.unpack_from("!HH", result, 12)
    block = result[16 : 16 + 4 * words]
    assert profile == 0xBEDE and block.rstrip(b"\x00") == b"\x22abc" + b"\x91xy"
    assert RtpPacket.parse(result).payload == one_byte[12 + 4 + 12 :]
    # nothing kept: no extension at all
    rw = video_rewriter(extension_ids={6: 6})
    result = rw.rewrite(one_byte)
    assert result is not None and not result[0] & 0x10 and len(result) == len(one_byte) - 16
    # two-byte form
    two_byte = with_extensions(0x1000, b"\x05\x02hi" + b"\x07\x00")
    result = video_rewriter(extension_ids={5: 20}).rewrite(two_byte)
    assert result is not None
    profile, words = struct.unpack_from("!HH", result, 12)
    assert profile == 0x1000 and result[16 : 16 + 4 * words] == b"\x14\x02hi"


def test_audio_streams_need_no_vp8_descriptor():
    rw = StreamRewriter(77, 48000, {111: 109}, clock=Clock())
    packet = RtpPacket(payload_type=111, sequence_number=9, timestamp=960, ssrc=3, payload=b"\xfc\x01").serialize()
    result = RtpPacket.parse(rw.rewrite(packet))
    assert result.payload == b"\xfc\x01" and result.payload_type == 109 and result.ssrc == 77
