"""The waiting queue of each interview room, kept in Redis so that every server process sees one order.

Every change is one Lua script (``store/lua/queue_*.lua``); after it, listeners hear a
``QueueChange`` and push the new positions (the signaling layer). Nothing here knows about sockets.

Over our ~400-line guide (to be split next: presence and liveness into their own class): the
state transitions and presence are read together by the same scripts; what has a job of its own is
already apart (``entries``, ``refusals``, ``stats``, ``views``, ``sweeper``, ``liveness``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable

from ..accounts.identity import IdentityMove
from ..errors import UserError
from ..exams.catalog import Catalog
from ..exams.enrolment import Enrolments
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Slot, from_hash, is_id, new_id
from ..store.redis import RedisUnavailable
from . import liveness
from .device import DevicePolicy
from .entries import (
    ABSENT,
    ACTIVE,
    CALLED,
    DONE,
    IN_ROOM,
    REMOVED,
    REVIEW_PENDING,
    WAITING,
    WAITING_FACE_CHECK,
    QueueChange,
    QueueEntry,
)
from .refusals import NobodyReady
from .stats import QueueStats

log = logging.getLogger("server.queue")
Listener = Callable[[QueueChange], Awaitable[None]]


class WaitingQueue:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        enrolments: Enrolments,
        device_policy: DevicePolicy,
        early_entry_s: float,
        grace_s: float,
        face_pass_valid_s: float,
        timezone: str = "Asia/Shanghai",
        *,
        process_id: str = "",
        process_ttl_s: float = 6.0,
        called_grace_s: float = 60.0,
        presence_ttl_s: float = 30.0,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.catalog = catalog
        self.enrolments = enrolments
        self.device_policy = device_policy
        self.early_entry_s = early_entry_s
        self.grace_s = grace_s
        self.face_pass_valid_s = face_pass_valid_s
        self.timezone = timezone  # times in call-next's refusals
        # presence members are "<process_id>|<sid>": they count while process:{process_id} lives
        self.process_id = process_id or new_id("proc")
        self.process_ttl_s = process_ttl_s
        self.called_grace_s = called_grace_s
        self.presence_ttl_s = presence_ttl_s
        # after an outage the sweeps hold back for one presence refresh period (the heartbeat's)
        self.redis_watch = liveness.RedisWatch(presence_ttl_s / 3)
        self.held: dict[str, set[str]] = {}  # the sockets this process holds (touched, not yet dropped)
        # subscribed while the process lives: the scripts see a killed process's sockets go at once
        self.channel = liveness.ProcessChannel(store.redis, self.keys.process(self.process_id))
        self.listeners: list[Listener] = []
        self.stats = QueueStats()

    async def _notify(self, change: QueueChange) -> None:
        self.stats.changes[change.event] = self.stats.changes.get(change.event, 0) + 1
        for listener in list(self.listeners):
            try:
                await listener(change)
            except Exception:  # a listener's failure must not undo or hide the change itself
                log.exception("queue listener failed", extra={"room": change.room, "event": change.event})

    def _entry_prefix(self, room_id: str) -> str:
        return self.keys.queue_entry(room_id, "")

    # reading
    async def entry(self, room_id: str, account_id: str) -> QueueEntry | None:
        if not (is_id(room_id) and is_id(account_id)):
            return None
        data = await self.store.redis.hgetall(self.keys.queue_entry(room_id, account_id))
        return from_hash(QueueEntry, data) if data else None

    async def entries_of(self, account_id: str) -> list[QueueEntry]:
        """The candidate's entries in every room, newest slot first."""
        rooms = await self.store.redis.smembers(self.keys.queued(account_id))
        found = [await self.entry(room_id, account_id) for room_id in rooms]
        return sorted((e for e in found if e), key=lambda e: -e.slot_start)

    async def line_figures(self, max_rooms: int = 500, max_line: int = 100, now: float | None = None) -> list[dict]:
        """For the metrics, every room with a queue (at most ``max_rooms``): its exam, how many are
        in its line, and the longest current wait among the first ``max_line`` of the line. Three
        round trips (the active rooms, then two pipelines), whatever the number of keys."""
        now = time.time() if now is None else now
        k = self.keys
        rooms = sorted(await self.store.redis.smembers(k.active_queues()))[:max_rooms]
        if not rooms:
            return []
        pipe = self.store.pipeline(transaction=False)
        for room_id in rooms:
            pipe.hget(k.room(room_id), "exam_id")
            pipe.zcard(k.queue(room_id))
            pipe.zrange(k.queue(room_id), 0, max_line - 1)
        found = await pipe.execute()
        lines = [
            (room_id, found[i * 3] or "", int(found[i * 3 + 1] or 0), found[i * 3 + 2])
            for i, room_id in enumerate(rooms)
        ]
        pipe = self.store.pipeline(transaction=False)
        for room_id, _, _, accounts in lines:
            for account_id in accounts:
                pipe.hget(k.queue_entry(room_id, account_id), "joined_at")
        joined = iter(await pipe.execute())
        figures = []
        for room_id, exam_id, waiting, accounts in lines:
            times = [float(t) for t in (next(joined) for _ in accounts) if t]
            figures.append(
                {
                    "room": room_id,
                    "exam": exam_id,
                    "waiting": waiting,
                    "longest_wait_s": max((now - t for t in times), default=0.0),
                }
            )
        return figures

    # the candidate
    async def join(
        self, account: Account, exam_id: str, slot_id: str, device: dict, now: float | None = None
    ) -> QueueEntry:
        """Enter the queue of the booked slot's room: inside the slot (plus the early margin), with a fit device."""
        now = time.time() if now is None else now
        candidate = await self.enrolments.exam_for(account, exam_id)
        slot = await self.catalog.find_slot(slot_id)
        if slot is None or slot.exam_id != exam_id or candidate.bookings.get(slot.subject_id) != slot_id:
            raise UserError("queue_not_booked", field="slot_id")
        if now < slot.starts_at - self.early_entry_s:
            minutes = math.ceil((slot.starts_at - self.early_entry_s - now) / 60)
            raise UserError("queue_too_early", field="slot_id", minutes=minutes, early=round(self.early_entry_s / 60))
        if now >= slot.ends_at:
            raise UserError("queue_slot_over", field="slot_id")
        self.device_policy.check(device)
        k = self.keys
        actor = Actor(account.id, account.role)
        result = await self.store.script("queue_join")(
            keys=[
                k.queue_entry(slot.room_id, account.id),
                k.queue(slot.room_id),
                k.queue_all(slot.room_id),
                k.arrivals(slot.id),
                k.audit(exam_id),
                k.active_queues(),
                k.face_state(exam_id, account.id),
                k.queued(account.id),
            ],
            args=[
                f"{now:.3f}",
                slot.room_id,
                slot.id,
                exam_id,
                account.id,
                candidate.entry.name,
                f"{slot.starts_at}",
                f"{slot.ends_at}",
                json.dumps(device, ensure_ascii=False),
                self.face_pass_valid_s,
                *audit.base_fields(actor, account.id),
            ],
        )
        if result[0] == "err":
            raise UserError(result[1], field="slot_id")
        await self._notify(QueueChange(slot.room_id, exam_id, f"queue_{result[2]}", account.id))
        return await self.entry(slot.room_id, account.id)  # type: ignore[return-value]

    async def enter_room(self, account: Account, room_id: str) -> QueueEntry:
        """The called candidate has joined the room; the one now at the head hears "you are next"."""
        entry = await self.entry(room_id, account.id)
        if entry is None or entry.state not in (CALLED, IN_ROOM):
            raise UserError("room_not_admitted", field="room_id")
        if entry.state == IN_ROOM:
            return entry
        remind = await self._move(
            Actor(account.id, account.role), entry, (CALLED,), IN_ROOM, "keep", "enter", event="queue_in_room"
        )
        await self._notify(QueueChange(room_id, entry.exam, "queue_in_room", account.id, remind))
        return await self._own_entry(account.id, room_id)

    async def _own_entry(self, account_id: str, room_id: str) -> QueueEntry:
        entry = await self.entry(room_id, account_id)
        if entry is None:
            raise UserError("not_in_queue", field="room_id")
        return entry

    # face check results (recorded by the face gate; here they move the entry)
    async def face_result(self, exam_id: str, account_id: str, outcome: str, kind: str) -> None:
        """``outcome``: passed | failed | locked. A queue pass lets the candidate be called; three strikes
        send them to a proctor's review; a failed room check sends them back to the face check."""
        self.stats.face_results[(kind, outcome)] = self.stats.face_results.get((kind, outcome), 0) + 1
        for entry in await self.entries_of(account_id):
            if entry.exam != exam_id:
                continue
            actor = Actor(account_id, "candidate")
            moved: str | None = ""
            if outcome == "locked" and entry.state in ACTIVE:
                moved = await self._try_move(
                    actor,
                    entry,
                    ACTIVE,
                    REVIEW_PENDING,
                    "remove",
                    "release",
                    reason="face_check_locked",
                    event="queue_face_locked",
                )
            elif outcome == "passed" and entry.state == WAITING_FACE_CHECK:
                moved = await self._try_move(
                    actor, entry, (WAITING_FACE_CHECK,), WAITING, "keep", "keep", event="queue_face_cleared"
                )
            elif outcome == "failed" and kind == "room" and entry.state in (CALLED, IN_ROOM):
                moved = await self._try_move(
                    actor,
                    entry,
                    (CALLED, IN_ROOM),
                    WAITING_FACE_CHECK,
                    "add",
                    "release",
                    reason="face_room_failed",
                    event="queue_face_room_failed",
                )
            if moved is not None:
                await self._notify(QueueChange(entry.room, exam_id, f"face_{outcome}", account_id, moved or ""))

    async def review_resolved(
        self, actor: Actor, exam_id: str, account_id: str, approved: bool, now: float | None = None
    ) -> None:
        """Approval puts the candidate back at their own place if the slot is still open."""
        now = time.time() if now is None else now
        for entry in await self.entries_of(account_id):
            if entry.exam != exam_id or entry.state != REVIEW_PENDING:
                continue
            if approved and now < entry.slot_end:
                await self._try_move(actor, entry, (REVIEW_PENDING,), WAITING, "add", "keep", event="queue_restored")
            elif approved:
                await self._try_move(
                    actor, entry, (REVIEW_PENDING,), ABSENT, "keep", "keep", reason="slot_over", event="queue_absent"
                )
            else:
                await self._try_move(
                    actor,
                    entry,
                    (REVIEW_PENDING,),
                    REMOVED,
                    "keep",
                    "keep",
                    reason="face_review_rejected",
                    event="queue_removed",
                )
            await self._notify(QueueChange(entry.room, exam_id, "review_resolved", account_id))

    # the examiners
    async def call_next(self, examiner: Actor, room_id: str, now: float | None = None) -> QueueEntry:
        """Admit the first callable candidate of the line. A refusal says why: ``queue_empty``,
        ``room_busy``, or ``nobody_ready`` with ``why`` (face_check_pending | disconnected |
        slot_not_started | state, or ``mixed``) and ``blocked`` (who, and why, in line order)."""
        now = time.time() if now is None else now
        exam_id = await self.store.redis.hget(self.keys.room(room_id), "exam_id") or ""
        admission = new_id("adm")
        k = self.keys
        result = await self.store.script("queue_call")(
            keys=[k.queue(room_id), k.queue_live(room_id), k.audit(exam_id)],
            args=[
                f"{now:.3f}",
                self._entry_prefix(room_id),
                k.presence(""),
                admission,
                examiner.account_id,
                # right after an outage every process's liveness key may have lapsed with it: presence
                # then counts by its own expiry, or the first call would skip the head of the line
                "" if self.redis_watch.holding() else k.process(""),
                *audit.base_fields(examiner, ""),
            ],
        )
        if result[0] == "err" and result[1] == "nobody_ready":
            blocked = [
                {
                    "account_id": b.get("account", ""),
                    "name": b.get("name") or "",
                    "why": b.get("why", ""),
                    "state": b.get("state") or "",
                    "slot_start": float(b.get("slot_start") or 0),
                }
                for b in (json.loads(result[3]) if len(result) > 3 else [])
            ]
            reasons = list(dict.fromkeys(b["why"] for b in blocked))
            raise NobodyReady(blocked, reasons[0] if len(reasons) == 1 else "mixed", result[2], self.timezone, now)
        if result[0] == "err":
            raise UserError(result[1], waiting="")
        account_id = result[1]
        await self._notify(QueueChange(room_id, exam_id, "queue_called", account_id))
        entry = await self.entry(room_id, account_id)
        if entry is not None and entry.called_at and entry.joined_at:
            self.stats.call_waits.observe(exam_id, max(0.0, entry.called_at - entry.joined_at))
        return entry  # type: ignore[return-value]

    async def finish(self, examiner: Actor, room_id: str, account_id: str) -> QueueEntry:
        """End the interview: the candidate is done and leaves the room."""
        entry = await self._own_entry(account_id, room_id)
        await self._move(examiner, entry, (IN_ROOM,), DONE, "keep", "release", stats=True, event="queue_done")
        await self._notify(QueueChange(room_id, entry.exam, "queue_done", account_id))
        return await self._own_entry(account_id, room_id)

    async def remove(self, examiner: Actor, room_id: str, account_id: str, reason: str) -> QueueEntry:
        """Out of the line or the room with a reason; the candidate may enter again within the slot."""
        entry = await self._own_entry(account_id, room_id)
        await self._move(examiner, entry, ACTIVE, REMOVED, "remove", "release", reason=reason, event="queue_removed")
        await self._notify(QueueChange(room_id, entry.exam, "queue_removed", account_id))
        return await self._own_entry(account_id, room_id)

    async def booking_cancelled(self, actor: Actor, slot: Slot, account_id: str, reason: str) -> None:
        """The school cancelled the booking: the candidate leaves that slot's line (or its room), told why."""
        entry = await self.entry(slot.room_id, account_id)
        if entry is None or entry.slot != slot.id or entry.state not in ACTIVE:
            return
        if (
            await self._try_move(
                actor,
                entry,
                ACTIVE,
                REMOVED,
                "remove",
                "release",
                reason="booking_cancelled",
                event="queue_removed",
                note=reason,
            )
            is not None
        ):
            await self._notify(QueueChange(slot.room_id, entry.exam, "queue_removed", account_id))

    async def identity_moved(self, move: IdentityMove) -> None:
        """An appeal moved the ID number away: the former holder leaves every line (or room) they stand in."""
        for room_id in sorted(await self.store.redis.smembers(self.keys.queued(move.from_account))):
            entry = await self.entry(room_id, move.from_account)
            if entry is None or entry.state not in ACTIVE:
                continue
            moved = await self._try_move(
                move.actor, entry, ACTIVE, REMOVED, "remove", "release", reason="identity_moved", event="queue_removed"
            )
            if moved is not None:
                await self._notify(QueueChange(room_id, entry.exam, "queue_removed", move.from_account))

    async def _move(
        self,
        actor: Actor,
        entry: QueueEntry,
        from_states: tuple[str, ...],
        to: str,
        line: str,
        room: str,
        *,
        reason: str = "",
        event: str,
        stats: bool = False,
        **data,
    ) -> str:
        """Run queue_move.lua; returns the account to remind ("" for nobody), raises on a wrong state."""
        k = self.keys
        result = await self.store.script("queue_move")(
            keys=[
                k.queue_entry(entry.room, entry.account),
                k.queue(entry.room),
                k.queue_live(entry.room),
                k.audit(entry.exam),
                k.queue_stats(entry.room),
            ],
            args=[
                f"{time.time():.3f}",
                entry.account,
                ",".join(from_states),
                to,
                line,
                room,
                reason,
                event,
                json.dumps({"room": entry.room, **data}, ensure_ascii=False),
                "1" if stats else "0",
                self._entry_prefix(entry.room),
                *audit.base_fields(actor, entry.account),
            ],
        )
        if result[0] == "err":
            raise UserError(result[1], state_code=f"queue_state_{result[2]}")
        return result[2]

    async def _try_move(self, *args, **kwargs) -> str | None:
        """Like ``_move`` but a state changed meanwhile (another process won) is not an error."""
        try:
            return await self._move(*args, **kwargs)
        except UserError:
            return None

    # presence (socket ids of the candidate, refreshed by the process that holds the socket)
    def _member(self, sid: str) -> str:
        return f"{self.process_id}|{sid}"

    def _alive(self, pipe) -> None:
        pipe.set(self.keys.process(self.process_id), f"{time.time():.3f}", px=int(self.process_ttl_s * 1000))

    async def touch(self, sids_by_account: dict[str, list[str]], ttl_s: float) -> None:
        """Refresh the candidates' live sockets (and this process's liveness key), in one round trip."""
        await self._touch(sids_by_account, ttl_s)
        for account_id, sids in sids_by_account.items():  # after: a connection refused meanwhile is not held
            self.held.setdefault(account_id, set()).update(sids)

    async def _touch(self, sids_by_account: dict[str, list[str]] | dict[str, set[str]], ttl_s: float) -> None:
        await self.watched(self.channel.ensure())  # before the key: the key alone does not make a socket count
        expires = time.time() + ttl_s
        pipe = self.store.pipeline(transaction=False)
        self._alive(pipe)
        for account_id, sids in sids_by_account.items():
            if sids:
                pipe.zadd(self.keys.presence(account_id), {self._member(sid): expires for sid in sids})
        await self.watched(pipe.execute())

    async def beat(self) -> None:
        """One liveness beat (``liveness.run``): the process key, and whether Redis still counts this
        process's channel subscription (made again if not: Redis restarted, or its connection broke);
        after an outage, or if the key had lapsed, also the presence of every socket held, so that
        they count again at once."""
        await self.watched(self.channel.ensure())
        pipe = self.store.pipeline(transaction=False)
        pipe.set(self.keys.process(self.process_id), f"{time.time():.3f}", px=int(self.process_ttl_s * 1000), get=True)
        pipe.pubsub_numsub(self.channel.name)
        previous, subscribers = await self.watched(pipe.execute())
        if not subscribers or not subscribers[0][1]:
            log.warning("process channel subscription lost; subscribing again", extra={"process_id": self.process_id})
            await self.channel.drop()
            await self.watched(self.channel.ensure())
        if previous is None or self.redis_watch.repair:
            await self._touch({a: set(sids) for a, sids in self.held.items()}, self.presence_ttl_s)
            self.redis_watch.repair = False

    def keep_alive(self):
        """The process's liveness loop (``liveness.run``), started with the socket tasks."""
        return liveness.run(self)

    async def watched(self, call):
        """Await a Redis call, telling the watch whether Redis answered."""
        try:
            result = await call
        except RedisUnavailable:
            self.redis_watch.failed()
            raise
        self.redis_watch.succeeded()
        return result

    async def drop(self, account_id: str, sid: str) -> None:
        held = self.held.get(account_id)
        if held is not None:
            held.discard(sid)
            if not held:
                del self.held[account_id]
        await self.store.redis.zrem(self.keys.presence(account_id), self._member(sid))
        for entry in await self.entries_of(account_id):
            if entry.state in ACTIVE:
                await self.sweep(entry.room)

    async def sweep(self, room_id: str, now: float | None = None) -> list[str]:
        """Presence and grace rules of one room (idempotent: every process may run it). Right after
        Redis was unreachable (``redis_watch``) nobody is marked disconnected; returns restore."""
        now = time.time() if now is None else now
        hold = self.redis_watch.holding()
        exam_id = await self.watched(self.store.redis.hget(self.keys.room(room_id), "exam_id")) or ""
        k = self.keys
        changed, released = await self.store.script("queue_sweep")(
            keys=[k.queue(room_id), k.queue_live(room_id), k.audit(exam_id), k.active_queues()],
            args=[
                f"{now:.3f}",
                self._entry_prefix(room_id),
                k.presence(""),
                self.grace_s,
                room_id,
                k.process(""),
                self.called_grace_s,
                "1" if hold else "0",
                *audit.base_fields(Actor.system(), ""),
            ],
        )
        for account_id in released:  # the examiner's view says why the room is free again
            await self._notify(QueueChange(room_id, exam_id, "queue_call_released", account_id))
        if changed:
            await self._notify(QueueChange(room_id, exam_id, "presence"))
        return changed

    async def close_slot(self, slot: Slot, now: float | None = None) -> list[str]:
        """After the slot: booked candidates who never entered are absent (once, by whichever process)."""
        now = time.time() if now is None else now
        k = self.keys
        marked = await self.store.script("queue_close_slot")(
            keys=[k.slot_booked(slot.id), k.slot_closed(slot.id), k.audit(slot.exam_id), k.queue_all(slot.room_id)],
            args=[
                f"{now:.3f}",
                self._entry_prefix(slot.room_id),
                slot.room_id,
                slot.id,
                slot.exam_id,
                f"{slot.starts_at}",
                f"{slot.ends_at}",
                k.queued(""),
                *audit.base_fields(Actor.system(), ""),
            ],
        )
        if marked:
            await self._notify(QueueChange(slot.room_id, slot.exam_id, "no_show"))
        return marked or []
