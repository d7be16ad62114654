"""MediaRoom over loopback with real aiortc peers: who receives what, renegotiation,
reconnects, refused SDP, frames for the face check."""

import asyncio
import re

import numpy as np
import pytest

from server.rooms.media import MediaError, MediaRoom, may_receive

from .peers import COLORS, Client, wait_for, yuv_to_rgb


def test_rules():
    assert may_receive("examiner", "candidate") and may_receive("examiner", "aux")
    assert may_receive("examiner", "examiner")
    assert may_receive("candidate", "examiner")
    assert not may_receive("candidate", "aux") and not may_receive("candidate", "candidate")
    assert not any(may_receive("aux", k) for k in ("candidate", "examiner", "aux"))


async def test_each_participant_receives_what_the_rules_allow(room, client, switchboard):
    cand = client("cand", "candidate", color="red")
    aux = client("aux1", "aux", color="green", audio=False)
    ex1 = client("ex1", "examiner", color="blue")
    ex2 = client("ex2", "examiner", color="white")
    # the candidate and the aux camera are in first: the examiners' tracks reach them
    # through renegotiation
    await cand.join()
    await aux.join()
    await ex1.join()
    await ex2.join()

    def flowing(c, expected):
        got = c.received_from()
        return all(got.get(key, 0) >= 10 for key in expected)

    ex1_expect = {("cand", "video"), ("cand", "audio"), ("aux1", "video"), ("ex2", "video"), ("ex2", "audio")}
    ex2_expect = {("cand", "video"), ("cand", "audio"), ("aux1", "video"), ("ex1", "video"), ("ex1", "audio")}
    cand_expect = {("ex1", "video"), ("ex1", "audio"), ("ex2", "video"), ("ex2", "audio")}
    assert await wait_for(
        lambda: flowing(ex1, ex1_expect) and flowing(ex2, ex2_expect) and flowing(cand, cand_expect), timeout=10
    )
    # nothing else: the candidate never gets the aux stream or its own, aux gets nothing
    assert set(ex1.received_from()) == ex1_expect
    assert set(ex2.received_from()) == ex2_expect
    assert set(cand.received_from()) == cand_expect
    assert aux.offers == 0 and aux.received == {}
    assert all(pid != "aux1" for pid, _ in switchboard.offers)
    # every forwarded video starts with a keyframe
    for c in (ex1, ex2, cand):
        for rec in c.received.values():
            if rec.kind == "video" and rec.packets:
                assert rec.packets[0][1], "first forwarded frame is not a keyframe"
    # the content is the publisher's: decode ex1's copy of aux (green)
    stats = room.stats()
    assert stats["participants"]["aux1"]["receives"] == {}
    assert stats["publishers"]["cand/video"]["frames_in"] > 0


async def test_an_examiner_without_camera_still_receives(room, client, switchboard):
    """An offer that sends nothing (receive-only audio) still connects, and the first video
    sender added later shares its transport (max-bundle)."""

    class ReceiveOnly(Client):
        def _new_pc(self):
            pc = super()._new_pc()
            pc.addTransceiver("audio", direction="recvonly")
            return pc

    cand = client("cand", "candidate")
    await cand.join()
    ex = switchboard.add(ReceiveOnly(room, "ex1", "examiner", audio=False, video=False))
    await ex.join()
    assert await wait_for(lambda: ex.received_from().get(("cand", "video"), 0) > 5, timeout=8)
    assert room.publisher("ex1", "audio") is None


async def test_keyframe_promptly_at_a_late_examiner(room, client):
    cand = client("cand", "candidate")
    await cand.join()
    pub = None
    assert await wait_for(
        lambda: (room.publisher("cand", "video") or pub) and room.publisher("cand", "video").frames_in > 30
    )
    keyframes_before = room.publisher("cand", "video").keyframes_in
    ex = client("ex1", "examiner")
    t0 = asyncio.get_running_loop().time()
    await ex.join()

    def first_video():
        return [r for r in ex.received.values() if r.kind == "video" and r.packets]

    assert await wait_for(first_video, timeout=5)
    waited = asyncio.get_running_loop().time() - t0
    rec = first_video()[0]
    assert rec.packets[0][1]  # a keyframe first
    assert waited < 2.0, waited
    # the aiortc encoder only makes keyframes on request: the PLI reached the candidate
    assert room.publisher("cand", "video").keyframes_in > keyframes_before
    sub = room.subscriber_track("ex1", "cand", "video")
    assert sub.first_frame.is_set()


