"""The demo exam: staff accounts, an exam with two live-interview subjects and one recorded subject
(才艺展示, 录制考试: open for a day from the start), rooms, slots and a small roster, so that a newcomer can
hold a whole interview, or record and submit a take, minutes after ``interview-server demo`` starts.

Every start makes sure the demo candidate (张小艺) can be interviewed *now*: the demo exam (its id under
a marker key) is kept while its room 声乐第一考场 has a slot running with at least 40 minutes left that
the candidate has booked or still can (the demo exam lets a running slot be booked while 30 minutes of
it remain), and the candidate's interview there is neither done nor waiting for a face review, and the recorded subject's
window has 40 minutes left and the candidate has neither submitted it nor used every entry. Otherwise
a fresh demo exam is made for today (a slot that began at the last 5-minute mark, then hourly ones); the
old one is retired: it stays for the admin (audit, recordings) but leaves the demo candidates' exam list
and the demo examiners' rooms, so the pages show one exam and one 声乐第一考场. A queue entry belongs to a
room and an account, so a candidate who finished in a room cannot enter it again: new rooms are the
clean way to a new interview. Logins are made once, kept in ``<data_dir>/demo-logins.json`` and printed
at every start.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import secrets
import time
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from .config import Settings
from .errors import UserError
from .queue.entries import DONE, REVIEW_PENDING
from .roster import idcard
from .roster.photos import PhotoSource
from .services import Services
from .store import audit
from .store.audit import Actor
from .store.models import Exam, Slot, Subject

log = logging.getLogger(__name__)

SCHOOL = "演示艺术学院"
EXAM = "2027 年本科招生专业考试 · 互动面试（演示）"
NOTICE = """1. 请严格按照预约的考试时间进入考试，预约完成后不可修改。
2. 进入面试前须完成设备检测和人脸比对，连续 3 次人脸验证失败须申请人工审核。
3. 考试全程手机不得静音，画面中仅允许出现考生本人。
4. 面试结束后系统会自动退出面试房间，无需手动操作。"""
PLEDGE = "本人承诺：遵守考试纪律，由本人独立完成考试，不录屏、不截屏、不投屏，不弄虚作假。如有违反，自愿承担一切后果。"
VOICE_ROOM, INSTRUMENT_ROOM = "声乐第一考场", "器乐考场"
RECORDED = "才艺展示"  # the demo's recorded subject (录制考试, docs/recorded.md)
# its rules: open from the demo's start for a day; 3 takes of at most 2 minutes, 50 minutes from entering,
# 3 entries (重置 uses one), 2 mock exams
RECORDED_RULES = {
    "kind": "recorded",
    "form": "performance",
    "takes_allowed": 3,
    "take_max_s": 120,
    "time_limit_min": 50,
    "sittings_allowed": 3,
    "mock_tries": 2,
}
RECORDED_OPEN_S = 24 * 3600

CANDIDATES = [  # name, phone, id sequence, subjects
    ("张小艺", "13800000001", 11, f"声乐;{RECORDED}"),
    ("李同学", "13800000002", 12, f"声乐;器乐;{RECORDED}"),
    ("王同学", "13800000003", 13, "器乐"),
]

SLOT_ALIGN_S = 5 * 60  # the first slot begins at the last 5-minute mark before the start
SLOT_S = 3600
MIN_LEFT_S = 40 * 60  # a running slot with less left does not count as "an interview now"
LATE_BOOKING_MIN = 30  # the demo exam lets a running slot be booked while this much of it remains
STAFF_NAMES = {"admin": "教务管理员", "proctor": "巡考员一", "examiner": "考官甲", "examiner2": "考官乙"}


def demo_id_number(seq: int) -> str:
    return idcard.make("110101", "20070315", seq)


def _package_portraits() -> list[bytes]:
    """Public-domain portraits that ship inside installed packages (the setup installs them):
    Grace Hopper (matplotlib) and Eileen Collins (scikit-image). Empty if neither is installed."""
    found = []
    try:
        import matplotlib

        found.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    except ImportError:
        pass
    try:
        import skimage

        found.append(Path(skimage.__file__).parent / "data" / "astronaut.png")
    except ImportError:
        pass
    return [p.read_bytes() for p in found if p.is_file()]


def _portrait(seed: int) -> bytes:
    """A drawn stand-in when no real portrait is installed (the face check will refuse it)."""
    img = Image.new("RGB", (358, 441), (67, 142, 219))
    draw = ImageDraw.Draw(img)
    skin = (236, 200, 170 - seed * 5)
    draw.ellipse((104, 90, 254, 270), fill=skin)
    draw.rectangle((60, 300, 298, 441), fill=(40, 40, 48))
    draw.ellipse((140, 160, 160, 175), fill=(30, 30, 30))
    draw.ellipse((198, 160, 218, 175), fill=(30, 30, 30))
    draw.arc((150, 200, 208, 240), 20, 160, fill=(150, 60, 60), width=4)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def _logins(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    logins = {
        role: {"username": f"{role}1", "password": f"demo-{secrets.token_hex(4)}"}
        for role in ("admin", "proctor", "examiner")
    }
    logins["examiner2"] = {"username": "examiner2", "password": f"demo-{secrets.token_hex(4)}"}
    logins["candidate"] = {"phone": CANDIDATES[0][1], "password": f"demo-{secrets.token_hex(4)}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(logins, indent=2))
    os.chmod(path, 0o600)
    return logins


def local_time(epoch: float, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, ZoneInfo(tz))


# --- is the current demo exam good for an interview now? ------------------------------------------


async def demo_room(services: Services, exam_id: str):
    return next((r for r in await services.catalog.rooms(exam_id) if r.name == VOICE_ROOM), None)


async def recorded_subject(services: Services, exam_id: str) -> Subject | None:
    return next((s for s in await services.catalog.subjects(exam_id) if s.name == RECORDED and s.recorded), None)


async def recorded_for_now(services: Services, exam: Exam, candidate_phone: str, now: float) -> str:
    """Why the demo candidate cannot sit the recorded subject now ("" when they can): its window closes
    within 40 minutes, or they have no entry left, or they submitted it already."""
    subject = await recorded_subject(services, exam.id)
    if subject is None:
        return f"the demo exam has no recorded subject {RECORDED}"
    if not subject.window_opens <= now <= subject.window_closes - MIN_LEFT_S:
        return f"the window of {RECORDED} is closed (or closes within 40 minutes)"
    account = await services.directory.find_by_login(candidate_phone)
    if account is None or not account.verified_at:
        return ""
    try:
        overview = await services.sittings.overview(account, exam.id)
    except UserError:
        return ""  # not enrolled yet (not confirmed...): nothing used
    mine = next((o for o in overview if o["subject"]["id"] == subject.id), None)
    formal = (mine or {}).get("sittings", {}).get("formal") or {}
    if mine and (mine["submission"] or (mine["sittings_left"] == 0 and formal.get("state") != "in_progress")):
        return f"the demo candidate has submitted {RECORDED} (or used every entry)"
    return ""


async def slot_for_now(services: Services, exam: Exam, candidate_phone: str, now: float) -> tuple[Slot | None, str]:
    """The slot of 声乐第一考场 in which the demo candidate can be interviewed now, or (None, why not);
    (None, why) too when the recorded subject cannot be sat now (``recorded_for_now``)."""
    why = await recorded_for_now(services, exam, candidate_phone, now)
    if why:
        return None, why
    if exam.late_booking_min <= 0:
        return None, "the demo exam does not let a running slot be booked"
    if not exam.booking_opens <= now <= exam.booking_closes - MIN_LEFT_S:
        return None, "the demo exam's booking window is closed"
    room = await demo_room(services, exam.id)
    if room is None:
        return None, f"the demo exam has no room {VOICE_ROOM}"
    account = await services.directory.find_by_login(candidate_phone)
    booked = ""
    if account:
        if (await services.face_gate.status(exam.id, account.id)).locked:
            return None, "the demo candidate's face check waits for (or failed) a proctor's review"
        entry = await services.queue.entry(room.id, account.id)
        if entry and entry.state in (DONE, REVIEW_PENDING):  # the room will not take them again
            return None, f"the demo candidate's interview in {VOICE_ROOM} is {entry.state}"
        booked = (await services.bookings.of_candidate(account.id)).get(room.subject_id, "")
    if account and booked:
        slot = await services.catalog.find_slot(booked)
        if slot is None or slot.ends_at - now < MIN_LEFT_S:
            return None, "the demo candidate's booked slot is over (or ends within 40 minutes)"
        if slot.starts_at - services.queue.early_entry_s > now:
            return None, "the demo candidate booked a later slot"
        return slot, ""
    for slot in await services.catalog.slots(exam.id):
        if (
            slot.room_id == room.id
            and slot.starts_at <= now
            and slot.ends_at - now >= MIN_LEFT_S
            and slot.booked < slot.capacity
        ):
            return slot, ""
    return None, f"no slot of {VOICE_ROOM} runs now with 40 minutes left"


# --- seeding ----------------------------------------------------------------------------------------


async def _accounts(services: Services, logins: dict) -> dict:
    """The staff accounts (made if missing) by logins key; the demo candidate's account is made too."""
    system = Actor.system()
    accounts = {}
    for key, login in logins.items():
        if key == "candidate":
            continue
        found = await services.directory.find_by_login(login["username"])
        role = "examiner" if key.startswith("examiner") else key
        accounts[key] = found or await services.directory.create(
            role, login["password"], system, name=STAFF_NAMES[key], username=login["username"]
        )
    if not await services.directory.find_by_login(logins["candidate"]["phone"]):
        await services.directory.create(
            "candidate",
            logins["candidate"]["password"],
            system,
            phone=logins["candidate"]["phone"],
            contact_verified_at=time.time(),  # made as if she had registered with the code sent to it
        )
    return accounts


