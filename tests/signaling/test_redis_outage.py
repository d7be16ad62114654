"""Redis goes away and comes back (issue 13, items 1, 2, 3 and 7): what sockets see.

Every test runs its own redis-server (``own_redis``, persisted so that it comes back with its data),
stops it and starts it again on the same port; the session's Redis is never touched. The clients are
real socket.io clients against the real app (and, for the cross-process case, a second
``interview-server run`` process), at the product's settings (``fast_settings`` only cheapens
password hashing, see tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime

import pytest
import socketio
from aiohttp.test_utils import TestServer

from server.accounts.sessions import COOKIE
from server.app import create_app
from server.http.context import SERVICES
from server.queue.views import room_view
from server.signaling.hub import SIO
from server.signaling.redis_manager import RedisManager
from server.store.embedded import EmbeddedRedis

from ..conftest import fast_settings
from ..live import live_world
from .conftest import server_process, url_of
from .test_sockets import candidate_peer, examiner_peer

OUTAGE_S = 4.0  # python-socketio's own back-off (1, 2, 4 s) would resubscribe only 3 s after this one


@pytest.fixture
async def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "own-redis", persist=True).start()
    yield server
    server.stop()


@pytest.fixture
async def own_app(own_redis, tmp_path, prefix):
    """The real app (it opens its own client, as in production) on this test's Redis."""
    settings = fast_settings(tmp_path, own_redis.url, prefix)
    app = create_app(settings)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield settings, srv, app[SERVICES]
    await asyncio.wait_for(srv.close(), 30)


def stop_redis(server: EmbeddedRedis) -> float:
    server.stop()
    return time.time()


def start_redis(server: EmbeddedRedis) -> float:
    server.start()
    return time.time()


