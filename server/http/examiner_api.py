"""Examiners: the rooms whose panel they sit on (the live queue comes with the queue issue)."""

from __future__ import annotations

from aiohttp import web

from ..store.models import public
from .candidate_api import slot_json
from .context import SERVICES, account_of
from .routing import Routes

routes = Routes()


@routes.get("/api/examiner/rooms", ("examiner",))
async def my_rooms(request: web.Request) -> web.Response:
    catalog = request.app[SERVICES].catalog
    me = account_of(request).id
    out = []
    for exam in await catalog.exams():
        subjects = {s.id: s for s in await catalog.subjects(exam.id)}
        slots = await catalog.slots(exam.id)
        for room in await catalog.rooms(exam.id):
            if me in room.examiners:
                subject = subjects.get(room.subject_id)
                out.append(
                    {
                        "room": public(room),
                        "exam": {"id": exam.id, "name": exam.name, "school": exam.school},
                        "subject": public(subject) if subject else None,
                        "slots": [slot_json(s) for s in slots if s.room_id == room.id],
                    }
                )
    return web.json_response({"rooms": out})
