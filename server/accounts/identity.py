"""Identity verification: name + ID number against the school's roster, one ID number per account.

Every attempt is counted before it is evaluated, per account, per client address and per ID
number, so the roster cannot be walked. A name/ID pair that does not match the roster gets one
answer whatever is wrong (not on the roster, or another name): no oracle. Only someone who
already holds the right name *and* ID number learns that another account verified it first
(身份证认证冲突); they may then file an appeal that carries evidence (their live face check
against the roster photo, ``appeal_evidence``), and a proctor decides it. Approval moves the ID
number with everything bound to it (enrolments, bookings, the school's cancellations) to the
appellant; listeners withdraw the former holder from any queue and end their sessions.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import WatchError

from ..errors import UserError, not_found
from ..roster import idcard
from ..roster.book import RosterBook, same_name
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.limits import Counter, take
from ..store.models import Account, Appeal, RosterEntry, from_hash, is_id, to_hash


@dataclass(frozen=True)
class IdentityLimits:
    """Attempts per window (``window_s``): per account, per client address, per ID number."""

    per_account: int = 10
    per_address: int = 30
    per_id_number: int = 10
    window_s: int = 3600
    appeals_per_id_number: int = 3  # open appeals on one ID number at once


@dataclass(frozen=True)
class IdentityMove:
    """What an approved appeal moved from the former holder to the appellant."""

    actor: Actor
    id_number: str
    from_account: str
    to_account: str
    slots: dict[str, str]  # subject id -> slot id, the bookings that moved


IdentityListener = Callable[[IdentityMove], Awaitable[None]]


class Identity:
    def __init__(
        self,
        store: Store,
        roster: RosterBook,
        limits: IdentityLimits | None = None,
        on_moved: list[IdentityListener] | None = None,
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.roster = roster
        self.limits = limits or IdentityLimits()
        self.on_moved: list[IdentityListener] = on_moved if on_moved is not None else []

    async def _take_attempt(self, account: Account, address: str, number: str) -> None:
        k, lim = self.keys, self.limits
        counters = [
            Counter(k.rate_limit("identity-account", account.id), lim.per_account, lim.window_s),
            Counter(k.rate_limit("identity-idnum", number), lim.per_id_number, lim.window_s),
        ]
        if address:  # the HTTP edge always passes it; tools and the demo verify in-process
            counters.append(Counter(k.rate_limit("identity-address", address), lim.per_address, lim.window_s))
        wait = await take(self.store, counters)
        if wait:
            raise UserError("identity_locked", minutes=max(1, math.ceil(wait / 60)))

    async def _match(self, account: Account, name: str, id_number: str, address: str) -> tuple[str, RosterEntry]:
        """The roster entry for this name and ID number, or the one answer for every mismatch."""
        if account.role != "candidate":  # a staff account is never a candidate (server/exams/staff.py)
            raise UserError("identity_staff")
        if account.verified_at:
            raise UserError("already_verified")
        if not account.contact_verified_at:  # a stand-in's throwaway account cannot claim an identity
            raise UserError("contact_unverified")
        number = idcard.validate(id_number)  # format and checksum: public arithmetic, no oracle
        await self._take_attempt(account, address, number)
        entries = await self.roster.entries_for(number)
        match = next((e for e in entries if same_name(e.name, name)), None)
        if match is None:
            raise UserError("identity_mismatch", field="id_number")
        return number, match

    async def verify(self, account: Account, name: str, id_number: str, address: str = "") -> Account:
        number, entry = await self._match(account, name, id_number, address)
        exams = sorted(await self.store.redis.smembers(self.keys.rostered(number)))
        actor = Actor(account.id, account.role)
        now = time.time()
        argv = [number, account.id, entry.name, f"{now:.3f}"]
        argv += audit.flat_entry("identity_verified", actor, account.id, id_number=number, exams=exams)
        result = await self.store.script("verify_identity")(
            keys=[
                self.keys.id_claim(number),
                self.keys.account(account.id),
                self.keys.login("idnum", number),
                self.keys.audit(None),
            ],
            args=argv,
        )
        if result == "already":
            raise UserError("already_verified")
        if result == "gone":
            raise not_found("account")
        if result == "staff":
            raise UserError("identity_staff")
        if result.startswith("claimed:"):
            raise UserError("id_claimed", field="id_number")
        await self.store.redis.zrem(self.keys.unverified_accounts(), account.id)
        account.id_number, account.name, account.verified_at = number, entry.name, now
        return account

    async def appeal_target(self, account: Account, name: str, id_number: str, address: str = "") -> RosterEntry:
        """The roster entry an appeal would be about: the pair matches and another account holds it.
        Counted as an attempt, like a verification."""
        number, entry = await self._match(account, name, id_number, address)
        holder = await self.store.redis.get(self.keys.id_claim(number))
        if not holder or holder == account.id:
            raise UserError("appeal_not_needed", field="id_number")
        return entry

    @staticmethod
    def appeal_id(account_id: str, number: str) -> str:
        return "appeal_" + hashlib.sha256(f"{account_id}:{number}".encode()).hexdigest()[:12]

    async def open_appeal(self, account: Account, entry: RosterEntry, evidence: dict) -> Appeal:
        """File the appeal with its evidence (the appellant's face check against the roster photo).
        One open appeal per account and ID number; a few per ID number at once."""
        number, k = entry.id_number, self.keys
        holder = await self.store.redis.get(k.id_claim(number))
        if not holder or holder == account.id:
            raise UserError("appeal_not_needed", field="id_number")
        appeal_id = self.appeal_id(account.id, number)
        appeal = Appeal(
            id=appeal_id,
            account_id=account.id,
            id_number=number,
            name=entry.name,
            claimed_by=holder,
            created_at=time.time(),
            evidence=evidence,
        )
        async with self.store.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(k.appeal(appeal_id), k.open_appeals_of(number))
                existing = await pipe.hget(k.appeal(appeal_id), "status")
                if existing == "open":
                    raise UserError("appeal_open")
                if await pipe.scard(k.open_appeals_of(number)) >= self.limits.appeals_per_id_number:
                    raise UserError("appeal_limit")
                pipe.multi()
                pipe.delete(k.appeal(appeal_id))
                pipe.hset(k.appeal(appeal_id), mapping=to_hash(appeal))
                pipe.zadd(k.open_appeals(), {appeal_id: appeal.created_at})
                pipe.sadd(k.open_appeals_of(number), appeal_id)
                pipe.zadd(k.appeals_of(account.id), {appeal_id: appeal.created_at})
                audit.add(
                    pipe,
                    k,
                    None,
                    "identity_appeal_opened",
                    Actor(account.id, account.role),
                    account.id,
                    appeal_id=appeal_id,
                    id_number=number,
                    claimed_by=holder,
                    evidence_passed=bool(evidence.get("passed")),
                )
                await pipe.execute()
            except WatchError:
                raise UserError("appeal_open") from None
        return appeal

    async def appeal_of(self, account: Account) -> Appeal | None:
        """The account's latest appeal, for its page (open, or decided)."""
        ids = await self.store.redis.zrevrange(self.keys.appeals_of(account.id), 0, 0)
        data = await self.store.redis.hgetall(self.keys.appeal(ids[0])) if ids else {}
        return from_hash(Appeal, data) if data else None

    async def open_appeals(self) -> list[Appeal]:
        ids = await self.store.redis.zrange(self.keys.open_appeals(), 0, -1)
        pipe = self.store.pipeline(transaction=False)
        for appeal_id in ids:
            pipe.hgetall(self.keys.appeal(appeal_id))
        return [from_hash(Appeal, d) for d in await pipe.execute() if d]

    async def appeal(self, appeal_id: str) -> Appeal:
        data = await self.store.redis.hgetall(self.keys.appeal(appeal_id)) if is_id(appeal_id) else {}
        if not data:
            raise not_found("appeal")
        return from_hash(Appeal, data)

    async def resolve_appeal(self, actor: Actor, appeal_id: str, approve: bool, comment: str) -> Appeal:
        """Decide once (two proctors racing: the second is told it was handled). Approval moves the
        ID number, enrolments, bookings and cancellations from the holder to the appellant."""
        await self.appeal(appeal_id)  # 404 before anything else
        for _ in range(5):
            async with self.store.redis.pipeline(transaction=True) as pipe:
                try:
                    move = await self._decide(pipe, actor, appeal_id, approve, comment)
                except WatchError:
                    continue
            appeal = await self.appeal(appeal_id)
            if move is not None:
                for listener in self.on_moved:
                    await listener(move)
            return appeal
        raise UserError("appeal_busy")  # five races lost in a row: the proctor tries again

    async def _decide(self, pipe, actor: Actor, appeal_id: str, approve: bool, comment: str) -> IdentityMove | None:
        k = self.keys
        await pipe.watch(k.appeal(appeal_id))
        appeal = from_hash(Appeal, await pipe.hgetall(k.appeal(appeal_id)))
        if appeal.status != "open":
            raise UserError("appeal_resolved")
        number, to = appeal.id_number, appeal.account_id
        await pipe.watch(k.id_claim(number), k.account(to))
        holder = await pipe.get(k.id_claim(number)) or ""
        appellant = await pipe.hgetall(k.account(to))
        if approve and appellant.get("id_number") not in ("", None, number):
            raise UserError("appeal_holder_verified")  # the appellant verified another ID meanwhile
        now = time.time()
        slots: dict[str, str] = {}
        moves: list[tuple[str, str]] = []  # (from key, to key) renamed whole
        enrolments: list[str] = []  # moved enrolment hashes: their account_id field names the appellant
        booked: list[tuple[str, float]] = []  # slot_booked keys with the holder's score
        if approve and holder and holder != to:
            exams = sorted(await pipe.smembers(k.rostered(number)))
            watched = [k.bookings(holder), k.booking_cancellations(holder), k.bookings(to)]
            watched += [k.enrolment(e, holder) for e in exams] + [k.enrolment(e, to) for e in exams]
            await pipe.watch(*watched)
            for exam_id in exams:
                if await pipe.exists(k.enrolment(exam_id, holder)) and not await pipe.exists(k.enrolment(exam_id, to)):
                    moves.append((k.enrolment(exam_id, holder), k.enrolment(exam_id, to)))
                    enrolments.append(k.enrolment(exam_id, to))
            slots = await pipe.hgetall(k.bookings(holder))
            if await pipe.exists(k.bookings(to)):
                raise UserError("appeal_holder_verified")
            for slot_id in slots.values():
                await pipe.watch(k.slot_booked(slot_id))
                score = await pipe.zscore(k.slot_booked(slot_id), holder)
                if score is not None:
                    booked.append((k.slot_booked(slot_id), score))
            if slots:
                moves.append((k.bookings(holder), k.bookings(to)))
            if await pipe.exists(k.booking_cancellations(holder)):
                moves.append((k.booking_cancellations(holder), k.booking_cancellations(to)))
        appeal.status = "approved" if approve else "rejected"
        appeal.resolved_by, appeal.resolved_at, appeal.comment = actor.account_id, now, comment
        pipe.multi()
        pipe.hset(k.appeal(appeal_id), mapping=to_hash(appeal))
        pipe.zrem(k.open_appeals(), appeal_id)
        pipe.srem(k.open_appeals_of(number), appeal_id)
        if approve:
            if holder and holder != to:
                pipe.hset(k.account(holder), mapping={"id_number": "", "verified_at": "0"})
                pipe.zadd(k.unverified_accounts(), {holder: now})  # unverified again: it may expire
            pipe.zrem(k.unverified_accounts(), to)
            pipe.set(k.id_claim(number), to)
            pipe.set(k.login("idnum", number), to)
            pipe.hset(k.account(to), mapping={"id_number": number, "name": appeal.name, "verified_at": f"{now:.3f}"})
            for source, target in moves:
                pipe.rename(source, target)
            for key in enrolments:
                pipe.hset(key, "account_id", to)
            for key, score in booked:
                pipe.zrem(key, holder)
                pipe.zadd(key, {to: score})
        audit.add(
            pipe,
            k,
            None,
            "identity_appeal_" + appeal.status,
            actor,
            to,
            appeal_id=appeal_id,
            id_number=number,
            previous_holder=holder,
            moved_bookings=sorted(slots.values()),
            comment=comment,
        )
        await pipe.execute()
        if approve and holder and holder != to:
            return IdentityMove(actor, number, holder, to, slots)
        return None
