"""The school admin's REST API: exams, subjects, rooms, slots, users, roster import, bookings, audit."""

from __future__ import annotations

import re
import time

from aiohttp import web

from ..errors import UserError
from ..roster.photos import PhotoSource
from ..roster.report import ImportReport
from ..store.audit import Actor
from ..store.models import is_id, public
from .auth_api import account_json
from .body import Field, check, read_body, read_json
from .candidate_api import slot_json
from .context import LANG, METRICS, SERVICES, SETTINGS, account_of
from .multipart import read_form
from .routing import Routes

routes = Routes()
ADMIN = ("admin",)
# recorded submissions' marking (entries named by anonymous code, written right after the candidate's
# submission): for admins only, or a proctor could tell whose submission a code is (docs/marking.md)
GRADING_EVENTS = ("take_mark", "take_third_missing")
AUDIT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")  # a stream entry id, the audit page cursor
STAFF_READ = ("admin", "proctor")


def actor(request: web.Request) -> Actor:
    account = account_of(request)
    return Actor(account.id, account.role)


def tz(request: web.Request) -> str:
    return request.app[SETTINGS].timezone


SUBJECT = {"name": Field("str", max_len=50, label="title"), "interview_minutes": Field("int", min=1, max=240)}
EXAM_FIELDS = {
    "school": Field("str", max_len=100),
    "name": Field("str", max_len=100, label="title"),
    "booking_opens": Field("time"),
    "booking_closes": Field("time"),
    "notice": Field("str", required=False, max_len=20000, default=""),
    "pledge": Field("str", required=False, max_len=20000, default=""),
}


@routes.get("/api/admin/exams", ADMIN)
async def list_exams(request: web.Request) -> web.Response:
    exams = await request.app[SERVICES].catalog.exams()
    return web.json_response({"exams": [public(e) for e in exams]})


@routes.post("/api/admin/exams", ADMIN)
async def create_exam(request: web.Request) -> web.Response:
    spec = {**EXAM_FIELDS, "subjects": Field("list[dict]", required=False, max_len=50, default=[])}
    body = check(await read_json(request), spec, tz(request))
    try:
        subjects = [check(s, SUBJECT) for s in body.pop("subjects")]
    except UserError as err:  # point at the list the bad entry sits in
        err.field = "subjects"
        raise
    exam = await request.app[SERVICES].catalog.create_exam(actor(request), subjects=subjects, **body)
    return web.json_response({"exam": public(exam)}, status=201)


@routes.get("/api/admin/exams/{exam_id}", ADMIN)
async def get_exam(request: web.Request) -> web.Response:
    catalog = request.app[SERVICES].catalog
    exam = await catalog.exam(request.match_info["exam_id"])
    return web.json_response(
        {
            "exam": public(exam),
            "subjects": [public(s) for s in await catalog.subjects(exam.id)],
            "rooms": [public(r) for r in await catalog.rooms(exam.id)],
            "slots": [slot_json(s) for s in await catalog.slots(exam.id)],
            "proctors": await request.app[SERVICES].proctors.of_exam(exam.id),
        }
    )


@routes.put("/api/admin/exams/{exam_id}/proctors", ADMIN)
async def set_proctors(request: web.Request) -> web.Response:
    """The proctors who watch this exam (its live view, audit, face reviews and identity appeals)."""
    body = check(await read_json(request), {"proctors": Field("list[str]", max_len=100)})
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    proctors = await services.proctors.assign(actor(request), exam.id, body["proctors"])
    return web.json_response({"proctors": proctors})


@routes.patch("/api/admin/exams/{exam_id}", ADMIN)
async def update_exam(request: web.Request) -> web.Response:
    spec = {
        name: Field(f.kind, required=False, max_len=f.max_len, blank=not f.required, label=f.label)
        for name, f in EXAM_FIELDS.items()
    }
    body = check(await read_json(request), spec, tz(request))
    changes = {k: v for k, v in body.items() if v is not None}
    exam = await request.app[SERVICES].catalog.update_exam(actor(request), request.match_info["exam_id"], **changes)
    return web.json_response({"exam": public(exam)})


@routes.post("/api/admin/exams/{exam_id}/subjects", ADMIN)
async def add_subject(request: web.Request) -> web.Response:
    body = check(await read_json(request), SUBJECT)
    subject = await request.app[SERVICES].catalog.add_subject(actor(request), request.match_info["exam_id"], **body)
    return web.json_response({"subject": public(subject)}, status=201)


@routes.get("/api/admin/exams/{exam_id}/rooms", ADMIN)
async def list_rooms(request: web.Request) -> web.Response:
    catalog = request.app[SERVICES].catalog
    exam = await catalog.exam(request.match_info["exam_id"])
    return web.json_response({"rooms": [public(r) for r in await catalog.rooms(exam.id)]})


