"""Decoded frames reach the workers through shared-memory slots: what a worker sees is exactly the
frame sent, whatever the sizes in flight at once, and the slots are reused, not piled up."""

from __future__ import annotations

import asyncio

import numpy as np

from tests.facecheck import faces

GRACE = faces.grace_hopper()
ASTRONAUT = faces.astronaut()


async def test_frames_of_every_size_in_flight_at_once_are_seen_as_sent(face_pool, face_engine):
    frames = [
        faces.sensor(GRACE, seed=1),
        faces.scale(faces.sensor(ASTRONAUT, seed=2), 1.5),  # larger than a 1 MiB slot
        faces.sensor(ASTRONAUT, seed=3),
        np.full((48, 64, 3), 128, np.uint8),  # no face at all
        faces.scale(faces.sensor(GRACE, seed=4), 0.7),
    ]
    seen = await asyncio.gather(*(face_pool.observe_frame(f, liveness=False) for f in frames * 3))
    for frame, observation in zip(frames * 3, seen, strict=True):
        here = face_engine.observe(frame, liveness=False)
        assert (observation.reason, observation.box, observation.keypoints) == (here.reason, here.box, here.keypoints)
        if here.embedding is not None:  # the same up to float rounding (one BLAS thread in a worker)
            assert face_engine.distance(observation.embedding, here.embedding) < 1e-5
    assert seen[3].reason == "face_no_face"


async def test_slots_are_reused_and_bounded(face_pool):
    frame = faces.sensor(GRACE, seed=5)
    for _ in range(3):
        await asyncio.gather(*(face_pool.observe_frame(frame, liveness=False) for _ in range(face_pool.max_pending)))
    slots = face_pool._slots
    assert slots._count <= face_pool.max_pending + face_pool.workers
    assert len(slots._free) == slots._count  # every slot given back once its worker was done


async def test_a_cancelled_check_gives_its_slot_back(face_pool):
    frame = faces.sensor(GRACE, seed=6)
    tasks = [asyncio.ensure_future(face_pool.observe_frame(frame, liveness=False)) for _ in range(8)]
    await asyncio.sleep(0.05)
    for task in tasks[2:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in range(100):  # the jobs a worker had already taken finish there
        if face_pool.pending == 0 and len(face_pool._slots._free) == face_pool._slots._count:
            break
        await asyncio.sleep(0.05)
    assert len(face_pool._slots._free) == face_pool._slots._count
    assert (await face_pool.observe_frame(frame, liveness=False)).reason is None
