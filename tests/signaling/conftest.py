"""Real socket.io clients against a running server on loopback, with a real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer

from bench.common import start_server, wait_healthy
from server.accounts.sessions import COOKIE
from server.store.embedded import free_port

from ..live import live_world


class Peer:
    """One socket.io client on one namespace; keeps every event it receives."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()
        self.handlers: dict[str, Any] = {}  # event -> async callback, besides recording it
        self.gone = asyncio.Event()  # the server disconnected the socket (or it closed)
        self.gone_at: float | None = None  # time.monotonic() then

        @self.client.on("disconnect", namespace=namespace)
        async def _gone(*reason):
            self.gone_at = time.monotonic()
            self.gone.set()

        @self.client.on("*", namespace=namespace)
        async def _any(event, data=None):
            self.events.append((event, data))
            self.arrived.set()
            if event in self.handlers:
                asyncio.ensure_future(self.handlers[event](data))

    async def connect(self, url: str, token: str | None, auth: dict | None = None, lang: str = "zh") -> None:
        cookies = [f"lang={lang}"] + ([f"{COOKIE}={token}"] if token else [])
        await self.client.connect(
            url,
            headers={"Cookie": "; ".join(cookies)},
            namespaces=[self.namespace],
            auth=auth or {},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def call(self, event: str, data: Any = None) -> dict:
        return await self.client.call(event, data if data is not None else {}, namespace=self.namespace, timeout=5)

    def seen(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait_for(self, event: str, check=lambda data: True, timeout: float = 5.0) -> Any:
        """The first ``event`` (received or still to come) whose payload passes ``check``."""
        deadline = asyncio.get_running_loop().time() + timeout
        index = 0
        while True:
            while index < len(self.events):
                name, data = self.events[index]
                index += 1
                if name == event and check(data):
                    return data
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {event!r} within {timeout}s; got {[e for e, _ in self.events]}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                pass

    async def close(self) -> None:
        await self.client.disconnect()


@pytest.fixture
async def server(app):
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def live(services):
    return await live_world(services)


@pytest.fixture
async def peers():
    made: list[Peer] = []

    async def open_peer(
        url: str, namespace: str, account=None, auth=None, services=None, lang="zh", token: str | None = None
    ) -> Peer:
        """A socket with a new session of ``account`` (or the session ``token``; neither: no login)."""
        if token is None and account is not None:
            token = await services.sessions.create(account.id, account.role)
        peer = Peer(namespace)
        made.append(peer)
        await peer.connect(url, token, auth, lang)
        return peer

    yield open_peer
    for peer in made:
        await peer.close()


def url_of(server: TestServer | str) -> str:
    """The address of the in-process test server, or a server process's address as it is."""
    return server if isinstance(server, str) else f"http://127.0.0.1:{server.port}"


async def server_process(settings, data_dir, **extra: str):
    """Another ``interview-server run`` process on its own port, same Redis and key prefix;
    returns (url, process) once it answers /healthz."""
    port = free_port()
    proc = start_server(settings.redis_url, settings.redis_prefix, port, data_dir, capture=True, **extra)
    url = f"http://127.0.0.1:{port}"
    await wait_healthy(url, proc)
    return url, proc


@pytest.fixture
async def second_process(settings, tmp_path):
    """A second ``interview-server run`` process, same Redis and key prefix; its URL."""
    url, proc = await server_process(settings, tmp_path / "second")
    yield url
    proc.terminate()
    assert proc.wait(15) == 0, proc.stderr.read().decode()[-2000:]


@pytest.fixture
async def clients():
    """aiortc peers standing in for browsers (tests/rooms/peers.py); closed after the test."""
    made: list = []
    yield made
    for client in made:
        await client.close()
