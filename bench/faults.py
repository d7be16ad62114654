"""The fault suite of issue 13: Redis killed, stopped or frozen, and a server process killed, under real
socket.io clients on two server processes; what people see afterwards, compared with what Redis says.

Run: ``python -m bench.faults [--outage-s 20] [--called-grace-s 10]``.
Starts its own redis-server with AOF (``appendfsync everysec``, a private folder and port: never
REDIS_URL, never 127.0.0.1:6379) and two ``interview-server run`` processes (A and B) on it; seeds one
exam with a running slot and one room, ``--candidates`` booked candidates (face check passed), most
of them connected to A, the rest and the examiner to B, a few booked who never enter the queue. The
candidates enter the queue; the examiner admits one. Then, in order:

(a) ``kill``: Redis SIGKILLed and restarted from its AOF (``--kill-down-s`` later). The bookings,
    queue entries and sessions read before and after are compared (records lost); as soon as
    storage answers again the examiner (on B) ends the interview and calls the next candidate (on
    A), and each client's last pushed view (the candidate's state and position, the examiner's
    line) is compared with Redis every 50 ms: the time from Redis back until it is equal, and stays
    equal, is reported per fault as p50 / max over the clients. A candidate's view follows every push
    (snapshots included); ``pages_wrong_at_end`` applies the page's own rules as well
    (``web/static/js/interview.js``: a snapshot's active entry, or the room on screen's finished one).
(b) ``down``: Redis stopped for ``--outage-s`` with the room free; (c) ``frozen``: Redis SIGSTOPped as
    long. During each, candidates on both processes and the examiner send events every 0.5 s
    (``queue:state``, ``queue:room``, ``queue:call_next``), and a burst is in flight as the fault
    starts: how many got no answer at all (unanswered, within 30 s), after more than 1 s (late),
    after more than 5 s, and the slowest. When Redis is back the examiner clicks "call next"
    until it is answered: admissions counted in the audit stream (no double admission), the line's
    order compared with the one before, the admitted one's place in it (``admitted_position``:
    everyone is connected, so it must be 1), views compared as in (a).
(d) ``process``: server A SIGKILLed with ``--waiting`` candidates waiting and one called on it.
    Most of them reconnect to B (1-3 s later, as the pages do); a few never come back, nor does
    the called one. Reported: the time until A's sockets stop counting (its channel's subscription
    gone, ``dead_process_window_s``; a "call next" on a free room before that could still admit someone
    whose process is dead: measured by a second room whose examiner clicks every 0.5 s) and until its
    liveness key lapsed, whether the returning candidates kept their places, the time
    until the called candidate was released (``queue_called_grace_s``, set by ``--called-grace-s``),
    and whether a "call next" after that admitted anybody who had not come back.

Bounded: every wait has a limit and the whole run is cut off after ``RUN_LIMIT_S``. The last line is
JSON with every figure (``machine`` says where it ran).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from .common import FIT_DEVICE, PASSWORD, bench_exam, bench_services, enrolled_candidates, start_server, wait_healthy

RUN_LIMIT_S = 300.0
ACK_TIMEOUT_S = 30.0  # an event unanswered this long counts as unanswered (its client gives up)
ANSWER_WITHIN_S = 1.0  # the target: every event answered within this
VIEWS_WITHIN_S = 2.0  # the target: every view correct this soon after Redis is back
SETTLE_LIMIT_S = 15.0  # views are compared for at most this long
PRESENCE_SETTLE_S = 10.5  # presence_ttl_s / 3 (the product's 30 s): the sweeps' hold after an outage
IN_LINE = ("waiting_face_check", "waiting")
FINISHED = ("done", "absent", "removed")


def _cookie(token: str) -> dict:
    from server.accounts.sessions import COOKIE

    return {"Cookie": f"lang=en; {COOKIE}={token}"}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}"


# the clients: each keeps the view its page would show, from the pushes it got


class Client:
    namespace = ""

    def __init__(self, name: str, token: str) -> None:
        self.name, self.token = name, token
        self.client = socketio.AsyncClient(reconnection=False)
        self.seen_at = 0.0  # the newest push's ``at``: older ones are dropped, as the pages do
        self.line_at = 0.0  # the same for a candidate's ``queue:line`` (the page keeps one per kind)
        self.pushes = 0
        self.url = ""
        self.history: deque[tuple] = deque(maxlen=8)  # (event, at, applied): for a view found wrong

    async def connect(self, url: str, auth: dict | None = None) -> None:
        self.url = url
        await self.client.connect(
            url,
            headers=_cookie(self.token),
            namespaces=[self.namespace],
            auth=auth or {},
            transports=["websocket"],
            wait_timeout=15,
        )

    async def call(self, event: str, data: dict | None = None, timeout: float = ACK_TIMEOUT_S) -> dict | None:
        """The ack, or None if none came within ``timeout`` (or the socket is gone)."""
        try:
            return await self.client.call(event, data or {}, namespace=self.namespace, timeout=timeout)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.disconnect()

    def view(self) -> tuple:
        return ()

    def fresh(self, at: float, event: str = "", line: bool = False) -> bool:
        """Drop a push older than the last one of its kind (as web/static/js/live.js ``fresh``)."""
        last = self.line_at if line else self.seen_at
        self.history.append((event, at, at >= last))
        if at < last:
            return False
        if line:
            self.line_at = at
        else:
            self.seen_at = at
        self.pushes += 1
        return True


class Candidate(Client):
    namespace = "/candidate"

    def __init__(self, name: str, token: str, account_id: str, room_id: str, slot_id: str, exam_id: str) -> None:
        super().__init__(name, token)
        self.account_id, self.room_id, self.slot_id, self.exam_id = account_id, room_id, slot_id, exam_id
        self.state: str | None = None
        self.position: int | None = None
        self.n: int | None = None
        self.page: tuple = (None, None)
        self.called = 0
        self.enter_on_call = False
        self._handlers()

    def _handlers(self) -> None:
        ns = self.namespace

        @self.client.on("queue:snapshot", namespace=ns)
        async def snapshot(data):
            for entry in [e for e in data.get("entries", []) if e["room_id"] == self.room_id]:
                # the page (web/static/js/interview.js) shows a snapshot's active entry, or the
                # finished entry of the room on screen (an interview that ended while a push was lost)
                in_room = self.page[0] in ("called", "in_room")
                self._entry(entry, "snapshot", page=entry["state"] not in FINISHED or in_room)

        @self.client.on("queue:state", namespace=ns)
        async def state(data):
            if data.get("room_id") == self.room_id:
                self._entry(data, "state")

        @self.client.on("queue:line", namespace=ns)
        async def line(data):  # as the page: the position only, while in the line
            if data.get("room_id") != self.room_id or self.state not in IN_LINE:
                return
            if not self.fresh(data["at"], "line", line=True):
                return
            for index, item in enumerate(data["line"]):
                if item["n"] == self.n:
                    self.position = index + 1
                    if self.page[0] in IN_LINE:
                        self.page = (self.page[0], index + 1)

        @self.client.on("queue:called", namespace=ns)
        async def called(data):
            self.called += 1
            if self.enter_on_call:
                asyncio.ensure_future(self.call("room:enter", {"room_id": self.room_id}))

    def renew(self) -> None:
        """A new connection of the same page (it reconnects): a new client; the view and the
        freshness of its pushes are the page's, kept until the connect snapshot."""
        self.client = socketio.AsyncClient(reconnection=False)
        self._handlers()

    def _entry(self, entry: dict, event: str, page: bool = True) -> None:
        if self.fresh(entry["at"], f"{event}:{entry['state']}"):
            self.state, self.n, self.position = entry["state"], entry["n"], entry.get("position")
            if page:
                self.page = (self.state, self.position)

    def view(self) -> tuple:
        """(state, position) from every push: what the server told this socket."""
        return (self.state, self.position)

    def page_view(self) -> tuple:
        """The same as the candidate's page shows it (a finished entry in a snapshot only for the room on screen)."""
        return self.page

    async def join(self) -> dict | None:
        return await self.call(
            "queue:join", {"exam_id": self.exam_id, "slot_id": self.slot_id, "device": FIT_DEVICE}, timeout=30
        )


