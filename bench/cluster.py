"""Several ``interview-server run`` nodes on one machine, as a school runs them behind a load balancer
(docs/nodes.md): what ``python -m bench.nodes`` and ``tests/nodes`` share.

- :class:`NodeProcess`: one node (its own port, node id and recordings folder), killed, stopped or
  started again on the same port (what systemd does after a crash).
- :class:`RoundRobinProxy`: a TCP load balancer without sticky sessions: each new connection goes to the
  next node in turn, a refused one to the one after.
- :class:`Page`: what a participant's page does with the room (``web/static/js/rtc.js``): a socket.io
  client through the proxy and one aiortc peer connection that publishes a small picture (and a tone),
  answers the server's offers, makes a new connection on ``rtc:reconnect`` or when the media it receives
  stops for ``stall_s`` (the browser's ICE "disconnected" plus the page's 4 s), and connects its socket
  again when the server closed it.
- :func:`udp_ports`: the UDP ports a process has open, to tell which node a peer connection reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import socketio

from .common import start_server, wait_healthy

CANDIDATE_PORT = re.compile(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", re.IGNORECASE | re.MULTILINE)


class NodeProcess:
    """One node: ``interview-server run`` with its own node id, port and recordings folder."""

    def __init__(self, redis_url: str, prefix: str, folder: Path, node_id: str, port: int, **settings: str) -> None:
        self.redis_url, self.prefix, self.folder = redis_url, prefix, folder
        self.node_id, self.port = node_id, port
        self.settings = {"node_id": node_id, "recordings_dir": str(folder / "recordings"), **settings}
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log: Path | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = self.folder / "server.log"
        self.proc = start_server(
            self.redis_url, self.prefix, self.port, self.folder / "data", log=self.log, **self.settings
        )
        await wait_healthy(self.url, self.proc)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing of the process's clean-up runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(15)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)


class RoundRobinProxy:
    """A TCP load balancer with no sticky sessions: each connection goes to the next node in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = list(ports)
        self.turn = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.pipes: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(len(self.ports)):
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # that node is down: the next one
            for a, b in ((reader, up_writer), (up_reader, writer)):
                task = asyncio.create_task(self._pipe(a, b))
                self.pipes.add(task)
                task.add_done_callback(self.pipes.discard)
            return
        writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.pipes):
            task.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)


