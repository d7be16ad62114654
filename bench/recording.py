"""Recorded takes on one core: how many candidates can film a take at once into one server process
pinned to one CPU without losing frames, and how soon after a take is stopped its playback file is
ready.

Run: ``python -m bench.recording [--seconds 8] [--steps 8,16,32,48,64,80] [--budget-s 150]`` (at most
about 3 minutes). Starts a private redis-server (or uses REDIS_URL) and a real ``interview-server``
process on a free loopback port, pinned with ``taskset`` to one CPU (every thread); this process
(the candidates' stand-ins) runs on another. It seeds one exam with a recorded subject and enrolled
candidates through the domain services, then, step by step with more candidates each time: every
candidate enters a practice sitting and starts a take (``Sittings.start_take``), connects a real
socket.io client to ``/candidate`` and an aiortc peer that publishes a clip encoded once (640x480,
30 fps, ~1 Mbit/s VP8, Opus 20 ms: a phone's camera, replayed without encoding cost) with
``take:join``; nobody subscribes. After ``--seconds`` every take is stopped (``take:stop``) and the
time until its ``take:playable`` push is taken. The steps stop at the first with lost frames (a step
that lost frames is run once more first: on a shared machine another process may have held the
core for a moment), or when the budget is spent.

A take lost frames when its recorded video file (the server's, demuxed here) holds fewer frames
than 30 fps over the measured window (every candidate connected and recording), by more than 1 % (a
saturated core drops RTP packets, and incomplete frames never reach the recorder), or when the
server's CPU was saturated (>= 95 %).

Figures (the last line is JSON): ``recording_candidates_per_core`` (the most candidates recorded at
once without loss), ``recording_cpu_pct_per_candidate`` (the server's CPU per candidate at that step)
and ``recording_candidates_per_core_estimate`` (100 / that), ``submit_to_playable_ms`` (from
``take:stop`` to ``take:playable`` for one take of ``take_s`` stopped while the others go on
recording: the server closes the files, hashes them, remuxes ``playable.webm`` and records it;
``burst_submit_to_playable_ms_p50``/``_max``: the other takes then stopped at the same moment), all at
the step with the most candidates recorded without loss; ``steps`` (each step's figures), ``machine``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import socketio

from .common import (
    PASSWORD,
    bench_exam,
    bench_redis,
    bench_services,
    enrolled_candidates,
    machine,
    start_server,
    wait_healthy,
)
from .forwarding import FPS, _replay_track_class, cpu_seconds, encode_clip

DEVICE = "bench-phone-{}"
LOSS_PCT = 1.0  # more frames missing from a take's recording than this: the step lost frames
CPU_SATURATED_PCT = 95.0
TAKES = 10  # takes per sitting (the most a subject allows): one per step


async def _seed(services, count: int) -> dict:
    admin, exam, subject = await bench_exam(services, "录制考试压测")
    now = time.time()
    subject = await services.catalog.update_subject(
        admin,
        exam.id,
        subject.id,
        kind="recorded",
        takes_allowed=TAKES,
        take_max_s=600,
        window_opens=now - 600,
        window_closes=now + 3 * 3600,
    )
    password_hash = await services.passwords.hash(PASSWORD)
    enrolled = await enrolled_candidates(services, admin, exam.id, "声乐", count, password_hash)
    people = []
    for i, (account, _) in enumerate(enrolled):
        sitting = await services.sittings.enter(account, exam.id, subject.id, "practice", DEVICE.format(i))
        people.append({"account": account, "sitting": sitting.id, "device": DEVICE.format(i)})
    return {"exam": exam.id, "people": people}


class Candidate:
    """One phone: a socket.io client on ``/candidate`` and an aiortc peer publishing the clip."""

    def __init__(self, url: str, token: str, clip: dict, replay) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        from server.rooms import passthrough

        self.url, self.token = url, token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks = {}
        for kind in ("audio", "video"):
            track = replay(kind, clip)
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            passthrough.on_keyframe_request(transceiver.sender, track.on_keyframe_request)
            self.tracks[kind] = track
        self.playable = asyncio.get_running_loop().create_future()
        self.take_id = ""

        async def on_playable(data):
            if data.get("take_id") == self.take_id and not self.playable.done():
                self.playable.set_result(time.monotonic())

        self.sio.on("take:playable", on_playable, namespace="/candidate")

    async def join(self, take_id: str) -> None:
        from aiortc import RTCSessionDescription

        from server.accounts.sessions import COOKIE
        from server.rooms import passthrough

        self.take_id = take_id
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"{COOKIE}={self.token}"},
            namespaces=["/candidate"],
            transports=["websocket"],
            wait_timeout=10,
        )
        await self.pc.setLocalDescription(await self.pc.createOffer())
        passthrough.enlarge_socket_buffers(self.pc, 4 << 20)  # one process stands in for many phones
        ack = await self.sio.call(
            "take:join", {"take_id": take_id, "sdp": self.pc.localDescription.sdp}, namespace="/candidate", timeout=20
        )
        if not ack.get("ok"):
            raise RuntimeError(f"take:join refused: {ack}")
        await self.pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))

    async def stop(self) -> float:
        """take:stop; milliseconds until take:playable."""
        started = time.monotonic()
        ack = await self.sio.call("take:stop", {"take_id": self.take_id}, namespace="/candidate", timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"take:stop refused: {ack}")
        done = await asyncio.wait_for(self.playable, 60)
        return (done - started) * 1000

    async def close(self) -> None:
        await self.pc.close()
        await self.sio.disconnect()


def frame_loss_pct(path: Path, start_s: float, end_s: float) -> tuple[float, int]:
    """(frames missing from the recorded video against 30 fps between ``start_s`` and ``end_s`` on
    the take's clock, in %; frames recorded then)."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        times = [float(p.pts * p.time_base) for p in container.demux(stream) if p.pts is not None and p.size]
    inside = [t for t in times if start_s <= t < end_s]
    expected = (end_s - start_s) * FPS
    return max(0.0, 100 * (1 - len(inside) / expected)), len(inside)


async def _step(n: int, url: str, services, seed: dict, tokens: list, clip: dict, server_pid: int, seconds: float):
    replay = _replay_track_class()
    people = seed["people"][:n]
    takes = [
        await services.sittings.start_take(p["account"], p["sitting"], p["device"], "front", "portrait") for p in people
    ]
    phones = [Candidate(url, tokens[i], clip, replay) for i in range(n)]
    gate = asyncio.Semaphore(8)  # joins at once (ICE, DTLS)

    async def join(phone: Candidate, take_id: str) -> None:
        async with gate:
            await phone.join(take_id)

    try:
        await asyncio.gather(*(join(phone, take.id) for phone, take in zip(phones, takes, strict=True)))
        await asyncio.sleep(3.0)  # every connection up, a keyframe in every file
        cpu0, wall0, epoch0 = cpu_seconds(server_pid), time.monotonic(), time.time()
        own0 = time.process_time()
        await asyncio.sleep(seconds)
        cpu1, wall1 = cpu_seconds(server_pid), time.monotonic()
        own1 = time.process_time()
        take_s = time.time() - takes[0].started_at
        alone = await phones[0].stop()  # one take stopped while the others record (as in an exam)
        waits = await asyncio.gather(*(phone.stop() for phone in phones[1:]))  # then all the others at once
    finally:
        await asyncio.gather(*(phone.close() for phone in phones), return_exceptions=True)
    losses = []
    frames = 0
    for person, take in zip(people, takes, strict=True):
        record = await services.recordings.get(take.id)
        tracks = [
            t
            for t in (record["manifest"] or {}).get("tracks", [])
            if t["kind"] == "video" and t["participant_id"] == person["account"].id
        ]
        if not tracks:
            losses.append(100.0)
            continue
        # the measured window on the take's clock (the recorder's, from the take's start), a frame's
        # transit and the jitter buffer aside
        origin = record["manifest"]["started_at"]
        start, end = epoch0 - origin + 0.5, epoch0 - origin + seconds - 0.5
        loss, count = frame_loss_pct(Path(record["folder"]) / tracks[0]["file"], start, end)
        losses.append(loss)
        frames += count
    cpu_pct = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    return {
        "candidates": n,
        "server_cpu_pct": round(cpu_pct, 1),
        "peers_cpu_pct": round(100 * (own1 - own0) / (wall1 - wall0), 1),
        "frame_loss_pct_max": round(max(losses), 2),
        "frame_loss_pct_mean": round(statistics.mean(losses), 2),
        "frames_recorded": frames,
        "take_s": round(take_s, 1),
        "submit_to_playable_ms": round(alone, 1),
        "burst_submit_to_playable_ms_p50": round(statistics.median(waits), 1) if waits else None,
        "burst_submit_to_playable_ms_max": round(max(waits), 1) if waits else None,
        "lossless": max(losses) <= LOSS_PCT and cpu_pct < CPU_SATURATED_PCT,
    }


async def run(redis_url: str, prefix: str, workdir: Path, steps: list[int], seconds: float, budget_s: float) -> dict:
    from server.rooms import passthrough

    passthrough.install()  # the phones send encoded packets
    started = time.monotonic()
    clip = encode_clip(workdir / "clip.pickle")
    kbps = sum(len(d) for d, _ in clip["video"]) * 8 / (len(clip["video"]) / FPS) / 1000
    services = bench_services(redis_url, prefix, workdir / "data")
    seed = await _seed(services, max(steps))
    tokens = [await services.sessions.create(p["account"].id, "candidate") for p in seed["people"]]
    from server.store.embedded import free_port

    port = free_port()
    recordings = workdir / "recordings"
    proc = start_server(
        redis_url,
        prefix,
        port,
        workdir / "server-data",
        capture=True,
        recordings_dir=str(recordings),
        take_reconnect_grace_s="60",
        log_level="ERROR",
    )
    url = f"http://127.0.0.1:{port}"
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    figures: dict = {
        "machine": machine(av=av.__version__),
        "clip_video_kbps": round(kbps),
        "seconds": seconds,
        "pinned": pinned,
    }
    try:
        await wait_healthy(url, proc)
        if pinned:  # every thread of the server on the first CPU, the phones on the second
            subprocess.run(["taskset", "-a", "-p", "-c", str(cpus[0]), str(proc.pid)], check=True, capture_output=True)
            os.sched_setaffinity(0, {cpus[1]})
        print(
            f"clip ~{kbps:.0f} kbit/s VP8 640x480 + Opus; server pid {proc.pid} "
            + (f"pinned to CPU {cpus[0]}, phones on CPU {cpus[1]}" if pinned else "unpinned (one CPU only)")
        )
        results = []
        runs = 0  # takes each candidate's practice sitting has had (TAKES of them at most)
        for n in steps:
            if time.monotonic() - started > budget_s or runs >= TAKES:
                print(f"budget of {budget_s:.0f} s or {TAKES} takes spent: stopping before {n} candidates")
                break
            step = await _step(n, url, services, seed, tokens, clip, proc.pid, seconds)
            runs += 1
            if not step["lossless"] and time.monotonic() - started < budget_s and runs < TAKES:
                runs += 1
                # once more: on a shared machine another process may have held the core for a moment
                print(f"{n:3d} candidates: frames lost ({step['frame_loss_pct_max']:.2f} %), once more")
                step = await _step(n, url, services, seed, tokens, clip, proc.pid, seconds)
                step["retried"] = True
            results.append(step)
            print(
                f"{n:3d} candidates recording: server {step['server_cpu_pct']:5.1f} % CPU, phones "
                f"{step['peers_cpu_pct']:5.1f} %, frames missing max {step['frame_loss_pct_max']:.2f} % "
                f"(mean {step['frame_loss_pct_mean']:.2f} %); stop -> playable of a {step['take_s']:.0f} s take "
                f"{step['submit_to_playable_ms']:.0f} ms, the {n - 1} others stopped at once p50 "
                f"{step['burst_submit_to_playable_ms_p50']:.0f} ms max {step['burst_submit_to_playable_ms_max']:.0f} ms: "
                + ("no loss" if step["lossless"] else "LOSS")
            )
            if step["peers_cpu_pct"] > 90:
                print("  the phones' process was short of CPU: the server may carry more than this shows")
            if not step["lossless"]:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        await services.store.redis.aclose()
    good = [s for s in results if s["lossless"]]
    best = good[-1] if good else None
    per = best["server_cpu_pct"] / best["candidates"] if best else None
    figures.update(
        recording_candidates_per_core=best["candidates"] if best and pinned else 0,
        recording_cpu_pct_per_candidate=round(per, 2) if per else None,
        recording_candidates_per_core_estimate=round(100 / per, 1) if per else None,
        first_loss_at=next((s["candidates"] for s in results if not s["lossless"]), None),
        # at the most candidates recorded without loss: one take stopped while the others record,
        # and the others stopped all at the same moment (the worst burst of remuxing)
        submit_to_playable_ms=best["submit_to_playable_ms"] if best else None,
        burst_submit_to_playable_ms_p50=best["burst_submit_to_playable_ms_p50"] if best else None,
        burst_submit_to_playable_ms_max=best["burst_submit_to_playable_ms_max"] if best else None,
        take_s=best["take_s"] if best else None,
        steps=results,
        took_s=round(time.monotonic() - started, 1),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="recording time measured per step")
    parser.add_argument("--steps", default="8,16,32,48,64,80", help="candidates recording at once, step by step")
    parser.add_argument("--budget-s", type=float, default=150.0, help="no new step after this many seconds")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    with bench_redis() as (url, prefix), tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        figures = asyncio.run(run(url, prefix, Path(tmp), steps, args.seconds, args.budget_s))
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