async def test_reconnect_keeps_forwarding(room, client):
    cand = client("cand", "candidate", color="red")
    ex = client("ex1", "examiner", color="blue")
    await cand.join()
    await ex.join()

    def from_cand():
        return ex.received_from().get(("cand", "video"), 0)

    assert await wait_for(lambda: from_cand() > 20 and cand.received_from().get(("ex1", "video"), 0) > 5, timeout=8)
    offers_to_examiner = ex.offers
    before = from_cand()
    await cand.reconnect()  # a new peer connection, same participant
    assert await wait_for(lambda: from_cand() > before + 30, timeout=8)
    # the examiner kept its sender: no renegotiation for it
    assert ex.offers == offers_to_examiner
    # the candidate gets the examiner's stream again on its new connection
    assert await wait_for(lambda: cand.received_from().get(("ex1", "video"), 0) > 5, timeout=8)
    assert room.publisher("cand", "video").generation == 2
    # the examiner's RTP timestamps did not go backwards: rebased after the switch
    sub = room.subscriber_track("ex1", "cand", "video")
    assert sub.dropped < 60


async def test_leave_and_rejoin(room, client):
    cand = client("cand", "candidate")
    ex = client("ex1", "examiner")
    await cand.join()
    await ex.join()
    assert await wait_for(lambda: cand.received_from().get(("ex1", "video"), 0) > 5, timeout=8)
    offers = cand.offers
    await room.leave("ex1")
    await ex.close()
    assert await wait_for(lambda: cand.offers > offers, timeout=5)  # tracks removed by renegotiation
    assert room.participants == {"cand": "candidate"}
    assert room.stats()["participants"]["cand"]["receives"] == {}
    assert await wait_for(lambda: cand.streams() == {}, timeout=3)
    ex2 = client("ex2", "examiner")
    await ex2.join()
    assert await wait_for(lambda: cand.received_from().get(("ex2", "video"), 0) > 5, timeout=8)


async def test_bad_sdp_is_refused_and_changes_nothing(room, client):
    cand = client("cand", "candidate")
    await cand.join()
    assert await wait_for(lambda: room.publisher("cand", "video").frames_in > 5)

    async def refused(pid, kind, sdp):
        with pytest.raises(MediaError) as err:
            await room.join(pid, kind, sdp)
        return err.value.code

    good = await Client(room, "x", "examiner").make_offer()
    assert await refused("x", "examiner", "v=0\r\n" + "a=x\r\n" * 20000) == "sdp_too_large"
    assert await refused("x", "examiner", "hello") == "sdp_invalid"
    assert await refused("x", "examiner", None) == "sdp_invalid"
    assert await refused("x", "examiner", good.replace("a=fingerprint", "a=nothing")) == "sdp_invalid"
    no_vp8 = re.sub(r"VP8/90000", "AV1X/90000", good)
    assert await refused("x", "examiner", no_vp8) == "no_usable_codec"
    no_opus = good.replace("opus/48000", "speex/48000")
    assert await refused("x", "examiner", no_opus) == "no_usable_codec"
    aux_offer = await Client(room, "aux1", "aux").make_offer()  # audio + video
    assert await refused("aux1", "aux", aux_offer) == "media_not_allowed"
    assert await refused("cand", "candidate", good) == "already_joined"
    assert await refused("y", "proctor", good) == "bad_kind"
    with pytest.raises(MediaError) as err:
        await room.answer("cand", good.replace("a=setup:actpass", "a=setup:active"))
    assert err.value.code == "unexpected_answer"
    with pytest.raises(MediaError) as err:
        await room.restart("nobody", good)
    assert err.value.code == "unknown_participant"
    # nothing else changed: same participants, the candidate still publishes
    assert room.participants == {"cand": "candidate"}
    count = room.publisher("cand", "video").frames_in
    assert await wait_for(lambda: room.publisher("cand", "video").frames_in > count + 10)


async def test_sample_frames_for_the_face_check(room, client):
    cand = client("cand", "candidate", color="green", size=(320, 240))
    await cand.join()
    assert await wait_for(lambda: room.publisher("cand", "video").frames_in > 5)
    frames = await room.sample_frames("cand", count=3, timeout=3)
    assert len(frames) == 3
    for frame in frames:
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        corner = frame[200:230, 10:60].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - np.array(yuv_to_rgb(*COLORS["green"]))).max() < 25, corner
    with pytest.raises(MediaError):
        await room.sample_frames("nobody")
    # the temporary subscriber is gone
    assert len(room.publisher("cand", "video").subscribers) == 0


async def test_closed_room_refuses(switchboard):
    room = MediaRoom("r", switchboard)
    await room.close()
    with pytest.raises(MediaError) as err:
        await room.join("a", "candidate", "v=0")
    assert err.value.code == "room_closed"


