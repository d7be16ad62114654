"""Live interviews' mark sheets on a real Redis (server/marking/interview_marks.py), with interviews
run through the real waiting queue: drafts (partial, checked), sealing (complete, immutable, once),
two examiners sealing at the same instant, an admin's reopening, others' marks hidden until every
examiner of the interview sealed, who "was in the interview", the final mark, another room's
examiner refused, the unfinished list, and the audit entries with their actor.

The helpers (``panel_world``, ``interview``, ``RUBRIC``) are shared with tests/http/test_marking_api.py."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import UserError
from server.marking.rubrics import Rubric
from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD

from ..live import FIT_DEVICE, LiveWorld, live_world

RUBRIC = {
    "criteria": [
        {"id": "skill", "name": "技巧", "max": 40},
        {"id": "show", "name": "表现", "max": 40},
        {"id": "look", "name": "形象", "max": 20},
    ],
    "step": 0.5,
    "combine": "mean",
}
FULL_1 = {"skill": 35, "show": 30.5, "look": 18}  # 83.5
FULL_2 = {"skill": 30, "show": 32, "look": 16}  # 78


class PanelWorld:
    """A running slot in a room whose panel is two examiners, the subject's rubric set."""

    def __init__(self, live: LiveWorld, second, other_room_examiner) -> None:
        self.live, self.services = live, live.services
        self.room, self.exam, self.subject_id = live.room, live.exam, live.room.subject_id
        self.first = live.examiner
        self.second = second
        self.outsider = other_room_examiner  # sits on the exam's other room only

    @property
    def actors(self) -> tuple[Actor, Actor]:
        return Actor(self.first.id, "examiner"), Actor(self.second.id, "examiner")


async def panel_world(services, rubric: dict | None = None) -> PanelWorld:
    live = await live_world(services)
    second = await services.directory.create(
        "examiner", PASSWORD, Actor.system(), name="考官乙", username="examiner-two"
    )
    outsider = await services.directory.create(
        "examiner", PASSWORD, Actor.system(), name="考官丙", username="examiner-three"
    )
    keys = services.store.keys
    # a second examiner on the room's panel, a third on the other room's (created by build_world)
    await services.store.redis.sadd(keys.room_examiners(live.room.id), second.id)
    await services.store.redis.srem(keys.room_examiners(live.world.rooms[1].id), live.examiner.id)
    await services.store.redis.sadd(keys.room_examiners(live.world.rooms[1].id), outsider.id)
    await services.rubrics.set(ADMIN, live.exam.id, live.room.subject_id, Rubric.from_json("", rubric or RUBRIC))
    return PanelWorld(live, second, outsider)


async def interview(w: PanelWorld, index: int = 0, end: str = "done") -> str:
    """Candidate ``index`` called, in the room and (``end``) done, removed or still in the room;
    returns the interview (admission) id."""
    s, live = w.services, w.live
    account = await live.booked(index)
    await live.present(account)
    await s.queue.join(account, live.exam.id, live.slot.id, FIT_DEVICE)
    await live.pass_face(account)
    entry = await s.queue.call_next(w.actors[0], w.room.id)
    await s.queue.enter_room(account, w.room.id)
    # the room-entry face check passed (it gates sealing where the face check runs: the browser tests)
    await live.pass_room_check(account, entry.admission, w.room.id)
    if end == "done":
        await s.queue.finish(w.actors[0], w.room.id, account.id)
    elif end == "removed":
        await s.queue.remove(w.actors[0], w.room.id, account.id, "网络中断")
    return entry.admission


async def refused(coro) -> UserError:
    with pytest.raises(UserError) as caught:
        await coro
    return caught.value


@pytest.fixture
async def w(services):
    return await panel_world(services)


async def events(services, exam_id: str, name: str) -> list[dict]:
    return [e for e in await services.audit.read(exam_id, count=2000) if e["event"] == name]


