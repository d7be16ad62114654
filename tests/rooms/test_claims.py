"""Room claims on the real Redis: one holder per room, only the holder refreshes or releases it,
and an expired claim (its process died) can be taken by another."""

from __future__ import annotations

import asyncio

import pytest

from server.rooms.claims import PROCESS_ID, RoomClaims
from server.rooms.interviews import Interviews
from server.rooms.media import MediaError
from server.store.base import Store

ROOM = "room_claims_1"


def claims_of(redis, prefix, owner: str, ttl_s: int = 30) -> RoomClaims:
    return RoomClaims(Store(redis, prefix), owner, ttl_s)


async def test_owners_racing_for_one_room_get_one_claim(redis, prefix):
    owners = [claims_of(redis, prefix, f"host:{i}:p") for i in range(8)]
    holders = await asyncio.gather(*(c.acquire(ROOM) for c in owners))
    assert len(set(holders)) == 1  # everyone sees the same holder
    winner = holders[0]
    assert [c.owner for c in owners].count(winner) == 1
    assert await redis.get(prefix + f"mediaroom:{ROOM}") == winner  # the key of store/keys.py
    assert 0 < await redis.ttl(prefix + f"mediaroom:{ROOM}") <= 30


async def test_acquiring_again_keeps_the_claim(redis, prefix):
    mine = claims_of(redis, prefix, "host:1:a")
    assert await mine.acquire(ROOM) == "host:1:a"
    assert await mine.acquire(ROOM) == "host:1:a"  # already ours
    assert await claims_of(redis, prefix, "host:2:b").acquire(ROOM) == "host:1:a"


async def test_only_the_holder_refreshes(redis, prefix):
    holder, other = claims_of(redis, prefix, "host:1:a", ttl_s=30), claims_of(redis, prefix, "host:2:b", ttl_s=300)
    await holder.acquire(ROOM)
    key = holder.store.keys.media_owner(ROOM)
    await redis.expire(key, 10)
    assert await other.refresh(ROOM) == "host:1:a"  # refused: left alone
    assert await redis.get(key) == "host:1:a" and await redis.ttl(key) <= 10
    assert await holder.refresh(ROOM) == "host:1:a"
    assert 10 < await redis.ttl(key) <= 30


async def test_only_the_holder_releases(redis, prefix):
    holder, other = claims_of(redis, prefix, "host:1:a"), claims_of(redis, prefix, "host:2:b")
    await holder.acquire(ROOM)
    assert await other.release(ROOM) is False
    assert await holder.holder(ROOM) == "host:1:a"
    assert await holder.release(ROOM) is True
    assert await holder.holder(ROOM) is None
    assert await holder.release(ROOM) is False  # nothing left to release
    assert await other.acquire(ROOM) == "host:2:b"  # free again


async def test_an_expired_claim_can_be_taken_by_another_owner(redis, prefix):
    dead, live = claims_of(redis, prefix, "host:1:dead", ttl_s=1), claims_of(redis, prefix, "host:2:live")
    assert await dead.acquire(ROOM) == "host:1:dead"
    assert await live.acquire(ROOM) == "host:1:dead"
    await asyncio.sleep(1.3)  # the dead process refreshed nothing: its claim expired
    assert await live.holder(ROOM) is None
    assert await live.acquire(ROOM) == "host:2:live"
    # the stalled process comes back: its refresh does not take the room back
    assert await dead.refresh(ROOM) == "host:2:live"
    assert await dead.release(ROOM) is False and await live.holder(ROOM) == "host:2:live"


async def test_the_process_token_is_the_default_owner(redis, prefix):
    claims = RoomClaims(Store(redis, prefix))
    assert claims.owner == PROCESS_ID and claims.ttl_s == 30
    from server.rooms import interviews

    assert interviews.PROCESS_ID is PROCESS_ID  # recordings name the same process as the claims


async def test_two_processes_open_a_room_once(services):
    """Interviews (what the signaling hub runs in each process) claim through RoomClaims: the
    second process is told where the room is, and gets it once the first has closed it."""
    first = Interviews(services.store, services.recordings, [], claim_ttl_s=30, owner="host:1:first")
    second = Interviews(services.store, services.recordings, [], claim_ttl_s=30, owner="host:2:second")
    try:
        await first.room(ROOM, "exam_1")
        with pytest.raises(MediaError) as refused:
            await second.room(ROOM, "exam_1")
        assert refused.value.code == "room_on_other_server" and refused.value.detail == "host:1:first"
        await first.close()  # releases its claim
        assert (await second.room(ROOM, "exam_1")).room_id == ROOM
        assert await second.claims.holder(ROOM) == "host:2:second"
    finally:
        await first.close()
        await second.close()
    assert await second.claims.holder(ROOM) is None