@routes.post("/api/admin/exams/{exam_id}/rooms", ADMIN)
async def create_room(request: web.Request) -> web.Response:
    body = check(
        await read_json(request),
        {
            "subject_id": Field("str", max_len=64),
            "name": Field("str", max_len=50, label="title"),
            "examiners": Field("list[str]", required=False, max_len=3, default=[]),
        },
    )
    room = await request.app[SERVICES].catalog.create_room(actor(request), request.match_info["exam_id"], **body)
    return web.json_response({"room": public(room)}, status=201)


@routes.get("/api/admin/exams/{exam_id}/slots", ADMIN)
async def list_slots(request: web.Request) -> web.Response:
    catalog = request.app[SERVICES].catalog
    exam = await catalog.exam(request.match_info["exam_id"])
    return web.json_response({"slots": [slot_json(s) for s in await catalog.slots(exam.id)]})


@routes.post("/api/admin/exams/{exam_id}/slots", ADMIN)
async def create_slot(request: web.Request) -> web.Response:
    body = check(
        await read_json(request),
        {
            "room_id": Field("str", max_len=64),
            "starts_at": Field("time"),
            "ends_at": Field("time"),
            "capacity": Field("int", min=1, max=10000),
        },
        tz(request),
    )
    slot = await request.app[SERVICES].catalog.create_slot(actor(request), request.match_info["exam_id"], **body)
    return web.json_response({"slot": slot_json(slot)}, status=201)


@routes.patch("/api/admin/exams/{exam_id}/slots/{slot_id}", ADMIN)
async def update_slot(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"capacity": Field("int", min=1, max=10000)})
    slot = await request.app[SERVICES].catalog.set_slot_capacity(
        actor(request), request.match_info["exam_id"], request.match_info["slot_id"], body["capacity"]
    )
    return web.json_response({"slot": slot_json(slot)})


@routes.get("/api/admin/users", ADMIN)
async def list_users(request: web.Request) -> web.Response:
    role = request.query.get("role")
    if role is not None and role not in ("candidate", "examiner", "proctor", "admin"):
        raise UserError("role_invalid", field="role")
    accounts = await request.app[SERVICES].directory.list(role)
    return web.json_response({"users": [account_json(a) for a in accounts]})


@routes.post("/api/admin/users", ADMIN)
async def create_user(request: web.Request) -> web.Response:
    body = check(
        await read_json(request),
        {
            "role": Field("str", max_len=20),
            "name": Field("str", max_len=50),
            "password": Field("str", max_len=128),
            "username": Field("str", required=False, max_len=32, default=""),
            "phone": Field("str", required=False, max_len=20, default=""),
            "email": Field("str", required=False, max_len=254, default=""),
            "staff_id_number": Field("str", required=False, max_len=32, default=""),
        },
    )
    account = await request.app[SERVICES].directory.create(
        body.pop("role"), body.pop("password"), actor(request), contact_verified_at=time.time(), **body
    )  # an admin vouches for the contact details they enter
    return web.json_response({"user": account_json(account)}, status=201)


@routes.patch("/api/admin/users/{account_id}", ADMIN)
async def update_user(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"disabled": Field("bool")})
    services = request.app[SERVICES]
    account_id = request.match_info["account_id"]
    if body["disabled"] and account_id == account_of(request).id:
        raise UserError("cannot_disable_self", field="disabled")
    account = await services.directory.set_disabled(account_id, body["disabled"], actor(request))
    if body["disabled"]:  # its sessions end and its sockets are cut on every process
        await services.sessions.end_account(account_id, "account_disabled")
    return web.json_response({"user": account_json(account)})


@routes.put("/api/admin/users/{account_id}/staff-id-number", ADMIN)
async def set_staff_id_number(request: web.Request) -> web.Response:
    """A staff account's ID number (证件号码; ``""`` clears it): a staff member is never assigned to an exam
    whose roster holds it, nor is it accepted on the roster of an exam they work on (server/exams/staff.py)."""
    body = check(await read_json(request), {"staff_id_number": Field("str", max_len=32, default="", label="证件号码")})
    account = await request.app[SERVICES].directory.set_staff_number(
        request.match_info["account_id"], body["staff_id_number"], actor(request)
    )
    return web.json_response({"user": account_json(account)})