async def test_a_draft_is_partial_checked_and_saved_again_until_sealed(w, services):
    marks = services.interview_marks
    first, _ = w.actors
    iv = await interview(w, end="in_room")  # during the interview
    sheet = await marks.save(first, w.room.id, iv, {"skill": 35}, "音准好")
    assert (sheet.state, sheet.marks, sheet.comment, sheet.total) == ("draft", {"skill": 35}, "音准好", 35)
    for bad, code in (
        ({"skill": 41}, "mark_over_max"),
        ({"show": 30.25}, "mark_not_on_step"),
        ({"voice": 3}, "mark_criterion_unknown"),
    ):
        error = await refused(marks.save(first, w.room.id, iv, bad, ""))
        assert error.code == code
    assert (await marks.sheets(iv))[first.account_id].marks == {"skill": 35}  # nothing changed
    error = await refused(marks.seal(first, w.room.id, iv, {"skill": 35}, ""))
    assert error.code == "mark_missing" and error.message("zh") == "请为“表现”打分后再提交"
    sheet = await marks.seal(first, w.room.id, iv, FULL_1, "音准好，台风稳")
    assert (sheet.state, sheet.total) == ("sealed", 83.5) and sheet.sealed_at > 0
    # sealed: immutable, a second seal refused cleanly
    assert (await refused(marks.save(first, w.room.id, iv, {"skill": 1}, ""))).code == "marks_sealed"
    error = await refused(marks.seal(first, w.room.id, iv, FULL_2, ""))
    assert error.code == "marks_sealed" and "不能再修改" in error.message("zh")
    assert (await marks.sheets(iv))[first.account_id].marks == FULL_1
    # the audit: one entry per save and the seal, with the actor and the candidate
    saved = await events(services, w.exam.id, "marks_saved")
    sealed = await events(services, w.exam.id, "marks_sealed")
    assert len(saved) == 1 and len(sealed) == 1
    assert sealed[0]["actor"] == first.account_id and sealed[0]["actor_role"] == "examiner"
    assert sealed[0]["data"]["interview_id"] == iv and sealed[0]["data"]["total"] == 83.5
    assert sealed[0]["data"]["marks"] == FULL_1 and sealed[0]["data"]["examiner"] == first.account_id
    # the rubric is frozen now
    again = await refused(services.rubrics.set(ADMIN, w.exam.id, w.subject_id, Rubric.from_json("", RUBRIC)))
    assert again.code == "rubric_in_use"


async def test_others_marks_are_hidden_until_every_examiner_sealed_then_the_final_mark(w, services):
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w)
    await marks.save(second, w.room.id, iv, {"skill": 30}, "草稿")
    await marks.seal(first, w.room.id, iv, FULL_1, "第一位")
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["others"] == [] and view["final"] is None and view["all_sealed"] is False
    assert {p["account_id"]: p["sealed"] for p in view["panel"]} == {first.account_id: True, second.account_id: False}
    theirs = await marks.view(second.account_id, w.room.id, iv)
    assert theirs["others"] == [] and theirs["mine"]["marks"] == {"skill": 30}  # their own draft only
    assert "83.5" not in str(theirs) and "第一位" not in str(theirs)
    assert await marks.final(iv) is None
    await marks.seal(second, w.room.id, iv, FULL_2, "第二位")
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["all_sealed"] and view["final"] == round((83.5 + 78) / 2, 2)
    assert [(o["examiner"], o["total"], o["comment"]) for o in view["others"]] == [(second.account_id, 78, "第二位")]
    assert view["others"][0]["name"] == "考官乙"
    assert (await marks.view(second.account_id, w.room.id, iv))["others"][0]["total"] == 83.5
    assert await marks.final(iv) == 80.75


async def test_two_examiners_sealing_at_the_same_instant_each_seal_exactly_once(w, services):
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w)
    rounds = 20
    for n in range(rounds):
        results = await asyncio.gather(
            marks.seal(first, w.room.id, iv, FULL_1, ""),
            marks.seal(second, w.room.id, iv, FULL_2, ""),
            marks.seal(first, w.room.id, iv, FULL_1, ""),  # a double click of each
            marks.seal(second, w.room.id, iv, FULL_2, ""),
            return_exceptions=True,
        )
        ok = [r for r in results if not isinstance(r, Exception)]
        errors = [r for r in results if isinstance(r, Exception)]
        assert sorted(s.examiner for s in ok) == sorted([first.account_id, second.account_id]), n
        assert [e.code for e in errors if isinstance(e, UserError)] == ["marks_sealed", "marks_sealed"], errors
        assert await marks.final(iv) == 80.75
        if n < rounds - 1:
            for who in (first, second):
                await marks.reopen(ADMIN, iv, who.account_id, f"第 {n} 轮复核")
    assert len(await events(services, w.exam.id, "marks_sealed")) == 2 * rounds
    assert len(await events(services, w.exam.id, "marks_reopened")) == 2 * (rounds - 1)
    assert await services.rubrics.sealed_count(w.subject_id) == 2


