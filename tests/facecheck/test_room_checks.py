"""The room check's state on a real Redis (server/facecheck/room_checks.py): retries are limited
per interview across connections and processes, and a seal asks for a cleared check only while
the face check is on."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.facecheck.room_checks import RETRIES_PER_WINDOW, UNVERIFIED, RoomChecks
from server.store.audit import Actor

EXAMINER = Actor("acc_0123456789ab", "examiner")


async def unverified(checks: RoomChecks, interview: str = "adm_0123456789ab"):
    await checks.begin(interview, "exm_0123456789ab", "rom_0123456789ab", "acc_ba9876543210")
    return await checks.finish(await checks.get(interview), UNVERIFIED, "face_no_frames")


async def test_retries_of_one_interview_are_limited_with_the_time_to_wait(services):
    checks = services.room_checks
    for _ in range(RETRIES_PER_WINDOW):
        await checks.retry(EXAMINER, await unverified(checks))
        await checks.finish(await checks.get("adm_0123456789ab"), UNVERIFIED, "facecheck_busy")
    with pytest.raises(UserError) as caught:
        await checks.retry(EXAMINER, await checks.get("adm_0123456789ab"))
    assert caught.value.code == "room_check_rate_limited" and caught.value.params["seconds"] > 0
    assert "分钟后再试" in caught.value.message("zh")
    assert (await checks.get("adm_0123456789ab")).state == UNVERIFIED  # the refusal changed nothing
    # another interview has its own allowance
    await checks.retry(EXAMINER, await unverified(checks, "adm_aaaaaaaaaaaa"))


async def test_sealing_needs_a_cleared_check_only_while_the_face_check_is_on(services):
    on = RoomChecks(services.store, lambda: True)
    off = RoomChecks(services.store, lambda: False)
    with pytest.raises(UserError) as caught:  # never checked at all: not a pass either
        await on.require_verified("adm_0123456789ab")
    assert caught.value.code == "room_check_unverified"
    await unverified(on)
    with pytest.raises(UserError):
        await on.require_verified("adm_0123456789ab")
    await off.require_verified("adm_0123456789ab")  # facecheck_workers = 0: nothing to require
    await on.override(EXAMINER, await on.get("adm_0123456789ab"), "核对了证件")
    await on.require_verified("adm_0123456789ab")
