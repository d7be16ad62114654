"""Creating and reading exams, subjects, rooms and slots (the admin's side)."""

from __future__ import annotations

import time

from redis.exceptions import WatchError

from ..errors import UserError, not_found
from ..recorded import rules as recorded_rules
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Exam, Room, Slot, Subject, from_hash, is_id, new_id, to_hash
from .staff import ExamStaff


class Catalog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis

    # exams
    async def create_exam(
        self,
        actor: Actor,
        school: str,
        name: str,
        booking_opens: float,
        booking_closes: float,
        notice: str = "",
        pledge: str = "",
        subjects: list[dict] | None = None,
        late_booking_min: int = 0,
    ) -> Exam:
        if booking_closes <= booking_opens:
            raise UserError("window_times", field="booking_closes")
        exam = Exam(
            id=new_id("exam"),
            school=school,
            name=name,
            booking_opens=booking_opens,
            booking_closes=booking_closes,
            notice=notice,
            pledge=pledge,
            created_at=time.time(),
            late_booking_min=max(0, int(late_booking_min)),
        )
        new_subjects = [
            self._new_subject(exam.id, s["name"], **{k: v for k, v in s.items() if k != "name"}) for s in subjects or []
        ]
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.exam(exam.id), mapping=to_hash(exam))
            pipe.sadd(self.keys.exams(), exam.id)
            audit.add(pipe, self.keys, exam.id, "exam_created", actor, name=name, school=school)
            for index, subject in enumerate(new_subjects):
                self._queue_subject(pipe, subject, actor, index)
            await pipe.execute()
        return exam

    async def update_exam(self, actor: Actor, exam_id: str, **changes) -> Exam:
        exam = await self.exam(exam_id)
        if not changes:
            return exam
        for key, value in changes.items():
            setattr(exam, key, value)
        if exam.booking_closes <= exam.booking_opens:
            raise UserError("window_times", field="booking_closes")
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.exam(exam.id), mapping=to_hash(exam))
            audit.add(pipe, self.keys, exam.id, "exam_updated", actor, **changes)
            await pipe.execute()
        return exam

    async def find_exam(self, exam_id: str) -> Exam | None:
        if not is_id(exam_id):
            return None
        data = await self.redis.hgetall(self.keys.exam(exam_id))
        return from_hash(Exam, data) if data else None

    async def exam(self, exam_id: str) -> Exam:
        exam = await self.find_exam(exam_id)
        if exam is None:
            raise not_found("exam")
        return exam

    async def exams(self) -> list[Exam]:
        ids = sorted(await self.redis.smembers(self.keys.exams()))
        found = [await self.find_exam(i) for i in ids]
        return sorted((e for e in found if e), key=lambda e: e.created_at)

    # subjects
    @staticmethod
    def _new_subject(exam_id: str, name: str, interview_minutes: int = 10, **rules) -> Subject:
        """A new subject; a recorded one's rules checked (server/recorded/rules.py)."""
        subject = Subject(id=new_id("subj"), exam_id=exam_id, name=name)
        return recorded_rules.apply(subject, interview_minutes=interview_minutes, **rules)

    def _queue_subject(self, pipe, subject: Subject, actor: Actor, order: int) -> None:
        pipe.hset(self.keys.subject(subject.id), mapping=to_hash(subject))
        pipe.zadd(self.keys.exam_subjects(subject.exam_id), {subject.id: time.time() + order / 1000})
        audit.add(
            pipe,
            self.keys,
            subject.exam_id,
            "subject_created",
            actor,
            subject_id=subject.id,
            name=subject.name,
            interview_minutes=subject.interview_minutes,
            rules=_recorded_rules(subject),
        )

    async def add_subject(self, actor: Actor, exam_id: str, name: str, interview_minutes: int = 10, **rules) -> Subject:
        """``rules``: ``kind`` and, for a recorded subject, its rules (docs/recorded.md)."""
        await self.exam(exam_id)
        subject = self._new_subject(exam_id, name, interview_minutes, **rules)
        async with self.store.pipeline() as pipe:
            self._queue_subject(pipe, subject, actor, 0)
            await pipe.execute()
        return subject

    async def update_subject(self, actor: Actor, exam_id: str, subject_id: str, **rules) -> Subject:
        """Change a subject's kind and rules (audited, before -> after of what changed). Sittings in
        progress keep the rules their candidate agreed to (copied into the sitting at entry), except
        the window and the entries allowed, which the next entry reads."""
        subject = await self.subject(exam_id, subject_id)
        updated = recorded_rules.apply(subject, **rules)
        before, after = to_hash(subject), to_hash(updated)
        changed = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
        if not changed:
            return updated
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.subject(subject_id), mapping={k: after[k] for k in changed})
            audit.add(
                pipe,
                self.keys,
                exam_id,
                "subject_updated",
                actor,
                subject_id=subject_id,
                before={k: v[0] for k, v in changed.items()},
                after={k: v[1] for k, v in changed.items()},
            )
            await pipe.execute()
        return updated

    async def subjects(self, exam_id: str) -> list[Subject]:
        ids = await self.redis.zrange(self.keys.exam_subjects(exam_id), 0, -1)
        pipe = self.store.pipeline(transaction=False)
        for subject_id in ids:
            pipe.hgetall(self.keys.subject(subject_id))
        return [from_hash(Subject, d) for d in await pipe.execute() if d]

    async def subject(self, exam_id: str, subject_id: str) -> Subject:
        data = await self.redis.hgetall(self.keys.subject(subject_id)) if is_id(subject_id) else {}
        if not data or data.get("exam_id") != exam_id:
            raise not_found("subject")
        return from_hash(Subject, data)

    # rooms
    async def create_room(self, actor: Actor, exam_id: str, subject_id: str, name: str, examiners: list[str]) -> Room:
        await self.subject(exam_id, subject_id)
        for account_id in examiners:
            if not is_id(account_id) or await self.redis.hget(self.keys.account(account_id), "role") != "examiner":
                raise UserError("examiner_invalid", field="examiners", account=account_id)
        room = Room(id=new_id("room"), exam_id=exam_id, subject_id=subject_id, name=name)

        def write(pipe) -> None:
            fields = to_hash(room)
            fields.pop("examiners")
            pipe.hset(self.keys.room(room.id), mapping=fields)
            pipe.sadd(self.keys.exam_rooms(exam_id), room.id)
            if examiners:
                pipe.sadd(self.keys.room_examiners(room.id), *examiners)
            audit.add(
                pipe,
                self.keys,
                exam_id,
                "room_created",
                actor,
                room_id=room.id,
                name=name,
                subject_id=subject_id,
                examiners=examiners,
            )

        # an examiner who is a candidate of this exam is refused (staff.py), checked and written at once
        await ExamStaff(self.store).assign(exam_id, examiners, write)
        room.examiners = sorted(examiners)
        return room

    async def room(self, exam_id: str, room_id: str) -> Room:
        room = await self.find_room(room_id)
        if room is None or room.exam_id != exam_id:
            raise not_found("room")
        return room

    async def find_room(self, room_id: str) -> Room | None:
        """The room with its examiners, whatever its exam; None when there is no such room."""
        data = await self.redis.hgetall(self.keys.room(room_id)) if is_id(room_id) else {}
        if not data:
            return None
        data.pop("examiners", None)
        room = from_hash(Room, data)
        room.examiners = sorted(await self.redis.smembers(self.keys.room_examiners(room_id)))
        return room

    async def examiner_room(self, room_id: str, account_id: str) -> Room | None:
        """The room when ``account_id`` is one of its examiners, else None."""
        room = await self.find_room(room_id)
        return room if room is not None and account_id in room.examiners else None

    async def rooms(self, exam_id: str) -> list[Room]:
        ids = sorted(await self.redis.smembers(self.keys.exam_rooms(exam_id)))
        return [await self.room(exam_id, room_id) for room_id in ids]

    # slots
    async def create_slot(
        self, actor: Actor, exam_id: str, room_id: str, starts_at: float, ends_at: float, capacity: int
    ) -> Slot:
        room = await self.room(exam_id, room_id)
        if ends_at <= starts_at:
            raise UserError("slot_times", field="ends_at")
        for other in await self.slots(exam_id):  # one panel cannot sit two slots at once
            if other.room_id == room_id and other.starts_at < ends_at and starts_at < other.ends_at:
                raise UserError("slot_overlap", field="starts_at")
        slot = Slot(
            id=new_id("slot"),
            exam_id=exam_id,
            subject_id=room.subject_id,
            room_id=room_id,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
        )
        fields = to_hash(slot)
        fields.pop("booked")
        async with self.store.pipeline() as pipe:
            pipe.hset(self.keys.slot(slot.id), mapping=fields)
            pipe.zadd(self.keys.exam_slots(exam_id), {slot.id: starts_at})
            audit.add(
                pipe,
                self.keys,
                exam_id,
                "slot_created",
                actor,
                slot_id=slot.id,
                room_id=room_id,
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=capacity,
            )
            await pipe.execute()
        return slot

    async def set_slot_capacity(self, actor: Actor, exam_id: str, slot_id: str, capacity: int) -> Slot:
        """Capacity can grow, or shrink down to what is already booked (checked atomically)."""
        slot = await self.slot(exam_id, slot_id)
        keys = self.keys
        async with self.store.pipeline() as pipe:
            while True:
                try:
                    await pipe.watch(keys.slot_booked(slot_id))
                    booked = await pipe.zcard(keys.slot_booked(slot_id))
                    if capacity < booked:
                        raise UserError("slot_capacity_below_booked", field="capacity", booked=booked)
                    pipe.multi()
                    pipe.hset(keys.slot(slot_id), "capacity", capacity)
                    audit.add(
                        pipe,
                        keys,
                        exam_id,
                        "slot_capacity_changed",
                        actor,
                        slot_id=slot_id,
                        before=slot.capacity,
                        after=capacity,
                    )
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        slot.capacity = capacity
        return slot

    async def find_slot(self, slot_id: str) -> Slot | None:
        if not is_id(slot_id):
            return None
        pipe = self.store.pipeline(transaction=False)
        pipe.hgetall(self.keys.slot(slot_id))
        pipe.zcard(self.keys.slot_booked(slot_id))
        data, booked = await pipe.execute()
        if not data:
            return None
        slot = from_hash(Slot, data)
        slot.booked = booked
        return slot

    async def slot(self, exam_id: str, slot_id: str) -> Slot:
        slot = await self.find_slot(slot_id)
        if slot is None or slot.exam_id != exam_id:
            raise not_found("slot")
        return slot

    async def slots(self, exam_id: str, subject_id: str | None = None) -> list[Slot]:
        ids = await self.redis.zrange(self.keys.exam_slots(exam_id), 0, -1)
        found = [await self.find_slot(slot_id) for slot_id in ids]
        return [s for s in found if s and (subject_id is None or s.subject_id == subject_id)]


def _recorded_rules(subject: Subject) -> dict | None:
    """A recorded subject's rules for its audit entry (None for a live interview)."""
    if not subject.recorded:
        return None
    return {name: getattr(subject, name) for name in recorded_rules.RULES if name != "interview_minutes"}