async def eventually(check, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(every)


async def connect_refusal(url: str, namespace: str, token: str) -> dict:
    """What a page's ``connect_error`` gets for a connection made now."""
    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Future = asyncio.get_running_loop().create_future()

    @client.on("connect_error", namespace=namespace)
    async def _refused(data=None):
        if not got.done():
            got.set_result(data)

    try:
        await client.connect(
            url, headers={"Cookie": f"lang=zh; {COOKIE}={token}"}, namespaces=[namespace], transports=["websocket"]
        )
    except socketio.exceptions.ConnectionError:
        pass
    try:
        return await asyncio.wait_for(got, 5)
    finally:
        await client.disconnect()


async def test_during_an_outage_sockets_are_told_and_after_it_every_view_is_fresh(own_redis, own_app, peers):
    settings, srv, services = own_app
    url = url_of(srv)
    live = await live_world(services)
    account, candidate = await candidate_peer(peers, srv, services, live, 0)
    await candidate.wait_for("queue:state", lambda d: d["state"] == "waiting")
    leaver_account, leaver = await candidate_peer(peers, srv, services, live, 1)
    leaver_sid = leaver.client.get_sid("/candidate")
    examiner = await examiner_peer(peers, srv, services, live)
    proctor = await peers(url, "/proctor", live.proctor, {"exam_id": live.exam.id}, services)
    await proctor.wait_for("proctor:snapshot")
    late = await live.booked(2)
    late_token = await services.sessions.create(late.id, late.role)
    presence_key = services.store.keys.presence(leaver_account.id)
    assert any(leaver_sid in m for m in await services.store.redis.zrange(presence_key, 0, -1))

    stop_redis(own_redis)
    # item 2: an event is answered storage_unavailable within a second, in the user's language
    slowest = 0.0
    for peer, event in ((candidate, "queue:state"), (examiner, "queue:call_next"), (proctor, "proctor:snapshot")):
        started = time.monotonic()
        ack = await peer.call(event)
        took = time.monotonic() - started
        assert not ack["ok"] and ack["error"]["code"] == "storage_unavailable", ack
        assert "服务器正在恢复" in ack["error"]["message"]
        assert took < 1.0, (event, took)
        slowest = max(slowest, took)
    print(f"acks during the outage within {slowest * 1000:.1f} ms")
    errors = candidate.seen("event_error")
    assert errors and errors[-1]["code"] == "storage_unavailable"
    # ... and a new connection gets connect_error with the same code
    refused = await connect_refusal(url, "/candidate", late_token)
    assert refused["data"]["code"] == "storage_unavailable" and "服务器正在恢复" in refused["message"], refused
    # item 3: a socket closed now cannot clean its presence; it is done once Redis is back
    await leaver.close()
    await asyncio.sleep(OUTAGE_S)
    marks = {peer: len(peer.events) for peer in (candidate, examiner, proctor)}

    start_redis(own_redis)
    back = time.monotonic()

    # item 1: every local socket's view is pushed again and matches Redis
    async def newer(peer, event):
        return next((d for e, d in peer.events[marks[peer] :] if e == event), None)

    snapshot = await eventually(lambda: newer(candidate, "queue:snapshot"), 2.0)
    (entry,) = await services.queue.entries_of(account.id)
    assert [(e["room_id"], e["state"]) for e in snapshot["entries"]] == [(entry.room, entry.state)]
    room = await eventually(lambda: newer(examiner, "queue:room"), 2.0)
    view = (await room_view(services.store, live.room.id)).to_json()
    assert [(r["account_id"], r["state"]) for r in room["line"]] == [
        (r["account_id"], r["state"]) for r in view["line"]
    ]
    exam = await eventually(lambda: newer(proctor, "proctor:snapshot"), 2.0)
    assert [r["room_id"] for r in exam["rooms"]] == [r.id for r in await services.catalog.rooms(live.exam.id)]
    refreshed_s = time.monotonic() - back

    async def presence_gone():
        members = await services.store.redis.zrange(presence_key, 0, -1)
        return not any(leaver_sid in m for m in members)

    await eventually(presence_gone, 2.0)
    # and events work again
    ack = await eventually(lambda: candidate.call("queue:state"), 2.0)
    assert ack["ok"] and ack["entries"][0]["state"] == entry.state
    print(f"views refreshed {refreshed_s:.3f} s after redis was back")


async def test_after_an_outage_pushes_cross_processes_at_once_and_logs_are_json(own_redis, own_app, peers, tmp_path):
    settings, srv, services = own_app
    other_url, proc = await server_process(settings, tmp_path / "other")
    try:
        live = await live_world(services)
        account, candidate = await candidate_peer(peers, srv, services, live, 0)  # on this process
        examiner = await peers(other_url, "/examiner", live.examiner, {"room_id": live.room.id}, services)
        await examiner.wait_for("queue:room", lambda d: d["line"] and d["line"][0]["face_status"] == "passed")

        stopped_at = stop_redis(own_redis)
        await asyncio.sleep(OUTAGE_S)
        started_at = start_redis(own_redis)
        back = time.monotonic()

        async def call_next():  # the examiner clicks until the other process's storage answers
            ack = await examiner.call("queue:call_next")
            return ack if ack["ok"] else None

        ack = await eventually(call_next, 2.0, every=0.05)
        assert ack["account_id"] == account.id

        # the candidate's page sees the call: queue:called, or, if it was published before this
        # process subscribed again, the snapshot every local socket gets then (the page opens the
        # room for a "called" entry either way)
        def sees_called(peer) -> bool:
            return any(
                e == "queue:called"
                or (e == "queue:snapshot" and any(x["state"] == "called" for x in d["entries"]))
                or (e == "queue:state" and d["state"] == "called")
                for e, d in peer.events
            )

        async def called():
            return sees_called(candidate)

        await eventually(called, 2.0 - (time.monotonic() - back))
        # and a push made now on the other process reaches this one
        ack = await examiner.call("queue:remove", {"account_id": account.id, "reason": "测试"})
        assert ack["ok"], ack
        await candidate.wait_for(
            "queue:state", lambda d: d["state"] == "removed", timeout=max(0.1, 2.0 - (time.monotonic() - back))
        )
        crossed_s = time.monotonic() - back
        print(f"pushes from the other process arrive {crossed_s:.3f} s after redis was back")
    finally:
        proc.terminate()
        code = proc.wait(15)
        err = proc.stderr.read().decode()
    assert code == 0, err[-2000:]

    # item 7: every line of the other process is one JSON object; socket lines carry no request id;
    # the outage's start and end are logged within a second
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    for record in records:
        if record["logger"].startswith(("socketio", "engineio", "server.signaling")):
            assert "request_id" not in record, record

    def at(event: str) -> float:
        record = next(r for r in records if r["event"] == event)
        return datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()

    assert 0 <= at("redis lost") - stopped_at < 1.0 + 0.01  # ts has millisecond resolution
    assert -0.01 <= at("redis reachable again") - started_at < 1.0
    assert any(r["event"] == "socket.io fan-out subscribed again" for r in records)


async def test_the_fanout_uses_the_projects_pool_limits(own_redis, own_app, peers):
    """socket.io's manager: one client for the process's life, with the project's pool options; the
    connections it and the app hold under 50 sockets, read from Redis's CLIENT LIST."""
    settings, srv, services = own_app
    live = await live_world(services)
    sockets = [
        await peers(url_of(srv), "/examiner", live.examiner, {"room_id": live.room.id}, services) for _ in range(50)
    ]
    await asyncio.gather(*(s.wait_for("queue:room") for s in sockets))
    await asyncio.gather(*(s.call("queue:room") for s in sockets))
    manager = srv.app[SIO].manager
    assert isinstance(manager, RedisManager)
    pool = manager.redis.connection_pool
    assert pool.max_connections == settings.redis_max_connections
    own = services.store.redis.connection_pool.connection_kwargs
    for key in ("socket_connect_timeout", "socket_timeout", "health_check_interval"):
        assert pool.connection_kwargs[key] == own[key], key
    clients = (await services.store.redis.execute_command("CLIENT", "LIST")).splitlines()
    fanout = [c for c in clients if f" name={settings.redis_prefix}socketio " in c]
    print(f"{len(clients)} connections to redis under 50 sockets, {len(fanout)} of them socket.io's")
    assert 1 <= len(fanout) <= 3  # the subscription, and publishing (one at a time in this test)
    assert len(clients) <= settings.redis_max_connections + 3


def test_socketio_library_lines_are_json_without_a_request_id(capsys):
    """python-socketio's own logger, given to the server (server/wiring.py), writes one JSON object
    with its traceback inside, and no request id from the context it runs in."""
    import logging

    from server.logs import JsonFormatter, library_logger, request_id

    logger = library_logger("socketio.server")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    token = request_id.set("req-of-another-request")
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("Handler error in pubsub listening thread")
        logging.getLogger("server.http").error("a request line")
    finally:
        request_id.reset(token)
        root.removeHandler(handler)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    library, request = lines
    assert library["logger"] == "socketio.server" and "request_id" not in library
    assert "RuntimeError: boom" in library["exc"]
    assert request["request_id"] == "req-of-another-request"
    assert logging.getLogger("socketio.server").handlers == []


async def test_an_event_whose_own_redis_work_stalls_is_answered_within_a_second(own_redis, own_app, peers, caplog):
    """Redis freezes (SIGSTOP) after an event's session check, while its own work is on its way: the
    examiner is told storage_unavailable with ``pending`` within about a second (it used to wait for the
    client's 5 s read timeout), as is a page connecting meanwhile; when Redis resumes the work finishes
    once: the candidate is called, the examiner's page is told, and a second click is refused (one
    candidate per room)."""
    settings, srv, services = own_app
    live = await live_world(services)
    account, candidate = await candidate_peer(peers, srv, services, live, 0)
    await candidate.wait_for("queue:state", lambda d: d["state"] == "waiting")
    examiner = await examiner_peer(peers, srv, services, live)
    namespace = srv.app[SIO].namespace_handlers["/examiner"]
    checked = namespace.still_valid
    assert own_redis.proc is not None
    pid = own_redis.proc.pid

    async def check_then_freeze(sid, user):  # the fault at the moment that matters: the event's work is next
        valid = await checked(sid, user)
        os.kill(pid, signal.SIGSTOP)
        return valid

    late = await live.booked(1)
    late_token = await services.sessions.create(late.id, late.role)
    namespace.still_valid = check_then_freeze
    try:
        started = time.monotonic()
        ack = await examiner.call("queue:call_next")
        took = time.monotonic() - started
        namespace.still_valid = checked
        # a page connecting while Redis is still frozen: refused with the same code, as quickly
        started = time.monotonic()
        refused = await connect_refusal(url_of(srv), "/candidate", late_token)
        refused_took = time.monotonic() - started
    finally:
        namespace.still_valid = checked
        os.kill(pid, signal.SIGCONT)
    assert refused["data"]["code"] == "storage_unavailable", refused
    assert refused_took < 1.5, refused_took
    assert not ack["ok"] and ack["error"]["code"] == "storage_unavailable", ack
    assert ack["error"]["pending"] is True and "服务器正在恢复" in ack["error"]["message"]
    assert took < 1.5, took  # STALL_CHECK_S + STALL_PING_S = 0.8 s, on a loaded machine a little more
    print(f"stalled event answered in {took * 1000:.0f} ms")
    # resumed: the call goes through, once; both pages learn it from the pushes
    await candidate.wait_for("queue:called", timeout=10)
    await examiner.wait_for("queue:room", lambda d: (d["current"] or {}).get("account_id") == account.id, timeout=10)
    retry = await examiner.call("queue:call_next")
    assert not retry["ok"] and retry["error"]["code"] == "room_busy", retry
    (entry,) = await services.queue.entries_of(account.id)
    assert entry.state == "called"
    assert any(r.getMessage() == "socket event finished after its answer" for r in caplog.records)
