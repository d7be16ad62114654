"""Recording without re-encoding: files decode, durations match, the manifest tells the truth,
and a SIGKILLed recorder leaves playable files."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av

from server.rooms.recorder import InterviewRecorder, recover_manifest
from server.rooms.track_writer import probe_duration, sha256_file

from .peers import encode_clip, encode_opus, packet

ROOT = Path(__file__).resolve().parents[2]


def decode_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams[0]))


def feed(recorder, seconds: float, realtime: bool = False, skip_first_keyframe=False):
    """Write `seconds` of video (30 fps) and audio (50 pps) through two writers."""
    clip = encode_clip(frames=60, gop=30)
    opus = encode_opus(50)
    video = recorder.add_track("p/video/1", "video", "p", "candidate")
    audio = recorder.add_track("p/audio/1", "audio", "p", "candidate")
    if skip_first_keyframe:
        clip = clip[1:] + clip[:1]  # starts with delta frames: they must be skipped
    for i in range(int(seconds * 50)):
        audio.write(packet(opus[i % len(opus)], i * 960, 48000, True))
        if i % 5 in (0, 2, 4):  # 30 video frames per 50 audio packets
            n = (i // 5) * 3 + (i % 5) // 2
            data, key = clip[n % len(clip)]
            video.write(packet(data, n * 3000, 90000, key))
        if realtime:
            time.sleep(0.02)
    return video, audio


def test_files_decode_with_the_right_duration(tmp_path):
    recorder = InterviewRecorder(tmp_path, "iv-1")
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "recording"
    video, audio = feed(recorder, 3.0, realtime=True)
    state = recorder.state()
    assert state["status"] == "recording" and state["packets"] > 200 and state["bytes"] > 0
    manifest = recorder.close()
    assert manifest["status"] == "closed"
    assert {t["kind"] for t in manifest["tracks"]} == {"audio", "video"}
    for track in manifest["tracks"]:
        path = tmp_path / track["file"]
        assert track["size"] == path.stat().st_size
        assert track["sha256"] == sha256_file(path)
        assert track["codec"] == ("vp8" if track["kind"] == "video" else "opus")
        assert abs(probe_duration(path) - 3.0) < 0.3
        assert track["started_at"] <= track["ended_at"]
    assert decode_count(tmp_path / video.path.name) == 90
    assert decode_count(tmp_path / audio.path.name) >= 140
    # audio and video of one participant start together on the common clock
    offsets = {t["kind"]: t["offset_s"] for t in manifest["tracks"]}
    assert abs(offsets["audio"] - offsets["video"]) < 0.1
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    # writing after close is ignored (muxing after close would crash the process)
    video.write(packet(b"\x00" * 20, 0, 90000, True))
    assert recorder.state()["status"] == "stopped"


def test_file_starts_on_a_keyframe(tmp_path):
    recorder = InterviewRecorder(tmp_path, "iv-2")
    video, _ = feed(recorder, 1.0, skip_first_keyframe=True)
    assert video.skipped == 29  # delta frames before the second keyframe
    recorder.close()
    with av.open(str(video.path)) as container:
        first = next(container.demux(container.streams[0]))
        assert first.is_keyframe
        assert container.streams[0].codec_context.width == 160


def test_reconnect_makes_a_new_segment_in_the_same_folder(tmp_path):
    recorder = InterviewRecorder(tmp_path, "iv-3")
    feed(recorder, 0.5)
    feed(recorder, 0.5)
    manifest = recorder.close()
    files = sorted(t["file"] for t in manifest["tracks"])
    assert files == ["p-audio-01.webm", "p-audio-02.webm", "p-video-01.webm", "p-video-02.webm"]


def test_a_broken_disk_shows_as_failed(tmp_path):
    """The folder is replaced by a file under the recorder: the state says failed, why."""
    recorder = InterviewRecorder(tmp_path / "iv", "iv-5")
    writer = recorder.add_track("p/video/1", "video", "p", "candidate")
    (tmp_path / "iv" / "manifest.json").unlink()
    (tmp_path / "iv").rmdir()
    (tmp_path / "iv").write_text("not a folder")
    writer.write(packet(encode_clip(frames=1)[0][0], 0, 90000, True))
    state = recorder.state()
    assert state["status"] == "failed" and "Error" in state["error"]


def test_killed_recorder_leaves_playable_files(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.rooms.record_helper", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("started"), line
        started = float(line.split()[1])
        time.sleep(4.0)
        killed = time.time()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    recorded = killed - started
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "recording"  # it never closed
    for name in ("cand-video-01.webm", "cand-audio-01.webm"):
        path = tmp_path / name
        duration = probe_duration(path)
        assert abs(duration - recorded) <= 2.0, (name, duration, recorded)
        assert decode_count(path) > 0
    recovered = recover_manifest(tmp_path)
    assert recovered["status"] == "recovered"
    assert [t["file"] for t in recovered["tracks"]] == ["cand-video-01.webm", "cand-audio-01.webm"]
    for track in recovered["tracks"]:
        assert track["status"] == "recovered" and track["sha256"] == sha256_file(tmp_path / track["file"])
        assert abs(track["duration_s"] - recorded) <= 2.0, track


def test_a_resumed_interview_keeps_the_files_of_the_killed_process(tmp_path):
    """The process holding the room dies; the candidate comes back on another process, whose
    recorder opens the same folder: nothing written before is overwritten or forgotten."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.rooms.record_helper", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        started = float(proc.stdout.readline().split()[1])
        time.sleep(2.0)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    before = {p.name: sha256_file(p) for p in tmp_path.glob("*.webm")}
    assert set(before) == {"cand-video-01.webm", "cand-audio-01.webm"}

    recorder = InterviewRecorder(tmp_path, "kill-test")  # the interview goes on elsewhere
    assert abs(recorder.started_at - started) < 1.0 and recorder.clock() >= 2.0  # the interview's clock
    feed(recorder, 1.0)
    manifest = recorder.close()
    files = [t["file"] for t in manifest["tracks"]]
    assert files == ["cand-video-01.webm", "cand-audio-01.webm", "p-video-01.webm", "p-audio-01.webm"]
    assert [t["status"] for t in manifest["tracks"]] == ["recovered", "recovered", "stopped", "stopped"]
    assert all(t["sha256"] == before[t["file"]] for t in manifest["tracks"][:2])  # untouched
    assert all(decode_count(tmp_path / name) > 0 for name in files)

    again = InterviewRecorder(tmp_path, "kill-test")  # and once more: next numbers, same clock
    video = again.add_track("cand/video/2", "video", "cand", "candidate")
    assert video.path.name == "cand-video-02.webm"
    assert again.close()["tracks"][:4] == manifest["tracks"]


