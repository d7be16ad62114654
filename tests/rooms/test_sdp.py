"""server/rooms/sdp.py without peers: what an offer or answer must contain (refused with a clear
code), codec filtering, stream ids, and server offers renumbered with the client's numbers."""

from __future__ import annotations

import pytest
from aiortc import sdp as aiortc_sdp

from server.rooms import media, sdp
from server.rooms.sdp import MediaError

# A browser's offer, in Chrome's numbering: Opus 111, VP8 96 + rtx 97, VP9 98 + rtx 99, H264 102.
SESSION = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=msid-semantic: WMS stream
"""
AUDIO = """m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ab1c
a=ice-pwd:0123456789abcdefghijklmn
a=fingerprint:sha-256 3B:4E:0A:C5:6D:24:52:2B:91:6E:2C:0F:A3:B8:44:D0:5C:3E:61:5A:8E:27:6B:9D:12:F4:A0:33:C7:15:E2:08
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a={direction}
a=msid:stream audio-track
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:0 PCMU/8000
a=ssrc:1001 cname:abc
"""
VIDEO = """m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ab1c
a=ice-pwd:0123456789abcdefghijklmn
a=fingerprint:sha-256 3B:4E:0A:C5:6D:24:52:2B:91:6E:2C:0F:A3:B8:44:D0:5C:3E:61:5A:8E:27:6B:9D:12:F4:A0:33:C7:15:E2:08
a=setup:actpass
a=mid:{mid}
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:9 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=sendrecv
a=msid:stream video-track
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 goog-remb
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:98 VP9/90000
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:102 H264/90000
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=ssrc-group:FID 2001 2002
a=ssrc:2001 cname:abc
a=ssrc:2002 cname:abc
"""


def offer(audio="sendrecv", video=True, extra_video=False) -> str:
    text = SESSION + (AUDIO.format(direction=audio) if audio else "")
    if video:
        text += VIDEO.format(mid=1)
    if extra_video:
        text += VIDEO.format(mid=2)
    return text.replace("\n", "\r\n")


def refused(code: str, text, kind="candidate", **options) -> MediaError:
    with pytest.raises(MediaError) as caught:
        sdp.check_offer(text, kind, **options)
    assert caught.value.code == code, caught.value
    return caught.value


def test_a_browser_offer_passes_with_its_sections_in_order():
    assert sdp.check_offer(offer(), "candidate") == ["audio", "video"]
    assert sdp.check_offer(offer(audio="recvonly"), "aux") == ["audio", "video"]  # receiving audio is fine
    assert sdp.check_offer(offer(audio=None), "aux") == ["video"]
    assert sdp.check_answer(offer(), "examiner") == ["audio", "video"]


def test_media_still_exports_what_callers_import_from_it():
    assert media.MediaError is MediaError and media.check_offer is sdp.check_offer
    assert media.PUBLISHES is sdp.PUBLISHES


@pytest.mark.parametrize(
    "text,detail",
    [
        (None, "empty offer"),
        ("", "empty offer"),
        ("   \r\n", "empty offer"),
        ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "offer has no audio or video section"),
    ],
)
def test_empty_or_sectionless_offers_are_refused(text, detail):
    assert refused("sdp_invalid", text).detail == detail


def test_an_unparsable_offer_is_refused_with_the_parser_error_named():
    error = refused("sdp_invalid", offer().replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video nine UDP 96"))
    assert error.detail.startswith("unparsable offer: ")


def test_a_large_offer_is_refused_before_parsing():
    big = offer() + "a=x-padding:" + "x" * 70_000 + "\r\n"
    assert refused("sdp_too_large", big).detail == "offer larger than 65536 bytes"
    assert sdp.check_offer(big.replace("a=x-padding", "a=x-pad"), "candidate", max_bytes=200_000)


def test_ice_credentials_and_fingerprint_are_required():
    no_ice = "\r\n".join(line for line in offer().split("\r\n") if not line.startswith("a=ice-pwd"))
    assert refused("sdp_invalid", no_ice).detail == "missing ICE credentials"
    no_dtls = "\r\n".join(line for line in offer().split("\r\n") if not line.startswith("a=fingerprint"))
    assert refused("sdp_invalid", no_dtls).detail == "missing DTLS fingerprint"


def test_an_offer_without_vp8_or_opus_is_refused():
    no_vp8 = offer().replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 AV1/90000")
    assert refused("no_usable_codec", no_vp8).detail == "video section without video/vp8"
    no_opus = offer().replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 G722/8000")
    assert refused("no_usable_codec", no_opus).detail == "audio section without audio/opus"


def test_publishing_rules_per_participant_kind():
    assert refused("media_not_allowed", offer(), "aux").detail == "a aux may send video once"
    assert refused("media_not_allowed", offer(audio="sendonly"), "aux")
    assert refused("media_not_allowed", offer(extra_video=True)).detail == "a candidate may send audio+video once"


def test_codec_filtering_keeps_vp8_rtx_and_opus_only():
    video = sdp.codec_preferences("video")
    assert {c.mimeType.lower() for c in video} == {"video/vp8", "video/rtx"}
    assert video[0].mimeType.lower() == "video/vp8"
    assert [c.mimeType.lower() for c in sdp.codec_preferences("audio")] == ["audio/opus"]


def test_stream_ids_are_the_participant_id_or_a_safe_token():
    assert sdp.stream_id("acc_1b2c.aux:2") == "acc_1b2c.aux:2"
    odd = sdp.stream_id("候选人 1")
    assert odd == "p-" + "候选人 1".encode().hex()
    long = sdp.stream_id("x" * 65)
    assert long.startswith("p-") and len(long) == 62 and sdp.stream_id("x" * 65) == long
    assert sdp.stream_id("a b") != sdp.stream_id("a_b")


def test_server_offers_keep_the_clients_numbers():
    # our first answer carries the client's numbers: VP8 96 / rtx 97, mid 4, abs-send-time 9 (no audio)
    answer = offer(audio=None).replace("a=sendrecv", "a=recvonly")
    sections = sdp.negotiated_sections(answer)
    video_codecs, video_exts = sections["video"]
    assert [(c.mimeType, c.payloadType) for c in video_codecs][:2] == [("video/VP8", 96), ("video/rtx", 97)]
    assert {x.uri: x.id for x in video_exts}["urn:ietf:params:rtp-hdrext:sdes:mid"] == 4
    # audio was not offered: aiortc's Opus, renumbered clear of the client's payload types and ids
    audio_codecs, audio_exts = sections["audio"]
    assert [c.mimeType.lower() for c in audio_codecs] == ["audio/opus"]
    assert audio_codecs[0].payloadType not in {c.payloadType for c in video_codecs}
    ids = {x.uri: x.id for x in audio_exts}
    assert ids["urn:ietf:params:rtp-hdrext:sdes:mid"] == 4  # the same extension keeps its id
    assert not {i for u, i in ids.items() if u != "urn:ietf:params:rtp-hdrext:sdes:mid"} & {4, 9}

    # a server offer in aiortc's numbering (Opus 96, VP8 97 + rtx 98, mid 1) is rewritten with them
    rewritten = aiortc_sdp.SessionDescription.parse(sdp.apply_sections(aiortc_offer(), sections))
    video = next(m for m in rewritten.media if m.kind == "video")
    assert video.fmt == [c.payloadType for c in video_codecs] and video.fmt[:2] == [96, 97]
    assert [c.mimeType for c in video.rtp.codecs][:2] == ["video/VP8", "video/rtx"]
    assert video.rtp.codecs[1].parameters["apt"] == 96
    assert {x.uri: x.id for x in video.rtp.headerExtensions} == {x.uri: x.id for x in video_exts}
    audio = next(m for m in rewritten.media if m.kind == "audio")
    assert audio.fmt == [c.payloadType for c in audio_codecs] and 96 not in audio.fmt
    assert sdp.check_offer(str(rewritten), "examiner") == ["audio", "video"]  # still a valid description


def aiortc_offer() -> str:
    """A server offer as aiortc numbers it: Opus 96, VP8 97 + rtx 98, mid extension 1."""
    text = offer()
    for old, new in (
        ("UDP/TLS/RTP/SAVPF 96 97 98 99 102", "UDP/TLS/RTP/SAVPF 97 98"),  # video first
        ("a=rtpmap:96 VP8", "a=rtpmap:97 VP8"),
        ("a=rtcp-fb:96 ", "a=rtcp-fb:97 "),
        ("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96", "a=rtpmap:98 rtx/90000\r\na=fmtp:98 apt=97"),
        ("UDP/TLS/RTP/SAVPF 111 63 0", "UDP/TLS/RTP/SAVPF 96"),
        ("a=rtpmap:111 opus", "a=rtpmap:96 opus"),
        ("a=fmtp:111 ", "a=fmtp:96 "),
        ("a=rtcp-fb:111 ", "a=rtcp-fb:96 "),
        ("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    lines = [
        line
        for line in text.split("\r\n")
        if not line.startswith(
            (
                "a=rtpmap:63",
                "a=fmtp:63",
                "a=rtpmap:0 ",
                "a=rtpmap:98 VP9",
                "a=rtpmap:99",
                "a=fmtp:99",
                "a=rtpmap:102",
                "a=fmtp:102",
                "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            )
        )
    ]
    return "\r\n".join(lines)