async def _roster_photos(services: Services, previous: Exam | None) -> dict[str, bytes]:
    """ID number -> photo: the previous demo exam's (so a photo given with ``set-photo`` carries over),
    else the installed public-domain portraits, else drawn ones."""
    kept: dict[str, bytes] = {}
    if previous:
        for _, _, seq, _ in CANDIDATES:
            entry = await services.roster.entry(previous.id, demo_id_number(seq))
            path = services.photos.path(entry.photo_sha256) if entry else None
            if path:
                kept[demo_id_number(seq)] = path.read_bytes()
    portraits = _package_portraits()
    if len(portraits) < 2 and len(kept) < len(CANDIDATES):
        log.warning("no real portraits installed: demo ID photos are drawn and the face check will refuse them")
    for index, (_, _, seq, _) in enumerate(CANDIDATES):
        fallback = portraits[index % len(portraits)] if portraits else _portrait(index)
        kept.setdefault(demo_id_number(seq), fallback)
    return kept


async def _import_roster(services: Services, settings: Settings, exam_id: str, previous: Exam | None) -> None:
    rows = ["姓名,身份证号,手机号,报考科目,照片"]
    photos = {}
    by_number = await _roster_photos(services, previous)
    for name, phone, seq, subjects in CANDIDATES:
        number = demo_id_number(seq)
        data = by_number[number]
        filename = number + (".png" if data[:4] == b"\x89PNG" else ".jpg")
        rows.append(f"{name},{number},{phone},{subjects},{filename}")
        photos[filename] = data
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for filename, data in photos.items():
            zf.writestr(filename, data)
    await services.importer.import_csv(
        Actor.system(),
        exam_id,
        "\n".join(rows).encode("utf-8"),
        PhotoSource.from_zip(archive.getvalue(), settings.max_photo_bytes),
    )


