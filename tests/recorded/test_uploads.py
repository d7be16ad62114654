"""Upload takes in the domain (server/recorded/uploads.py, rules.py, the Lua scripts): the subject's upload
rules are checked like the others; the deadline sweep waits for an upload whose bytes all came in time
while it is made playable, and auto-submits it; one past its processing limit is passed over."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.recorded import rules
from tests.conftest import ADMIN
from tests.recorded.conftest import DEVICE, make_recorded, pass_face


async def test_the_upload_rules_are_checked_like_the_others(services, world):
    subject = await make_recorded(services, world)
    assert (subject.uploads_allowed, subject.upload_max_mb) == (False, 500)  # the seeds' 500 MB by default
    for bad, code in (({"uploads_allowed": "yes"}, "field_type"), ({"upload_max_mb": 5000}, "field_range")):
        with pytest.raises(UserError) as caught:
            rules.apply(subject, **bad)
        assert caught.value.code == code
    updated = await services.catalog.update_subject(
        ADMIN, world.exam.id, subject.id, uploads_allowed=True, upload_max_mb=800
    )
    assert (updated.uploads_allowed, updated.upload_max_mb) == (True, 800)
    assert await services.catalog.subject(world.exam.id, subject.id) == updated


async def formal_sitting(services, world):
    await make_recorded(services, world, uploads_allowed=True)
    account = await world.candidate(0)
    await pass_face(services, world.exam.id, account)
    sitting = await services.sittings.enter(account, world.exam.id, world.subjects[0].id, "formal", DEVICE)
    return account, sitting


async def processing(services, account, sitting, stop_at: float):
    """An upload take whose last byte came before the deadline: ``processing`` until ``stop_at``
    (as upload_progress.lua leaves it; its processing is not run here)."""
    take = await services.uploads.create(account, sitting.id, DEVICE, 1000, "IMG_0001.MOV", "video/quicktime")
    keys = services.store.keys
    await services.store.redis.hset(keys.take(take.id), mapping={"state": "processing", "stop_at": f"{stop_at:.3f}"})
    return take


async def test_the_deadline_waits_for_an_upload_being_made_playable_then_submits_it(services, world):
    account, sitting = await formal_sitting(services, world)
    take = await processing(services, account, sitting, stop_at=sitting.deadline + 300)
    assert await services.sittings.expire_due(now=sitting.deadline + 60) == []  # past the 35 s of a recording take
    assert (await services.sittings.find_sitting(sitting.id)).state == "in_progress"
    await services.sittings.take_playable(
        take.id, {"playable.mp4": {"kind": "main", "sha256": "ab" * 32, "duration_s": 3}}
    )
    await services.sittings.take_ended(take.id, "complete", 3.0)
    (ended,) = await services.sittings.expire_due(now=sitting.deadline + 61)
    assert (ended.state, ended.submitted_take) == ("auto_submitted", take.id)


async def test_an_upload_still_processing_past_its_limit_is_passed_over(services, world):
    account, sitting = await formal_sitting(services, world)
    await processing(services, account, sitting, stop_at=sitting.deadline + 100)
    (ended,) = await services.sittings.expire_due(now=sitting.deadline + 101)
    assert (ended.state, ended.submitted_take) == ("absent", "")