@routes.post("/api/admin/users/{account_id}/revoke-sessions", ADMIN)
async def revoke_sessions(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await services.directory.require(request.match_info["account_id"])
    count = await services.sessions.end_account(request.match_info["account_id"], "revoked")
    await services.audit.add(None, "sessions_revoked", actor(request), request.match_info["account_id"], count=count)
    request.app[METRICS].sessions_revoked.inc(count)
    return web.json_response({"revoked": count})


@routes.get("/api/admin/exams/{exam_id}/roster", ADMIN)
async def list_roster(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    return web.json_response({"roster": [public(e) for e in await services.roster.entries(exam.id)]})


@routes.put("/api/admin/exams/{exam_id}/roster/{id_number}/photo", ADMIN)
async def replace_roster_photo(request: web.Request) -> web.Response:
    """The body is the new ID photo (image/jpeg or image/png), checked like an import's photos; a refused
    photo changes nothing (``row.status`` rejected, with the reasons). ``interview-server set-photo`` does
    the same from the command line."""
    settings, services = request.app[SETTINGS], request.app[SERVICES]
    if request.content_type not in ("image/jpeg", "image/png"):
        raise UserError("bad_content_type", expected="image/jpeg, image/png")
    data = await read_body(request, settings.max_photo_bytes)
    row = await services.importer.replace_photo(
        actor(request), request.match_info["exam_id"], request.match_info["id_number"], data
    )
    report = ImportReport([row]).to_json(request[LANG])
    return web.json_response({"row": report["rows"][0]}, status=200 if row.status != "rejected" else 422)


@routes.post("/api/admin/exams/{exam_id}/roster", ADMIN)
async def import_roster(request: web.Request) -> web.Response:
    """multipart/form-data: ``file`` (the CSV) and optionally ``photos`` (a zip of ID photos)."""
    settings, services = request.app[SETTINGS], request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    limit = settings.max_upload_bytes
    parts = await read_form(request, {"file": limit, "photos": limit}, limit, "file")
    if "file" not in parts or not parts["file"].data:
        raise UserError("roster_file_missing", field="file")
    photos = (
        PhotoSource.from_zip(parts["photos"].data, settings.max_photo_bytes)
        if "photos" in parts and parts["photos"].data
        else PhotoSource.empty()
    )
    import_id = request.query.get("import_id", "")
    progress = None
    if import_id:
        if not is_id(import_id):
            raise UserError("field_invalid", field="import_id", label="import_id")

        async def store_progress(stage: str, done: int, total: int) -> None:
            await services.import_progress.put(import_id, exam.id, stage, done, total)

        progress = store_progress

    report = await services.importer.import_csv(actor(request), exam.id, parts["file"].data, photos, progress)
    if progress:
        await progress("done", report.imported + report.updated, len(report.rows))
    return web.json_response(report.to_json(request[LANG]))


@routes.get("/api/admin/imports/{import_id}", ADMIN)
async def import_progress(request: web.Request) -> web.Response:
    """How far a running roster import is (checking ID photos takes a while for a big roster). The page
    asks before the upload has reached the server: an import not begun yet is ``"stage": "none"``
    (200, not an error); a malformed id is 404."""
    import_id = request.match_info["import_id"]
    if not is_id(import_id):
        raise UserError("not_found")
    progress = await request.app[SERVICES].import_progress.get(import_id)
    if progress is None:
        return web.json_response({"stage": "none", "done": 0, "total": 0, "exam_id": None})
    return web.json_response(progress)


@routes.get("/api/admin/exams/{exam_id}/bookings", ADMIN)
async def list_bookings(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    rows = await services.bookings.list(exam.id)
    return web.json_response(
        {
            "bookings": [
                {
                    "slot_id": r.slot.id,
                    "subject_id": r.slot.subject_id,
                    "room_id": r.slot.room_id,
                    "starts_at": r.slot.starts_at,
                    "ends_at": r.slot.ends_at,
                    "account_id": r.account_id,
                    "name": r.name,
                    "id_number": r.id_number,
                    "booked_at": r.booked_at,
                }
                for r in rows
            ]
        }
    )


@routes.post("/api/admin/exams/{exam_id}/bookings/cancel", ADMIN)
async def cancel_booking(request: web.Request) -> web.Response:
    body = check(
        await read_json(request),
        {
            "slot_id": Field("str", max_len=64),
            "account_id": Field("str", max_len=64),
            "reason": Field("str", max_len=500),
        },
    )
    await request.app[SERVICES].bookings.cancel(actor(request), request.match_info["exam_id"], **body)
    return web.json_response({"ok": True})


@routes.get("/api/staff/exams/{exam_id}/audit", STAFF_READ)
async def exam_audit(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    exam = await services.catalog.exam(request.match_info["exam_id"])
    await services.proctors.require(account_of(request), exam.id)
    try:
        limit = min(1000, max(1, int(request.query.get("limit", "200"))))
    except ValueError:
        raise UserError("field_type", field="limit", label="limit") from None
    before = request.query.get("before", "+")
    if before != "+" and not AUDIT_ID.match(before):
        raise UserError("field_invalid", field="before", label="before")
    entries = await services.audit.read(exam.id, limit, before=before, subject=request.query.get("subject"))
    if account_of(request).role != "admin":  # proctors: nothing that could link a grading code to a candidate
        entries = [e for e in entries if not str(e.get("event", "")).startswith(GRADING_EVENTS)]
    return web.json_response({"entries": entries})


@routes.get("/api/staff/photos/{sha256}", STAFF_READ)
async def id_photo(request: web.Request) -> web.StreamResponse:
    path = request.app[SERVICES].photos.path(request.match_info["sha256"])
    if path is None:
        raise UserError("not_found")
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})