async def _create_exam(
    services: Services, settings: Settings, accounts: dict, now: float, previous: Exam | None
) -> tuple[Exam, Slot]:
    """Today's demo exam: per room a slot that began at the last 5-minute mark and runs an hour, three
    more hourly ones after it, and the same four tomorrow. Returns the exam and the running 声乐 slot."""
    system, catalog = Actor.system(), services.catalog
    start = now // SLOT_ALIGN_S * SLOT_ALIGN_S
    exam = await catalog.create_exam(
        system,
        school=SCHOOL,
        name=f"{EXAM} {local_time(start, settings.timezone):%m-%d %H:%M}",
        booking_opens=now - 86400,
        booking_closes=now + 7 * 86400,
        notice=NOTICE,
        pledge=PLEDGE,
        subjects=[
            {"name": "声乐", "interview_minutes": 10},
            {"name": "器乐", "interview_minutes": 15},
            {"name": RECORDED, "interview_minutes": 10},
        ],
        late_booking_min=LATE_BOOKING_MIN,
    )
    voice, instrument, recorded = await catalog.subjects(exam.id)
    await catalog.update_subject(
        system,
        exam.id,
        recorded.id,
        **RECORDED_RULES,
        window_opens=start - SLOT_ALIGN_S,
        window_closes=start + RECORDED_OPEN_S,
    )
    room_a = await catalog.create_room(
        system, exam.id, voice.id, VOICE_ROOM, [accounts["examiner"].id, accounts["examiner2"].id]
    )
    room_b = await catalog.create_room(system, exam.id, instrument.id, INSTRUMENT_ROOM, [accounts["examiner2"].id])
    await services.proctors.assign(system, exam.id, [accounts["proctor"].id])  # the demo's proctor watches it
    running = None
    for day in range(2):
        for hour in range(4):
            begins = start + day * 86400 + hour * SLOT_S
            slot = await catalog.create_slot(system, exam.id, room_a.id, begins, begins + SLOT_S, 6)
            running = running or slot
            await catalog.create_slot(system, exam.id, room_b.id, begins, begins + SLOT_S, 4)
    await _import_roster(services, settings, exam.id, previous)
    assert running is not None
    return exam, running


