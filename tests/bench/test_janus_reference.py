"""The Janus reference of ``bench/forwarding.py`` runs and reports (issue 18): Janus's VideoRoom in a
network namespace of its own forwards the bench clip from an aiortc publisher to aiortc subscribers
at the clip's frame rate, its CPU is read, it offers candidates on the namespace's own address only,
and the namespace is gone afterwards."""

from __future__ import annotations

import os
import subprocess

import pytest

from bench import forwarding, janus


@pytest.mark.skipif(janus.unavailable() is not None, reason=str(janus.unavailable()))
def test_janus_forwards_the_clip_and_is_measured(tmp_path):
    clip = tmp_path / "clip.pickle"
    forwarding.encode_clip(clip)
    plan = {"kind": "fanout", "publishers": 1, "subscribers": 2, "warmup": 2.0, "seconds": 3.0}
    out = janus.run_window(plan, clip, tmp_path)
    print(out)
    assert len(out["video_fps"]) == 2
    assert min(out["video_fps"]) >= forwarding.FPS - 3, out
    assert 0 < out["server_cpu_pct"] < 100, out
    # Janus offered candidates on the namespace's own interface only (nat.ice_enforce_list), never
    # on another interface of the machine
    assert out["janus_candidate_addresses"] == [janus.ADDRESS.split("/")[0]], out
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"bench-janus-{os.getpid()}" not in namespaces
