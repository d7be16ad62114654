"""One candidate cannot starve the others' face checks (docs/security.md, "Face check abuse").

Over real HTTP, with the real worker pool, the real models and a real Redis. The attack is the one
reported in issue 12: bursts of seven 4400x4400 JPEGs (~300 KB each, under the byte limit) and one
frame that is not an image, several at once. Before the fix every frame went to the workers (the
big ones decoded and looked at for seconds), the answer was a 400 that counted nothing, and the
pool filled: other candidates got 503 ``facecheck_busy``. The queue-entry check takes no frames over
HTTP any more (it is live: test_live_challenge.py covers its one-at-a-time and attempt limits); the
identity appeal's burst is the endpoint left, attacked here.
"""

from __future__ import annotations

import asyncio
import functools
import io
import time

import numpy as np
import pytest
from PIL import Image

from server.http.context import SETTINGS
from tests.conftest import PASSWORD, login, new_client
from tests.facecheck import faces
from tests.facecheck.test_checks import GRACE, face_world, judged, send, turning_burst


@pytest.fixture
async def app(app_with_faces):
    return app_with_faces


@functools.cache
def big_jpeg() -> bytes:
    """4400x4400 pixels in ~300 KB: smooth shades compress well (the byte limit is 512 KB)."""
    y, x = np.mgrid[0:4400, 0:4400]
    pixels = np.stack([(x * 255 // 4400), (y * 255 // 4400), ((x + y) * 255 // 8800)], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=60)
    return out.getvalue()


def attack_burst() -> list[bytes]:
    return [big_jpeg()] * 7 + [b"this is not an image"]


class PendingProbe:
    """The most images the pool held at once while it ran (sampled every 2 ms on the app's loop)."""

    def __init__(self, pool) -> None:
        self.pool, self.most = pool, 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.most = max(self.most, self.pool.pending)
            await asyncio.sleep(0.002)

    async def stop(self) -> int:
        self._task.cancel()
        return self.most


async def as_candidate(app, world, index):
    client = await new_client(app)
    account = await world.candidate(index)
    await login(client, account.phone, PASSWORD)
    return client, account


async def test_an_oversized_burst_is_refused_whole_before_the_pool_and_others_keep_their_checks(
    app, services, face_engine
):
    assert len(big_jpeg()) < app[SETTINGS].facecheck_max_frame_bytes  # the frames pass the byte limit
    world = await face_world(services, [faces.encode(GRACE), faces.encode(GRACE)])
    (a, attacker), (b, other) = [await as_candidate(app, world, i) for i in (0, 1)]
    sha = (await services.enrolments.exam_for(other, world.exam.id)).entry.photo_sha256
    pool = services.face_checks.pool
    submitted = getattr(pool, "submitted", 0)
    try:
        probe = PendingProbe(pool)
        # A: four of the bursts at once, as the reported attack did
        attack = [asyncio.create_task(send(a, attack_burst())) for _ in range(4)]
        deadline = time.monotonic() + 10
        while pool.pending < 24 and not all(t.done() for t in attack) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        # B meanwhile: an ordinary check through the same pool
        frames = await turning_burst(face_engine, GRACE, "left")
        result = await judged(services, other, sha, "left", frames)
        assert result["passed"] is True, result  # no 503 facecheck_busy
        answers = [await t for t in attack]
        for resp in answers:
            body = await resp.json()
            assert (resp.status, body["error"]["code"], body["error"]["field"]) == (400, "image_too_large", "frame")
            assert body["error"]["message"] == "照片尺寸过大"
        # nothing of A's reached the workers: the pool only ever held B's frames
        assert await probe.stop() <= len(frames)
        assert pool.submitted - submitted == len(frames)
        # no strike, nothing recorded
        state = await services.face_gate.status(world.exam.id, attacker.id)
        assert (state.status, state.strikes) == ("none", 0)
        assert await services.face_gate.history(world.exam.id, attacker.id) == []

        # but every refused attempt counts: A is stopped at the limit, with how long to wait
        limit = app[SETTINGS].facecheck_attempts_per_window
        for _ in range(limit - len(answers)):
            resp = await send(a, attack_burst())
            assert resp.status == 400
        resp = await send(a, attack_burst())
        err = (await resp.json())["error"]
        assert (resp.status, err["code"]) == (429, "facecheck_rate_limited")
        minutes = app[SETTINGS].facecheck_attempt_window_s // 60
        assert err["message"] == f"人脸比对尝试次数过多，请 {minutes} 分钟后再试"
        # ... whatever A sends now, a good burst included, before anything is read or looked at
        resp = await send(a, await turning_burst(face_engine, GRACE, "left"), lang="en")
        err = (await resp.json())["error"]
        assert resp.status == 429 and err["message"] == f"Too many face-check attempts; try again in {minutes} minutes"
        assert pool.submitted - submitted == len(frames)
        assert await services.face_gate.history(world.exam.id, attacker.id) == []
        # B is not affected by A's limit: its bursts are still read (and refused on their own merits)
        resp = await send(b, attack_burst())
        assert resp.status == 400
    finally:
        await a.close()
        await b.close()


async def test_the_pool_looks_at_headers_before_queueing_and_takes_one_burst_per_owner(face_pool):
    good = faces.encode(faces.sensor(GRACE, seed=1))
    before = face_pool.submitted
    for bad, code in ((big_jpeg(), "image_too_large"), (b"GIF89a" + b"\0" * 40, "image_invalid")):
        with pytest.raises(Exception) as caught:
            await face_pool.observe_many([good, good, bad], owner="acc_a", max_side=1920)
        assert caught.value.code == code
    assert face_pool.submitted == before  # refused whole, nothing queued
    # one burst per owner at a time; another owner is not held up by it
    running = asyncio.create_task(face_pool.observe_many([good] * 3, owner="acc_a", max_side=1920))
    await asyncio.sleep(0)
    with pytest.raises(Exception) as caught:
        await face_pool.observe_many([good], owner="acc_a", max_side=1920)
    assert caught.value.code == "facecheck_in_progress"
    [seen] = await face_pool.observe_many([good], owner="acc_b", max_side=1920)
    assert seen.reason is None and len(await running) == 3
    assert face_pool.pending_by_owner == {} and face_pool.pending == 0


async def test_a_frame_that_fails_to_decode_refuses_the_burst_and_frees_the_pool(face_pool):
    """A header that passes but a body that does not decode: the burst is refused and its frames
    still waiting are dropped, not looked at."""
    good = faces.encode(faces.sensor(GRACE, seed=1))
    broken = good[: len(good) // 2]  # a valid header, truncated data
    with pytest.raises(Exception) as caught:
        await face_pool.observe_many([broken] + [good] * 7, owner="acc_a", max_side=1920)
    assert caught.value.code == "image_invalid"
    assert face_pool.pending_by_owner == {}
    [seen] = await face_pool.observe_many([good], owner="acc_a", max_side=1920)
    assert seen.reason is None


async def test_room_check_scales_down_frames_over_the_cap(services):
    """The room's frames come from the candidate's video, whose size the sender picks."""
    world = await face_world(services, [faces.encode(GRACE)])
    account = await world.candidate(0)
    large = faces.scale(GRACE, 4.0)  # 2400 x 2048
    assert max(large.shape[:2]) > 1920  # the default facecheck_max_frame_side
    result = await services.face_checks.check_room_entry(account, world.exam.id, [large])
    assert result.passed, result