async def _retire(services: Services, old_exam_id: str, new_exam_id: str, accounts: dict) -> None:
    """Take the old demo exam off the demo candidates' lists and the demo examiners' rooms (kept for the
    admin): the candidate page asks every listed exam to be booked before it offers 开始面试."""
    store, keys = services.store, services.store.keys
    examiners = [accounts["examiner"].id, accounts["examiner2"].id]
    rooms = await store.redis.smembers(keys.exam_rooms(old_exam_id))
    async with store.pipeline() as pipe:
        for _, _, seq, _ in CANDIDATES:
            pipe.srem(keys.rostered(demo_id_number(seq)), old_exam_id)
        for room_id in rooms:
            pipe.srem(keys.room_examiners(room_id), *examiners)
        audit.add(pipe, keys, old_exam_id, "demo_exam_retired", Actor.system(), replaced_by=new_exam_id)
        await pipe.execute()


def _result(logins: dict, exam: Exam, slot: Slot, created: bool, reason: str, recorded: Subject | None) -> dict:
    return {
        "logins": logins,
        "exam_id": exam.id,
        "created": created,
        "reason": reason,
        "room": VOICE_ROOM,
        "slot": {"id": slot.id, "starts_at": slot.starts_at, "ends_at": slot.ends_at},
        "late_booking_min": exam.late_booking_min,
        "recorded": {
            "subject_id": recorded.id,
            "name": recorded.name,
            "window_opens": recorded.window_opens,
            "window_closes": recorded.window_closes,
            "takes_allowed": recorded.takes_allowed,
            "take_max_s": recorded.take_max_s,
            "time_limit_min": recorded.time_limit_min,
        }
        if recorded
        else None,
    }


async def seed_demo(services: Services, settings: Settings, now: float | None = None) -> dict:
    """Make sure the demo candidate can have an interview now (see the module docstring); ``now`` lets a
    test move the clock. Returns the logins, the demo exam id and the slot to book."""
    now = time.time() if now is None else now
    logins = _logins(settings.data_dir / "demo-logins.json")
    marker = services.store.keys.demo_exam()
    previous = await services.catalog.find_exam(await services.store.redis.get(marker) or "")
    reason = "no demo exam yet"
    if previous:
        slot, reason = await slot_for_now(services, previous, logins["candidate"]["phone"], now)
        if slot:
            log.info("demo exam kept", extra={"exam_id": previous.id, "slot_id": slot.id})
            return _result(logins, previous, slot, False, "", await recorded_subject(services, previous.id))
    accounts = await _accounts(services, logins)
    exam, slot = await _create_exam(services, settings, accounts, now, previous)
    if previous:
        await _retire(services, previous.id, exam.id, accounts)
    await services.store.redis.set(marker, exam.id)
    log.info(
        "demo exam created",
        extra={
            "exam_id": exam.id,
            "reason": reason,
            "replaces": previous.id if previous else "",
            "slot_id": slot.id,
            "slot_starts": local_time(slot.starts_at, settings.timezone).isoformat(),
            "slot_ends": local_time(slot.ends_at, settings.timezone).isoformat(),
        },
    )
    return _result(logins, exam, slot, True, reason, await recorded_subject(services, exam.id))
