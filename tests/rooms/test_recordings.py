"""The recordings index in Redis: a resumed interview keeps its folder and start, and an
interview cut off by a dead process is closed from its files exactly once, whoever runs the
recovery, while one that a live process records is left alone."""

from __future__ import annotations

import asyncio

from server.rooms.recorder import InterviewRecorder

from ..nodes.live import live_node
from .test_recorder import feed

EXAM, ROOM, ACCOUNT, INTERVIEW = "exam_00000000abcd", "room_00000000abcd", "acc_00000000abcd", "adm_00000000abcd"


async def recording_cut_off(services, process: str):
    """An interview whose recorder wrote 3 s of media (what a crash leaves: all but the last
    cluster is on disk) and then never closed."""
    folder = await services.recordings.started(EXAM, ROOM, ACCOUNT, INTERVIEW, process)
    recorder = await asyncio.to_thread(InterviewRecorder, folder, INTERVIEW)
    await asyncio.to_thread(feed, recorder, 3.0)  # ... and the process dies here: no close()
    return folder


async def stopped_events(services) -> list[dict]:
    entries = await services.store.redis.xrange(services.store.keys.audit(EXAM))
    return [fields for _, fields in entries if fields.get("event") == "recording_stopped"]


async def test_a_cut_off_interview_is_closed_once_even_when_every_process_recovers_at_once(services):
    await recording_cut_off(services, "host:1:dead")
    counts = await asyncio.gather(*(services.recordings.recover() for _ in range(4)))
    assert sum(counts) == 1
    record = await services.recordings.get(INTERVIEW)
    assert record["state"] == "recovered"
    assert {t["status"] for t in record["manifest"]["tracks"]} == {"recovered"}
    assert len(await stopped_events(services)) == 1
    assert await services.recordings.recover() == 0  # nothing left open
    assert not await services.store.redis.sismember(services.store.keys.open_recordings(), INTERVIEW)


async def test_an_interview_a_live_process_records_is_left_alone(services):
    await recording_cut_off(services, "host:2:live")
    await services.store.redis.set(services.store.keys.media_owner(ROOM), "host:2:live", ex=30)
    async with live_node(services.store, "host:2:live"):  # a live node holds the room (docs/nodes.md)
        assert await services.recordings.recover() == 0
        assert (await services.recordings.get(INTERVIEW))["state"] == "recording"
    # the same claim, its node gone (its relay channel has no listener): the recording was cut off
    assert await services.recordings.recover() == 1
    assert (await services.recordings.get(INTERVIEW))["state"] == "recovered"
    # while a recovery holds the folder, nobody else works on it
    async with services.recordings.locked(INTERVIEW) as mine:
        assert mine
        async with services.recordings.locked(INTERVIEW, wait_s=0.3) as other:
            assert not other
    async with services.recordings.locked(INTERVIEW) as again:
        assert again  # released


async def test_a_resumed_interview_keeps_its_folder_and_start(services):
    folder = await recording_cut_off(services, "host:3:dead")
    first = await services.recordings.get(INTERVIEW)
    assert await services.recordings.recover() == 1
    again = await services.recordings.started(EXAM, "room_00000000ffff", ACCOUNT, INTERVIEW, "host:4:live")
    record = await services.recordings.get(INTERVIEW)
    assert again == folder and record["folder"] == str(folder)
    assert record["started_at"] == first["started_at"] and record["state"] == "recording"
    # the index still lists what was recorded before (this node's part of it), until the recorder saves again
    assert {t["status"] for t in record["manifest"]["tracks"]} == {"recovered"}
    assert await services.store.redis.sismember(services.store.keys.open_recordings(), INTERVIEW)
