"""The demo exam: staff accounts, an exam with two subjects, rooms, today's slots and a small roster.

Seeding is idempotent (a marker key holds the demo exam id); logins are made once,
kept in ``<data_dir>/demo-logins.json`` and printed at every start.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import time
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

from .config import Settings
from .roster import idcard
from .roster.photos import PhotoSource
from .services import Services
from .store.audit import Actor

log = logging.getLogger(__name__)

SCHOOL = "演示艺术学院"
EXAM = "2027 年本科招生专业考试 · 互动面试（演示）"
NOTICE = """1. 请严格按照预约的考试时间进入考试，预约完成后不可修改。
2. 进入面试前须完成设备检测和人脸比对，连续 3 次人脸验证失败须申请人工审核。
3. 考试全程手机不得静音，画面中仅允许出现考生本人。
4. 面试结束后系统会自动退出面试房间，无需手动操作。"""
PLEDGE = "本人承诺：遵守考试纪律，由本人独立完成考试，不录屏、不截屏、不投屏，不弄虚作假。如有违反，自愿承担一切后果。"

CANDIDATES = [  # name, phone, id sequence, subjects
    ("张小艺", "13800000001", 11, "声乐"),
    ("李同学", "13800000002", 12, "声乐;器乐"),
    ("王同学", "13800000003", 13, "器乐"),
]


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
    logins = {role: {"username": f"{role}1", "password": f"demo-{secrets.token_hex(4)}"}
              for role in ("admin", "proctor", "examiner")}
    logins["examiner2"] = {"username": "examiner2", "password": f"demo-{secrets.token_hex(4)}"}
    logins["candidate"] = {"phone": CANDIDATES[0][1], "password": f"demo-{secrets.token_hex(4)}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(logins, indent=2))
    os.chmod(path, 0o600)
    return logins


async def seed_demo(services: Services, settings: Settings) -> dict:
    logins = _logins(settings.data_dir / "demo-logins.json")
    marker = services.store.keys.demo_exam()
    exam_id = await services.store.redis.get(marker)
    if exam_id and await services.catalog.find_exam(exam_id):
        return {"logins": logins, "exam_id": exam_id}

    system = Actor.system()
    accounts = {}
    for key, login in logins.items():
        if key == "candidate":
            continue
        found = await services.directory.find_by_login(login["username"])
        role = "examiner" if key.startswith("examiner") else key
        accounts[key] = found or await services.directory.create(
            role, login["password"], system, name={"admin": "教务管理员", "proctor": "巡考员一",
                                                   "examiner": "考官甲", "examiner2": "考官乙"}[key],
            username=login["username"])
    if not await services.directory.find_by_login(logins["candidate"]["phone"]):
        await services.directory.create("candidate", logins["candidate"]["password"], system,
                                        phone=logins["candidate"]["phone"])

    now = time.time()
    exam = await services.catalog.create_exam(
        system, school=SCHOOL, name=EXAM, booking_opens=now - 86400, booking_closes=now + 7 * 86400,
        notice=NOTICE, pledge=PLEDGE,
        subjects=[{"name": "声乐", "interview_minutes": 10}, {"name": "器乐", "interview_minutes": 15}])
    voice, instrument = await services.catalog.subjects(exam.id)
    room_a = await services.catalog.create_room(system, exam.id, voice.id, "声乐第一考场",
                                                [accounts["examiner"].id, accounts["examiner2"].id])
    room_b = await services.catalog.create_room(system, exam.id, instrument.id, "器乐考场", [accounts["examiner2"].id])
    start = (int(now) // 3600 + 1) * 3600  # next full hour, then hourly slots for two days
    for day in range(2):
        for hour in range(4):
            begins = start + day * 86400 + hour * 3600
            await services.catalog.create_slot(system, exam.id, room_a.id, begins, begins + 3600, 6)
            await services.catalog.create_slot(system, exam.id, room_b.id, begins, begins + 3600, 4)

    rows = ["姓名,身份证号,手机号,报考科目,照片"]
    photos = {}
    portraits = _package_portraits()
    if len(portraits) < 2:
        log.warning("no real portraits installed: demo ID photos are drawn and the face check will refuse them")
    for index, (name, phone, seq, subjects) in enumerate(CANDIDATES):
        number = idcard.make("110101", "20070315", seq)
        suffix = ".png" if portraits and portraits[index % len(portraits)][:4] == b"\x89PNG" else ".jpg"
        rows.append(f"{name},{number},{phone},{subjects},{number}{suffix}")
        photos[f"{number}{suffix}"] = portraits[index % len(portraits)] if portraits else _portrait(index)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for filename, data in photos.items():
            zf.writestr(filename, data)
    await services.importer.import_csv(system, exam.id, "\n".join(rows).encode("utf-8"),
                                       PhotoSource.from_zip(archive.getvalue(), settings.max_photo_bytes))
    await services.store.redis.set(marker, exam.id)
    return {"logins": logins, "exam_id": exam.id}


def print_demo(settings: Settings, demo: dict) -> None:
    base = settings.base_url
    logins = demo["logins"]
    name, _, seq, _ = CANDIDATES[0]
    lines = [
        "",
        "=" * 72,
        f" Interview server is running: {base}   (demo exam {demo['exam_id']})",
        "=" * 72,
        f" Candidate (phone)  {base}/login    login {logins['candidate']['phone']}  password {logins['candidate']['password']}",
        f"                    verify identity as: {name} / {idcard.make('110101', '20070315', seq)}",
        "                    (demo ID photos are public-domain portraits: to pass the face check as yourself,",
        "                     import your own photo on the admin page)",
        f" Examiner           {base}/examiner login {logins['examiner']['username']}  password {logins['examiner']['password']}",
        f" Examiner 2         {base}/examiner login {logins['examiner2']['username']}  password {logins['examiner2']['password']}",
        f" Proctor            {base}/proctor  login {logins['proctor']['username']}  password {logins['proctor']['password']}",
        f" Admin              {base}/admin    login {logins['admin']['username']}  password {logins['admin']['password']}",
        f" Health {base}/healthz   Metrics {base}/metrics   API {base}/api/openapi.yaml",
        " Stop with Ctrl+C. Data (embedded Redis with AOF, photos, logins) is kept under "
        + str(settings.data_dir.resolve()),
        "=" * 72,
        "",
    ]
    print("\n".join(lines), flush=True)
