"""Live interview marking in real browsers (docs/marking.md): two examiners of one room, each in their
own desktop Chromium (1280x900) on the room page, mark the interview in progress on the marking card.
The draft is saved as they type ("已保存草稿") and survives a reload; the first examiner submits and
sees who of the panel has submitted, but not the second's marks; the interview ends; the second
examiner finds it on the home page's "未完成评分" list, opens it from there and submits; both then see
each other's marks and the final mark, the rubric's combination (the mean) of the two totals."""

from __future__ import annotations

import asyncio

from server.marking.rubrics import Rubric
from server.store.audit import Actor
from tests.conftest import ADMIN, PASSWORD, build_world
from tests.e2e.conftest import TEST_TIMEOUT_S
from tests.e2e.test_interview import staff_login
from tests.facecheck import faces
from tests.live import FIT_DEVICE, LiveWorld

SCREEN = {"width": 1280, "height": 900}
RUBRIC = {
    "criteria": [
        {"id": "skill", "name": "技巧", "max": 40},
        {"id": "show", "name": "表现", "max": 40},
        {"id": "look", "name": "形象", "max": 20},
    ],
    "step": 0.5,
    "combine": "mean",
}


async def panel_in_interview(services):
    """A running slot whose room has two examiners; its one candidate called and in the room."""
    world = await build_world(
        services, roster_size=1, capacity=2, slot_in=-30, photos=[faces.encode(faces.grace_hopper())]
    )
    second = await services.directory.create(
        "examiner", PASSWORD, Actor.system(), name="李老师", username="examiner-two"
    )
    room = world.rooms[0]
    await services.store.redis.sadd(services.store.keys.room_examiners(room.id), second.id)
    await services.rubrics.set(ADMIN, world.exam.id, room.subject_id, Rubric.from_json("", RUBRIC))
    live = LiveWorld(world, services)
    account = await live.booked(0)
    await live.present(account)
    await services.queue.join(account, world.exam.id, world.slots[0].id, FIT_DEVICE)
    await live.pass_face(account)
    entry = await services.queue.call_next(Actor(world.staff["examiner"].id, "examiner"), room.id)
    await services.queue.enter_room(account, room.id)
    # entered without media here, so no room-entry face check ran: record its pass, or no sheet seals
    await live.pass_room_check(account, entry.admission, room.id)
    return world, second, account, entry.admission


async def open_room(browsers, cameras, base, username: str, room_id: str):
    page = await browsers(cameras["astronaut"], desktop=True)
    await page.set_viewport_size(SCREEN)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "确认提交评分？"
    await staff_login(page, base, username, "/examiner")
    await page.goto(f"{base}/examiner/rooms/{room_id}")
    return page


async def type_marks(page, marks: dict, comment: str | None = None) -> None:
    for criterion, value in marks.items():
        await page.fill(f"#marking input[data-criterion={criterion}]", str(value))
    if comment is not None:
        await page.fill("#marking-comment", comment)
    await page.wait_for_selector("#marking-status[data-kind=saved]")


async def test_two_examiners_mark_an_interview_blind_then_see_the_final_mark(
    live_server, services, browsers, cameras, shots
):
    world, second, account, interview = await panel_in_interview(services)
    room = world.rooms[0]
    async with asyncio.timeout(TEST_TIMEOUT_S):
        first = await open_room(browsers, cameras, live_server, "examiner-one", room.id)
        await first.wait_for_selector(f"#marking[data-interview='{interview}'][data-state=none]")
        assert await first.inner_text("#marking-who") == "考生0（面试中）"
        assert await first.get_attribute("#marking input[data-criterion=look]", "max") == "20"
        assert await first.get_attribute("#marking input[data-criterion=skill]", "step") == "0.5"

        # a draft as they type, kept across a reload
        await type_marks(first, {"skill": 35.5, "show": 30})
        assert "已保存草稿" in await first.inner_text("#marking-status")
        assert await first.inner_text("#marking-total") == "65.5"
        await shots(first, "first-draft-saved", full_page=False)
        await first.reload()
        await first.wait_for_selector(f"#marking[data-interview='{interview}'][data-state=draft]")
        assert await first.input_value("#marking input[data-criterion=skill]") == "35.5"

        # a mark off the step: the server's message, nothing saved
        await first.fill("#marking input[data-criterion=look]", "18.3")
        await first.wait_for_selector("#marking-status[data-kind=error]")
        assert "0.5 的整数倍" in await first.inner_text("#marking-status")
        assert await first.get_attribute("#marking input[data-criterion=look]", "aria-invalid") == "true"
        await shots(first, "first-off-step", full_page=False)
        sheets = await services.interview_marks.sheets(interview)
        assert sheets[world.staff["examiner"].id].marks == {"skill": 35.5, "show": 30}

        await type_marks(first, {"look": 18}, "音色明亮，台风稳")
        await first.click("#marking-seal")
        await first.wait_for_selector("#marking[data-state=sealed]")
        assert await first.is_disabled("#marking input[data-criterion=skill]")
        assert "83.5" in await first.inner_text("#marking .mark-total")
        await first.wait_for_selector(
            f"#marking-panel li[data-account='{world.staff['examiner'].id}'][data-sealed=true]"
        )
        assert await first.is_visible("#marking-hidden")

        # the second examiner: sees that the first submitted, never the first's marks
        other = await open_room(browsers, cameras, live_server, "examiner-two", room.id)
        await other.wait_for_selector(f"#marking[data-interview='{interview}']")
        await other.wait_for_selector(
            f"#marking-panel li[data-account='{world.staff['examiner'].id}'][data-sealed=true]"
        )
        text = await other.inner_text("#marking")
        assert "已提交" in text and "83.5" not in text and "音色明亮" not in text
        assert await other.input_value("#marking input[data-criterion=skill]") == ""
        await type_marks(other, {"skill": 30})
        await shots(other, "second-before-submitting", full_page=False)
        assert await first.query_selector("#marking-others") is None  # nothing of the second's sheet
        await shots(first, "first-sealed-waiting", full_page=False)

        # the interview ends; the second examiner's home lists it as unfinished
        await services.queue.finish(Actor(world.staff["examiner"].id, "examiner"), room.id, account.id)
        await other.goto(f"{live_server}/examiner")
        await other.wait_for_selector(f"#unfinished-list li[data-interview='{interview}']")
        assert "已有草稿" in await other.inner_text("#unfinished-list")
        await shots(other, "second-unfinished-list")
        await other.click(f"#unfinished-list li[data-interview='{interview}'] a")
        await other.wait_for_url(f"**/examiner/rooms/{room.id}?interview={interview}")
        await other.wait_for_selector(f"#marking[data-interview='{interview}'][data-state=draft]")
        assert await other.input_value("#marking input[data-criterion=skill]") == "30"
        await type_marks(other, {"show": 32, "look": 16}, "节奏感好")
        await other.click("#marking-seal")
        await other.wait_for_selector("#marking[data-all-sealed=true]")

        # both see both sheets and the final mark: the mean of 83.5 and 78
        for page in (other, first):
            await page.wait_for_selector("#marking-final")
            assert await page.inner_text("#marking-final") == "80.75"
            table = await page.inner_text("#marking-others")
            assert "83.5" in table and "78" in table and "音色明亮" in table and "节奏感好" in table
        await shots(first, "first-final")
        await shots(other, "second-final")
        await other.goto(f"{live_server}/examiner")
        await other.wait_for_selector("#room-list .room")
        assert await other.is_hidden("#unfinished")
        assert await services.interview_marks.final(interview) == 80.75
        # the one error the console shows is the refused off-step draft (a 400 with its message)
        assert [e for e in browsers.errors if "status of 400" not in e] == [], browsers.errors
        assert len(browsers.errors) <= 1, browsers.errors