class Examiner(Client):
    namespace = "/examiner"

    def __init__(self, name: str, token: str, room_id: str) -> None:
        super().__init__(name, token)
        self.room_id = room_id
        self.current: tuple | None = None
        self.line: tuple = ()

        @self.client.on("queue:room", namespace=self.namespace)
        async def room(data):
            if self.fresh(data["at"], "room"):
                self.current, self.line = _room_shape(data)

    async def connect(self, url: str, auth: dict | None = None) -> None:
        await super().connect(url, {"room_id": self.room_id})

    def view(self) -> tuple:
        return (self.current, self.line)


def _room_shape(room: dict) -> tuple:
    current = room.get("current")
    return (
        (current["account_id"], current["state"]) if current else None,
        tuple((e["account_id"], e["state"]) for e in room["line"]),
    )


# what Redis says


@dataclass
class Room:
    id: str
    slot: str
    examiner: Examiner
    candidates: list[Candidate] = field(default_factory=list)


class Truth:
    """Every client's view as Redis has it now (one ``queue_view`` round trip per room)."""

    def __init__(self, services) -> None:
        self.services = services

    async def views(self, rooms: list[Room]) -> dict[str, tuple]:
        from server.queue.views import room_view

        out: dict[str, tuple] = {}
        for room in rooms:
            view = await room_view(self.services.store, room.id)
            out[room.examiner.name] = _room_shape(view.to_json())
            line = [e.account for e in view.line]
            entries = {e.account: e for e in view.line + view.recent + ([view.current] if view.current else [])}
            for c in room.candidates:
                entry = entries.get(c.account_id)
                if entry is None:
                    out[c.name] = (None, None)
                else:
                    out[c.name] = (entry.state, line.index(entry.account) + 1 if entry.state in IN_LINE else None)
        return out

    async def line(self, room: Room) -> list[str]:
        return list(await self.services.store.redis.zrange(self.services.store.keys.queue(room.id), 0, -1))

    async def entry_state(self, room: Room, account_id: str) -> str | None:
        return await self.services.store.redis.hget(self.services.store.keys.queue_entry(room.id, account_id), "state")

    async def admissions_since(self, exam_id: str, since_ms: int) -> list[str]:
        """Accounts called (``queue_called`` in the audit stream) since ``since_ms``."""
        stream = await self.services.store.redis.xrange(self.services.store.keys.audit(exam_id), min=f"{since_ms}")
        return [e.get("subject", "") for _, e in stream if e.get("event") == "queue_called"]

    async def records(self, rooms: list[Room], booked: list[Candidate]) -> set[str]:
        """Bookings, queue entries (state, arrival number, place) and sessions, as comparable strings."""
        redis, keys = self.services.store.redis, self.services.store.keys
        out: set[str] = set()
        people = [c for room in rooms for c in room.candidates] + booked
        for room in rooms:
            out |= {f"line:{room.id}:{a}" for a in await redis.zrange(keys.queue(room.id), 0, -1)}
            out |= {f"booked:{room.slot}:{a}" for a in await redis.zrange(keys.slot_booked(room.slot), 0, -1)}
        for c in people:
            bookings = await redis.hgetall(keys.bookings(c.account_id))
            out |= {f"booking:{c.account_id}:{k}:{v}" for k, v in bookings.items()}
            for key_hash in await redis.smembers(keys.account_sessions(c.account_id)):
                if await redis.exists(keys.session(key_hash)):
                    out.add(f"session:{c.account_id}:{key_hash}")
            entry = await redis.hmget(keys.queue_entry(c.room_id, c.account_id), "state", "seq", "score")
            if entry[0] is not None:
                out.add(f"entry:{c.account_id}:{':'.join(entry)}")
        return out