def udp_ports(pid: int) -> set[int]:
    """The local UDP ports the process holds (its sockets' inodes matched in /proc/net/udp{,6})."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def candidate_ports(sdp: str) -> set[int]:
    """The ports of the host candidates an SDP announces."""
    return {int(p) for p in CANDIDATE_PORT.findall(sdp)}


def _track_classes():
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    class SmallPicture(VideoStreamTrack):
        """A 160x120 picture at 30 fps: cheap to encode, several pages share one machine."""

        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame(width=160, height=120, format="yuv420p")
            for plane in frame.planes:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts, frame.time_base = pts, time_base
            return frame

    return AudioStreamTrack, SmallPicture


class Page:
    """A participant's page in the room (see the module's docstring). ``events``: the join, restart
    and answer events of its kind (``rtc:*`` or ``take:*``), ``extra``: what each of them carries
    besides ``sdp`` (``room_id`` for a candidate, ``take_id`` for a take)."""

    def __init__(
        self,
        url: str,
        namespace: str,
        token: str,
        auth: dict | None = None,
        extra: dict | None = None,
        events: tuple[str, str, str] = ("rtc:join", "rtc:restart", "rtc:answer"),
        audio: bool = True,
        stall_s: float = 9.0,
        cookie: str = "iv_session",
    ) -> None:
        self.url, self.namespace, self.token, self.auth = url, namespace, token, auth or {}
        self.extra = extra or {}
        self.join_event, self.restart_event, self.answer_event = events
        self.audio, self.stall_s, self.cookie = audio, stall_s, cookie
        self.sio: socketio.AsyncClient | None = None
        self.pc: Any = None
        self.answer_sdp = ""
        self.frames: dict[str, int] = {}  # publishing stream id -> video packets received
        self.last_frame_at = 0.0
        self.events: list[tuple[float, str, Any]] = []  # (monotonic, event, payload)
        self.restarts = 0
        self.closed = False
        self._busy: asyncio.Lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._watch: asyncio.Task | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- the socket ----------------------------------------------------------------------------
    async def connect(self, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        if self._http is None:
            self._http = aiohttp.ClientSession()  # one for every socket of the page, closed with it
        while True:
            sio = socketio.AsyncClient(reconnection=False, http_session=self._http)
            self._handlers(sio)
            try:
                await sio.connect(
                    self.url,
                    headers={"Cookie": f"lang=en; {self.cookie}={self.token}"},
                    namespaces=[self.namespace],
                    auth=self.auth,
                    transports=["websocket"],
                    wait_timeout=10,
                )
                self.sio = sio
                return
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    def _handlers(self, sio: socketio.AsyncClient) -> None:
        @sio.on("*", namespace=self.namespace)
        async def _any(event, data=None):
            self.events.append((time.monotonic(), event, data))
            if event == "rtc:offer":
                self._spawn(self._answer_offer(data))
            elif event == "rtc:reconnect" and self.pc is not None:
                self._spawn(self.restart("moved"))

        @sio.on("disconnect", namespace=self.namespace)
        async def _gone(*_):
            if not self.closed and sio is self.sio:
                self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        await asyncio.sleep(0.5)  # socket.io's reconnectionDelay
        with contextlib.suppress(Exception):
            await self.connect()

    async def call(self, event: str, data: dict, timeout: float = 15.0) -> dict:
        assert self.sio is not None
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    def seen(self, event: str) -> list:
        return [d for _, e, d in self.events if e == event]

    async def wait_for(self, event: str, check=lambda d: True, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, name, data in self.events:
                if name == event and check(data):
                    return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event!r} within {timeout}s; got {[e for _, e, _ in self.events][-20:]}")

    # --- the peer connection -------------------------------------------------------------------
    def _new_pc(self):
        from aiortc import RTCConfiguration, RTCPeerConnection

        audio_track, picture = _track_classes()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("track")
        def _track(track) -> None:
            if track.kind == "video":
                self._spawn(self._read(pc, track))

        if self.audio:
            pc.addTransceiver(audio_track(), direction="sendonly")
        pc.addTransceiver(picture(), direction="sendonly")
        return pc

    async def _read(self, pc, track) -> None:
        from aiortc.mediastreams import MediaStreamError

        stream = ""
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                stream = stream or self._stream_of(pc, track.id)  # who publishes it, once known
                self.frames[stream] = self.frames.get(stream, 0) + 1
                self.last_frame_at = time.monotonic()

    @staticmethod
    def _stream_of(pc, track_id: str) -> str:
        from aiortc import sdp as aiortc_sdp

        if pc.remoteDescription is None:
            return ""
        for media in aiortc_sdp.SessionDescription.parse(pc.remoteDescription.sdp).media:
            if media.msid and media.msid.split()[-1] == track_id:
                return media.msid.split()[0]
        return ""

    async def _offer(self, event: str) -> dict:
        from aiortc import RTCSessionDescription

        pc = self._new_pc()
        await pc.setLocalDescription(await pc.createOffer())
        ack = await self.call(event, {**self.extra, "sdp": pc.localDescription.sdp}, timeout=20)
        if not ack.get("ok"):
            await pc.close()
            return ack
        await pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
        old, self.pc = self.pc, pc
        self.answer_sdp = ack["sdp"]
        if old is not None:
            await old.close()
        return ack

    async def join(self) -> dict:
        async with self._busy:
            ack = await self._offer(self.join_event)
        if ack.get("ok") and self._watch is None:
            self._watch = asyncio.create_task(self._watchdog())
        return ack

    async def restart(self, why: str = "", within_s: float = 60.0) -> None:
        """A new peer connection (``rtc:restart``), tried again every 1 s (the page: 3 s) until it works."""
        if self._busy.locked():
            return  # one at a time, as the page does
        async with self._busy:
            self.restarts += 1
            deadline = time.monotonic() + within_s
            while not self.closed and time.monotonic() < deadline:
                try:
                    ack = await self._offer(self.restart_event)
                    if ack.get("ok"):
                        return
                except Exception:  # the socket is down meanwhile: it reconnects by itself
                    pass
                await asyncio.sleep(1.0)

    async def _answer_offer(self, data: dict) -> None:
        from aiortc import RTCSessionDescription

        pc = self.pc
        if pc is None or not data or not data.get("sdp"):
            return
        with contextlib.suppress(Exception):
            await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.call(self.answer_event, {**self.extra, "sdp": pc.localDescription.sdp})

    async def _watchdog(self) -> None:
        while not self.closed:
            await asyncio.sleep(0.5)
            if self.last_frame_at and time.monotonic() - self.last_frame_at > self.stall_s and not self._busy.locked():
                self.last_frame_at = time.monotonic()  # once per stall
                self._spawn(self.restart("stalled"))

    def received(self, stream: str) -> int:
        return self.frames.get(stream, 0)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.closed = True
        for task in [*self._tasks, *([self._watch] if self._watch else [])]:
            task.cancel()
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
        if self._http is not None:
            await self._http.close()
