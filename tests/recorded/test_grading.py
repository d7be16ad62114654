"""Graders of recorded subjects on a real Redis (server/recorded/grading.py): the admin's assignment
(audited, examiners only, recorded subjects only), the anonymous code of each submission (random, stable,
unique, minted once even when asked at once), and what a grader may reach: only the submissions of their
subjects, never one in progress, withdrawn or of another mode; another's or a forged code is not found.

The helpers here (``examiner``, ``submission``, ``write_webm``) are shared with tests/http/test_grading_api.py
and tests/e2e/test_grading.py."""

from __future__ import annotations

import asyncio
import re
import time
from fractions import Fraction
from pathlib import Path

import pytest

from server.errors import UserError
from server.recorded.grading import CODE
from server.rooms.remux import PLAYABLE
from server.store.audit import Actor
from server.store.models import Sitting, Take
from tests.conftest import ADMIN, PASSWORD

from .conftest import DEVICE, events, filmed, make_recorded, pass_face


async def examiner(services, username: str):
    return await services.directory.create("examiner", PASSWORD, Actor.system(), name=username, username=username)


def write_webm(path: Path, seconds: float = 3.0, size: tuple[int, int] = (320, 240), color: int = 0) -> float:
    """A real, browser-playable WebM (VP8, 25 fps, a moving bar) of ``seconds``; returns its length."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    frames = int(seconds * 25)
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 25)
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(frames):
            image = np.full((height, width, 3), (40 + color, 60, 90), dtype=np.uint8)
            x = (i * 7) % width
            image[:, x : x + 12] = (240, 220, 60)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return frames / 25


async def submission(
    services,
    world,
    index: int,
    subject,
    *,
    files: bool = False,
    aux: bool = False,
    seconds: float = 3.0,
    submit: bool = True,
) -> tuple[object, Sitting, Take]:
    """Candidate ``index`` enters ``subject`` (formal), passes the face check, films a take (ended as the
    media side reports it) and submits it. ``files``: a real playable WebM (and an aux camera's with
    ``aux``) written where the recorder puts a take, listed in the take as ``rooms/remux.py`` does."""
    account = await world.candidate(index)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", DEVICE)
    await pass_face(services, world.exam.id, account)
    take = await services.sittings.start_take(account, sitting.id, DEVICE, "front", "portrait")
    if files:
        folder = await services.recordings.started(world.exam.id, sitting.id, account.id, take.id)
        length = write_webm(folder / PLAYABLE, seconds)
    await services.sittings.take_ended(take.id, "complete", seconds)
    if files:
        listed = {PLAYABLE: {"kind": "main", "sha256": "ab" * 32, "size": 1, "duration_s": length}}
        if aux:
            write_webm(folder / "aux-1.webm", seconds, color=80)
            listed["aux-1.webm"] = {"kind": "aux", "n": 1, "sha256": "cd" * 32, "offset_s": 0.4, "duration_s": length}
        await services.sittings.take_playable(take.id, listed)
    if submit:
        sitting = await services.sittings.submit(account, sitting.id, take.id)
    found = await services.sittings.find_take(take.id)
    assert found is not None
    return account, sitting, found


async def close_window(services, world, subject, *, open_again: bool = False):
    """The subject's exam window closes now (graders see its submissions from then on: docs/marking.md);
    ``open_again``: it is open again for an hour (a candidate may enter, submit or reset)."""
    now = time.time()
    closes = now + 3600 if open_again else now - 0.001
    return await services.catalog.update_subject(ADMIN, world.exam.id, subject.id, window_closes=closes)


async def refused(code: str, work) -> UserError:
    with pytest.raises(UserError) as err:
        await work
    assert err.value.code == code, (err.value.code, err.value.message("zh"))
    assert re.search(r"[\u4e00-\u9fff]", err.value.message("zh")), err.value.message("zh")
    return err.value


@pytest.fixture
async def two_subjects(services, world):
    """Both subjects recorded (声乐: every candidate's; 器乐: odd roster rows'), window open for an hour."""
    first = await make_recorded(services, world)
    now = time.time()
    second = await services.catalog.update_subject(
        ADMIN, world.exam.id, world.subjects[1].id, kind="recorded", window_opens=now - 60, window_closes=now + 3600
    )
    return first, second


async def test_the_admin_assigns_examiners_and_it_is_audited(services, world, two_subjects):
    first, _ = two_subjects
    grader = world.staff["examiner"]
    other = await examiner(services, "grader-two")
    assert await services.grading.assign(ADMIN, world.exam.id, first.id, [other.id, grader.id, grader.id]) == sorted(
        [grader.id, other.id]
    )
    assert await services.grading.graders_of(world.exam.id, first.id) == sorted([grader.id, other.id])
    assert (await services.grading.graders(world.exam.id))[first.id] == sorted([grader.id, other.id])
    (entry,) = await events(services, world.exam.id, "subject_graders_set")
    assert (entry["actor"], entry["actor_role"]) == (ADMIN.account_id, "admin")
    assert entry["data"] == {"subject_id": first.id, "graders": sorted([grader.id, other.id])}
    # replacing the list: the one left out grades no more
    await services.grading.assign(ADMIN, world.exam.id, first.id, [other.id])
    assert [s.id for _, s in await services.grading.subjects_of(grader)] == []
    assert [s.id for _, s in await services.grading.subjects_of(other)] == [first.id]


async def test_only_examiners_grade_and_only_recorded_subjects(services, world, two_subjects):
    first, _ = two_subjects
    grader = world.staff["examiner"]
    await services.grading.assign(ADMIN, world.exam.id, first.id, [grader.id])
    candidate = await world.candidate(0)
    for wrong in (world.staff["proctor"].id, world.staff["admin"].id, candidate.id, "acc_000000000000", "acc_x:1"):
        err = await refused(
            "grader_invalid", services.grading.assign(ADMIN, world.exam.id, first.id, [grader.id, wrong])
        )
        assert "不是考官账号" in err.message("zh") and err.field == "account_ids"
    await make_recorded(services, world, kind="interview")
    err = await refused("grading_not_recorded", services.grading.assign(ADMIN, world.exam.id, first.id, [grader.id]))
    assert "声乐" in err.message("zh")
    await refused("subject_not_found", services.grading.assign(ADMIN, world.exam.id, "subj_000000000000", []))
    await refused("exam_not_found", services.grading.assign(ADMIN, "exam_000000000000", first.id, []))
    # nothing changed by the refusals: one audit entry, the same grader
    assert len(await events(services, world.exam.id, "subject_graders_set")) == 1
    assert await services.store.redis.smembers(services.store.keys.subject_graders(first.id)) == {grader.id}
    # an interview subject is not graded: it drops out of the grader's subjects
    assert await services.grading.subjects_of(grader) == []


async def test_a_grader_sees_only_their_subjects_submissions_by_code(services, world, two_subjects):
    first, second = two_subjects
    singer_grader = world.staff["examiner"]
    player_grader = await examiner(services, "grader-two")
    idle = await examiner(services, "not-a-grader")
    await services.grading.assign(ADMIN, world.exam.id, first.id, [singer_grader.id])
    await services.grading.assign(ADMIN, world.exam.id, second.id, [player_grader.id])
    _, sung, sung_take = await submission(services, world, 0, first)
    _, played, played_take = await submission(services, world, 1, second)
    first, second = await close_window(services, world, first), await close_window(services, world, second)

    (mine,) = await services.grading.submissions(singer_grader)
    assert CODE.match(mine.code) and mine.subject.id == first.id and mine.state == "submitted"
    assert mine.take.id == sung_take.id
    (theirs,) = await services.grading.submissions(player_grader)
    assert theirs.subject.id == second.id and theirs.take.id == played_take.id and theirs.code != mine.code
    assert await services.grading.submissions(idle) == []
    assert await services.grading.subjects_of(idle) == []
    await refused("subject_not_found", services.grading.submissions(singer_grader, second.id))
    assert [s.code for s in await services.grading.submissions(singer_grader, first.id)] == [mine.code]

    # by code: the grader of the subject only; another grader, an examiner grading nothing, a forged code: alike
    assert (await services.grading.submission(singer_grader, mine.code)).take.id == sung_take.id
    for who, code in ((player_grader, mine.code), (idle, mine.code), (singer_grader, theirs.code)):
        await refused("submission_not_found", services.grading.submission(who, code))
    for forged in ("S-22222", "S-7K3Q", "s-7k3q9", sung.id, sung_take.id, sung.code, "", "S-0OIL1"):
        await refused("submission_not_found", services.grading.submission(singer_grader, forged))
    # the code says nothing of the candidate, and stays the same
    assert sung.code not in mine.code and sung.id not in mine.code
    assert [s.code for s in await services.grading.submissions(singer_grader)] == [mine.code]
    assert played.id != sung.id


async def test_in_progress_absent_mock_and_withdrawn_sittings_are_not_listed(services, world):
    subject = await make_recorded(services, world, sittings_allowed=2, mock_tries=1, takes_allowed=2)
    grader = world.staff["examiner"]
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    # candidate 0: in progress with a complete take, not submitted
    await submission(services, world, 0, subject, submit=False)
    # candidate 1: a mock sitting, submitted
    mock_account = await world.candidate(1)
    mock = await services.sittings.enter(mock_account, world.exam.id, subject.id, "mock", DEVICE)
    await pass_face(services, world.exam.id, mock_account)
    take = await filmed(services, mock_account, mock)
    await services.sittings.submit(mock_account, mock.id, take.id)
    # candidate 2: entered, nothing filmed
    late = await world.candidate(2)
    await services.sittings.enter(late, world.exam.id, subject.id, "formal", DEVICE)
    assert await services.grading.submissions(grader) == []

    # the deadline: candidate 0 is auto-submitted (listed), candidate 2 absent (not listed)
    ended = await services.sittings.expire_due(now=time.time() + 7200)
    assert sorted(s.state for s in ended if s.mode == "formal") == ["absent", "auto_submitted"]
    assert await services.grading.submissions(grader) == []  # the window is still open: graded from its close
    await close_window(services, world, subject)
    (auto,) = await services.grading.submissions(grader)
    assert auto.state == "auto_submitted"
    code = auto.code
    # 004_* 6: an auto-submitted sitting reset while the window is open withdraws its submission (and its code)
    await close_window(services, world, subject, open_again=True)
    sitting = next(s for s in ended if s.state == "auto_submitted")
    owner = await services.directory.get(sitting.account_id)
    await services.sittings.reset(owner, sitting.id)
    await close_window(services, world, subject)
    assert await services.grading.submissions(grader) == []
    await refused("submission_not_found", services.grading.submission(grader, code))


async def test_codes_are_minted_once_even_when_asked_at_once(services, world):
    subject = await make_recorded(services, world)
    grader = world.staff["examiner"]
    await services.grading.assign(ADMIN, world.exam.id, subject.id, [grader.id])
    sittings = [(await submission(services, world, i, subject))[1] for i in range(3)]
    await close_window(services, world, subject)
    codes = await asyncio.gather(*[services.grading.code_for(sittings[0]) for _ in range(12)])
    assert len(set(codes)) == 1 and CODE.match(codes[0])
    listed = {s.code for s in await services.grading.submissions(grader)}
    assert codes[0] in listed and len(listed) == 3  # unique per submission
    redis, keys = services.store.redis, services.store.keys
    mapping = await redis.hgetall(keys.anon_codes())
    assert sorted(mapping.values()) == sorted(s.id for s in sittings)  # the losers' codes were withdrawn
    assert await redis.hgetall(keys.anon_subject(subject.id)) == {v: k for k, v in mapping.items()}
    # stable: the same codes on every listing
    assert {s.code for s in await services.grading.submissions(grader)} == listed