def test_flags_make_a_timeline_that_a_resumed_recording_keeps(tmp_path):
    recorder = InterviewRecorder(tmp_path, "iv_1")
    feed(recorder, 0.5)
    time.sleep(0.2)
    raised = recorder.add_flag({"flag_id": "flag_a", "kind": "face_missing", "state": "raised"}, b"\xff\xd8one")
    cleared = recorder.add_flag({"flag_id": "flag_a", "kind": "face_missing", "state": "cleared"})
    assert 0.2 <= raised["at_s"] <= cleared["at_s"] and raised["snapshot"] == "flag-001.jpg"
    assert "snapshot" not in cleared
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert [(f["flag_id"], f["state"]) for f in on_disk["flags"]] == [("flag_a", "raised"), ("flag_a", "cleared")]
    recorder.close()
    assert recorder.add_flag({"flag_id": "flag_late", "state": "raised"}, b"x").get("snapshot") is None
    # the candidate comes back into the same interview: the earlier flags and their snapshot stay
    again = InterviewRecorder(tmp_path, "iv_1")
    later = again.add_flag({"flag_id": "flag_b", "kind": "face_multiple", "state": "raised"}, b"\xff\xd8two")
    assert later["snapshot"] != "flag-001.jpg" and (tmp_path / "flag-001.jpg").read_bytes() == b"\xff\xd8one"
    assert [f["flag_id"] for f in again.manifest()["flags"]] == ["flag_a", "flag_a", "flag_b"]
    again.close()
