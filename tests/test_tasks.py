"""Background loops stop at shutdown, for sure: one ``cancel()`` swallowed by a loop's ``except
Exception`` (as redis-py can turn a cancelled command into a ConnectionError) once left an app's
teardown waiting forever."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.tasks import cancelled, stop
from tests.conftest import fast_settings


async def test_stop_ends_a_loop_that_swallows_its_cancellation_once():
    swallowed = []

    async def stubborn():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not swallowed:  # what a command turned into ConnectionError looks like to the loop
                    swallowed.append(1)
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    started = time.monotonic()
    await stop([task], timeout_s=5)
    assert task.done() and swallowed and time.monotonic() - started < 2


async def test_a_loop_that_checks_cancelled_reraises():
    async def loop():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                try:
                    raise ConnectionError("the command was cut off")
                except Exception:
                    if cancelled():
                        raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done


async def test_an_app_started_and_stopped_at_once_stops_every_time(tmp_path, redis_url, prefix, redis):
    """The race that hung the suite about once in four runs: start, one request, stop at once."""
    for attempt in range(25):
        app = create_app(fast_settings(tmp_path / str(attempt), redis_url, prefix), redis)
        client = TestClient(TestServer(app))
        await client.start_server()
        assert (await client.get("/favicon.ico")).status == 200
        closing = asyncio.ensure_future(client.close())
        done, _ = await asyncio.wait({closing}, timeout=15)
        assert done, f"the app did not stop (attempt {attempt})"
