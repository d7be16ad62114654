"""Sittings and takes of recorded subjects (docs/recorded.md): the candidate's side, what the media
side reports, the deadline, and the staff's view.

Every state transition is one Lua script with its audit entry (``store/lua/sitting_*.lua``,
``take_*.lua``): concurrent requests from two tabs, two devices or two processes cannot both start a
take or both submit, and a refusal writes nothing. This module checks what it can before the script
(ids, the candidate's exam, the words of the request) and turns the script's codes into ``UserError``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import UserError
from ..exams.catalog import Catalog
from ..exams.enrolment import Enrolments
from ..facecheck.gate import FaceGate
from ..store import audit
from ..store.audit import Actor
from ..store.base import Store
from ..store.models import Account, Sitting, Subject, Take, from_hash, is_id, new_id, public
from .rules import CAMERAS, MODES, ORIENTATIONS
from .take_files import main_name
from .take_identity import read_identity

log = logging.getLogger("server.recorded")

DEVICE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # the page's device id (random, kept in localStorage)
TAKE_STATES_ENDED = ("complete", "cut", "failed")
MAX_TAKES_PER_SITTING = 50  # takes of any state (cut and failed ones do not count against the limit)
RECORDING_SLACK_S = 5  # the sweep waits take_reconnect_grace_s + this past the deadline for a running take
STALE_TAKE_S = 30  # a take still recording this long past its longest length + grace: its media is gone
EXPIRE_BATCH = 200  # sittings ended per sweep pass, at most
PURGE_BATCH = 50  # practice takes deleted per sweep pass, at most


@dataclass(frozen=True)
class Upload:
    """What a take that is a file starts with (``Sittings.start_take``): its declared length, the
    file's name, and how long the abandoned-upload sweep leaves it before looking (``uploads.py``)."""

    length: int
    name: str
    look_after_s: float


def exam_code() -> str:
    """The sitting's 4-digit exam code (考试码, 004_* 第三步), read aloud at the start of each take."""
    return f"{secrets.randbelow(10000):04d}"


def sitting_json(sitting: Sitting, now: float | None = None) -> dict[str, Any]:
    """The sitting as the candidate's page and the staff see it, with what is left of it."""
    now = time.time() if now is None else now
    remaining = max(0.0, sitting.deadline - now) if sitting.deadline and sitting.in_progress else None
    return public(sitting) | {
        "takes_left": max(0, sitting.takes_allowed - sitting.takes_used),
        "remaining_s": round(remaining, 3) if remaining is not None else None,
    }


def pool_of(mode: str) -> str:
    """The question pool a sitting of ``mode`` draws from: ``formal``, or ``mock`` (mock exams and practice)."""
    return "formal" if mode == "formal" else "mock"


def window_state(subject: Subject, now: float) -> str:
    """``not_open``, ``open`` or ``closed``: where ``now`` is against the subject's formal window."""
    if now < subject.window_opens:
        return "not_open"
    return "closed" if now >= subject.window_closes else "open"