async def test_an_admin_reopens_with_a_reason_and_the_marks_are_hidden_again(w, services):
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w)
    await marks.seal(first, w.room.id, iv, FULL_1, "")
    await marks.seal(second, w.room.id, iv, FULL_2, "")
    assert (await refused(marks.reopen(ADMIN, iv, second.account_id, "  "))).code == "field_required"
    assert (await refused(marks.reopen(ADMIN, iv, w.outsider.id, "复核"))).code == "marks_not_found"
    assert (
        await refused(marks.reopen(ADMIN, "adm_000000000000", first.account_id, "复核"))
    ).code == "interview_not_found"
    sheet = await marks.reopen(ADMIN, iv, second.account_id, "考官误填形象分")
    assert (sheet.state, sheet.marks, sheet.reopens) == ("draft", FULL_2, 1)
    assert (await refused(marks.reopen(ADMIN, iv, second.account_id, "再次"))).code == "marks_not_sealed"
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["others"] == [] and view["final"] is None  # hidden again
    entry = (await events(services, w.exam.id, "marks_reopened"))[0]
    assert entry["actor"] == ADMIN.account_id and entry["data"]["reason"] == "考官误填形象分"
    assert entry["data"]["examiner"] == second.account_id
    await marks.save(second, w.room.id, iv, {**FULL_2, "look": 20}, "已更正")
    await marks.seal(second, w.room.id, iv, {**FULL_2, "look": 20}, "已更正")
    assert await marks.final(iv) == 82.75  # (83.5 + 82) / 2


async def test_only_the_rooms_panel_reaches_its_interviews(w, services):
    marks = services.interview_marks
    first, _ = w.actors
    outsider = Actor(w.outsider.id, "examiner")
    other_room = w.live.world.rooms[1].id
    iv = await interview(w)
    before = await services.store.redis.hgetall(services.store.keys.interview_marks(iv))
    attempts = [
        marks.save(outsider, w.room.id, iv, {"skill": 1}, ""),  # not on the panel of this room
        marks.save(outsider, other_room, iv, {"skill": 1}, ""),  # their room, another room's interview
        marks.seal(outsider, other_room, iv, FULL_1, ""),
        marks.view(outsider.account_id, other_room, iv),
        marks.save(first, w.room.id, "adm_ffffffffffff", {"skill": 1}, ""),  # forged
        marks.save(first, w.room.id, "../../etc", {"skill": 1}, ""),
        marks.save(first, other_room, iv, {"skill": 1}, ""),  # the right interview, a room not theirs
    ]
    for attempt in attempts:
        assert (await refused(attempt)).code == "interview_not_found"
    assert await services.store.redis.hgetall(services.store.keys.interview_marks(iv)) == before == {}
    assert await events(services, w.exam.id, "marks_saved") == []
    assert (await refused(marks.of_room(outsider.account_id, w.room.id))).code == "room_not_found"


async def test_the_unfinished_list_holds_ended_interviews_without_a_sealed_sheet(w, services):
    marks = services.interview_marks
    first, second = w.actors
    in_room = await interview(w, 0, end="in_room")
    assert await marks.unfinished(first.account_id) == []  # not ended yet
    done = in_room
    account_id = await services.store.redis.hget(services.store.keys.interview(done), "account_id")
    await services.queue.finish(first, w.room.id, account_id)
    removed = await interview(w, 1, end="removed")
    listed = await marks.unfinished(first.account_id)
    assert [i["interview_id"] for i in listed] == [done]  # the removed one is on no list
    assert listed[0]["url"] == f"/examiner/rooms/{w.room.id}?interview={done}" and listed[0]["draft"] is False
    assert listed[0]["candidate_name"] == w.live.world.roster[0][0]
    await marks.save(first, w.room.id, done, {"skill": 20}, "")
    assert (await marks.unfinished(first.account_id))[0]["draft"] is True
    await marks.seal(first, w.room.id, done, FULL_1, "")
    assert await marks.unfinished(first.account_id) == []
    assert [i["interview_id"] for i in await marks.unfinished(second.account_id)] == [done]
    await marks.reopen(ADMIN, done, first.account_id, "复核")
    assert [i["interview_id"] for i in await marks.unfinished(first.account_id)] == [done]
    assert await marks.unfinished(w.outsider.id) == []
    # the removed interview can still be marked
    assert (await marks.save(first, w.room.id, removed, {"look": 10}, "")).state == "draft"
    rows = await marks.of_room(first.account_id, w.room.id)
    assert [(r["interview_id"], r["state"], r["marks_state"]) for r in rows] == [
        (removed, "removed", "draft"),
        (done, "done", "draft"),
    ]