async def test_room_records_every_track_and_keeps_going_after_a_reconnect(room, client, tmp_path):
    from server.rooms.recorder import InterviewRecorder
    from server.rooms.track_writer import probe_duration

    recorder = InterviewRecorder(tmp_path / "exam" / "cand" / "iv-1", "iv-1")
    room.set_recorder(recorder)
    cand = client("cand", "candidate")
    ex = client("ex1", "examiner")
    await cand.join()
    await ex.join()
    assert await wait_for(lambda: recorder.state()["packets"] > 100, timeout=8)
    t0 = asyncio.get_running_loop().time()
    await asyncio.sleep(1.5)
    await cand.reconnect()
    assert await wait_for(
        lambda: len(recorder.writers) >= 6 and all(w.packets > 20 for w in recorder.writers), timeout=8
    )
    state = room.recording_state()
    assert state["status"] == "recording" and state["bytes"] > 0
    manifest = await room.stop_recording()
    assert room.recording_state() is None
    files = {(t["participant_id"], t["kind"]): [] for t in manifest["tracks"]}
    for t in manifest["tracks"]:
        files[(t["participant_id"], t["kind"])].append(t)
    assert len(files[("cand", "video")]) == 2 and len(files[("cand", "audio")]) == 2
    assert len(files[("ex1", "video")]) == 1
    for t in manifest["tracks"]:
        path = recorder.folder / t["file"]
        assert t["sha256"] and t["size"] == path.stat().st_size
        duration = probe_duration(path)
        wall = t["ended_at"] - t["started_at"]
        assert abs(duration - wall) < 1.0, (t["file"], duration, wall)
    # audio and video of one connection start together on the interview clock
    first = {k: v[0]["offset_s"] for k, v in files.items()}
    assert abs(first[("ex1", "audio")] - first[("ex1", "video")]) < 0.5
    assert asyncio.get_running_loop().time() - t0 < 20


async def test_server_offers_keep_the_browsers_numbering(room, client, switchboard):
    """A browser numbers payload types and header extensions its own way (Chrome: Opus 111,
    VP8 96 ...). Server re-offers must keep those numbers for the sections it sends and use
    the same ones, without collisions, for the tracks they add."""
    from aiortc import sdp as aiortc_sdp

    def browser_numbering(offer: str) -> str:
        desc = aiortc_sdp.SessionDescription.parse(offer)
        pts = {"audio/opus": 111, "video/vp8": 96, "video/rtx": 97}
        uris = {
            "urn:ietf:params:rtp-hdrext:sdes:mid": 4,
            "urn:ietf:params:rtp-hdrext:ssrc-audio-level": 1,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": 2,
        }
        for media in desc.media:
            old = {c.payloadType: pts.get(c.mimeType.lower(), c.payloadType) for c in media.rtp.codecs}
            for codec in media.rtp.codecs:
                codec.payloadType = old[codec.payloadType]
                if "apt" in codec.parameters:
                    codec.parameters["apt"] = old.get(codec.parameters["apt"], codec.parameters["apt"])
            media.rtp.codecs = [
                c for c in media.rtp.codecs if c.mimeType.lower() in pts and c.parameters.get("apt", 96) == 96
            ]
            media.fmt = [c.payloadType for c in media.rtp.codecs]
            for ext in media.rtp.headerExtensions:
                ext.id = uris[ext.uri]
        return str(desc)

    class Browserish(Client):
        async def make_offer(self):
            return browser_numbering(await super().make_offer())

    ex = client("ex1", "examiner")
    await ex.join()
    cand = switchboard.add(Browserish(room, "cand", "candidate"))
    await cand.join()
    assert await wait_for(
        lambda: cand.received_from().get(("ex1", "video"), 0) > 5 and ex.received_from().get(("cand", "video"), 0) > 5,
        timeout=8,
    )
    offer = next(sdp for pid, sdp in switchboard.offers if pid == "cand")
    desc = aiortc_sdp.SessionDescription.parse(offer)
    pt_codec, ext_uri = {}, {}
    for media in desc.media:
        for codec in media.rtp.codecs:
            key = (codec.mimeType.lower(), codec.parameters.get("apt"))
            assert pt_codec.setdefault(codec.payloadType, key) == key, "payload type collision"
        for ext in media.rtp.headerExtensions:
            assert ext_uri.setdefault(ext.id, ext.uri) == ext.uri, "extension id collision"
    assert pt_codec[111][0] == "audio/opus" and pt_codec[96][0] == "video/vp8"
    assert pt_codec[97] == ("video/rtx", 96)
    assert ext_uri[4] == "urn:ietf:params:rtp-hdrext:sdes:mid"
    # and the candidate's own media still arrives after the renegotiation
    count = ex.received_from().get(("cand", "video"), 0)
    assert await wait_for(lambda: ex.received_from().get(("cand", "video"), 0) > count + 20, timeout=5)
