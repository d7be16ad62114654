"""Rewrite received RTP packets for one subscriber, without depacketizing (issue 18).

The first piece of RTP-level forwarding, pure and not wired into the media path yet (the server
forwards encoded frames, docs/rooms.md): a :class:`StreamRewriter` turns a publisher's packets
(after SRTP unprotect) into the packets one subscriber's stream carries (before SRTP protect):

- its own SSRC; the subscriber's payload type for the publisher's (unknown types are dropped);
- sequence numbers and timestamps that continue across a change of source (a publisher that
  reconnects comes back with a new SSRC, new sequence numbers and a new RTP clock origin): the
  first packet of a new source follows the last one sent, its timestamp advanced by the wall
  time between them;
- VP8 picture ID and TL0PICIDX continued across a change of source the same way, so that the
  subscriber's decoder sees one stream;
- only the header extensions the subscriber negotiated, with its ids; padding removed.

The caller feeds the packets of the publisher's current source only (the RTP router already drops
unknown SSRCs): each change of SSRC is taken as a new source. Hostile input is dropped and
counted, never raised: truncated or malformed packets, unknown
payload types, duplicates, and packets older than :data:`MAX_MISORDER` behind the newest
(reordered packets inside that window pass, in their order). Whether a subscriber may start on
a packet (keyframes) stays the caller's decision.
"""

from __future__ import annotations