async def test_a_sheet_sealed_during_the_interview_never_reaches_the_list(w, services):
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w, end="in_room")
    await marks.seal(first, w.room.id, iv, FULL_1, "")
    account_id = await services.store.redis.hget(services.store.keys.interview(iv), "account_id")
    await services.queue.finish(first, w.room.id, account_id)
    assert await marks.unfinished(first.account_id) == []
    assert [i["interview_id"] for i in await marks.unfinished(second.account_id)] == [iv]


async def test_who_was_in_the_interview_is_narrowed_by_its_recording(w, services):
    """The panel when called; once the recording closed, only those of it whose media was recorded."""
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w)
    interview_row = await services.store.redis.hgetall(services.store.keys.interview(iv))
    await services.recordings.started(w.exam.id, w.room.id, interview_row["account_id"], iv)
    tracks = [  # as the recorder lists them: each names its file
        {
            "participant_id": interview_row["account_id"],
            "label": "candidate",
            "kind": "video",
            "file": "c-video-1.webm",
        },
        {"participant_id": first.account_id, "label": "examiner", "kind": "video", "file": "e-video-1.webm"},
    ]
    found = await marks.find(iv)
    assert await marks.attended(found) == sorted([first.account_id, second.account_id])  # still recording
    await services.recordings.stopped(iv, {"status": "closed", "tracks": tracks})
    assert await marks.attended(found) == [first.account_id]
    await marks.seal(first, w.room.id, iv, FULL_1, "")
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["all_sealed"] and view["final"] == 83.5  # the second examiner was not there
    # an examiner who seals anyway counts
    await marks.seal(second, w.room.id, iv, FULL_2, "")
    assert await marks.final(iv) == 80.75


async def test_a_seal_against_a_rubric_changed_meanwhile_is_refused(w, services):
    """The marks were checked against one version of the rubric; an admin changed it before the seal
    landed (no mark sealed yet, so the change was allowed): the seal is refused, nothing sealed."""
    marks = services.interview_marks
    first, _ = w.actors
    iv = await interview(w)
    found = await marks.find(iv)
    stale = await services.rubrics.get(w.subject_id)
    await services.rubrics.set(ADMIN, w.exam.id, w.subject_id, Rubric.from_json("", {**RUBRIC, "step": 1}))
    error = await refused(marks._write("mark_seal", first, found, stale, FULL_1, ""))
    assert error.code == "rubric_changed" and "刷新" in error.message("zh")
    assert await marks.sheets(iv) == {} and await services.rubrics.sealed_count(w.subject_id) == 0
    # checked against the new rubric (step 1), 30.5 is now refused; whole marks seal
    assert (await refused(marks.seal(first, w.room.id, iv, FULL_1, ""))).code == "mark_not_on_step"
    assert (await marks.seal(first, w.room.id, iv, {"skill": 35, "show": 30, "look": 18}, "")).total == 83


