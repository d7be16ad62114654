"""The demo as a newcomer meets it: every start offers the demo candidate an interview now, and the banner
says what to do, in order, with the slot's times and (for phones on the LAN) HTTPS URLs and a QR code."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import pytest

from server.demo import CANDIDATES, MIN_LEFT_S, VOICE_ROOM, demo_id_number, demo_room, seed_demo
from server.demo_banner import _qr, banner
from server.queue.entries import DONE, WAITING_FACE_CHECK
from server.store.audit import Actor
from server.tls import for_demo
from tests.conftest import fast_settings
from tests.live import FIT_DEVICE

NAME, PHONE = CANDIDATES[0][0], CANDIDATES[0][1]
NUMBER = demo_id_number(CANDIDATES[0][2])


def covers_now(slot: dict, now: float) -> bool:
    return slot["starts_at"] <= now and slot["ends_at"] - now >= MIN_LEFT_S


async def enrol_and_book(services, demo: dict):
    """The candidate's steps through the services (what the pages call): verify (once per account),
    confirm, notice, pledge, book the running slot, enter the queue."""
    account = await services.directory.find_by_login(PHONE)
    if not account.verified_at:
        account = await services.identity.verify(account, NAME, NUMBER)
    exam_id, slot_id = demo["exam_id"], demo["slot"]["id"]
    await services.enrolments.confirm(account, exam_id)
    await services.enrolments.read_notice(account, exam_id)
    await services.enrolments.sign_pledge(account, exam_id, True)
    slot = await services.bookings.book(account, exam_id, slot_id)  # it began up to 5 minutes ago
    assert slot.id == slot_id
    await services.queue.touch({account.id: ["sid-demo"]}, 30)
    entry = await services.queue.join(account, exam_id, slot_id, FIT_DEVICE)
    return account, entry


async def test_seeding_twice_keeps_one_exam_and_is_fast(services, settings):
    now = time.time()
    first = await seed_demo(services, settings)
    assert first["created"] and covers_now(first["slot"], now)
    assert first["slot"]["starts_at"] % 300 == 0 and first["slot"]["starts_at"] > now - 300
    started = time.perf_counter()
    again = await seed_demo(services, settings)
    assert time.perf_counter() - started < 0.5
    assert not again["created"] and again["exam_id"] == first["exam_id"] and again["slot"] == first["slot"]
    assert [e.id for e in await services.catalog.exams()] == [first["exam_id"]]
    assert len(await services.roster.entries(first["exam_id"])) == len(CANDIDATES)


async def test_a_finished_interview_gives_a_fresh_exam_the_candidate_can_take_now(services, settings):
    old = await seed_demo(services, settings)
    account, entry = await enrol_and_book(services, old)
    assert entry.state == WAITING_FACE_CHECK
    # the interview, through the real services: face check passed, called, in the room, done
    room = await demo_room(services, old["exam_id"])
    await services.face_gate.record(
        old["exam_id"],
        Actor(account.id, "candidate"),
        passed=True,
        reason="",
        distance=0.3,
        check={"check_id": "check_000000000001"},
        kind="queue",
        name=NAME,
        id_number=NUMBER,
        photo_sha256="",
    )
    examiner = await services.directory.find_by_login(old["logins"]["examiner"]["username"])
    await services.queue.call_next(Actor(examiner.id, "examiner"), room.id)
    await services.queue.enter_room(account, room.id)
    done = await services.queue.finish(Actor(examiner.id, "examiner"), room.id, account.id)
    assert done.state == DONE

    fresh = await seed_demo(services, settings)
    assert fresh["created"] and fresh["exam_id"] != old["exam_id"] and "done" in fresh["reason"]
    assert covers_now(fresh["slot"], time.time())
    assert await services.store.redis.get(services.store.keys.demo_exam()) == fresh["exam_id"]
    # one exam on the candidate's list, one 声乐第一考场 among the examiner's rooms; the old exam stays
    account = await services.directory.find_by_login(PHONE)
    assert [c.exam.id for c in await services.enrolments.exams_for(account)] == [fresh["exam_id"]]
    rooms = [
        r
        for e in await services.catalog.exams()
        for r in await services.catalog.rooms(e.id)
        if examiner.id in r.examiners
    ]
    assert [(r.exam_id, r.name) for r in rooms] == [(fresh["exam_id"], VOICE_ROOM)]
    assert await services.catalog.find_exam(old["exam_id"])
    # the same photos on the new roster (so a photo given with set-photo carries over)
    photos = [
        sorted(e.photo_sha256 for e in await services.roster.entries(exam_id))
        for exam_id in (old["exam_id"], fresh["exam_id"])
    ]
    assert photos[0] == photos[1] and all(photos[0])

    _, entry = await enrol_and_book(services, fresh)
    assert entry.state == WAITING_FACE_CHECK and entry.room != room.id
    assert not (await seed_demo(services, settings))["created"]  # booked and waiting: kept


@pytest.mark.parametrize("later_s, kept", [(10 * 60, True), (5 * 3600, False)])
async def test_a_start_after_the_slots_makes_a_fresh_exam(services, settings, later_s, kept):
    now = time.time()
    first = await seed_demo(services, settings, now=now)
    later = await seed_demo(services, settings, now=now + later_s)
    assert later["created"] is not kept
    assert covers_now(later["slot"], now + later_s)
    if not kept:
        assert "no slot" in later["reason"] and later["exam_id"] != first["exam_id"]


def beijing(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, ZoneInfo("Asia/Shanghai")).strftime("%H:%M")


async def test_banner_on_the_lan_lists_the_steps_in_order_the_slot_and_https_urls(
    services, tmp_path, redis_url, prefix
):
    settings = for_demo(fast_settings(tmp_path, redis_url, prefix, host="0.0.0.0", port=8443))
    assert settings.tls_self_signed
    demo = await seed_demo(services, settings)
    text = banner(settings, demo, addresses=["192.168.1.23", "10.0.0.7"])
    slot = demo["slot"]
    span = f"{beijing(slot['starts_at'])} – {beijing(slot['ends_at'])}"
    assert f"{VOICE_ROOM}, {span} 北京时间" in text
    steps = [
        f"https://192.168.1.23:8443/login    login {PHONE}",
        f"{NAME} / {NUMBER}",
        "确认考试",
        "考前须知",
        "诚信承诺",
        f"book 声乐 {span}",
        "开始面试",
        "设备检测",
        "人脸比对",
        "set-photo",
        "https://192.168.1.23:8443/examiner  login examiner1",
        f"open {VOICE_ROOM}",
        "叫号",
        "/proctor   login proctor1",
        "/admin     login admin1",
    ]
    places = [text.index(step) for step in steps]
    assert places == sorted(places), steps
    for address in ("192.168.1.23", "10.0.0.7"):
        for page in ("login", "examiner", "proctor", "admin"):
            assert f"https://{address}:8443/{page}" in text
    assert "\n".join(_qr("https://192.168.1.23:8443/login")) in text
    assert sum(1 for line in text.splitlines() if "█" in line) >= 10
    assert "高级 → 继续前往" in text and "显示详细信息 → 访问此网站" in text
    assert "http://" not in text


async def test_banner_on_this_machine_keeps_plain_local_links(services, settings):
    demo = await seed_demo(services, settings)
    text = banner(settings, demo, addresses=["192.168.1.23"])
    assert "http://127.0.0.1:8080/login    login 13800000001" in text and "https://" not in text
    assert "█" not in text and "INTERVIEW_HOST=0.0.0.0 make demo" in text
    assert re.search(r"login admin1\s+password demo-\w+", text)


def test_only_a_non_loopback_demo_turns_tls_on(tmp_path, redis_url, prefix):
    assert not for_demo(fast_settings(tmp_path, redis_url, prefix)).tls
    assert not for_demo(fast_settings(tmp_path, redis_url, prefix, host="localhost")).tls
    assert for_demo(fast_settings(tmp_path, redis_url, prefix, host="192.168.1.23")).tls_self_signed
    given = fast_settings(tmp_path, redis_url, prefix, host="0.0.0.0", tls_cert="/c.pem", tls_key="/k.pem")
    assert for_demo(given) == given