async def settle(
    truth: Truth, rooms: list[Room], since: float, action=None, quiet_s: float = 0.5, limit_s: float = SETTLE_LIMIT_S
) -> dict:
    """Compare every client's view with Redis every 50 ms from ``since`` (monotonic) until all are equal
    (for ``quiet_s``, and ``action`` is done) or ``limit_s``: for each client, the seconds from
    ``since`` until its view became equal for the last time (None: still wrong at the end)."""
    clients: list[Client] = [c for room in rooms for c in [room.examiner, *room.candidates] if c.client.connected]
    equal_since: dict[str, float | None] = {c.name: None for c in clients}
    while True:
        try:
            views = await truth.views(rooms)
        except Exception:  # storage still coming back
            views = None
        now = time.monotonic()  # the views are compared now (after the read): an upper bound
        if views is not None:
            for c in clients:
                if c.view() == views.get(c.name):
                    if equal_since[c.name] is None:
                        equal_since[c.name] = now
                else:
                    equal_since[c.name] = None
        done = action is None or action.done()
        if done and all(v is not None for v in equal_since.values()):
            if now - max(v for v in equal_since.values() if v is not None) >= quiet_s:
                break
        if now - since > limit_s:
            break
        await asyncio.sleep(0.05)
    times = {name: (max(0.0, v - since) if v is not None else None) for name, v in equal_since.items()}
    wrong = [
        {"client": c.name, "view": c.view(), "redis": (views or {}).get(c.name), "last": list(c.history)[-4:]}
        for c in clients
        if times[c.name] is None
    ]
    page_wrong = [
        {"client": c.name, "page": c.page_view(), "redis": (views or {}).get(c.name)}
        for c in clients
        if isinstance(c, Candidate) and c.page_view() != (views or {}).get(c.name)
    ]
    good = [t for t in times.values() if t is not None]
    return {
        "clients": len(times),
        "views_correct_p50_s": _pct(good, 0.5),
        "views_correct_max_s": round(max(good), 3) if good else None,
        "views_wrong_at_end": sum(t is None for t in times.values()),
        "views_late": sum(t is None or t > VIEWS_WITHIN_S for t in times.values()),
        "wrong": wrong[:3],  # the first few still wrong at the end: their view, Redis's, their last pushes
        # what the candidates' pages would show at the end (web/static/js/interview.js's rules)
        "pages_wrong_at_end": len(page_wrong),
        "pages_wrong": page_wrong[:3],
    }


