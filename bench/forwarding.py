"""Forwarding cost: our encoded-frame forwarding against aiortc's decode/re-encode relay, full
recorded interview rooms per core, and the time from an examiner's call to its first frame.

Run: ``python -m bench.forwarding [--seconds 10] [--subscribers 3] [--publishers 4] [--rooms 10]``
(about 2 min on 2 cores; ``--parts fanout,janus,rooms,first`` picks measurements). The server runs in its own process and its CPU time is read from /proc/<pid>/stat
over a measurement window; the peers run in another process and replay a clip encoded once
(640x480, 30 fps, ~1 Mbit/s VP8, Opus) so that they cost little. Signaling between them is a
JSON-lines Unix socket. Measure on an otherwise idle machine (docs/rooms.md).

Figures (the last line is JSON):

- ``forward_cpu_pct_per_stream``: server CPU (% of one core) per forwarded stream, a stream
  being one publisher's video + audio delivered to one subscriber (1 publisher, N
  subscribers, through :class:`server.rooms.media.MediaRoom`, not recorded);
- ``relay_cpu_pct_per_stream``: the same with aiortc's ``MediaRelay`` (decode once, encode
  per subscriber), the baseline; ``forward_vs_relay_ratio``: relay / forward CPU per frame
  delivered to subscribers (the relay cannot hold 30 fps for 3 subscribers on 2 busy cores,
  so raw CPU understates its cost; ``forward_vs_relay_cpu_ratio_raw`` is the plain ratio);
- ``janus_cpu_pct_per_stream``: Janus 1.1.2's VideoRoom (Debian's ``janus``, C; see
  :mod:`bench.janus`), the reference, forwarding ``--publishers`` rooms of 1 publisher (A+V) to
  ``--subscribers`` subscribers each (4 x 3 by default), CPU of the janus process per stream;
  ``sfu_forward_cpu_pct_per_stream``: ours on the same load just before it, and
  ``forward_vs_janus_ratio`` = ours / Janus per stream, same run (the bar of issue 18 is
  1.3); ``--repeats N`` runs N pairs and reports medians (``forward_vs_janus_ratios``: each
  pair's). ``sfu_machine_before``/``_after``: architecture, CPUs and load around the pair;
  absolute figures differ 2-3x between machines of this kind, the ratio is what compares;
- ``rooms_sustained_on_one_core``: ``--rooms`` full rooms (candidate A+V, aux V, 2 examiners
  A+V, every track recorded: 8 video + 6 audio tracks forwarded, 7 recorded per room) run at
  once with the server pinned to one CPU and the peers to another; the figure is the number of
  rooms when that core carried them all without loss (every subscriber at the publishers' frame
  rate, no server-side drop, no RTP packet lost), else 0. ``room_cpu_pct`` is the server's CPU
  in that run per room (scaled to 30 fps received) and ``recorded_rooms_per_core`` =
  100 / room_cpu_pct; ``verified_*`` detail the loss checks;
- ``call_to_first_frame_p50_ms``: an examiner joins a room where the candidate is
  publishing: time from creating its offer to its first video frame of the candidate.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import multiprocessing
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

CLIP_SECONDS = 4
FPS = 30
GOP = 60
WIDTH, HEIGHT = 640, 480


# --- the clip ---------------------------------------------------------------------------------
def encode_clip(path: Path) -> dict:
    """Encode the replayed media once: VP8 640x480 30 fps ~1 Mbit/s, Opus 20 ms."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    enc.time_base = fractions.Fraction(1, FPS)
    enc.framerate = FPS
    enc.bit_rate = 1_000_000
    enc.gop_size = GOP
    enc.qmin, enc.qmax = 4, 56
    enc.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": "1000000",
        "maxrate": "1000000",
        "bufsize": "1000000",
    }
    rng = np.random.default_rng(7)
    # smooth blobs, not white noise: a camera-like picture that 1 Mbit/s can carry
    coarse = rng.integers(30, 225, (HEIGHT // 4, WIDTH // 4), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((8, 8), np.uint8))
    texture = texture + rng.integers(0, 12, texture.shape, dtype=np.uint8)
    video = []
    for i in range(CLIP_SECONDS * FPS):
        data = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
        data[:HEIGHT] = texture[i * 3 : i * 3 + HEIGHT, i * 5 : i * 5 + WIDTH]
        frame = av.VideoFrame.from_ndarray(data, format="yuv420p")
        frame.pts = i
        video += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(frame)]
    video += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(None)]
    aenc = av.CodecContext.create("libopus", "w")
    aenc.sample_rate, aenc.layout, aenc.format = 48000, "stereo", "s16"
    aenc.bit_rate = 32000
    t = np.arange(48000 * CLIP_SECONDS) / 48000
    pcm = (np.sin(2 * np.pi * 330 * t) * 6000).astype(np.int16)
    audio = []
    for i in range(CLIP_SECONDS * 50):
        chunk = np.repeat(pcm[i * 960 : (i + 1) * 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        audio += [bytes(p) for p in aenc.encode(frame)]
    clip = {"video": video, "audio": audio}
    path.write_bytes(pickle.dumps(clip))
    return clip


# --- signaling: JSON lines over a Unix socket ----------------------------------------------------
async def send(writer: asyncio.StreamWriter, message: dict) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the server process ------------------------------------------------------------------------
class RelayRoom:
    """The baseline: aiortc as usual, each received track decoded once by MediaRelay and
    encoded again for every subscriber. Same join/answer protocol as MediaRoom."""

    def __init__(self, renegotiate) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.renegotiate = renegotiate
        self.peers: dict = {}
        self.tracks: list = []

    async def join(self, pid, kind, offer):
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peers[pid] = pc
        pc.on("track", lambda track: self.tracks.append(track))
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        if kind == "examiner" and self.tracks:
            asyncio.ensure_future(self._offer_tracks(pid, pc))
        return pc.localDescription.sdp

    async def _offer_tracks(self, pid, pc):
        while pc.connectionState != "connected":
            await asyncio.sleep(0.02)
        for track in self.tracks:
            pc.addTrack(self.relay.subscribe(track))
        await pc.setLocalDescription(await pc.createOffer())
        await self.renegotiate(pid, pc.localDescription.sdp)

    async def answer(self, pid, sdp):
        from aiortc import RTCSessionDescription

        await self.peers[pid].setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def leave(self, pid):
        pc = self.peers.pop(pid, None)
        if pc:
            await pc.close()

    def totals(self) -> dict:
        return {"dropped": 0}

    async def close(self):
        for pid in list(self.peers):
            await self.leave(pid)


def pin_to(cpu) -> None:
    """Run this process (and the threads it starts later) on one CPU only."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def server_main(mode: str, sock_path: str, record_dir: str, ready, cpu=None) -> None:
    pin_to(cpu)
    if mode == "forward":
        from server.rooms import passthrough

        passthrough.install()
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # a cProfile dump of the server's event loop thread, for development
        import cProfile

        # timed by the thread's CPU clock: a wall clock would charge the time the process spends
        # preempted (a sendto that wakes a peer often is) to whatever function was running
        profiler = cProfile.Profile(time.thread_time)
        try:
            profiler.runcall(asyncio.run, _serve(mode, sock_path, record_dir, ready))
        finally:
            profiler.dump_stats(f"{profile}.{mode}.{os.getpid()}")
        return
    asyncio.run(_serve(mode, sock_path, record_dir, ready))


async def _serve(mode: str, sock_path: str, record_dir: str, ready) -> None:
    from server.rooms.media import MediaError, MediaRoom
    from server.rooms.recorder import InterviewRecorder

    rooms: dict = {}
    routes: dict = {}  # (room, pid) -> writer
    done = asyncio.Event()

    def get_room(name: str, record: bool):
        if name not in rooms:

            async def renegotiate(pid, sdp, name=name):
                await send(routes[(name, pid)], {"op": "offer", "room": name, "pid": pid, "sdp": sdp})

            if mode == "relay":
                rooms[name] = RelayRoom(renegotiate)
            else:
                recorder = InterviewRecorder(Path(record_dir) / name, name) if record else None
                rooms[name] = MediaRoom(name, renegotiate, ice_servers=[], recorder=recorder)
        return rooms[name]

    def totals() -> dict:
        dropped = video_in = video_publishers = video_out = video_subs = 0
        for room in rooms.values():
            if isinstance(room, RelayRoom):
                continue
            for pub in room.stats()["publishers"].values():
                if pub["kind"] == "video":
                    video_in += pub["frames_in"]
                    video_publishers += 1
                dropped += sum(s["dropped"] for s in pub["subscribers"])
                if pub["kind"] == "video":
                    video_out += sum(s["frames_out"] for s in pub["subscribers"])
                    video_subs += len(pub["subscribers"])
        return {
            "dropped": dropped,
            "video_in": video_in,
            "video_publishers": video_publishers,
            "video_out": video_out,
            "video_subscriptions": video_subs,
        }

    async def handle(reader, writer):
        try:
            await _handle(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass

    async def _handle(reader, writer):
        while line := await reader.readline():
            msg = json.loads(line)
            op, reply = msg["op"], {"id": msg.get("id")}
            try:
                if op == "join":
                    room = get_room(msg["room"], msg.get("record", False))
                    routes[(msg["room"], msg["pid"])] = writer
                    reply["sdp"] = await room.join(msg["pid"], msg["kind"], msg["sdp"])
                elif op == "answer":
                    await rooms[msg["room"]].answer(msg["pid"], msg["sdp"])
                elif op == "leave":
                    await rooms[msg["room"]].leave(msg["pid"])
                elif op == "totals":
                    reply["totals"] = totals()
                elif op == "quit":
                    done.set()
            except MediaError as exc:
                reply["error"] = exc.code
            if msg.get("id") is not None:
                await send(writer, reply)

    server = await asyncio.start_unix_server(handle, sock_path)
    ready.set()
    await done.wait()
    for room in rooms.values():
        await room.close()
    server.close()


# --- the peers' process -------------------------------------------------------------------------
def peers_main(plan: dict, sock_path: str, clip_path: str, results, cpu=None) -> None:
    pin_to(cpu)
    from server.rooms import passthrough

    passthrough.install()  # the peers only count what they receive
    results.put(asyncio.run(_run_peers(plan, sock_path, pickle.loads(Path(clip_path).read_bytes()))))


def _replay_track_class():
    from aiortc.mediastreams import MediaStreamTrack

    class ReplayTrack(MediaStreamTrack):
        """Sends the pre-encoded clip in real time; a keyframe request jumps to a keyframe."""

        def __init__(self, kind: str, clip: dict) -> None:
            super().__init__()
            self.kind = kind
            self.items = clip[kind]
            self.period = 1 / FPS if kind == "video" else 0.02
            self.clock = 90000 if kind == "video" else 48000
            self.keyframes = [i for i, (_, k) in enumerate(self.items) if k] if kind == "video" else []
            self.index = 0
            self.sent = 0
            self.start = None
            self.want_keyframe = False

        def on_keyframe_request(self) -> None:
            self.want_keyframe = True

        async def recv(self):
            if self.start is None:
                self.start = time.monotonic()
            due = self.start + self.sent * self.period
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.kind == "video":
                if self.want_keyframe:
                    self.want_keyframe = False
                    self.index = next((k for k in self.keyframes if k >= self.index), 0) % len(self.items)
                data = self.items[self.index % len(self.items)][0]
            else:
                data = self.items[self.index % len(self.items)]
            self.index = (self.index + 1) % len(self.items)
            packet = av.Packet(data)
            packet.pts = int(self.sent * self.period * self.clock)
            packet.time_base = fractions.Fraction(1, self.clock)
            self.sent += 1
            return packet

    return ReplayTrack


class BenchPeer:
    def __init__(self, ctx, room: str, pid: str, kind: str, audio: bool, video: bool, record: bool):
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.ctx, self.room, self.pid, self.kind, self.record = ctx, room, pid, kind, record
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.counts: dict = {}
        self.first_video_at = None
        self.tasks = []
        from server.rooms import passthrough

        Replay = ctx["Replay"]
        for media, on in (("audio", audio), ("video", video)):
            if on:
                track = Replay(media, ctx["clip"])
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                passthrough.on_keyframe_request(transceiver.sender, track.on_keyframe_request)
        if not (audio or video):
            self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.on("track", self._on_track)

    def _on_track(self, track) -> None:
        from server.rooms import passthrough

        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                passthrough.bypass_decoder_thread(transceiver.receiver)  # cheaper peers
        self.counts[track.id] = [track.kind, 0]
        self.tasks.append(asyncio.ensure_future(self._count(track)))

    async def _count(self, track) -> None:
        from aiortc.mediastreams import MediaStreamError

        entry = self.counts[track.id]
        try:
            while True:
                await track.recv()
                entry[1] += 1
                if entry[0] == "video" and self.first_video_at is None:
                    self.first_video_at = time.monotonic()
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def join(self) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setLocalDescription(await self.pc.createOffer())
        from server.rooms import passthrough

        # one process stands in for many browsers: give it the largest buffers allowed
        passthrough.enlarge_socket_buffers(self.pc, 4 << 20)
        reply = await self.ctx["rpc"](
            {
                "op": "join",
                "room": self.room,
                "pid": self.pid,
                "kind": self.kind,
                "sdp": self.pc.localDescription.sdp,
                "record": self.record,
            }
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

    async def on_offer(self, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.ctx["rpc"]({"op": "answer", "room": self.room, "pid": self.pid, "sdp": self.pc.localDescription.sdp})

    def video_counts(self) -> list[int]:
        return [n for kind, n in self.counts.values() if kind == "video"]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def _run_peers(plan: dict, sock_path: str, clip: dict) -> dict:
    reader, writer = await asyncio.open_unix_connection(sock_path, limit=1 << 22)
    pending: dict = {}
    peers: dict = {}
    ids = iter(range(1, 1 << 30))

    async def rpc(message: dict) -> dict:
        message["id"] = next(ids)
        future = asyncio.get_running_loop().create_future()
        pending[message["id"]] = future
        await send(writer, message)
        return await future

    async def listen():
        while line := await reader.readline():
            msg = json.loads(line)
            if msg.get("op") == "offer":
                asyncio.ensure_future(peers[(msg["room"], msg["pid"])].on_offer(msg["sdp"]))
            elif msg.get("id") in pending:
                pending.pop(msg["id"]).set_result(msg)

    listener = asyncio.ensure_future(listen())
    ctx = {"clip": clip, "rpc": rpc, "Replay": _replay_track_class()}
    out: dict = {}
    t_cpu = time.process_time()

    async def add(room, pid, kind, audio, video, record=False):
        peer = BenchPeer(ctx, room, pid, kind, audio, video, record)
        peers[(room, pid)] = peer
        await peer.join()
        return peer

    if plan["kind"] == "fanout":  # per room: 1 publisher, N subscribe-only examiners
        subs = []
        for r in range(plan.get("publishers", 1)):
            await add(f"r{r}", "cand", "candidate", True, True)
            subs += [await add(f"r{r}", f"ex{i}", "examiner", False, False) for i in range(plan["subscribers"])]
        await asyncio.sleep(plan["warmup"])
        before = [p.video_counts() for p in subs]
        out["window_start"] = time.time()
        await asyncio.sleep(plan["seconds"])
        out["window_end"] = time.time()
        after = [p.video_counts() for p in subs]
        out["video_fps"] = [(sum(a) - sum(b)) / plan["seconds"] for a, b in zip(after, before, strict=False)]
    elif plan["kind"] == "rooms":
        record = True
        rooms = []
        for r in range(plan["rooms"]):
            name = f"room{r}"
            rooms.append(
                [
                    await add(name, "cand", "candidate", True, True, record),
                    await add(name, "aux", "aux", False, True, record),
                    await add(name, "ex1", "examiner", True, True, record),
                    await add(name, "ex2", "examiner", True, True, record),
                ]
            )
        await asyncio.sleep(plan["warmup"])
        totals_before = (await rpc({"op": "totals"}))["totals"]
        before = {(p.room, p.pid): p.video_counts() for room in rooms for p in room}
        out["window_start"] = time.time()
        await asyncio.sleep(plan["seconds"])
        out["window_end"] = time.time()
        totals_after = (await rpc({"op": "totals"}))["totals"]
        fps = []
        for room in rooms:
            for p in room:
                b, a = before[(p.room, p.pid)], p.video_counts()
                fps += [(x - y) / plan["seconds"] for x, y in zip(a, b, strict=False)]
        out["video_fps"] = fps
        out["video_tracks"] = len(fps)
        lost = received = 0
        for room in rooms:
            for p in room:
                for stat in (await p.pc.getStats()).values():
                    if stat.type == "inbound-rtp":
                        lost += stat.packetsLost
                        received += stat.packetsReceived
        out["peers_rtp_lost"], out["peers_rtp_received"] = lost, received
        out["server_dropped"] = totals_after["dropped"] - totals_before["dropped"]
        out["server_out_fps"] = (
            (totals_after["video_out"] - totals_before["video_out"])
            / plan["seconds"]
            / max(totals_after["video_subscriptions"], 1)
        )
        out["server_in_fps"] = (
            (totals_after["video_in"] - totals_before["video_in"])
            / plan["seconds"]
            / max(totals_after["video_publishers"], 1)
        )
    elif plan["kind"] == "first_frame":
        await add("r0", "cand", "candidate", True, True)
        await asyncio.sleep(1.5)
        times = []
        for i in range(plan["trials"]):
            pid = f"ex{i}"
            t0 = time.monotonic()
            peer = await add("r0", pid, "examiner", True, True)
            while peer.first_video_at is None and time.monotonic() - t0 < 5:
                await asyncio.sleep(0.005)
            if peer.first_video_at is not None:
                times.append((peer.first_video_at - t0) * 1000)
            await rpc({"op": "leave", "room": "r0", "pid": pid})
            await peer.close()
            del peers[("r0", pid)]
            await asyncio.sleep(0.3)
        out["first_frame_ms"] = times
    out["peers_cpu_s"] = time.process_time() - t_cpu
    await rpc({"op": "quit"})
    listener.cancel()
    for peer in peers.values():
        await peer.close()
    return out


# --- orchestration ----------------------------------------------------------------------------------
def run_window(mode: str, plan: dict, clip_path: Path, workdir: Path, pin: bool = False) -> dict:
    """Run a plan and measure the server over its window (the peers report the window's
    wall-clock edges; CPU is sampled by polling at those times). ``pin``: the server on one
    CPU, the peers on another (when this process may use two)."""
    ctx = multiprocessing.get_context("spawn")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, peers_cpu = (cpus[0], cpus[1]) if pin and len(cpus) >= 2 else (None, None)
    sock = str(workdir / f"{mode}-{plan['kind']}-{time.monotonic_ns()}.sock")
    ready = ctx.Event()
    server = ctx.Process(target=server_main, args=(mode, sock, str(workdir / "recordings"), ready, server_cpu))
    server.start()
    if not ready.wait(60):
        raise RuntimeError("server did not start")
    results = ctx.Queue()
    peers = ctx.Process(target=peers_main, args=(plan, sock, str(clip_path), results, peers_cpu))
    peers.start()
    out = sample_window(server.pid, peers, results)
    peers.join(30)
    server.join(30)
    return out


def sample_window(server_pid: int, peers, results) -> dict:
    """Sample the server's and the peers' CPU every 0.25 s until the peers report, then add
    ``server_cpu_pct`` and ``peers_cpu_pct`` over the window they measured."""
    samples = []  # (time, server cpu s, peers cpu s)
    out = None
    while out is None:
        try:
            samples.append((time.time(), cpu_seconds(server_pid), cpu_seconds(peers.pid)))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        try:
            out = results.get(timeout=0.25)
        except Exception:
            if not peers.is_alive() and results.empty():
                raise RuntimeError(f"the peers' process ended ({peers.exitcode}) without a result") from None
    if "window_start" in out:
        inside = [s for s in samples if out["window_start"] <= s[0] <= out["window_end"]]
        if len(inside) >= 2:
            wall = inside[-1][0] - inside[0][0]
            out["server_cpu_pct"] = 100 * (inside[-1][1] - inside[0][1]) / wall
            out["peers_cpu_pct"] = 100 * (inside[-1][2] - inside[0][2]) / wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--rooms", type=int, default=10, help="full recorded rooms run on one pinned core")
    parser.add_argument("--trials", type=int, default=9, help="call-to-first-frame trials")
    parser.add_argument("--publishers", type=int, default=4, help="rooms of 1 publisher in the Janus comparison")
    parser.add_argument("--repeats", type=int, default=1, help="pairs (ours, then Janus) in the Janus comparison")
    parser.add_argument("--parts", default="fanout,janus,rooms,first", help="which measurements")
    args = parser.parse_args()
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-forwarding-") as tmp:
        workdir = Path(tmp)
        clip_path = workdir / "clip.pickle"
        t0 = time.monotonic()
        clip = encode_clip(clip_path)
        kbps = sum(len(d) for d, _ in clip["video"]) * 8 / CLIP_SECONDS / 1000
        print(
            f"clip: {len(clip['video'])} VP8 frames {WIDTH}x{HEIGHT} ~{kbps:.0f} kbit/s, "
            f"{len(clip['audio'])} Opus packets ({time.monotonic() - t0:.1f} s to encode)"
        )
        figures["clip_video_kbps"] = round(kbps)

        parts = set(args.parts.split(","))
        n = args.subscribers
        fanout = {"kind": "fanout", "subscribers": n, "warmup": 3.0, "seconds": args.seconds}
        if "fanout" in parts:
            measure_fanout(fanout, n, clip_path, workdir, figures)
        if "rooms" in parts:
            measure_rooms(args.rooms, args.seconds, clip_path, workdir, figures)
        if "janus" in parts:
            measure_janus(args.publishers, n, args.seconds, clip_path, workdir, figures, args.repeats)
        if "first" in parts:
            measure_first_frame(args.trials, clip_path, workdir, figures)
    print(json.dumps(figures))


def machine() -> dict:
    return {"machine": os.uname().machine, "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]}


def measure_janus(publishers, n, seconds, clip_path, workdir, figures, repeats: int = 1) -> None:
    """Our forwarding against Janus's VideoRoom on the same load, one after the other (``repeats``
    pairs): ``publishers`` rooms of 1 publisher (A+V) and ``n`` subscribers; CPU per forwarded
    stream. With several pairs, the figures are medians and the ratio is the median of the pairs'."""
    from bench import janus

    plan = {"kind": "fanout", "publishers": publishers, "subscribers": n, "warmup": 3.0, "seconds": seconds}
    streams = publishers * n
    figures["sfu_load"] = f"{publishers} publishers x {n} subscribers"
    figures["sfu_machine_before"] = machine()
    why = janus.unavailable()
    if why:
        print(f"janus: not measured: {why}")
    ours_pct, janus_pct, ours_fps, janus_fps = [], [], [], []
    for _ in range(max(repeats, 1)):
        ours = run_window("forward", plan, clip_path, workdir)
        print(
            f"forward: {publishers} publishers x {n} subscribers: server {ours['server_cpu_pct']:.1f} % CPU, "
            f"peers {ours['peers_cpu_pct']:.1f} %, subscriber video fps {[round(x, 1) for x in ours['video_fps']]}"
        )
        ours_pct.append(ours["server_cpu_pct"])
        ours_fps.append(min(ours["video_fps"]))
        if why:
            continue
        ref = janus.run_window(plan, clip_path, workdir)
        print(
            f"janus (VideoRoom, its own network namespace): {publishers} publishers x {n} subscribers: "
            f"janus {ref['server_cpu_pct']:.1f} % CPU, peers {ref['peers_cpu_pct']:.1f} %, "
            f"subscriber video fps {[round(x, 1) for x in ref['video_fps']]}"
        )
        janus_pct.append(ref["server_cpu_pct"])
        janus_fps.append(min(ref["video_fps"]))
    figures["sfu_forward_cpu_pct_per_stream"] = round(statistics.median(ours_pct) / streams, 3)
    figures["sfu_forward_subscriber_fps_min"] = round(min(ours_fps), 1)
    if why:
        figures["janus_cpu_pct_per_stream"] = figures["forward_vs_janus_ratio"] = None
        return
    ratios = [a / max(b, 0.01) for a, b in zip(ours_pct, janus_pct, strict=True)]
    figures["janus_cpu_pct_per_stream"] = round(statistics.median(janus_pct) / streams, 3)
    figures["janus_subscriber_fps_min"] = round(min(janus_fps), 1)
    figures["forward_vs_janus_ratio"] = round(statistics.median(ratios), 2)
    if len(ratios) > 1:
        figures["forward_vs_janus_ratios"] = [round(r, 2) for r in ratios]
    figures["sfu_machine_after"] = machine()


def measure_fanout(fanout, n, clip_path, workdir, figures) -> None:
    fwd = run_window("forward", fanout, clip_path, workdir)
    print(
        f"forward: 1 publisher -> {n} subscribers: server {fwd['server_cpu_pct']:.1f} % CPU, "
        f"peers {fwd['peers_cpu_pct']:.1f} %, subscriber video fps {fwd['video_fps']}"
    )
    rel = run_window("relay", fanout, clip_path, workdir)
    print(
        f"relay (MediaRelay): 1 publisher -> {n} subscribers: server {rel['server_cpu_pct']:.1f} % CPU, "
        f"peers {rel['peers_cpu_pct']:.1f} %, subscriber video fps {rel['video_fps']}"
    )
    fwd_fps = statistics.mean(fwd["video_fps"])
    rel_fps = statistics.mean(rel["video_fps"])
    figures["forward_cpu_pct_per_stream"] = round(fwd["server_cpu_pct"] / n, 2)
    figures["relay_cpu_pct_per_stream"] = round(rel["server_cpu_pct"] / n, 2)
    # per delivered frame: a relay that cannot keep up delivers fewer frames for its CPU
    figures["forward_vs_relay_ratio"] = round(
        (rel["server_cpu_pct"] / max(rel_fps, 0.1)) / max(fwd["server_cpu_pct"] / max(fwd_fps, 0.1), 0.01), 1
    )
    figures["forward_vs_relay_cpu_ratio_raw"] = round(rel["server_cpu_pct"] / max(fwd["server_cpu_pct"], 0.01), 1)
    figures["forward_subscriber_fps_min"] = round(min(fwd["video_fps"]), 1)
    figures["relay_subscriber_fps_min"] = round(min(rel["video_fps"]), 1)


def measure_rooms(rooms, seconds, clip_path, workdir, figures) -> None:
    """``rooms`` full recorded rooms with the server pinned to one CPU (the peers on the other):
    whether that one core carried them all without loss, and what a room costs."""
    plan = {"kind": "rooms", "rooms": rooms, "warmup": 4.0, "seconds": seconds}
    pinned = len(os.sched_getaffinity(0)) >= 2
    res = run_window("forward", plan, clip_path, workdir, pin=pinned)
    # CPU follows the frames the server received and forwarded (it dropped none, see
    # server_dropped): when publishers' frames were lost on the way in, scale up
    delivered = res["server_in_fps"] / FPS
    per_room = res["server_cpu_pct"] / rooms / max(delivered, 0.05)
    # the peers' replay falls behind and catches up when their process is short of CPU,
    # so subscribers are compared with what the publishers delivered in the same window
    loss = 100 * max(0.0, 1 - statistics.mean(res["video_fps"]) / max(res["server_in_fps"], 0.1))
    lossless = (
        res["server_dropped"] == 0 and res["peers_rtp_lost"] == 0 and loss < 1.0 and res["server_in_fps"] >= FPS - 1
    )
    where = "server pinned to one CPU, peers to another" if pinned else "server and peers unpinned"
    print(
        f"rooms: {rooms} full recorded rooms ({where}): server {res['server_cpu_pct']:.1f} % CPU "
        f"({per_room:.1f} % per room at 30 fps), peers {res['peers_cpu_pct']:.1f} %, "
        f"{res['video_tracks']} subscribed video tracks, min {min(res['video_fps']):.1f} fps, "
        f"server-side drops {res['server_dropped']}, video received by the server "
        f"{res['server_in_fps']:.1f} fps per publisher, sent {res['server_out_fps']:.1f} fps per subscription: "
        + ("no loss" if lossless else "LOSS")
    )
    if res["peers_cpu_pct"] > 90:
        print("  the peers' process was short of CPU: try fewer --rooms")
    print("  per subscribed video track fps:", [round(x, 1) for x in res["video_fps"]])
    print(f"  RTP packets lost before the peers: {res['peers_rtp_lost']} of {res['peers_rtp_received']}")
    figures["room_cpu_pct"] = round(per_room, 2)
    figures["recorded_rooms_per_core"] = round(100 / per_room, 1)
    figures["rooms_sustained_on_one_core"] = rooms if lossless and pinned else 0
    figures["verified_rooms"] = rooms
    figures["verified_lossless"] = lossless
    figures["verified_min_subscriber_fps"] = round(min(res["video_fps"]), 1)
    figures["verified_mean_subscriber_fps"] = round(statistics.mean(res["video_fps"]), 1)
    figures["verified_rtp_packets_lost"] = res["peers_rtp_lost"]
    figures["verified_frame_loss_pct"] = round(loss, 1)
    figures["verified_server_drops"] = res["server_dropped"]
    figures["verified_server_in_fps"] = round(res["server_in_fps"], 1)
    figures["verified_server_out_fps"] = round(res["server_out_fps"], 1)
    figures["rooms_server_cpu_pct"] = round(res["server_cpu_pct"], 1)
    figures["rooms_peers_cpu_pct"] = round(res["peers_cpu_pct"], 1)


def measure_first_frame(trials, clip_path, workdir, figures) -> None:
    ff = run_window("forward", {"kind": "first_frame", "trials": trials}, clip_path, workdir)
    times = sorted(ff["first_frame_ms"])
    print(f"call to first frame: {[round(t) for t in times]} ms")
    figures["call_to_first_frame_p50_ms"] = round(statistics.median(times), 1) if times else None
    figures["call_to_first_frame_max_ms"] = round(max(times), 1) if times else None


if __name__ == "__main__":
    main()
