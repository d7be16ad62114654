"""An exam whose slot is running now, with booked candidates: what the queue and signaling tests need."""

from __future__ import annotations

import time

from server.store.audit import Actor

from .conftest import build_world

FIT_DEVICE = {
    "camera": "granted",
    "microphone": "granted",
    "battery_level": 0.8,
    "charging": False,
    "browser": "Chrome",
    "browser_version": "124.0",
}


class LiveWorld:
    def __init__(self, world, services):
        self.world, self.services = world, services
        self.exam, self.room, self.slot = world.exam, world.rooms[0], world.slots[0]
        self.examiner = world.staff["examiner"]
        self.proctor = world.staff["proctor"]

    async def booked(self, index: int):
        """Candidate ``index``, verified, enrolled and booked into the running slot."""
        account = await self.world.candidate(index)
        await self.services.bookings.book(account, self.exam.id, self.slot.id, now=self.slot.starts_at - 60)
        return account

    async def pass_face(self, account, passed: bool = True, kind: str = "queue") -> str:
        """A face-check result recorded through the real gate (the inference itself is tested in
        tests/facecheck); returns the outcome: passed | failed | locked."""
        entry = (await self.services.enrolments.exam_for(account, self.exam.id)).entry
        outcome, _ = await self.services.face_gate.record(
            self.exam.id,
            Actor(account.id, "candidate"),
            passed=passed,
            reason="" if passed else "face_mismatch",
            distance=0.3 if passed else 0.7,
            check={"check_id": f"check_{int(time.time() * 1e6) % 10**12:012x}"},
            kind=kind,
            name=entry.name,
            id_number=entry.id_number,
            photo_sha256=entry.photo_sha256,
        )
        return outcome

    async def pass_room_check(self, account, interview_id: str, room_id: str = "") -> None:
        """The room-entry face check of an interview, recorded as passed through the real state
        (facecheck/room_checks.py); the check on live video is tested in tests/signaling."""
        checks = self.services.room_checks
        await checks.begin(interview_id, self.exam.id, room_id or self.room.id, account.id)
        await checks.finish(await checks.get(interview_id), "verified", "", 0.3)

    async def present(self, account, sid: str = "sid-test") -> None:
        """A live socket for the candidate (what the signaling layer records)."""
        await self.services.queue.touch({account.id: [sid]}, 30)


async def live_world(
    services, size: int = 4, starts_in: float = -30, length_s: float = 3600, photos: list | None = None
) -> LiveWorld:
    world = await build_world(services, roster_size=size, capacity=size, slot_in=starts_in, photos=photos)
    if length_s != 3600:
        await services.store.redis.hset(
            services.store.keys.slot(world.slots[0].id), "ends_at", world.slots[0].starts_at + length_s
        )
        world.slots[0].ends_at = world.slots[0].starts_at + length_s
    return LiveWorld(world, services)
