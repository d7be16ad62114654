"""Booking a slot (candidate) and cancelling one (admin, audited).

Every rule is checked inside one Lua script (``store/lua/book_slot.lua``) together
with the write, so concurrent requests from any number of processes cannot
over-book a slot or book a subject twice.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import UserError
from ..exams.catalog import Catalog
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Slot, is_id


def _when(epoch: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


@dataclass
class BookingRow:
    slot: Slot
    account_id: str
    name: str
    id_number: str
    booked_at: float


class Bookings:
    def __init__(self, store: Store, catalog: Catalog, timezone: str = "Asia/Shanghai") -> None:
        self.store = store
        self.keys = store.keys
        self.catalog = catalog
        self.timezone = timezone
        # heard after a cancellation (the queue takes the candidate out of that slot's line)
        self.on_cancelled: list[Callable[[Actor, Slot, str, str], Awaitable[None]]] = []

    async def book(self, account: Account, exam_id: str, slot_id: str, now: float | None = None) -> Slot:
        """Book or raise the reason; one round trip to Redis decides (one more to read the slot back)."""
        if not account.verified_at:
            raise UserError("not_verified")
        if not is_id(slot_id):
            raise UserError("slot_not_found", field="slot_id")
        now = time.time() if now is None else now
        k = self.keys
        args = [account.id, f"{now:.3f}", exam_id, slot_id]
        args += audit.flat_entry("slot_booked", Actor(account.id, account.role), account.id, slot_id=slot_id)
        result = await self.store.script("book_slot")(
            keys=[
                k.slot(slot_id),
                k.slot_booked(slot_id),
                k.bookings(account.id),
                k.exam(exam_id),
                k.enrolment(exam_id, account.id),
                k.roster_entry(exam_id, account.id_number),
                k.audit(exam_id),
                k.booking_cancellations(account.id),
            ],
            args=args,
        )
        if result == "ok":
            return await self.catalog.slot(exam_id, slot_id)
        params: dict[str, Any] = {}
        if result in ("booking_not_open", "booking_closed"):
            exam = await self.catalog.exam(exam_id)
            params = {
                "opens": _when(exam.booking_opens, self.timezone),
                "closes": _when(exam.booking_closes, self.timezone),
            }
        raise UserError(result, field="slot_id", **params)

    async def cancel(self, actor: Actor, exam_id: str, slot_id: str, account_id: str, reason: str) -> None:
        slot = await self.catalog.slot(exam_id, slot_id)
        if not is_id(account_id):
            raise UserError("booking_not_found", field="account_id")
        k = self.keys
        notice = {
            "slot_id": slot_id,
            "starts_at": slot.starts_at,
            "ends_at": slot.ends_at,
            "reason": reason,
            "at": round(time.time(), 3),
        }
        args = [account_id, slot.subject_id, slot_id, json.dumps(notice, ensure_ascii=False)]
        args += audit.flat_entry("booking_cancelled", actor, account_id, slot_id=slot_id, reason=reason)
        result = await self.store.script("cancel_booking")(
            keys=[
                k.bookings(account_id),
                k.slot_booked(slot_id),
                k.audit(exam_id),
                k.booking_cancellations(account_id),
            ],
            args=args,
        )
        if result != "ok":
            raise UserError(result)
        for listener in self.on_cancelled:
            await listener(actor, slot, account_id, reason)

    async def cancellations(self, account_id: str, subject_ids: list[str]) -> dict[str, dict]:
        """subject id -> the school's cancellation the candidate has not rebooked yet (what their page shows)."""
        if not subject_ids:
            return {}
        raw = await self.store.redis.hmget(self.keys.booking_cancellations(account_id), subject_ids)
        return {subject: json.loads(value) for subject, value in zip(subject_ids, raw, strict=False) if value}

    async def of_candidate(self, account_id: str) -> dict[str, str]:
        return await self.store.redis.hgetall(self.keys.bookings(account_id))

    async def rooms_of(self, account_id: str) -> list[str]:
        """The rooms of the candidate's booked slots (their waiting lines), one per booking."""
        rooms = []
        for slot_id in (await self.of_candidate(account_id)).values():
            room_id = await self.store.redis.hget(self.keys.slot(slot_id), "room_id")
            if room_id:
                rooms.append(room_id)
        return rooms

    async def list(self, exam_id: str) -> list[BookingRow]:
        rows = []
        for slot in await self.catalog.slots(exam_id):
            for account_id, booked_at in await self.store.redis.zrange(
                self.keys.slot_booked(slot.id), 0, -1, withscores=True
            ):
                name, id_number = await self.store.redis.hmget(self.keys.account(account_id), "name", "id_number")
                rows.append(BookingRow(slot, account_id, name or "", id_number or "", booked_at))
        return rows