async def test_an_admin_excuses_an_absent_examiner_and_the_others_marks_no_longer_wait(w, services):
    """An examiner of the panel who never marks (never came, left) would keep the others' marks hidden for
    good: an admin excuses them with a reason (audited); then only the others count, the final mark is
    theirs, and the excused examiner can no longer mark. Every wrong excuse is refused and changes nothing."""
    marks = services.interview_marks
    first, second = w.actors
    iv = await interview(w, 1)
    await marks.seal(first, w.room.id, iv, FULL_1, "")
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["others"] == [] and view["final"] is None  # waiting for the second, who never marks
    key = services.store.keys.interview_marks(iv)
    before = await services.store.redis.hgetall(key)
    for examiner, reason, code in (
        (second.account_id, "  ", "field_required"),
        (w.outsider.id, "未到场", "marks_not_found"),  # not of this panel
        ("../x", "未到场", "marks_not_found"),
        (first.account_id, "未到场", "marks_excuse_sealed"),  # sealed: reopen first
    ):
        assert (await refused(marks.excuse(ADMIN, iv, examiner, reason))).code == code
    assert (
        await refused(marks.excuse(ADMIN, "adm_000000000000", second.account_id, "x"))
    ).code == "interview_not_found"
    assert await services.store.redis.hgetall(key) == before  # nothing changed
    assert iv in await services.store.redis.zrange(services.store.keys.unmarked(second.account_id), 0, -1)
    status = await marks.excuse(ADMIN, iv, second.account_id, "考官乙临时生病，未参加评分")
    assert status.excused == [second.account_id] and status.required == [first.account_id]
    assert status.final == 83.5 and status.all_sealed
    view = await marks.view(first.account_id, w.room.id, iv)
    assert view["all_sealed"] and view["final"] == 83.5
    assert [e["account_id"] for e in view["excused"]] == [second.account_id]
    assert await marks.final(iv) == 83.5
    # the excused examiner: off the unfinished list, and can no longer mark it
    assert iv not in await services.store.redis.zrange(services.store.keys.unmarked(second.account_id), 0, -1)
    error = await refused(marks.seal(second, w.room.id, iv, FULL_2, ""))
    assert error.code == "marks_excused" and "免除" in error.message("zh")
    assert (await refused(marks.save(second, w.room.id, iv, {"skill": 1}, ""))).code == "marks_excused"
    assert (await refused(marks.excuse(ADMIN, iv, second.account_id, "再次"))).code == "marks_excused_already"
    # the last examiner left cannot be excused: somebody must mark
    iv2 = await interview(w, 2)
    await marks.excuse(ADMIN, iv2, first.account_id, "未到场")
    assert (await refused(marks.excuse(ADMIN, iv2, second.account_id, "未到场"))).code == "marks_excuse_last"
    (_, entry) = await events(services, w.exam.id, "marks_excused")  # newest first
    assert entry["actor"] == ADMIN.account_id and entry["actor_role"] == "admin"
    assert entry["data"]["reason"] == "考官乙临时生病，未参加评分" and entry["data"]["examiner"] == second.account_id
    # the results: final, with the excused examiner stated
    from tests.marking.test_results import all_rows

    row = next(r for r in await all_rows(services, w.exam.id) if r["id_number"] == w.live.world.roster[1][1])
    (cell,) = [c for c in row["subjects"] if c["subject_id"] == w.subject_id]
    assert cell["status"] == "final" and cell["final"] == 83.5
    assert [(m["account_id"], m["state"]) for m in cell["markers"]] == [
        (first.account_id, "sealed"),
        (second.account_id, "excused"),
    ]
    # not while the interview goes on
    live = await interview(w, 3, end="in_room")
    assert (await refused(marks.excuse(ADMIN, live, second.account_id, "未到场"))).code == "marks_excuse_not_ended"


async def test_an_excuse_racing_the_examiners_own_seal_lands_once_either_way(w, services):
    """The excuse and the seal are each one script reading the other's field: whichever lands first, the
    other is refused (four interviews, four races)."""
    marks = services.interview_marks
    first, second = w.actors
    for i in range(4):
        iv = await interview(w, i)
        await marks.seal(first, w.room.id, iv, FULL_1, "")
        outcomes = await asyncio.gather(
            marks.excuse(ADMIN, iv, second.account_id, "未到场"),
            marks.seal(second, w.room.id, iv, FULL_2, ""),
            return_exceptions=True,
        )
        errors = [o for o in outcomes if isinstance(o, UserError)]
        assert len(errors) == 1 and errors[0].code in ("marks_excused", "marks_excuse_sealed"), outcomes
        sheets = await marks.sheets(iv)
        excused = "excused:" + second.account_id in await services.store.redis.hgetall(
            services.store.keys.interview_marks(iv)
        )
        assert excused != (second.account_id in sheets and sheets[second.account_id].state == "sealed")