class Probe:
    """Events sent during a fault: how long each waited for its answer, and what it was."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.unanswered = 0
        self.codes: Counter[str] = Counter()
        self.late_events: Counter[str] = Counter()
        self.tasks: list[asyncio.Task] = []

    async def _one(self, client: Client, event: str) -> None:
        started = time.monotonic()
        ack = await client.call(event)
        if ack is None:
            self.unanswered += 1
            return
        waited = time.monotonic() - started
        self.waits.append(waited)
        self.codes["ok" if ack.get("ok") else ack["error"]["code"]] += 1
        if waited > ANSWER_WITHIN_S:
            self.late_events[event] += 1

    def round(self, candidates: list[Candidate], examiner: Examiner, call_next: bool) -> None:
        for c in candidates:
            self.tasks.append(asyncio.create_task(self._one(c, "queue:state")))
        self.tasks.append(asyncio.create_task(self._one(examiner, "queue:room")))
        if call_next:
            self.tasks.append(asyncio.create_task(self._one(examiner, "queue:call_next")))

    async def run(self, candidates: list[Candidate], examiner: Examiner, seconds: float, call_next: bool) -> None:
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            self.round(candidates, examiner, call_next)
            await asyncio.sleep(0.5)

    async def figures(self) -> dict:
        await asyncio.gather(*self.tasks)
        return {
            "events": len(self.waits) + self.unanswered,
            "unanswered": self.unanswered,
            "late": sum(w > ANSWER_WITHIN_S for w in self.waits),
            "over_5s": sum(w > 5.0 for w in self.waits),
            "slowest_ms": sorted(round(1000 * w) for w in self.waits)[-5:],
            "answer_p50_ms": round(1000 * statistics.median(self.waits), 1) if self.waits else None,
            "answer_max_ms": round(1000 * max(self.waits), 1) if self.waits else None,
            "answers": dict(self.codes),
            "late_by_event": dict(self.late_events),
        }


# the processes: Redis and the servers


class OwnRedis:
    """A private redis-server with AOF on a fixed port: killed, stopped, frozen and started again."""

    def __init__(self, folder: Path) -> None:
        from server.store.embedded import EmbeddedRedis

        self.folder = folder
        self.server = EmbeddedRedis(folder, persist=True).start()
        self.port = self.server.port
        self.url = self.server.url

    def kill(self) -> None:
        assert self.server.proc is not None
        self.server.proc.kill()
        self.server.proc.wait()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        from server.store.embedded import EmbeddedRedis

        self.server = EmbeddedRedis(self.folder, port=self.port, persist=True).start()

    def freeze(self) -> None:
        assert self.server.proc is not None
        os.kill(self.server.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.server.proc is not None
        os.kill(self.server.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.server.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.server.proc.pid, signal.SIGCONT)
        self.server.stop()


def server_process(redis_url: str, prefix: str, data_dir: Path, **settings: str) -> tuple[str, subprocess.Popen]:
    """An ``interview-server run`` process whose log goes to ``data_dir/server.log``."""
    from server.store.embedded import free_port

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_server(redis_url, prefix, port, data_dir, capture=True, **settings)
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed by the copying thread

    def copy() -> None:
        with log:
            assert proc.stderr is not None
            shutil.copyfileobj(proc.stderr, log)

    threading.Thread(target=copy, daemon=True).start()
    return f"http://127.0.0.1:{port}", proc


async def seed(services, rooms: int, per_room: list[int], booked_only: int) -> dict:
    """One exam, ``rooms`` rooms with a running slot and an examiner each; ``per_room[i]`` candidates
    booked into room i with their face check passed, ``booked_only`` more booked into room 0 who
    never enter the queue; a session for everyone."""
    from server.store.audit import Actor

    admin, exam, subject = await bench_exam(services, "故障演练")
    now = time.time()
    password_hash = await services.passwords.hash(PASSWORD)
    made: dict[str, Any] = {"exam": exam.id, "rooms": [], "booked_only": []}
    total = sum(per_room) + booked_only
    enrolled = await enrolled_candidates(services, admin, exam.id, "声乐", total, password_hash)
    people = iter(enrolled)
    for r in range(rooms):
        examiner = await services.directory.create(
            "examiner", "", admin, username=f"fault-examiner-{r}-{secrets.token_hex(3)}", password_hash=password_hash
        )
        room = await services.catalog.create_room(admin, exam.id, subject.id, f"考场{r}", [examiner.id])
        count = per_room[r] + (booked_only if r == 0 else 0)
        slot = await services.catalog.create_slot(admin, exam.id, room.id, now + 30, now + 3600, count)
        listed: list[tuple[str, str]] = []
        for i in range(count):
            account, number = next(people)
            await services.bookings.book(account, exam.id, slot.id, now=now)
            if i < per_room[r]:
                await services.face_gate.record(
                    exam.id,
                    Actor(account.id, "candidate"),
                    passed=True,
                    reason="",
                    distance=0.3,
                    check={"check_id": f"check_{secrets.token_hex(6)}"},
                    kind="queue",
                    name=account.id,
                    id_number=number,
                    photo_sha256="",
                )
            token = await services.sessions.create(account.id, "candidate")
            (listed if i < per_room[r] else made["booked_only"]).append((account.id, token))
        await services.store.redis.hset(services.store.keys.slot(slot.id), "starts_at", now - 30)
        made["rooms"].append(
            {
                "room": room.id,
                "slot": slot.id,
                "examiner": await services.sessions.create(examiner.id, "examiner"),
                "people": listed,
            }
        )
    return made


async def until_ok(
    make_call, limit_s: float, every_s: float = 0.05, stop_codes: tuple = ()
) -> tuple[dict | None, float]:
    """Repeat a socket call until it is answered ok (or with one of ``stop_codes``) or ``limit_s``."""
    started = time.monotonic()
    ack = None
    while time.monotonic() - started < limit_s:
        ack = await make_call()
        if ack is not None and (ack.get("ok") or ack["error"]["code"] in stop_codes):
            break
        await asyncio.sleep(every_s)
    return ack, time.monotonic() - started


async def _wait(check, limit_s: float, every_s: float = 0.05) -> float | None:
    """Seconds until ``check()`` is true, or None after ``limit_s``."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        with contextlib.suppress(Exception):
            if await check():
                return time.monotonic() - started
        await asyncio.sleep(every_s)
    return None


