"""Shared fixtures: a real Redis (a private redis-server started for the run, or TEST_REDIS_URL),
a store under a fresh key prefix per test, and a running app with an HTTP client."""

from __future__ import annotations

import io as _io
import logging
import os
import secrets
import tempfile
import time as _time
import zipfile as _zipfile
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.config import load_settings
from server.http.context import SERVICES
from server.roster import idcard
from server.roster.photos import PhotoSource
from server.store.audit import Actor
from server.store.embedded import EmbeddedRedis
from server.store.redis import connect

# as the product's setup_logging: the access log is off (the request middleware logs each request)
logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="iv-test-redis-") as tmp:
        with EmbeddedRedis(Path(tmp), persist=False) as server:
            yield server.url


@pytest.fixture
def prefix():
    return f"ivtest:{secrets.token_hex(4)}:"


@pytest.fixture
async def redis(redis_url, prefix):
    client = connect(redis_url)
    yield client
    # Remove only this test's keys.
    async for key in client.scan_iter(match=prefix + "*", count=500):
        await client.delete(key)
    await client.aclose()


# --- the app over real HTTP -------------------------------------------------------------------


def fast_settings(tmp_path, redis_url, prefix, **overrides):
    """Settings for tests: cheap password hashing (argon2 at the product's cost would make the suite
    minutes longer), files under tmp_path, no face workers (tests that need them pass a shared pool).
    Everything else, the log level included, is what a user gets."""
    values = dict(
        redis_url=redis_url,
        redis_prefix=prefix,
        data_dir=tmp_path / "data",
        recordings_dir=tmp_path / "recordings",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        facecheck_workers=0,
    )
    values.update(overrides)
    return load_settings(env={}, **values)


@pytest.fixture
def settings(tmp_path, redis_url, prefix):
    return fast_settings(tmp_path, redis_url, prefix)


@pytest.fixture
async def app(settings, redis):
    return create_app(settings, redis)


@pytest.fixture
def services(app):
    return app[SERVICES]


@pytest.fixture
async def http(app):
    """An HTTP client bound to a running app; ``await http.as_user(account, password)`` logs in."""
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def new_client(app) -> TestClient:
    """Another browser (its own cookie jar) against the same app."""
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def login(client: TestClient, login_name: str, password: str) -> dict:
    resp = await client.post("/api/auth/login", json={"login": login_name, "password": password})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["account"]


PASSWORD = "secret-pass-1"
ADMIN = Actor("acc_admin", "admin")


def jpeg(color=(200, 160, 130)) -> bytes:
    from PIL import Image

    out = _io.BytesIO()
    Image.new("RGB", (120, 160), color).save(out, "JPEG")
    return out.getvalue()


def photo_zip(names, photos=None) -> bytes:
    """A zip of ID photos: ``photos`` (bytes, one per name) or plain JPEGs."""
    out = _io.BytesIO()
    with _zipfile.ZipFile(out, "w") as zf:
        for i, name in enumerate(names):
            zf.writestr(name, photos[i] if photos else jpeg())
    return out.getvalue()


class World:
    """An exam with two subjects, a room per subject, slots, a roster and staff accounts."""

    def __init__(self, services, exam, subjects, rooms, slots, staff, roster):
        self.services, self.exam, self.subjects, self.rooms = services, exam, subjects, rooms
        self.slots, self.staff, self.roster = slots, staff, roster

    async def candidate(self, index: int = 0, verified: bool = True, enrolled: bool = True, phone: str | None = None):
        """A candidate account for roster row ``index``: registered, verified and enrolled as asked."""
        s = self.services
        name, number, _ = self.roster[index]
        account = await s.directory.create(
            "candidate", PASSWORD, Actor.system(), phone=phone or f"139{index:08d}", contact_verified_at=_time.time()
        )  # as registered: the phone proven with a code (tests/http/test_contact_api.py does it over HTTP)
        if verified:
            account = await s.identity.verify(account, name, number)
        if verified and enrolled:
            await s.enrolments.confirm(account, self.exam.id)
            await s.enrolments.read_notice(account, self.exam.id)
            await s.enrolments.sign_pledge(account, self.exam.id, True)
        return account


async def build_world(
    services,
    roster_size: int = 3,
    capacity: int = 2,
    opens_in: float = -3600,
    closes_in: float = 86400,
    slot_in: float = 2 * 86400,
    photos: list | None = None,
    staff: dict | None = None,
    first_roster_row: int = 0,
) -> World:
    """``photos``: the ID photos (bytes) of the roster rows; plain JPEGs (no face) by default.
    ``staff``: another world's staff accounts (a second exam of the same school), and
    ``first_roster_row`` where its roster's numbering starts (other candidates)."""
    now = _time.time()
    if staff is None:
        staff = {}
        for role in ("admin", "proctor", "examiner"):
            staff[role] = await services.directory.create(
                role, PASSWORD, Actor.system(), name=role, username=f"{role}-one"
            )
    exam = await services.catalog.create_exam(
        ADMIN,
        school="测试艺术学院",
        name="测试面试",
        booking_opens=now + opens_in,
        booking_closes=now + closes_in,
        notice="考前须知",
        pledge="诚信承诺",
        subjects=[{"name": "声乐", "interview_minutes": 10}, {"name": "器乐", "interview_minutes": 15}],
    )
    subjects = await services.catalog.subjects(exam.id)
    rooms = [
        await services.catalog.create_room(ADMIN, exam.id, subj.id, f"考场{i}", [staff["examiner"].id])
        for i, subj in enumerate(subjects)
    ]
    await services.proctors.assign(ADMIN, exam.id, [staff["proctor"].id])  # proctors watch assigned exams only
    slots = [
        await services.catalog.create_slot(ADMIN, exam.id, room.id, now + slot_in, now + slot_in + 3600, capacity)
        for room in rooms
    ]
    roster = [
        (f"考生{i}", idcard.make("110101", "20060101", i), "声乐" if i % 2 == 0 else "声乐;器乐")
        for i in range(first_roster_row, first_roster_row + roster_size)
    ]
    lines = ["姓名,身份证号,手机号,报考科目"] + [f"{n},{num},,{subj}" for n, num, subj in roster]
    names = [f"{num}.jpg" for _, num, _ in roster]
    report = await services.importer.import_csv(
        ADMIN, exam.id, "\n".join(lines).encode(), PhotoSource.from_zip(photo_zip(names, photos), 5 << 20)
    )
    assert report.rejected == 0, report.to_json("en")
    return World(services, exam, subjects, rooms, slots, staff, roster)


@pytest.fixture
async def world(services):
    return await build_world(services)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The face-check model files (``INTERVIEW_MODELS_DIR`` overrides ``<repo>/models``)."""
    return Path(os.environ.get("INTERVIEW_MODELS_DIR") or Path(__file__).resolve().parents[1] / "models").absolute()


@pytest.fixture(scope="module")
def face_pool(models_dir):
    """A real inference pool shared by a module's tests; use it with ``app_with_faces``."""
    from server.facecheck.pool import InferencePool

    pool = InferencePool(models_dir, "Dlib", workers=2, max_pending=32)
    yield pool
    pool.close()


@pytest.fixture
async def app_with_faces(settings, redis, face_pool):
    return create_app(settings, redis, face_pool=face_pool)
