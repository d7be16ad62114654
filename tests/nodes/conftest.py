"""Several ``interview-server run`` nodes on one Redis (the suite's own redis-server), each with its own
port, node id and recordings folder, behind a round-robin TCP proxy (no sticky sessions), and pages
standing in for browsers (``bench/cluster.py``)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bench.cluster import NodeProcess, Page, RoundRobinProxy
from server.rooms import passthrough
from server.store.audit import Actor
from server.store.embedded import free_port

from ..conftest import ADMIN
from ..live import FIT_DEVICE, live_world

passthrough.install()  # the pages here count encoded frames (the media is in the node processes)


@pytest.fixture
async def cluster(settings, services, tmp_path):
    """``await cluster(n, **settings)``: ``n`` nodes (``node-1`` ...) and a proxy in front of them."""
    made: list[NodeProcess] = []
    proxies: list[RoundRobinProxy] = []

    async def start(n: int = 3, **extra: str) -> tuple[list[NodeProcess], RoundRobinProxy]:
        nodes = [
            NodeProcess(
                settings.redis_url,
                settings.redis_prefix,
                tmp_path / f"node-{i + 1}",
                f"node-{i + 1}",
                free_port(),
                **extra,
            )
            for i in range(n)
        ]
        made.extend(nodes)
        await asyncio.gather(*(node.start() for node in nodes))
        ids = {node.node_id for node in nodes}

        async def registered() -> bool:
            return ids <= {n.node_id for n in await services.cluster.registry.nodes() if n.alive}

        await until(registered, 15)
        proxy = RoundRobinProxy([node.port for node in nodes])
        await proxy.start()
        proxies.append(proxy)
        return nodes, proxy

    yield start
    for proxy in proxies:
        await proxy.close()
    for node in made:
        node.close()


@pytest.fixture
async def live(services):
    """An exam whose slot runs now (the test process itself is no node: its app is not started)."""
    return await live_world(services, size=6)


@pytest.fixture
async def pages():
    made: list[Page] = []

    def make(*args, **kwargs) -> Page:
        page = Page(*args, **kwargs)
        made.append(page)
        return page

    yield make
    await asyncio.gather(*(page.close() for page in made), return_exceptions=True)


async def extra_rooms(services, live, count: int) -> list:
    """``count`` more rooms of the exam's first subject, each with a running slot and the same examiner:
    [(room, slot)]."""
    now = time.time()
    out = []
    for i in range(count):
        room = await services.catalog.create_room(
            ADMIN, live.exam.id, live.world.subjects[0].id, f"加考场{i}", [live.examiner.id]
        )
        slot = await services.catalog.create_slot(ADMIN, live.exam.id, room.id, now - 30, now + 3600, 10)
        out.append((room, slot))
    return out


async def waiting_candidate(services, live, index: int, slot_id: str, url: str, pages) -> tuple:
    """Candidate ``index`` booked into ``slot_id``, in its queue with the face check passed, on a page
    connected through ``url``: (account, page)."""
    account = await live.world.candidate(index)
    slot = await services.catalog.slot(live.exam.id, slot_id)
    await services.bookings.book(account, live.exam.id, slot_id, now=slot.starts_at - 60)  # booked before it began
    token = await services.sessions.create(account.id, "candidate")
    page = pages(url, "/candidate", token)
    await page.connect()
    await page.wait_for("queue:snapshot")
    ack = await page.call("queue:join", {"exam_id": live.exam.id, "slot_id": slot_id, "device": FIT_DEVICE})
    assert ack["ok"], ack
    await live.pass_face(account)
    return account, page


async def interview(
    services, live, pages, examiner_url: str, candidate_url: str | None = None, index: int = 0, room=None, slot=None
) -> tuple:
    """An interview under way: the panel's examiner on a page through ``examiner_url`` joins the room's
    media, calls candidate ``index`` (a page through ``candidate_url``, the same by default), who joins;
    both see each other. (examiner page, candidate account, candidate page)."""
    room, slot = room or live.room, slot or live.slot
    token = await services.sessions.create(live.examiner.id, "examiner")
    examiner = pages(examiner_url, "/examiner", token, auth={"room_id": room.id})
    await examiner.connect()
    assert (await examiner.join())["ok"]
    account, candidate = await waiting_candidate(services, live, index, slot.id, candidate_url or examiner_url, pages)
    assert (await examiner.call("queue:call_next", {}))["ok"]
    await candidate.wait_for("queue:called")
    candidate.extra = {"room_id": room.id}
    ack = await candidate.join()
    assert ack["ok"], ack
    await until(lambda: examiner.received(account.id) > 30 and candidate.received(live.examiner.id) > 30, 30)
    return examiner, account, candidate


def log_lines(node, message: str) -> list[dict]:
    """The node's JSON log lines whose event is ``message``."""
    out = []
    if node.log is None or not node.log.exists():
        return out
    for line in node.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == message:
            out.append(entry)
    return out


async def held_by(services, room_id: str) -> list[str]:
    """The node ids whose registry entry lists the room (two would be two media rooms for one room)."""
    return [n.node_id for n in await services.cluster.registry.nodes() if room_id in n.room_ids and n.alive]


async def until(check, timeout: float, every: float = 0.2):
    """Poll ``check`` (sync or async) until it gives something true; that value (AssertionError at the end)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(every)


ADMIN_ACTOR = Actor("acc_admin", "admin")
