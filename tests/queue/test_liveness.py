"""Presence tied to the liveness of the process that holds the socket (issue 13, items 4 and 5): the
candidates of a killed process are not callable once its key lapses; a called candidate whose
connection died goes back to the line after ``queue_called_grace_s``, and the examiner's view says
why; after Redis was unreachable the sweeps mark nobody disconnected before presence is refreshed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from server.errors import UserError
from server.queue.sweeper import sweep_once
from server.queue.views import room_view
from server.queue.waiting import WaitingQueue
from server.store.audit import Actor
from server.store.embedded import EmbeddedRedis
from server.store.redis import connect

from ..conftest import fast_settings
from ..live import FIT_DEVICE, live_world


@pytest.fixture
async def live(services):
    return await live_world(services)


def examiner(live):
    return Actor(live.examiner.id, "examiner")


def other_process(services, process_id: str) -> WaitingQueue:
    """The queue service of another server process on the same Redis (what its sockets write)."""
    q = services.queue
    return WaitingQueue(
        q.store,
        q.catalog,
        q.enrolments,
        q.device_policy,
        q.early_entry_s,
        q.grace_s,
        q.face_pass_valid_s,
        q.timezone,
        process_id=process_id,
        process_ttl_s=q.process_ttl_s,
        called_grace_s=q.called_grace_s,
        presence_ttl_s=q.presence_ttl_s,
    )


async def ready(live, index, queue=None):
    """Booked, in the queue, face check passed, with a live socket on ``queue``'s process (its presence
    valid for an hour: the tests move the sweep's clock past the grace periods)."""
    account = await live.booked(index)
    await (queue or live.services.queue).touch({account.id: [f"sid-{index}"]}, 3600)
    await live.services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    await live.pass_face(account)
    return account


async def events(redis, key, name):
    return [e for _, e in await redis.xrange(key) if e["event"] == name]


async def test_the_candidates_of_a_dead_process_are_not_called(live, services, redis):
    dead = other_process(services, "host-a:4242:dead01")
    first = await ready(live, 0, dead)
    second = await ready(live, 1)  # on this process
    assert (await services.queue.entry(live.room.id, first.id)).connected
    # the process is SIGKILLed: nobody refreshes its key, which lapses after process_ttl_s (made short here
    # rather than waited for: the rule is that the key is gone, however it went)
    key = services.store.keys.process(dead.process_id)
    assert await redis.pttl(key) > 0
    await redis.pexpire(key, 50)
    await asyncio.sleep(0.1)
    assert not await redis.exists(key)
    # at once, before any sweep and although the presence entry itself is still unexpired
    called = await services.queue.call_next(examiner(live), live.room.id)
    assert called.account == second.id
    assert (await services.queue.entry(live.room.id, first.id)).state == "waiting"


async def test_right_after_an_outage_the_first_call_admits_the_head_of_the_line(live, services, redis):
    """A Redis outage longer than ``process_ttl_s`` lets every process's liveness key lapse with it; until
    the processes beat again, the first call-next must not skip the head of the line (bench.faults saw it
    admit the 24th in line). While this process holds after the outage, presence counts by its expiry."""
    other = other_process(services, "host-a:4250:alive1")
    head = await ready(live, 0, other)
    await ready(live, 1)
    for process in (other.process_id, services.queue.process_id):
        await redis.delete(services.store.keys.process(process))  # lapsed during the outage
    services.queue.redis_watch.failed()
    services.queue.redis_watch.succeeded()  # Redis is back; nobody has beaten yet
    assert services.queue.redis_watch.holding()
    called = await services.queue.call_next(examiner(live), live.room.id)
    assert called.account == head.id


async def test_nobody_ready_when_every_socket_was_on_the_dead_process(live, services, redis):
    dead = other_process(services, "host-a:4243:dead02")
    people = [await ready(live, i, dead) for i in range(2)]
    await redis.delete(services.store.keys.process(dead.process_id))
    with pytest.raises(UserError) as err:
        await services.queue.call_next(examiner(live), live.room.id)
    assert err.value.code == "nobody_ready" and err.value.params["why"] == "disconnected"
    assert [b["account_id"] for b in err.value.params["blocked"]] == [p.id for p in people]
    # the sweep marks them disconnected (the examiners see it); the process coming back restores them
    await services.queue.sweep(live.room.id)
    assert not (await services.queue.entry(live.room.id, people[0].id)).connected
    await dead.beat()
    await services.queue.sweep(live.room.id)
    assert (await services.queue.entry(live.room.id, people[0].id)).connected