async def test_the_admin_edits_a_subjects_rubric_until_a_mark_is_sealed(
    live_server, services, browsers, cameras, shots
):
    """The admin page's 评分标准 section: a subject without a rubric offers a suggestion; saved with a
    changed step and an added criterion; a bad maximum is refused with its message; read-only once an
    examiner sealed a mark of the subject."""
    world, second, account, interview = await panel_in_interview(services)
    subject = world.subjects[1]  # no rubric yet
    async with asyncio.timeout(TEST_TIMEOUT_S):
        page = await browsers(cameras["astronaut"], desktop=True)
        await page.set_viewport_size(SCREEN)
        await staff_login(page, live_server, "admin-one", "/admin")
        await page.goto(f"{live_server}/admin?exam={world.exam.id}")
        form = f"#rubric-subjects form[data-subject='{subject.id}']"
        await page.wait_for_selector(form)
        assert "未设置" in await page.inner_text(f"{form} legend")
        await page.select_option(f"{form} select[name=step]", "0.5")
        await page.click(f"{form} button:has-text('添加评分项')")
        await page.fill(f"{form} tbody tr:last-child input[name=crit_name]", "乐感")
        await page.fill(f"{form} tbody tr:last-child input[name=crit_max]", "10.5")
        await page.fill(f"{form} tbody tr:nth-child(1) input[name=crit_max]", "0")
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_selector(f"{form} .error")
        assert "“技巧”的满分应大于 0 且不超过 1000" in await page.inner_text(f"{form} .error")
        assert (await services.rubrics.get(subject.id)) is None  # nothing changed
        await page.fill(f"{form} tbody tr:nth-child(1) input[name=crit_max]", "30")
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_selector(f"{form} span[role=status]:not([hidden])")
        await page.locator("#rubrics").scroll_into_view_if_needed()
        await shots(page, "admin-rubric-saved", full_page=False)
        saved = await services.rubrics.get(subject.id)
        assert saved is not None and saved.step == 0.5 and saved.max_total == 30 + 40 + 20 + 10.5
        assert [c.name for c in saved.criteria] == ["技巧", "表现", "形象", "乐感"]
        assert [c.id for c in saved.criteria][-1] == "c1"

        # the room's subject: frozen once a mark is sealed
        room = world.rooms[0]
        marks = {"skill": 30, "show": 30, "look": 15}
        await services.interview_marks.seal(Actor(second.id, "examiner"), room.id, interview, marks, "")
        await page.reload()
        frozen = f"#rubric-subjects form[data-subject='{room.subject_id}']"
        await page.wait_for_selector(frozen)
        assert await page.is_disabled(f"{frozen} tbody tr:first-child input[name=crit_max]")
        assert await page.query_selector(f"{frozen} button[type=submit]") is None
        assert "不能再修改" in await page.inner_text(frozen)
        await page.locator(frozen).scroll_into_view_if_needed()
        await shots(page, "admin-rubric-frozen", full_page=False)
        # the one error the console shows is the refused rubric (a 400 with its message)
        assert [e for e in browsers.errors if "status of 400" not in e] == [], browsers.errors
