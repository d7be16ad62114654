"""An uploaded take's file (server/recorded/upload_media.py) on clips made with PyAV: the probe's figures,
the refusals with their reason, H.264/AAC in MP4 copied packet for packet (never re-encoded), VP8 WebM
copied, HEVC (an iPhone .mov, portrait) and VP9 re-encoded to H.264/AAC with the rotation kept, and the
identity check's frame sampling working on the MP4 it makes."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from server.recorded import upload_media
from server.recorded.take_identity import sample_frames
from tests.recorded.clips import codecs, make_clip, video_packets


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "take"
    out.mkdir()
    return out


def test_h264_aac_mp4_is_probed_and_copied_packet_for_packet(tmp_path, folder):
    src = make_clip(tmp_path / "phone.mp4", seconds=2.0, width=320, height=240, fps=30)
    figures = upload_media.probe(src, max_duration_s=300)
    assert (figures.container, figures.video_codec, figures.audio_codec) == ("mp4", "h264", "aac")
    assert (figures.width, figures.height, figures.fps, figures.rotation) == (320, 240, 30.0, 0)
    assert figures.duration_s == pytest.approx(2.0, abs=0.05)
    assert figures.size == src.stat().st_size and len(figures.sha256) == 64
    assert figures.to_json()["orientation"] == "landscape"
    told = []
    files = upload_media.make_playable(src, folder, figures, lambda stage, fraction: told.append(stage))
    info = files["playable.mp4"]
    assert (info["kind"], info["video"], info["audio"], info["container"]) == ("main", "copied", "copied", "mp4")
    assert video_packets(folder / "playable.mp4") == video_packets(src)  # the very packets: nothing re-encoded
    assert info["sha256"] == upload_media.sha256_of(folder / "playable.mp4")
    assert "encoding" not in told
    assert not list(folder.glob(".*part"))


def test_vp8_webm_is_copied_and_vp9_is_reencoded(tmp_path, folder):
    vp8 = make_clip(tmp_path / "a.webm", "webm", "libvpx", "libopus")
    files = upload_media.make_playable(vp8, folder, upload_media.probe(vp8, 300))
    assert files["playable.webm"]["video"] == "copied"
    assert video_packets(folder / "playable.webm") == video_packets(vp8)
    vp9 = make_clip(tmp_path / "b.webm", "webm", "libvpx-vp9", "libopus")
    other = tmp_path / "other"
    other.mkdir()
    files = upload_media.make_playable(vp9, other, upload_media.probe(vp9, 300))
    assert (files["playable.mp4"]["video"], files["playable.mp4"]["audio"]) == ("encoded", "encoded")
    assert codecs(other / "playable.mp4") == ("h264", "aac")


def test_a_portrait_hevc_mov_is_reencoded_to_h264_with_its_rotation(tmp_path, folder):
    src = make_clip(
        tmp_path / "IMG_0001.MOV", "mov", "libx265", "aac", seconds=2.0, width=640, height=360, rotation=-90
    )
    figures = upload_media.probe(src, 300)
    assert (figures.video_codec, figures.rotation, figures.to_json()["orientation"]) == ("hevc", -90, "portrait")
    stages = []
    files = upload_media.make_playable(src, folder, figures, lambda stage, fraction: stages.append((stage, fraction)))
    info = files["playable.mp4"]
    assert (info["video"], info["audio"]) == ("encoded", "encoded")
    assert codecs(folder / "playable.mp4") == ("h264", "aac")
    again = upload_media.probe(folder / "playable.mp4", 300)
    assert again.rotation == -90 and (again.width, again.height) == (640, 360)  # shown portrait, as filmed
    assert again.duration_s == pytest.approx(2.0, abs=0.1)
    assert any(stage == "encoding" for stage, _ in stages)


def test_a_large_picture_is_encoded_at_720p_at_most(tmp_path, folder):
    src = make_clip(tmp_path / "big.mov", "mov", "libx265", None, seconds=0.5, width=1920, height=1080, fps=10)
    upload_media.make_playable(src, folder, upload_media.probe(src, 300))
    out = upload_media.probe(folder / "playable.mp4", 300)
    assert (out.width, out.height) == (1280, 720)


def test_files_that_cannot_be_a_take_are_refused_with_the_reason(tmp_path):
    def refused(path: Path, max_s: float = 300) -> str:
        with pytest.raises(upload_media.Refused) as caught:
            upload_media.probe(path, max_s)
        return caught.value.code

    text = tmp_path / "notes.mp4"  # renamed: not a video at all
    text.write_text("这不是视频 " * 100)
    assert refused(text) == "upload_not_video"
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert refused(tmp_path / "empty.mp4") == "upload_not_video"
    full = make_clip(tmp_path / "full.mp4")
    cut = tmp_path / "cut.mp4"  # the index (moov) is at the end: cut off, nothing opens
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    assert refused(cut) == "upload_truncated"
    fast = tmp_path / "fast.mp4"  # the index first, the picture cut at 60 %: the packets end early
    shutil.copy(full, tmp_path / "src.mp4")
    folder = tmp_path / "fs"
    folder.mkdir()
    upload_media.make_playable(tmp_path / "src.mp4", folder, upload_media.probe(tmp_path / "src.mp4", 300))
    whole = (folder / "playable.mp4").read_bytes()
    fast.write_bytes(whole[: len(whole) * 6 // 10])
    assert refused(fast) == "upload_truncated"
    webm = make_clip(tmp_path / "w.webm", "webm", "libvpx", "libopus")
    cut_webm = tmp_path / "cut.webm"
    cut_webm.write_bytes(webm.read_bytes()[: webm.stat().st_size // 2])
    assert refused(cut_webm) == "upload_truncated"
    long = make_clip(tmp_path / "long.mp4", seconds=12, width=64, height=48, fps=5)
    with pytest.raises(upload_media.Refused) as caught:
        upload_media.probe(long, max_duration_s=10)
    assert caught.value.code == "upload_too_long"
    assert caught.value.params == {"duration": "12 秒", "max": "10 秒"}
    sound = tmp_path / "sound.m4a"  # sound only, named .mp4 by the phone
    with av.open(str(sound), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        for start in range(0, 48000, 960):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert refused(sound) == "upload_no_video"
    avi = make_clip(tmp_path / "clip.avi", "avi", "mpeg4", None, seconds=0.5)
    with pytest.raises(upload_media.Refused) as caught:
        upload_media.probe(avi, 300)
    assert (caught.value.code, caught.value.params) == ("upload_format", {"format": "avi"})


def test_the_identity_check_samples_frames_of_an_uploaded_mp4(tmp_path, folder):
    src = make_clip(tmp_path / "IMG.MOV", "mov", "libx265", "aac", seconds=3.0)
    upload_media.make_playable(src, folder, upload_media.probe(src, 300))
    sample = sample_frames(folder / "playable.mp4", 6)
    assert len(sample.frames) == 6
    assert sample.frames[0].shape == (240, 320, 3)
    assert sample.duration_s == pytest.approx(3.0, abs=0.1)