class Sittings:
    """``on_ended`` listeners hear every sitting that ends (submitted, auto-submitted, absent, reset):
    the signalling side tells the candidate's pages (``sitting:ended``)."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        enrolments: Enrolments,
        face_gate: FaceGate,
        recordings_dir: Path,
        face_pass_valid_s: float = 600,
        take_reconnect_grace_s: float = 30,
        practice_keep_h: float = 24,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.store = store
        self.keys = store.keys
        self.redis = store.redis
        self.catalog = catalog
        self.enrolments = enrolments
        self.face_gate = face_gate
        self.recordings_dir = Path(recordings_dir)
        self.face_pass_valid_s = face_pass_valid_s
        self.grace_s = take_reconnect_grace_s
        self.practice_keep_s = practice_keep_h * 3600
        self.timezone = timezone
        self.on_ended: list[Callable[[Sitting], Awaitable[None]]] = []
        # every take whose playable files were written (a submitted take's identity check waits for them)
        self.on_playable: list[Callable[[Take], Awaitable[None]]] = []

    # reading
    async def _sitting(self, sitting_id: str) -> Sitting | None:
        if not is_id(sitting_id):
            return None
        data = await self.redis.hgetall(self.keys.sitting(sitting_id))
        return from_hash(Sitting, data) if data else None

    async def _take(self, take_id: str) -> Take | None:
        if not is_id(take_id):
            return None
        data = await self.redis.hgetall(self.keys.take(take_id))
        return from_hash(Take, data) if data else None

    async def sitting_of(self, account: Account, sitting_id: str) -> Sitting:
        """The candidate's own sitting; another's, or none, is ``sitting_not_found`` alike."""
        sitting = await self._sitting(sitting_id)
        if sitting is None or sitting.account_id != account.id:
            raise UserError("sitting_not_found")
        return sitting

    async def take_of(self, account: Account, take_id: str) -> Take:
        take = await self._take(take_id)
        if take is None or take.account_id != account.id:
            raise UserError("take_not_found")
        return take

    async def find_sitting(self, sitting_id: str) -> Sitting | None:
        """Any sitting by id (the upload side, the staff); None when there is none."""
        return await self._sitting(sitting_id)

    async def find_take(self, take_id: str) -> Take | None:
        """Any take by id (the media side and the staff); None when there is none."""
        return await self._take(take_id)

    async def takes(self, sitting_id: str) -> list[Take]:
        if not is_id(sitting_id):
            return []
        ids = await self.redis.zrange(self.keys.sitting_takes(sitting_id), 0, -1)
        pipe = self.store.pipeline(transaction=False)
        for take_id in ids:
            pipe.hgetall(self.keys.take(take_id))
        return [from_hash(Take, d) for d in await pipe.execute() if d]

    def _when(self, epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M")

    async def _recorded_subject(self, exam_id: str, subject_id: str) -> Subject:
        subject = await self.catalog.subject(exam_id, subject_id)
        if not subject.recorded:
            raise UserError("sitting_not_recorded")
        return subject

    # the candidate
    async def overview(self, account: Account, exam_id: str) -> list[dict]:
        """Per recorded subject of the candidate: its rules, the latest sitting of each mode (or None),
        entries left, mock tries left, and the submission (formal) if any."""
        state = await self.enrolments.exam_for(account, exam_id)
        now = time.time()
        out = []
        for subject in await self.catalog.subjects(exam_id):
            if not subject.recorded or subject.id not in state.entry.subjects:
                continue
            record = await self.redis.hgetall(self.keys.sittings_of(exam_id, subject.id, account.id))
            sittings: dict[str, dict | None] = {}
            for mode in MODES:
                sitting = await self._sitting(record.get(mode) or record.get(f"last_{mode}") or "")
                sittings[mode] = sitting_json(sitting, now) if sitting else None
            used = int(record.get("formal_entries") or 0)
            out.append(
                {
                    "subject": public(subject),
                    "sittings": sittings,
                    "sittings_left": max(0, subject.sittings_allowed - used),
                    "mock_left": max(0, subject.mock_tries - int(record.get("mock_entries") or 0)),
                    "window": window_state(subject, now),
                    "submission": await self._submission(record.get("submission") or ""),
                }
            )
        return out

    async def _submission(self, sitting_id: str) -> dict | None:
        sitting = await self._sitting(sitting_id)
        if sitting is None or not sitting.submitted_take:
            return None
        take = await self._take(sitting.submitted_take)
        return {
            "sitting_id": sitting.id,
            "state": sitting.state,
            "submitted_at": sitting.submitted_at,
            "code": sitting.code,
            "take": public(take) if take else None,
        }

    async def _staff_submission(self, sitting_id: str) -> dict | None:
        """The submission as staff see it: with its take's identity check (``take_identity.py``)."""
        submission = await self._submission(sitting_id)
        if submission is not None and submission["take"]:
            submission["identity"] = await read_identity(self.store, submission["take"]["id"])
        return submission

    async def enter(self, account: Account, exam_id: str, subject_id: str, mode: str, device: str) -> Sitting:
        """Enter ("已知晓并同意"): the sitting starts, and its countdown (it runs on if the page is closed).
        The same device while the sitting is in progress gets it back; another device is refused, except
        for practice, where the new device takes over (the old practice sitting is reset)."""
        if mode not in MODES:
            raise UserError("sitting_mode_invalid", field="mode")
        if not DEVICE.match(device or ""):
            raise UserError("device_id_invalid", field="device")
        state = await self.enrolments.exam_for(account, exam_id)  # not_verified, exam_not_found
        if not is_id(subject_id):
            raise UserError("subject_not_found")
        subject = await self._recorded_subject(exam_id, subject_id)
        if subject.id not in state.entry.subjects:
            raise UserError("not_rostered_subject")
        try:
            return await self._enter(account, subject, mode, device)
        except UserError as err:
            if err.code != "sitting_other_device" or mode != "practice":
                raise
        record = await self.redis.hgetall(self.keys.sittings_of(exam_id, subject_id, account.id))
        old = record.get("practice") or ""
        await self._reset(account, old, Actor(account.id, account.role), "other_device", allow_running=False)
        return await self._enter(account, subject, mode, device)

    async def _enter(self, account: Account, subject: Subject, mode: str, device: str) -> Sitting:
        k, exam_id = self.keys, subject.exam_id
        sitting_id = new_id("sitt")
        now = time.time()
        outcome, found = await self.store.script("sitting_enter")(
            keys=[
                k.subject(subject.id),
                k.sittings_of(exam_id, subject.id, account.id),
                k.sitting(sitting_id),
                k.exam_sittings(exam_id),
                k.sittings_due(),
                k.enrolment(exam_id, account.id),
                k.roster_entry(exam_id, account.id_number),
                k.audit(exam_id),
            ],
            args=[
                f"{now:.3f}",
                mode,
                device,
                sitting_id,
                exam_code(),
                exam_id,
                subject.id,
                account.id,
                k.sitting(""),
                *audit.base_fields(Actor(account.id, account.role), account.id),
            ],
        )
        if outcome == "err":
            params: dict[str, Any] = {}
            if found in ("sitting_window_not_open", "sitting_window_closed"):
                params = {"opens": self._when(subject.window_opens), "closes": self._when(subject.window_closes)}
            if found in ("sitting_no_sittings_left", "sitting_reset_none_left"):
                params = {"allowed": subject.sittings_allowed}
            if found == "sitting_no_mock_left":
                params = {"allowed": subject.mock_tries}
            raise UserError(found, **params)
        sitting = await self._sitting(found)
        assert sitting is not None
        return sitting

    async def start_take(
        self,
        account: Account,
        sitting_id: str,
        device: str,
        camera: str,
        orientation: str,
        upload: Upload | None = None,
    ) -> Take:
        """A new take of the candidate's sitting, recording from now (the media side joins it next); with
        ``upload``, a take that is a file filmed offline, ``uploading`` until its bytes are in
        (``uploads.py``): the same rules, the same count, the same face check."""
        if upload is None and camera not in CAMERAS:
            raise UserError("field_invalid", field="camera", label="camera")
        if upload is None and orientation not in ORIENTATIONS:
            raise UserError("field_invalid", field="orientation", label="orientation")
        sitting = await self.sitting_of(account, sitting_id)
        k = self.keys
        take_id = new_id("take")
        now = time.time()
        pool = pool_of(sitting.mode)  # a drawn question comes from the pool of the sitting's mode
        outcome, found = await self.store.script("take_start")(
            keys=[
                k.sitting(sitting.id),
                k.sitting_takes(sitting.id),
                k.take(take_id),
                k.face_state(sitting.exam_id, account.id),
                k.audit(sitting.exam_id),
                k.subject(sitting.subject_id),
                k.question_pool(sitting.subject_id, pool),
                k.questions_drawn(sitting.subject_id, account.id, pool),
                k.uploads_due(),
            ],
            args=[
                f"{now:.3f}",
                account.id,
                device or "",
                take_id,
                camera,
                orientation,
                self.face_pass_valid_s,
                k.take(""),
                self.grace_s + STALE_TAKE_S,
                MAX_TAKES_PER_SITTING,
                k.question(""),
                f"{secrets.randbelow(1 << 30) / (1 << 30):.9f}",
                "upload" if upload else "stream",
                upload.length if upload else 0,
                upload.name if upload else "",
                f"{now + upload.look_after_s:.3f}" if upload else 0,
                *audit.base_fields(Actor(account.id, account.role), account.id),
            ],
        )
        if outcome == "err":
            params: dict[str, Any] = {"allowed": sitting.takes_allowed} if found == "take_limit" else {}
            raise UserError(found, **params)
        take = await self._take(found)
        assert take is not None
        if take.question:
            log.info(
                "question drawn",
                extra={"take": take.id, "question": take.question.get("id"), "pool": pool, "account": account.id},
            )
        return take

    async def begin_answer(self, take: Take) -> Take:
        """The candidate's camera joins ``take`` (``take_begin.lua``): a drawn question's answer begins
        now if its preparation is not over (cut short, never made longer); a guided take's steps begin
        at its first join, each on the server's clock. The take as it is now."""
        if take.form not in ("question", "guided"):
            return take
        outcome, what = await self.store.script("take_begin")(
            keys=[self.keys.take(take.id), self.keys.sitting(take.sitting_id), self.keys.audit(take.exam_id)],
            args=[f"{time.time():.3f}", *audit.base_fields(Actor(take.account_id, "candidate"), take.account_id)],
        )
        if outcome == "err":
            raise UserError(what, field="take_id")
        if what == "same":
            return take
        begun = await self._take(take.id)
        assert begun is not None
        log.info("take answer began", extra={"take": take.id, "form": take.form, "how": what})
        return begun

    async def running_take(self, exam_id: str, subject_id: str, account_id: str) -> Take | None:
        """The candidate's take recording now in a sitting of that subject (any mode), if any (the
        second device's prompt viewer shows its question)."""
        if not (is_id(exam_id) and is_id(subject_id) and is_id(account_id)):
            return None
        record = await self.redis.hgetall(self.keys.sittings_of(exam_id, subject_id, account_id))
        for mode in MODES:
            sitting = await self._sitting(record.get(mode) or "")
            if sitting is not None and sitting.in_progress and sitting.running:
                take = await self._take(sitting.running)
                if take is not None and take.state == "recording":
                    return take
        return None

    async def submit(self, account: Account, sitting_id: str, take_id: str) -> Sitting:
        """Submit one complete take: final, no take can replace it afterwards."""
        sitting = await self.sitting_of(account, sitting_id)
        if not is_id(take_id):
            raise UserError("take_not_found", field="take_id")
        k = self.keys
        result = await self.store.script("sitting_submit")(
            keys=[
                k.sitting(sitting.id),
                k.take(take_id),
                k.sittings_of(sitting.exam_id, sitting.subject_id, account.id),
                k.sittings_due(),
                k.audit(sitting.exam_id),
            ],
            args=[f"{time.time():.3f}", account.id, *audit.base_fields(Actor(account.id, account.role), account.id)],
        )
        if result == "artwork_photos_missing":
            take = await self._take(take_id)
            raise UserError(result, min=sitting.photos_min, count=len(take.photos) if take else 0)
        if result != "ok":
            raise UserError(result, field="take_id" if result.startswith("take_") else None)
        return await self._ended(sitting.id)

    async def reset(self, account: Account, sitting_id: str) -> Sitting:
        """重置: the sitting ends, its takes are discarded, one entry is used; the next entry starts anew."""
        sitting = await self.sitting_of(account, sitting_id)
        return await self._reset(account, sitting.id, Actor(account.id, account.role), "candidate")

    async def _reset(
        self, account: Account, sitting_id: str, actor: Actor, reason: str, allow_running: bool = True
    ) -> Sitting:
        sitting = await self.sitting_of(account, sitting_id)
        k = self.keys
        result = await self.store.script("sitting_reset")(
            keys=[
                k.sitting(sitting.id),
                k.sitting_takes(sitting.id),
                k.sittings_of(sitting.exam_id, sitting.subject_id, account.id),
                k.sittings_due(),
                k.subject(sitting.subject_id),
                k.audit(sitting.exam_id),
            ],
            args=[
                f"{time.time():.3f}",
                account.id,
                k.take(""),
                reason,
                actor.account_id,
                *audit.base_fields(actor, account.id),
            ],
        )
        if result != "ok":
            if result == "take_running" and not allow_running:
                raise UserError("sitting_other_device")
            params: dict[str, Any] = {}
            if result == "sitting_reset_none_left":
                subject = await self.catalog.subject(sitting.exam_id, sitting.subject_id)
                params = {"allowed": subject.mock_tries if sitting.mode == "mock" else subject.sittings_allowed}
            raise UserError(result, **params)
        return await self._ended(sitting.id)

    async def _ended(self, sitting_id: str) -> Sitting:
        sitting = await self._sitting(sitting_id)
        assert sitting is not None
        for listener in self.on_ended:  # the change is made: a listener's failure must not undo the answer
            try:
                await listener(sitting)
            except Exception:
                log.exception("a sitting's end listener failed", extra={"sitting": sitting.id})
        return sitting

    # the media side
    async def take_ended(self, take_id: str, state: str, duration_s: float) -> Take:
        """The take's media ended: ``complete``, ``cut`` or ``failed``. A take ended already is left as it
        is (a second report changes nothing). A cut take uses up a take only if the subject says so."""
        if state not in TAKE_STATES_ENDED:
            raise ValueError(f"take state {state!r}")
        take = await self._take(take_id)
        if take is None:
            raise UserError("take_not_found")
        k = self.keys
        outcome, _ = await self.store.script("take_end")(
            keys=[
                k.take(take.id),
                k.sitting(take.sitting_id),
                k.sittings_due(),
                k.practice_takes(),
                k.audit(take.exam_id),
            ],
            args=[
                f"{time.time():.3f}",
                state,
                f"{max(0.0, float(duration_s)):.3f}",
                *audit.base_fields(Actor.system(), take.account_id),
            ],
        )
        if outcome == "err":
            raise UserError("take_not_found")
        ended = await self._take(take.id)
        assert ended is not None
        return ended

    async def take_playable(self, take_id: str, files: dict) -> None:
        """The take's playable files are written: ``files`` is name -> {sha256, size, duration_s, ...}
        (``playable.webm``, ``aux-<n>.webm``, as ``rooms/remux.py`` makes them; ``playable.mp4`` for an
        upload, ``upload_media.py``; a bare sha256 string per name is accepted too). The take's length
        becomes the playable file's."""
        take = await self._take(take_id)
        if take is None:
            raise UserError("take_not_found")
        clean = {name: (info if isinstance(info, dict) else {"sha256": str(info)}) for name, info in files.items()}
        main = clean.get(main_name(clean) or "", {})
        length = main.get("duration_s")
        result = await self.store.script("take_playable")(
            keys=[self.keys.take(take.id), self.keys.audit(take.exam_id)],
            args=[
                f"{time.time():.3f}",
                json.dumps(clean, ensure_ascii=False),
                str(main.get("sha256") or ""),
                f"{float(length):.3f}" if isinstance(length, (int, float)) and length > 0 else "",
                *audit.base_fields(Actor.system(), take.account_id),
            ],
        )
        if result != "ok":
            raise UserError(result)
        playable = await self._take(take.id)
        for listener in self.on_playable if playable else ():
            try:
                await listener(playable)  # type: ignore[arg-type]
            except Exception:
                log.exception("a take's playable listener failed", extra={"take": take.id})

    # the clock
    async def expire_due(self, now: float | None = None) -> list[Sitting]:
        """End the sittings past their deadline (at most EXPIRE_BATCH a call): auto-submitted with their
        most recent complete take, or absent. Every process runs it; the script makes repeats harmless."""
        now = time.time() if now is None else now
        k = self.keys
        due = await self.redis.zrangebyscore(k.sittings_due(), "-inf", now, start=0, num=EXPIRE_BATCH)
        ended = []
        for sitting_id in due:
            sitting = await self._sitting(sitting_id)
            if sitting is None:
                await self.redis.zrem(k.sittings_due(), sitting_id)
                continue
            outcome, _ = await self.store.script("sitting_expire")(
                keys=[
                    k.sitting(sitting.id),
                    k.sitting_takes(sitting.id),
                    k.sittings_of(sitting.exam_id, sitting.subject_id, sitting.account_id),
                    k.sittings_due(),
                    k.audit(sitting.exam_id),
                ],
                args=[
                    f"{now:.3f}",
                    k.take(""),
                    self.grace_s + RECORDING_SLACK_S,
                    sitting.id,
                    *audit.base_fields(Actor.system(), sitting.account_id),
                ],
            )
            if outcome in ("auto_submitted", "absent"):
                ended.append(await self._ended(sitting.id))
        return ended

    async def purge_practice(self, now: float | None = None) -> int:
        """Delete practice takes (their folder and records) ended more than ``practice_keep_h`` ago."""
        now = time.time() if now is None else now
        k = self.keys
        old = await self.redis.zrangebyscore(
            k.practice_takes(), "-inf", now - self.practice_keep_s, start=0, num=PURGE_BATCH
        )
        for take_id in old:
            take = await self._take(take_id)
            if take is not None and take.mode == "practice" and is_id(take.exam_id) and is_id(take.account_id):
                folder = self.recordings_dir / take.exam_id / take.account_id / take.id
                await asyncio.to_thread(shutil.rmtree, folder, True)
            async with self.store.pipeline() as pipe:
                pipe.zrem(k.practice_takes(), take_id)
                pipe.delete(k.take(take_id), k.recording(take_id))
                pipe.srem(k.open_recordings(), take_id)
                if take is not None:
                    pipe.zrem(k.sitting_takes(take.sitting_id), take_id)
                    pipe.zrem(k.exam_recordings(take.exam_id), take_id)
                await pipe.execute()
        if old:
            log.info("practice takes deleted", extra={"takes": len(old), "keep_h": self.practice_keep_s / 3600})
        return len(old)

    # the staff
    async def for_exam(self, exam_id: str, subject_id: str | None = None) -> list[dict]:
        """Every rostered candidate of every recorded subject (or one): the formal sitting's state (not
        started, in progress with time left, submitted, auto-submitted, absent, reset), its exam code and
        takes, the submission (with its take's identity check), the sittings used, and the face check's
        state for the exam."""
        await self.catalog.exam(exam_id)
        subjects = [s for s in await self.catalog.subjects(exam_id) if s.recorded]
        if subject_id is not None:
            subjects = [s for s in subjects if s.id == subject_id]
            if not subjects:
                raise UserError("subject_not_found")
        entries = await self.enrolments.roster.entries(exam_id)
        now = time.time()
        rows = []
        for entry in sorted(entries, key=lambda e: e.id_number):
            account_id = await self.redis.get(self.keys.id_claim(entry.id_number)) or ""
            face = await self.face_gate.status(exam_id, account_id) if account_id else None
            for subject in subjects:
                if subject.id not in entry.subjects:
                    continue
                record = (
                    await self.redis.hgetall(self.keys.sittings_of(exam_id, subject.id, account_id))
                    if account_id
                    else {}
                )
                sitting = await self._sitting(record.get("last_formal") or "")
                if sitting is not None:
                    state = sitting.state
                else:
                    state = "absent" if now >= subject.window_closes else "not_started"
                rows.append(
                    {
                        "account_id": account_id or None,
                        "name": entry.name,
                        "id_number": entry.id_number,
                        "subject_id": subject.id,
                        "subject_name": subject.name,
                        "state": state,
                        "sittings_used": int(record.get("formal_entries") or 0),
                        "sittings_allowed": subject.sittings_allowed,
                        "sitting": sitting_json(sitting, now) if sitting else None,
                        "code": sitting.code if sitting else None,
                        "takes": [public(t) for t in await self.takes(sitting.id)] if sitting else [],
                        "submission": await self._staff_submission(record.get("submission") or ""),
                        "face": public(face) if face else None,
                    }
                )
        return rows
