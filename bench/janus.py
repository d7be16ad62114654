"""Janus 1.1.2 (Debian's ``janus`` package, VideoRoom plugin) as the reference forwarder of
``bench/forwarding.py``: the same clip, the same publishers and subscribers (aiortc peers), its
CPU read from ``/proc/<pid>/stat`` over the same kind of window.

Janus does not gather ICE candidates on loopback interfaces (libnice would fall back to other
interfaces, which a bench must never use), so it runs in a **private network namespace** that
this module creates and deletes: ``lo`` (its HTTP API, on 127.0.0.1 inside the namespace) and one
veth pair with a private address (media), ``nat.ice_enforce_list`` set to that interface, no
STUN/TURN, IPv6 off. The peers' process enters the same namespace (``setns``) before it opens a
socket, so nothing of the run can reach another network. Creating a namespace needs root
(CAP_SYS_ADMIN); without it, or without ``/usr/bin/janus``, :func:`unavailable` says why and the
bench reports no Janus figures.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import multiprocessing
import os
import shutil
import subprocess
import time
from pathlib import Path

JANUS = "/usr/bin/janus"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
IFACE = "jv0"  # the media interface inside the namespace
ADDRESS = "10.213.0.1/24"  # private, and routed nowhere: the namespace has no other interface
HTTP_PORT = 8088
CLONE_NEWNET = 0x40000000


def unavailable() -> str | None:
    """Why Janus cannot be measured here, or None."""
    if not Path(JANUS).exists():
        return f"{JANUS} not found (scripts/setup.sh installs Debian's janus package)"
    if not (LIBDIR / "plugins" / "libjanus_videoroom.so").exists():
        return f"the VideoRoom plugin is not in {LIBDIR}/plugins"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    return None


# --- the namespace --------------------------------------------------------------------------------
def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def create_namespace(name: str) -> None:
    _ip("netns", "add", name)
    try:
        for key in ("all", "default"):
            subprocess.run(
                ["ip", "netns", "exec", name, "sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"],
                check=True,
                capture_output=True,
                timeout=10,
            )
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", IFACE, "type", "veth", "peer", "name", IFACE + "p")
        _ip("-n", name, "addr", "add", ADDRESS, "dev", IFACE)
        _ip("-n", name, "link", "set", IFACE, "up")
        _ip("-n", name, "link", "set", IFACE + "p", "up")
    except Exception:
        delete_namespace(name)
        raise


def delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def enter_namespace(name: str) -> None:
    """Move this thread (the process's only one so far) into the namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


# --- Janus's configuration and process ---------------------------------------------------------------
def write_config(folder: Path, rooms: int, publishers_per_room: int) -> Path:
    """A configuration folder with only the VideoRoom plugin and the HTTP transport."""
    for sub, lib in (("plugins", "libjanus_videoroom.so"), ("transports", "libjanus_http.so")):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        target = folder / sub / lib
        if not target.exists():
            target.symlink_to(LIBDIR / sub / lib)
    (folder / "none").mkdir(exist_ok=True)
    (folder / "janus.jcfg").write_text(
        f"""general: {{
	configs_folder = "{folder}"
	plugins_folder = "{folder}/plugins"
	transports_folder = "{folder}/transports"
	events_folder = "{folder}/none"
	loggers_folder = "{folder}/none"
	debug_level = 3
	session_timeout = 120
	interface = "{ADDRESS.split("/")[0]}"
}}
media: {{
	ipv6 = false
	rtp_port_range = "20000-40000"
}}
nat: {{
	nice_debug = false
	ice_enforce_list = "{IFACE}"
	ignore_mdns = true
}}
events: {{
	broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
	json = "compact"
	base_path = "/janus"
	http = true
	port = {HTTP_PORT}
	ip = "127.0.0.1"
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"""
    )
    room_blocks = "\n".join(
        f"""room-{r + 1}: {{
	description = "bench {r + 1}"
	publishers = {publishers_per_room}
	bitrate = 2000000
	fir_freq = 10
	audiocodec = "opus"
	videocodec = "vp8"
	record = false
}}"""
        for r in range(rooms)
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(f"general: {{\n}}\n{room_blocks}\n")
    return folder / "janus.jcfg"


def start_janus(namespace: str, folder: Path) -> subprocess.Popen:
    """Janus inside the namespace (``ip netns exec`` execs it: the pid is Janus's own)."""
    config = folder / "janus.jcfg"
    cmd = ["ip", "netns", "exec", namespace, JANUS, "-C", str(config), "-F", str(folder)]
    cmd += ["-N", "-o", "-L", str(folder / "janus.log")]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- the HTTP API ---------------------------------------------------------------------------------------
class JanusError(RuntimeError):
    pass


class JanusSession:
    """One Janus session over the HTTP API, its events read by one long poll."""

    def __init__(self, http, base: str) -> None:
        self.http, self.base = http, base
        self.session = None
        self.pending: dict[str, asyncio.Future] = {}
        self.ids = iter(range(1, 1 << 30))
        self.poller = None

    async def _post(self, path: str, body: dict) -> dict:
        body["transaction"] = body.get("transaction") or f"t{next(self.ids)}"
        async with self.http.post(self.base + path, data=json.dumps(body)) as resp:
            reply = await resp.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(reply)
        return reply

    async def open(self) -> None:
        reply = await self._post("", {"janus": "create"})
        self.session = reply["data"]["id"]
        self.poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        while True:
            try:
                async with self.http.get(f"{self.base}/{self.session}?maxev=20") as resp:
                    events = await resp.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.1)
                continue
            for event in events if isinstance(events, list) else [events]:
                future = self.pending.pop(event.get("transaction"), None)
                if future is not None and not future.done() and event.get("janus") in ("event", "error"):
                    future.set_result(event)

    async def attach(self) -> int:
        reply = await self._post(f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return reply["data"]["id"]

    async def message(self, handle: int, body: dict, jsep: dict | None = None) -> dict:
        """A VideoRoom request: its asynchronous event (``plugindata.data`` and maybe ``jsep``)."""
        tx = f"t{next(self.ids)}"
        future = asyncio.get_running_loop().create_future()
        self.pending[tx] = future
        request = {"janus": "message", "body": body, "transaction": tx}
        if jsep is not None:
            request["jsep"] = jsep
        reply = await self._post(f"/{self.session}/{handle}", request)
        if reply.get("janus") == "success":  # answered synchronously
            self.pending.pop(tx, None)
            event = reply
        else:
            event = await asyncio.wait_for(future, 20)
        data = event.get("plugindata", {}).get("data", {})
        if event.get("janus") == "error" or "error" in data:
            raise JanusError(event)
        return event

    async def trickle_done(self, handle: int) -> None:
        await self._post(f"/{self.session}/{handle}", {"janus": "trickle", "candidate": {"completed": True}})

    async def close(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        try:
            await self._post(f"/{self.session}", {"janus": "destroy"})
        except Exception:
            pass


# --- the peers' process ---------------------------------------------------------------------------------
def peers_main(namespace: str, plan: dict, clip_path: str, results, cpu=None) -> None:
    enter_namespace(namespace)  # before any socket (and any thread) exists
    import pickle

    from bench.forwarding import pin_to
    from server.rooms import passthrough

    pin_to(cpu)
    passthrough.install()  # publishers send the clip's packets; subscribers only count frames
    clip = pickle.loads(Path(clip_path).read_bytes())
    results.put(asyncio.run(_run_peers(plan, clip)))


def _candidate_addresses(sdp: str) -> set[str]:
    """The connection addresses of the ``a=candidate`` lines of ``sdp``."""
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:") and len(line.split()) > 4}


async def _wait_for_http(http, base: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            async with http.get(base + "/info") as resp:
                if resp.status == 200:
                    return
        except Exception:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def _run_peers(plan: dict, clip: dict) -> dict:
    import aiohttp
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from bench.forwarding import _replay_track_class
    from server.rooms import passthrough

    Replay = _replay_track_class()
    base = f"http://127.0.0.1:{HTTP_PORT}/janus"
    pcs: list = []
    candidates: set[str] = set()  # the addresses Janus offered (only the namespace's, checked)
    counts: list[list[int]] = []  # per subscriber: [video frames]
    tasks: list = []
    out: dict = {}
    async with aiohttp.ClientSession() as http:
        await _wait_for_http(http, base)
        janus = JanusSession(http, base)
        await janus.open()

        async def count(track, entry) -> None:
            try:
                while True:
                    await track.recv()
                    entry[0] += 1
            except (MediaStreamError, asyncio.CancelledError):
                pass

        async def publish(room: int, name: str) -> int:
            handle = await janus.attach()
            joined = await janus.message(
                handle, {"request": "join", "ptype": "publisher", "room": room, "display": name}
            )
            feed = joined["plugindata"]["data"]["id"]
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            for kind in ("audio", "video"):
                track = Replay(kind, clip)
                transceiver = pc.addTransceiver(track, direction="sendonly")
                passthrough.on_keyframe_request(transceiver.sender, track.on_keyframe_request)
            await pc.setLocalDescription(await pc.createOffer())
            passthrough.enlarge_socket_buffers(pc, 4 << 20)
            event = await janus.message(
                handle, {"request": "publish"}, {"type": "offer", "sdp": pc.localDescription.sdp}
            )
            await janus.trickle_done(handle)
            candidates.update(_candidate_addresses(event["jsep"]["sdp"]))
            await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "answer"))
            return feed

        async def subscribe(room: int, feed: int) -> None:
            handle = await janus.attach()
            event = await janus.message(
                handle, {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]}
            )
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            entry = [0]
            counts.append(entry)

            @pc.on("track")
            def on_track(track) -> None:
                for transceiver in pc.getTransceivers():
                    if transceiver.receiver.track is track:
                        passthrough.bypass_decoder_thread(transceiver.receiver)
                if track.kind == "video":
                    tasks.append(asyncio.ensure_future(count(track, entry)))
                else:
                    tasks.append(asyncio.ensure_future(count(track, [0])))

            candidates.update(_candidate_addresses(event["jsep"]["sdp"]))
            await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            passthrough.enlarge_socket_buffers(pc, 4 << 20)
            await janus.message(handle, {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp})
            await janus.trickle_done(handle)

        t_cpu = time.process_time()
        for p in range(plan["publishers"]):
            room = p + 1
            feed = await publish(room, f"pub{p}")
            await asyncio.sleep(0.3)  # Janus knows the publisher's streams once its media flows
            for _ in range(plan["subscribers"]):
                await subscribe(room, feed)
        await asyncio.sleep(plan["warmup"])
        before = [c[0] for c in counts]
        out["window_start"] = time.time()
        await asyncio.sleep(plan["seconds"])
        out["window_end"] = time.time()
        out["video_fps"] = [(c[0] - b) / plan["seconds"] for c, b in zip(counts, before, strict=True)]
        out["peers_cpu_s"] = time.process_time() - t_cpu
        out["janus_candidate_addresses"] = sorted(candidates)
        for task in tasks:
            task.cancel()
        for pc in pcs:
            await pc.close()
        await janus.close()
    return out


def run_window(plan: dict, clip_path: Path, workdir: Path) -> dict:
    """Janus forwarding ``plan`` (``publishers`` rooms of 1 publisher and ``subscribers``
    subscribers), measured like ``bench.forwarding.run_window`` measures our server."""
    from bench.forwarding import sample_window

    namespace = f"bench-janus-{os.getpid()}"
    folder = workdir / "janus"
    write_config(folder, plan["publishers"], 1)
    create_namespace(namespace)
    janus = None
    try:
        janus = start_janus(namespace, folder)
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        peers = ctx.Process(target=peers_main, args=(namespace, plan, str(clip_path), results))
        peers.start()
        out = sample_window(janus.pid, peers, results)
        peers.join(30)
        if janus.poll() is not None or out is None:
            log = (folder / "janus.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"janus exited ({janus.poll()}) or the peers failed; its log ends:\n{log}")
        return out
    finally:
        if janus is not None and janus.poll() is None:
            janus.terminate()
            try:
                janus.wait(10)
            except subprocess.TimeoutExpired:
                janus.kill()
                janus.wait(5)
        delete_namespace(namespace)