import random
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MAX_MISORDER = 1000  # packets further behind the newest than this are stale (dropped)
SEEN_WINDOW = 1024  # duplicates are recognised this far back
_SEEN_MASK = (1 << SEEN_WINDOW) - 1
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILES = range(0x1000, 0x1010)  # 0x100 + 4 "appbits" (RFC 8285)


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """What :func:`parse_header` reads; offsets are into the packet."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    csrc_end: int  # end of the fixed header and CSRCs
    extension_profile: int | None
    payload_start: int  # end of the header extension
    payload_end: int  # start of the padding


def parse_header(data: bytes) -> RtpHeader | None:
    """The RTP header of ``data``, or None when it is not a whole RTP packet."""
    n = len(data)
    if n < 12 or data[0] >> 6 != 2:
        return None
    b0, b1 = data[0], data[1]
    pos = 12 + 4 * (b0 & 0x0F)
    if n < pos:
        return None
    sequence, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    csrc_end = pos
    profile = None
    if b0 & 0x10:
        if n < pos + 4:
            return None
        profile, words = struct.unpack_from("!HH", data, pos)
        pos += 4 + 4 * words
        if n < pos:
            return None
    end = n
    if b0 & 0x20:
        padding = data[-1]
        if padding == 0 or pos + padding > n:
            return None
        end = n - padding
    return RtpHeader(b1 & 0x7F, bool(b1 & 0x80), sequence, timestamp, ssrc, csrc_end, profile, pos, end)


def rewrite_extensions(block: bytes, profile: int, ids: dict[int, int]) -> bytes | None:
    """The extension elements of ``block`` (without its 4-byte header) whose id is in ``ids``,
    renumbered, as a whole extension (header included, padded to 32 bits); None when none is
    kept or the block is malformed."""
    out = bytearray()
    i, n = 0, len(block)
    if profile == ONE_BYTE_PROFILE:
        while i < n:
            b = block[i]
            if b == 0:  # padding
                i += 1
                continue
            ext_id, length = b >> 4, (b & 0x0F) + 1
            if ext_id == 15:  # reserved: stop
                break
            if i + 1 + length > n:
                return None
            new_id = ids.get(ext_id)
            if new_id is not None and new_id < 15:
                out.append(new_id << 4 | (length - 1))
                out += block[i + 1 : i + 1 + length]
            i += 1 + length
    elif profile in TWO_BYTE_PROFILES:
        while i < n:
            ext_id = block[i]
            if ext_id == 0:
                i += 1
                continue
            if i + 2 > n:
                return None
            length = block[i + 1]
            if i + 2 + length > n:
                return None
            new_id = ids.get(ext_id)
            if new_id is not None:
                out += bytes((new_id, length))
                out += block[i + 2 : i + 2 + length]
            i += 2 + length
    else:
        return None
    if not out:
        return None
    out += b"\x00" * (-len(out) % 4)
    return struct.pack("!HH", profile, len(out) // 4) + bytes(out)


def vp8_picture_fields(payload: bytes | bytearray) -> tuple[int, int, int] | None:
    """Where the VP8 payload descriptor keeps its picture ID and TL0PICIDX:
    ``(picture_id_offset, picture_id_bits, tl0picidx_offset)`` (an offset is -1 when the field
    is absent, bits 0), or None when the descriptor is truncated."""
    n = len(payload)
    if n < 1:
        return None
    if not payload[0] & 0x80:
        return (-1, 0, -1)
    if n < 2:
        return None
    x = payload[1]
    pos = 2
    pic_offset, pic_bits, tl0_offset = -1, 0, -1
    if x & 0x80:  # I: picture ID
        if n < pos + 1:
            return None
        pic_offset = pos
        if payload[pos] & 0x80:  # M: 15 bits
            if n < pos + 2:
                return None
            pic_bits, pos = 15, pos + 2
        else:
            pic_bits, pos = 7, pos + 1
    if x & 0x40:  # L: TL0PICIDX
        if n < pos + 1:
            return None
        tl0_offset = pos
        pos += 1
    if x & 0x30 and n < pos + 1:  # T or K: TID/KEYIDX byte
        return None
    return (pic_offset, pic_bits, tl0_offset)


def _read_picture_id(payload, offset: int, bits: int) -> int:
    if bits == 15:
        return (payload[offset] & 0x7F) << 8 | payload[offset + 1]
    return payload[offset] & 0x7F


def _write_picture_id(payload: bytearray, offset: int, bits: int, value: int) -> None:
    if bits == 15:
        value &= 0x7FFF
        payload[offset] = 0x80 | value >> 8
        payload[offset + 1] = value & 0xFF
    else:
        payload[offset] = value & 0x7F


class StreamRewriter:
    """One subscriber's copy of one published track (audio or video), at the RTP level."""

    def __init__(
        self,
        ssrc: int,
        clock_rate: int,
        payload_types: dict[int, int],
        extension_ids: dict[int, int] | None = None,
        vp8: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.payload_types = payload_types  # publisher's payload type -> subscriber's
        self.extension_ids = extension_ids or {}  # publisher's extension id -> subscriber's
        self.vp8 = vp8
        self.clock = clock
        self.counts: Counter[str] = Counter()  # forwarded, and dropped_* by reason
        self._source: int | None = None  # the publisher's SSRC being forwarded
        self._seq_offset = self._ts_offset = 0
        self._pic_offset = self._tl0_offset = 0
        self._max_seq = 0  # the newest sequence number of the source
        self._seen = 0  # bit k: max_seq - k was forwarded
        self._last_seq = random.getrandbits(16)  # last sequence number sent (the first is next)
        self._last_ts = random.getrandbits(32)
        self._last_at: float | None = None
        self._last_pic: int | None = None
        self._last_tl0: int | None = None
        self._vp8_pending = vp8  # the next VP8 descriptor sets the picture ID offsets

    def _drop(self, reason: str) -> None:
        self.counts["dropped_" + reason] += 1

    def _switch_source(self, header: RtpHeader) -> None:
        """The first packet of a new source follows the last one sent."""
        now = self.clock()
        self._seq_offset = (self._last_seq + 1 - header.sequence) & 0xFFFF
        advance = 1 if self._last_at is None else max(1, int((now - self._last_at) * self.clock_rate))
        self._ts_offset = (self._last_ts + advance - header.timestamp) & 0xFFFFFFFF
        self._source = header.ssrc
        self._max_seq = header.sequence
        self._seen = 1
        self._pic_offset = self._tl0_offset = 0
        self._vp8_pending = self.vp8

    def _set_vp8_offsets(self, payload: bytearray, fields: tuple[int, int, int]) -> None:
        """The first VP8 descriptor of a source continues the last picture ID and TL0PICIDX sent."""
        pic_offset, pic_bits, tl0_offset = fields
        if pic_offset >= 0 and self._last_pic is not None:
            self._pic_offset = (self._last_pic + 1 - _read_picture_id(payload, pic_offset, pic_bits)) & 0x7FFF
        if tl0_offset >= 0 and self._last_tl0 is not None:
            self._tl0_offset = (self._last_tl0 + 1 - payload[tl0_offset]) & 0xFF
        self._vp8_pending = False

    def rewrite(self, data: bytes) -> bytes | None:
        """The packet for the subscriber, or None when ``data`` is dropped (counted)."""
        header = parse_header(data)
        if header is None:
            self._drop("malformed")
            return None
        payload_type = self.payload_types.get(header.payload_type)
        if payload_type is None:
            self._drop("payload_type")
            return None
        if header.payload_end <= header.payload_start:
            self._drop("empty")  # padding only (bandwidth probes): nothing to forward
            return None
        payload = bytearray(data[header.payload_start : header.payload_end])
        fields = None
        if self.vp8:
            fields = vp8_picture_fields(payload)
            if fields is None:
                self._drop("malformed")
                return None
        if header.ssrc != self._source:
            self._switch_source(header)
        else:
            delta = (header.sequence - self._max_seq) & 0xFFFF
            if delta == 0:
                self._drop("duplicate")
                return None
            if delta < 0x8000:  # newer
                self._seen = ((self._seen << delta) | 1) & _SEEN_MASK if delta < SEEN_WINDOW else 1
                self._max_seq = header.sequence
            else:
                back = 0x10000 - delta
                if back > MAX_MISORDER:
                    self._drop("stale")
                    return None
                if self._seen >> back & 1:
                    self._drop("duplicate")
                    return None
                self._seen |= 1 << back
        if fields is not None and self._vp8_pending:
            self._set_vp8_offsets(payload, fields)
        sequence = (header.sequence + self._seq_offset) & 0xFFFF
        timestamp = (header.timestamp + self._ts_offset) & 0xFFFFFFFF
        if fields is not None:
            pic_offset, pic_bits, tl0_offset = fields
            if pic_offset >= 0:
                pic = (_read_picture_id(payload, pic_offset, pic_bits) + self._pic_offset) & 0x7FFF
                _write_picture_id(payload, pic_offset, pic_bits, pic)
                self._last_pic = pic if pic_bits == 15 else pic & 0x7F
            if tl0_offset >= 0:
                payload[tl0_offset] = (payload[tl0_offset] + self._tl0_offset) & 0xFF
                self._last_tl0 = payload[tl0_offset]
        extension = None
        if header.extension_profile is not None and self.extension_ids:
            extension = rewrite_extensions(
                data[header.csrc_end + 4 : header.payload_start], header.extension_profile, self.extension_ids
            )
        b0 = (data[0] & 0xCF) | (0x10 if extension else 0)  # padding removed; X if any extension kept
        b1 = (0x80 if header.marker else 0) | payload_type
        out = bytearray(struct.pack("!BBHII", b0, b1, sequence, timestamp, self.ssrc))
        out += data[12 : header.csrc_end]
        if extension:
            out += extension
        out += payload
        if ((sequence - self._last_seq) & 0xFFFF) < 0x8000:  # the newest sent so far
            self._last_seq, self._last_ts, self._last_at = sequence, timestamp, self.clock()
        self.counts["forwarded"] += 1
        return bytes(out)
