"""Redis freezes just as an examiner presses 叫号 (call next), in a real browser: the page says at once
that the server is recovering (not the examiner's network); when Redis answers again, the message goes
by itself and the call's outcome shows (the candidate is called), with no reload and no second click."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from pathlib import Path

import pytest

from server.signaling.hub import SIO
from server.store.embedded import EmbeddedRedis
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import staff_login, waiting_by_socket
from tests.facecheck import faces
from tests.live import live_world
from tests.signaling.conftest import Peer


@pytest.fixture
def own_redis():
    """This test's own redis-server: it is frozen (SIGSTOP), which must not stop any other test's."""
    with tempfile.TemporaryDirectory(prefix="iv-frozen-redis-") as tmp:
        with EmbeddedRedis(Path(tmp), persist=False) as server:
            yield server


@pytest.fixture
def redis_url(own_redis):
    return own_redis.url


async def test_a_call_answered_while_redis_is_frozen_completes_and_the_page_recovers(
    own_redis, app, live_server, services, browsers, cameras, shots
):
    live = await live_world(services, size=1, photos=[faces.encode(faces.grace_hopper())])
    account = await live.booked(0)
    candidate = Peer("/candidate")
    try:
        await waiting_by_socket(candidate, live_server, services, live.world, account)

        examiner = await browsers(cameras["astronaut"], desktop=True)
        async with asyncio.timeout(TEST_TIMEOUT_S):
            await staff_login(examiner, live_server, "examiner-one", "/examiner")
            await examiner.goto(f"{live_server}/examiner/rooms/{live.room.id}")
            await examiner.wait_for_selector(f"#queue-table tr[data-account='{account.id}'][data-state=waiting]")

            namespace = app[SIO].namespace_handlers["/examiner"]
            checked = namespace.still_valid
            pid = own_redis.proc.pid

            async def check_then_freeze(sid, user):  # the fault where it matters: the call's own work is next
                valid = await checked(sid, user)
                if namespace.still_valid is check_then_freeze:  # once: the page's other events pass as usual
                    namespace.still_valid = checked
                    os.kill(pid, signal.SIGSTOP)
                return valid

            namespace.still_valid = check_then_freeze
            try:
                await examiner.click("#call-next")
                await examiner.wait_for_selector("#action-error[data-code=storage_unavailable]:not([hidden])")
                assert "服务器正在恢复" in await examiner.inner_text("#action-error")
                assert "不是您的网络问题" in await examiner.inner_text("#action-error")
                assert await examiner.get_attribute("body", "data-storage") == "recovering"
                assert await examiner.is_enabled("#call-next")  # nothing is left greyed out
                await shots(examiner, "examiner-storage-recovering", full_page=False)
            finally:
                namespace.still_valid = checked
                os.kill(pid, signal.SIGCONT)

            # Redis answers again: the message goes by itself, and the call went through (once)
            await examiner.wait_for_selector("#action-error[hidden]", state="attached", timeout=10_000)
            await examiner.wait_for_selector(f"#room-page[data-current='{account.id}']", timeout=10_000)
            assert await examiner.get_attribute("body", "data-storage") is None
            await candidate.wait_for("queue:called", timeout=10)
            await shots(examiner, "examiner-storage-back-candidate-called", full_page=False)
        (entry,) = await services.queue.entries_of(account.id)
        assert entry.state == "called"
        assert not [e for e in browsers.errors if "storage_unavailable" not in e], browsers.errors
    finally:
        await candidate.close()