async def _truth_ready(truth: Truth) -> None:
    """The bench's own client after a restart: its dead idle connections go, then it answers."""
    from server.store.redis import drop_idle, wait_until_reachable

    await drop_idle(truth.services.store.redis)
    await wait_until_reachable(truth.services.store.redis, attempts=50, delay_s=0.1)


# the faults


class Faults:
    def __init__(self, args, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.prefix = f"faults:{secrets.token_hex(4)}:"
        self.redis = OwnRedis(folder / "redis")
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}
        self.clients: list[Client] = []
        self.figures: dict[str, Any] = {}
        self.outage_ended = float("-inf")

    def log(self, text: str) -> None:
        print(text, flush=True)

    async def setup(self) -> None:
        args = self.args
        self.services = bench_services(self.redis.url, self.prefix, self.folder / "seed")
        self.truth = Truth(self.services)
        waiting = args.waiting + 2  # +1 called in (d), +1 admitted in each of (a)-(c) beyond the first
        on_a, on_b = waiting + 3, max(2, args.candidates - waiting - 3)
        self.log(f"seeding {on_a + on_b + 3} candidates on a Redis with AOF at port {self.redis.port} ...")
        made = await seed(self.services, 2, [on_a + on_b, 1], booked_only=3)
        self.exam = made["exam"]
        settings = {"queue_called_grace_s": str(args.called_grace_s), "log_level": "WARNING"}
        for name in ("A", "B"):
            self.urls[name], self.procs[name] = server_process(
                self.redis.url, self.prefix, self.folder / name, **settings
            )
        for name in ("A", "B"):
            await wait_healthy(self.urls[name], self.procs[name])
        rooms = []
        for r, spec in enumerate(made["rooms"]):
            examiner = Examiner(f"examiner{r}", spec["examiner"], spec["room"])
            room = Room(spec["room"], spec["slot"], examiner)
            for i, (account_id, token) in enumerate(spec["people"]):
                room.candidates.append(Candidate(f"r{r}c{i}", token, account_id, spec["room"], spec["slot"], self.exam))
            rooms.append(room)
        self.room, self.probe_room = rooms
        self.rooms = rooms
        self.booked = [
            Candidate(f"b{i}", t, a, self.room.id, self.room.slot, self.exam)
            for i, (a, t) in enumerate(made["booked_only"])
        ]
        # A holds the first on_a of room 0 and room 1's candidate; B the rest and both examiners
        self.on_a = self.room.candidates[:on_a] + self.probe_room.candidates
        for c in self.room.candidates + self.probe_room.candidates + self.booked:
            await c.connect(self.urls["A"] if c in self.on_a else self.urls["B"])
        for room in rooms:
            await room.examiner.connect(self.urls["B"])
        self.clients = [*self.room.candidates, *self.probe_room.candidates, *self.booked, *(r.examiner for r in rooms)]
        for c in self.room.candidates + self.probe_room.candidates:  # in order: the line's order
            ack = await c.join()
            assert ack and ack.get("ok"), ack
        self.log(
            f"{len(self.room.candidates)} candidates in the line ({on_a} on A, {on_b} on B), "
            f"{len(self.booked)} booked only; servers A {self.urls['A']}, B {self.urls['B']}"
        )
        # the examiner admits the first; the candidate enters the room
        await self.admit_and_enter(self.room)

    async def admit_and_enter(self, room: Room) -> str:
        ack, _ = await until_ok(lambda: room.examiner.call("queue:call_next"), 10)
        assert ack and ack.get("ok"), ack
        account = ack["account_id"]
        candidate = next(c for c in room.candidates if c.account_id == account)
        ack, _ = await until_ok(lambda: candidate.call("room:enter", {"room_id": room.id}), 10)
        assert ack and ack.get("ok"), ack
        return account

    async def current(self, room: Room) -> str | None:
        return await self.services.store.redis.hget(self.services.store.keys.queue_live(room.id), "account")

    async def end_current(self, room: Room) -> None:
        account = await self.current(room)
        if account:
            ack, _ = await until_ok(lambda: room.examiner.call("queue:end", {"account_id": account}), 10)
            assert ack and ack.get("ok"), ack

    def probe_clients(self) -> list[Candidate]:
        """Three candidates on each process."""
        on_b = [c for c in self.room.candidates if c not in self.on_a]
        return self.on_a[1:4] + on_b[:3]

    async def fault_kill(self) -> dict:
        """(a) SIGKILL and restart from the AOF."""
        await asyncio.sleep(1.5)  # appendfsync everysec: what was written a second ago is on disk
        before = await self.truth.records(self.rooms, self.booked)
        self.log(
            f"(a) SIGKILL redis ({len(before)} records); restarting it from its AOF {self.args.kill_down_s} s later"
        )
        self.redis.kill()
        await asyncio.sleep(self.args.kill_down_s)
        self.redis.start()
        back = time.monotonic()
        await _truth_ready(self.truth)
        after = await self.truth.records(self.rooms, self.booked)
        lost = sorted(before - after)

        async def act() -> None:  # the examiner ends the interview and calls the next (on A) at once
            ack, _ = await until_ok(lambda: self.room.examiner.call("queue:room"), 10)
            await self.end_current(self.room)
            ack, _ = await until_ok(lambda: self.room.examiner.call("queue:call_next"), 10)
            assert ack and ack.get("ok"), ack

        line_before = await self.truth.line(self.room)
        action = asyncio.create_task(act())
        views = await settle(self.truth, self.rooms, back, action)
        await action
        admitted = await self.current(self.room)
        figures = {
            "records": len(before),
            "records_lost": len(lost),
            "lost": lost[:5],
            "admitted_position": line_before.index(admitted) + 1 if admitted in line_before else None,
            **views,
        }
        self.log(f"(a) {figures}")
        # the called candidate enters; the interview ends: the room is free for (b)
        called = await self.current(self.room)
        candidate = next(c for c in self.room.candidates if c.account_id == called)
        await until_ok(lambda: candidate.call("room:enter", {"room_id": self.room.id}), 10)
        await self.end_current(self.room)
        return figures

    async def fault_outage(self, kind: str) -> dict:
        """(b) Redis stopped, or (c) frozen, for ``--outage-s`` with the room free."""
        await asyncio.sleep(1.0)
        line_before = await self.truth.line(self.room)
        since_ms = int(time.time() * 1000)
        self.log(f"({'b' if kind == 'down' else 'c'}) redis {kind} for {self.args.outage_s} s; events every 0.5 s")
        probe = Probe()
        # a round of events in flight when the fault starts (their Redis commands sent, not answered)
        for _ in range(8):  # staggered over ~5 ms: some are in their handler's Redis work when it starts
            probe.round(self.probe_clients(), self.room.examiner, call_next=False)
            await asyncio.sleep(0.0006)
        if kind == "down":
            self.redis.stop()
        else:
            self.redis.freeze()
        await asyncio.sleep(0.5)
        await probe.run(self.probe_clients(), self.room.examiner, self.args.outage_s - 0.5, call_next=True)
        if kind == "down":
            self.redis.start()
        else:
            self.redis.thaw()
        back = time.monotonic()
        self.outage_ended = back

        async def act() -> None:  # the examiner clicks call next until storage answers
            await until_ok(lambda: self.room.examiner.call("queue:call_next"), 10, stop_codes=("room_busy",))

        action = asyncio.create_task(act())
        from server.store.redis import drop_idle

        await drop_idle(self.services.store.redis)
        views = await settle(self.truth, self.rooms, back, action)
        await action
        events = await probe.figures()
        admitted = await self.truth.admissions_since(self.exam, since_ms)
        line_after = await self.truth.line(self.room)
        expected = [a for a in line_before if a not in admitted]
        figures = {
            **events,
            "admissions": len(admitted),
            "double_admissions": max(0, len(admitted) - 1),
            "order_kept": line_after == expected,
            # everyone in the line is connected throughout: the call must admit the first
            "admitted_position": [line_before.index(a) + 1 if a in line_before else None for a in admitted],
            **views,
        }
        self.log(f"({'b' if kind == 'down' else 'c'}) {figures}")
        called = await self.current(self.room)
        if called:
            candidate = next(c for c in self.room.candidates if c.account_id == called)
            await until_ok(lambda: candidate.call("room:enter", {"room_id": self.room.id}), 10)
            await self.end_current(self.room)
        return figures

    async def fault_process(self) -> dict:
        """(d) server A SIGKILLed with candidates waiting and one called on it."""
        args = self.args
        redis, keys = self.services.store.redis, self.services.store.keys
        # after an outage the sweeps mark nobody disconnected for one presence refresh period (10 s,
        # queue/liveness.py): this fault is measured on its own, once that is over
        await asyncio.sleep(max(0.0, self.outage_ended + PRESENCE_SETTLE_S - time.monotonic()))
        on_a_waiting = [c for c in self.room.candidates if c in self.on_a]
        # the examiner (on B) calls the first in line, who is on A and does not enter the room yet
        ack, _ = await until_ok(lambda: self.room.examiner.call("queue:call_next"), 10)
        assert ack and ack.get("ok"), ack
        called = ack["account_id"]
        line = await self.truth.line(self.room)
        waiting_on_a = [c for c in on_a_waiting if c.account_id in line]
        members = await redis.zrange(keys.presence(waiting_on_a[0].account_id), 0, -1)
        process_key = keys.process(members[0].split("|")[0])
        # the first two of the line and every seventh never come back; the others reconnect to B
        gone = {c.account_id for i, c in enumerate(waiting_on_a) if i < 2 or i % 7 == 6}
        returning = [c for c in waiting_on_a if c.account_id not in gone]
        await asyncio.sleep(1.0)
        self.log(
            f"(d) SIGKILL server A: {len(waiting_on_a)} waiting and 1 called on it; {len(returning)} come back on B, "
            f"{len(gone)} and the called one do not"
        )
        killed = time.monotonic()
        since_ms = int(time.time() * 1000)
        self.procs["A"].kill()
        self.procs["A"].wait(10)

        async def key_gone() -> bool:
            return not await redis.exists(process_key)

        async def stops_counting() -> bool:  # what the scripts check: the key, and its channel's subscriber
            return await key_gone() or not (await redis.pubsub_numsub(process_key))[0][1]

        window = asyncio.create_task(_wait(stops_counting, 30))
        lapse = asyncio.create_task(_wait(key_gone, 30))

        # the probe room's examiner clicks call next every 0.5 s while its only candidate (on A) is gone
        async def probe_calls() -> tuple[int, float | None]:
            absent_called, refused_at = 0, None
            while time.monotonic() - killed < args.process_ttl_s + 5:
                await asyncio.sleep(0.5)
                ack = await self.probe_room.examiner.call("queue:call_next")
                if ack and ack.get("ok"):
                    absent_called += 1
                    await self.probe_room.examiner.call(
                        "queue:remove", {"account_id": ack["account_id"], "reason": "bench"}
                    )
                    break
                if ack and ack["error"]["code"] == "nobody_ready":
                    refused_at = time.monotonic() - killed
                    break
            return absent_called, refused_at

        probing = asyncio.create_task(probe_calls())

        async def come_back(c: Candidate) -> None:
            await c.close()
            c.renew()
            await asyncio.sleep(random.uniform(1.0, 3.0))
            await c.connect(self.urls["B"])

        for c in self.on_a:
            if c not in returning:
                await c.close()
        await asyncio.gather(*(come_back(c) for c in returning))
        back = time.monotonic()
        views = await settle(self.truth, [self.room], back)

        async def released() -> bool:
            return await self.truth.entry_state(self.room, called) != "called"

        released_s = await _wait(released, args.called_grace_s + args.process_ttl_s + 15)
        released_after_kill = None if released_s is None else round(time.monotonic() - killed, 2)
        audit = await redis.xrange(keys.audit(self.exam), min=f"{since_ms}")
        away = [
            json.loads(e["data"]).get("away_s")
            for _, e in audit
            if e.get("event") == "queue_call_released" and e.get("subject") == called
        ]
        # the released one is back at their place: everyone behind moves down one, and is told
        after_release = await settle(self.truth, [self.room], time.monotonic())
        line_after = await self.truth.line(self.room)
        kept = [c.account_id for c in returning if c.account_id in line_after]
        places_kept = kept == [a for a in line if a in kept] and len(kept) == len(returning)
        # call next a few times: nobody who did not come back may be admitted
        absent_called = 0
        calls = 0
        for _ in range(3):
            ack, _ = await until_ok(lambda: self.room.examiner.call("queue:call_next"), 10)
            if not ack or not ack.get("ok"):
                break
            calls += 1
            if ack["account_id"] in gone or ack["account_id"] == called:
                absent_called += 1
                break
            candidate = next(c for c in returning if c.account_id == ack["account_id"])
            await until_ok(lambda: candidate.call("room:enter", {"room_id": self.room.id}), 10)  # noqa: B023
            await self.end_current(self.room)
        window_s = await window
        lapse_s = await lapse
        probe_absent, probe_refused_s = await probing
        figures = {
            "waiting_on_killed": len(waiting_on_a),
            "returned": len(returning),
            "places_kept": places_kept,
            "returned_not_in_line": len(returning) - len(kept),
            "dead_process_window_s": None if window_s is None else round(window_s, 3),
            "dead_process_key_lapsed_s": None if lapse_s is None else round(lapse_s, 2),
            "absent_called_in_window": probe_absent,
            "nobody_ready_after_kill_s": None if probe_refused_s is None else round(probe_refused_s, 2),
            "called_grace_s": args.called_grace_s,
            "called_released_after_kill_s": released_after_kill,
            # the grace runs from the sweep that found the candidate gone (at once: A's channel is gone)
            "called_away_s_at_release": round(away[0], 2) if away else None,
            "calls_after_release": calls,
            "absent_called": absent_called,
            **views,
            "after_release": after_release,
        }
        self.log(f"(d) {figures}")
        return figures

    async def run(self) -> dict:
        await self.setup()
        self.figures["kill"] = await self.fault_kill()
        self.figures["down"] = await self.fault_outage("down")
        self.figures["frozen"] = await self.fault_outage("frozen")
        self.figures["process"] = await self.fault_process()
        return self.figures

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.services.store.redis.aclose()

    def stop_processes(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.redis.close()


def log_errors(folder: Path) -> dict:
    """Error lines (and lines that are not JSON) in the server processes' logs."""
    out: dict[str, Any] = {"errors": 0, "not_json": 0, "by_event": Counter()}
    for log in sorted(folder.glob("*/server.log")):
        for line in log.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                out["not_json"] += 1
                continue
            if record.get("level") in ("error", "critical"):
                out["errors"] += 1
                out["by_event"][str(record.get("event"))[:80]] += 1
    return out


def summary(figures: dict, args) -> dict:
    """The figures of every fault in one flat-ish dict (the last line), with what was set."""
    return {
        **{name: figures.get(name) for name in ("kill", "down", "frozen", "process")},
        "outage_s": args.outage_s,
        "kill_down_s": args.kill_down_s,
        "candidates": args.candidates,
        "aof": "appendfsync everysec",
        "machine": machine(),
        "load": os.getloadavg()[0],
    }


def run(args) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    faults = Faults(args, folder)
    started = time.monotonic()

    async def main() -> dict:
        try:
            return await asyncio.wait_for(faults.run(), RUN_LIMIT_S)
        finally:
            await faults.close()

    try:
        figures = asyncio.run(main())
    finally:
        faults.stop_processes()
    out = summary(figures, args) | {"server_log": log_errors(folder), "took_s": round(time.monotonic() - started, 1)}
    shutil.rmtree(folder, ignore_errors=True)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candidates", type=int, default=30, help="candidates in the line (most on server A)")
    p.add_argument("--waiting", type=int, default=20, help="waiting on server A when it is killed")
    p.add_argument("--outage-s", type=float, default=20.0, help="how long Redis is down, and frozen")
    p.add_argument("--kill-down-s", type=float, default=2.0, help="Redis restarted this long after SIGKILL")
    p.add_argument("--called-grace-s", type=int, default=10, help="queue_called_grace_s of the servers")
    p.add_argument("--process-ttl-s", type=float, default=6.0, help=argparse.SUPPRESS)  # the product's default
    return p


def main() -> None:
    args = parser().parse_args()
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