async def test_a_called_candidate_whose_process_died_goes_back_to_the_line(live, services, redis):
    queue = services.queue
    dead = other_process(services, "host-b:99:dead03")
    first = await ready(live, 0, dead)
    second = await ready(live, 1)
    heard = []

    async def listener(change):
        heard.append(change)

    queue.listeners.append(listener)
    assert (await queue.call_next(examiner(live), live.room.id)).account == first.id
    await redis.delete(services.store.keys.process(dead.process_id))  # killed before joining the room
    now = time.time()
    await queue.sweep(live.room.id, now=now)
    entry = await queue.entry(live.room.id, first.id)
    assert entry.state == "called" and not entry.connected
    grace = queue.called_grace_s
    assert grace == 60  # the product's default (queue_called_grace_s)
    await queue.sweep(live.room.id, now=now + grace - 1)
    assert (await queue.entry(live.room.id, first.id)).state == "called"
    with pytest.raises(UserError) as err:
        await queue.call_next(examiner(live), live.room.id, now=now + grace - 1)
    assert err.value.code == "room_busy"

    await queue.sweep(live.room.id, now=now + grace + 1)
    entry = await queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason, entry.connected) == ("waiting", "called_disconnected", False)
    view = await room_view(services.store, live.room.id)
    assert view.current is None  # the room is free
    line = view.to_json()["line"]
    assert [(e["account_id"], e["reason"], e["connected"]) for e in line] == [
        (first.id, "called_disconnected", False),  # back at their place, ahead of the others
        (second.id, None, True),
    ]
    assert [c.account for c in heard if c.event == "queue_call_released"] == [first.id]
    released = await events(redis, services.store.keys.audit(live.exam.id), "queue_call_released")
    assert len(released) == 1 and released[0]["subject"] == first.id
    data = json.loads(released[0]["data"])
    assert (data["from"], data["to"], data["reason"]) == ("called", "waiting", "called_disconnected")
    assert data["away_s"] == pytest.approx(grace + 1, abs=0.01)
    # the examiner calls the next connected candidate; the released one keeps the usual grace period
    assert (await queue.call_next(examiner(live), live.room.id, now=now + grace + 2)).account == second.id
    await queue.sweep(live.room.id, now=now + queue.grace_s + 1)
    entry = await queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("absent", "disconnected")


async def test_a_called_candidate_back_within_the_grace_keeps_the_call(live, services, redis):
    queue = services.queue
    dead = other_process(services, "host-b:100:dead04")
    first = await ready(live, 0, dead)
    await queue.call_next(examiner(live), live.room.id)
    await redis.delete(services.store.keys.process(dead.process_id))
    now = time.time()
    await queue.sweep(live.room.id, now=now)
    await queue.touch({first.id: ["sid-again"]}, 3600)  # reconnected to this process
    await queue.sweep(live.room.id, now=now + queue.called_grace_s + 1)
    entry = await queue.entry(live.room.id, first.id)
    assert (entry.state, entry.connected) == ("called", True)


async def test_a_called_candidate_gone_when_the_slot_ends_is_absent(services, redis):
    live = await live_world(services, length_s=120)
    queue = services.queue
    dead = other_process(services, "host-c:1:dead05")
    first = await ready(live, 0, dead)
    await queue.call_next(examiner(live), live.room.id)
    await redis.delete(services.store.keys.process(dead.process_id))
    await queue.sweep(live.room.id, now=live.slot.ends_at - 10)
    await queue.sweep(live.room.id, now=live.slot.ends_at - 10 + queue.called_grace_s + 1)
    entry = await queue.entry(live.room.id, first.id)
    assert (entry.state, entry.reason) == ("absent", "slot_over")
    assert (await room_view(services.store, live.room.id)).current is None


