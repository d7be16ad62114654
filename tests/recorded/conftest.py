"""A world whose first subject (声乐, every candidate's) is a recorded exam with an open window, and
the helpers the tests share: the face check passed through the real gate, a take filmed and ended as
the media side reports it."""

from __future__ import annotations

import time

import pytest

from server.store.audit import Actor
from server.store.models import new_id
from tests.conftest import ADMIN, build_world

DEVICE = "device-aaaa-0001"
OTHER_DEVICE = "device-bbbb-0002"


async def make_recorded(services, world, **rules):
    """Subject 0 becomes recorded, window open now for an hour unless ``rules`` say otherwise."""
    now = time.time()
    values = {"kind": "recorded", "window_opens": now - 60, "window_closes": now + 3600, **rules}
    return await services.catalog.update_subject(ADMIN, world.exam.id, world.subjects[0].id, **values)


async def pass_face(services, exam_id, account):
    """A passed queue-entry face check, recorded by the real gate (as facecheck/checks.py does)."""
    await services.face_gate.record(
        exam_id,
        Actor(account.id, account.role),
        passed=True,
        reason="",
        distance=0.3,
        check={"check_id": new_id("check")},
        kind="queue",
        name=account.name,
        id_number=account.id_number,
        photo_sha256="",
    )


async def filmed(services, account, sitting, state="complete", duration_s=12.5, device=DEVICE):
    """A take started by the candidate and ended by the media side."""
    take = await services.sittings.start_take(account, sitting.id, device, "front", "portrait")
    return await services.sittings.take_ended(take.id, state, duration_s)


@pytest.fixture
async def world(services):
    return await build_world(services)


@pytest.fixture
async def recorded(services, world):
    """(world, subject): the recorded subject with the default rules (1 take, 1 entry)."""
    return world, await make_recorded(services, world)


async def events(services, exam_id, *names):
    """The exam's audit entries of those events, oldest first (event, actor, actor_role, subject, data)."""
    import json

    raw = await services.store.redis.xrange(services.store.keys.audit(exam_id))
    return [
        {**fields, "data": json.loads(fields.get("data") or "{}")}
        for _, fields in raw
        if not names or fields["event"] in names
    ]