async def test_after_an_outage_the_sweep_marks_nobody_disconnected_before_presence_is_refreshed(tmp_path, prefix):
    """A real outage: the Redis is stopped and started again on the same port and data. The last
    presence refresh before it had nearly expired (written with 1 s left), so when Redis is back every
    socket's presence has lapsed although the sockets are still there."""
    from server.app import create_app
    from server.http.context import SERVICES

    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    client = connect(server.url)
    try:
        app = create_app(fast_settings(tmp_path, server.url, prefix), client)
        services = app[SERVICES]
        queue = services.queue
        live = await live_world(services)
        people = [await ready(live, i) for i in range(3)]
        await queue.touch({p.id: [f"sid-{i}"] for i, p in enumerate(people)}, 1)  # the refresh of 29 s ago
        port = server.port
        server.stop()
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises for a lost Redis
            await sweep_once(queue, services.catalog)
        with pytest.raises(Exception):  # noqa: B017
            await queue.beat()
        assert queue.redis_watch.holding()
        await asyncio.sleep(1.2)  # the presence written before the outage lapses meanwhile
        server = EmbeddedRedis(tmp_path / "redis", port=port, persist=True).start()
        for _ in range(50):  # the sweeper's next round that reaches Redis
            try:
                await sweep_once(queue, services.catalog)
                break
            except Exception:
                await asyncio.sleep(0.1)
        # without the hold all three would be marked disconnected (and restored a moment later)
        assert [(await queue.entry(live.room.id, p.id)).connected for p in people] == [True] * 3
        assert not await events(client, services.store.keys.audit(live.exam.id), "queue_disconnected")
        assert queue.redis_watch.holding()  # for one presence refresh period after Redis came back
        assert queue.redis_watch.settle_s == queue.presence_ttl_s / 3
        # presence of every socket held is refreshed by the first liveness beat: calling works at once
        await queue.beat()
        assert (await queue.call_next(examiner(live), live.room.id)).account == people[0].id
    finally:
        await client.aclose()
        server.stop()


async def test_a_candidate_on_a_killed_server_process_is_not_called_at_once(settings, services, tmp_path):
    """A real ``interview-server run`` process, SIGKILLed while a candidate's socket is on it: its
    channel subscription is gone the moment the kernel closes its connections, so the candidate is
    not callable at once, while the process's key still lives (it would for up to process_ttl_s)."""
    from ..signaling.conftest import Peer, server_process

    live = await live_world(services)
    url, proc = await server_process(settings, tmp_path / "second")
    peer = Peer("/candidate")
    try:
        account = await live.booked(0)
        await services.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
        await live.pass_face(account)
        await peer.connect(url, await services.sessions.create(account.id, account.role))
        presence = services.store.keys.presence(account.id)
        members = await services.store.redis.zrange(presence, 0, -1)
        assert len(members) == 1 and not members[0].startswith(services.queue.process_id)  # the other process's
        their_key = services.store.keys.process(members[0].split("|")[0])
        assert await services.store.redis.exists(their_key)
        assert (await services.store.redis.pubsub_numsub(their_key))[0][1] == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        for _ in range(20):  # Redis sees the closed connection within milliseconds
            if not (await services.store.redis.pubsub_numsub(their_key))[0][1]:
                break
            await asyncio.sleep(0.01)
        assert await services.store.redis.exists(their_key)  # the key has not lapsed: the channel decides
        with pytest.raises(UserError) as err:
            await services.queue.call_next(examiner(live), live.room.id)
        assert err.value.code == "nobody_ready" and err.value.params["why"] == "disconnected"
        # the sweep marks them disconnected at once too: the grace periods run from now
        await services.queue.sweep(live.room.id)
        assert not (await services.queue.entry(live.room.id, account.id)).connected
        # (before: callable until the key lapsed, up to process_ttl_s after the kill; earlier still,
        # until the presence expired, presence_ttl_s = 30 s after the last refresh)
    finally:
        await peer.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def test_a_process_that_lost_its_channel_subscribes_again_at_its_next_beat(live, services, redis):
    """Redis restarted or the subscription's connection broke while the process lives: its sockets stop
    counting until its next beat, which sees no subscriber and subscribes again."""
    other = other_process(services, "host-c:77:alive2")
    first = await ready(live, 0, other)
    await other.channel.pubsub.aclose()  # the connection is gone; the process does not know yet
    assert not (await redis.pubsub_numsub(services.store.keys.process(other.process_id)))[0][1]
    with pytest.raises(UserError) as err:
        await services.queue.call_next(examiner(live), live.room.id)
    assert err.value.params["why"] == "disconnected"
    await other.beat()
    assert (await redis.pubsub_numsub(services.store.keys.process(other.process_id)))[0][1] == 1
    assert (await services.queue.call_next(examiner(live), live.room.id)).account == first.id
    await other.channel.drop()


async def test_the_hold_lasts_one_refresh_period_after_redis_answers_again():
    """The watch itself, with a short period instead of the product's 10 s (presence_ttl_s / 3) so as
    not to wait for it; the sweeps above use the product's."""
    from server.queue.liveness import RedisWatch

    watch = RedisWatch(0.2)
    assert not watch.holding()
    watch.failed()
    assert watch.holding() and watch.repair
    await asyncio.sleep(0.3)
    assert watch.holding()  # still failing: holds however long the outage lasts
    watch.succeeded()
    assert watch.holding() and watch.repair  # the presence repair is the liveness beat's to do
    await asyncio.sleep(0.3)
    assert not watch.holding()
