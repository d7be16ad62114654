"""The candidate's own data: identity verification, exams, enrolment steps, slots and bookings.

Every handler works on ``account_of(request)`` only; ids in the path are checked
against the candidate's roster entries, so another candidate's exam is a 404.
"""

from __future__ import annotations

from aiohttp import web

from ..exams.enrolment import CandidateExam
from ..store.models import Slot, public
from .auth_api import account_json
from .body import Field, check, read_json
from .context import LANG, METRICS, SERVICES, account_of
from .facecheck_api import read_frames
from .middleware import client_address
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)


def slot_json(slot: Slot) -> dict:
    return {**public(slot), "remaining": max(0, slot.capacity - slot.booked)}


async def exam_json(request: web.Request, state: CandidateExam) -> dict:
    catalog = request.app[SERVICES].catalog
    subjects = [s for s in await catalog.subjects(state.exam.id) if s.id in state.entry.subjects]
    return {
        "exam": public(state.exam),
        "subjects": [public(s) for s in subjects],
        "enrolment": public(state.enrolment),
        "bookings": state.bookings,
        # the school's cancellations not rebooked yet, per subject: the page says so, with the reason
        "cancellations": await request.app[SERVICES].bookings.cancellations(
            account_of(request).id, [s.id for s in subjects if s.id not in state.bookings]
        ),
        "photo_on_file": bool(state.entry.photo_sha256),
    }


@routes.post("/api/candidate/identity", CANDIDATE)
async def verify_identity(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"name": Field("str", max_len=50), "id_number": Field("str", max_len=32)})
    account = await request.app[SERVICES].identity.verify(
        account_of(request), body["name"], body["id_number"], client_address(request)
    )
    return web.json_response({"account": account_json(account)})


def appeal_json(appeal) -> dict:
    """What the appellant sees of their appeal (not who holds the identity, nor the evidence)."""
    fields = ("id", "status", "created_at", "resolved_at", "comment")
    return {k: getattr(appeal, k) for k in fields}


@routes.get("/api/candidate/identity/appeal", CANDIDATE)
async def my_appeal(request: web.Request) -> web.Response:
    appeal = await request.app[SERVICES].identity.appeal_of(account_of(request))
    return web.json_response({"appeal": appeal_json(appeal) if appeal else None})


@routes.post("/api/candidate/identity/appeal/challenge", CANDIDATE)
async def appeal_challenge(request: web.Request) -> web.Response:
    """The face check that an appeal needs: the pair must match the roster and be held by another account."""
    body = check(await read_json(request), {"name": Field("str", max_len=50), "id_number": Field("str", max_len=32)})
    services, account = request.app[SERVICES], account_of(request)
    entry = await services.identity.appeal_target(account, body["name"], body["id_number"], client_address(request))
    return web.json_response(await services.appeal_checks.challenge(account, entry), status=201)


@routes.post("/api/candidate/identity/appeal", CANDIDATE)
async def file_appeal(request: web.Request) -> web.Response:
    """The burst for the appeal's challenge. A passed check files the appeal with it as evidence (201);
    a failed one is an answer (200, ``appeal: null``) with the reason and advice, and files nothing."""
    services, account = request.app[SERVICES], account_of(request)
    await services.face_checks.count_attempt(account, "check")  # before the body: a refused burst counts
    challenge_id, frames = await read_frames(request)
    result, entry = await services.appeal_checks.check(account, challenge_id, frames)
    answer = result.to_json(request[LANG])
    if not result.passed:
        return web.json_response({"appeal": None, "check": answer})
    evidence = {
        "passed": True,
        "check_id": result.check_id,
        "exam_id": entry.exam_id,
        "frames": result.details["frames"],
        "distance": result.distance,
        "threshold": result.threshold,
    }
    appeal = await services.identity.open_appeal(account, entry, evidence)
    return web.json_response({"appeal": appeal_json(appeal), "check": answer}, status=201)


@routes.get("/api/candidate/exams", CANDIDATE)
async def my_exams(request: web.Request) -> web.Response:
    states = await request.app[SERVICES].enrolments.exams_for(account_of(request))
    return web.json_response({"exams": [await exam_json(request, s) for s in states]})


@routes.get("/api/candidate/exams/{exam_id}", CANDIDATE)
async def my_exam(request: web.Request) -> web.Response:
    state = await request.app[SERVICES].enrolments.exam_for(account_of(request), request.match_info["exam_id"])
    return web.json_response(await exam_json(request, state))


@routes.post("/api/candidate/exams/{exam_id}/confirm", CANDIDATE)
async def confirm(request: web.Request) -> web.Response:
    enrolment = await request.app[SERVICES].enrolments.confirm(account_of(request), request.match_info["exam_id"])
    return web.json_response({"enrolment": public(enrolment)})


@routes.post("/api/candidate/exams/{exam_id}/notice", CANDIDATE)
async def read_notice(request: web.Request) -> web.Response:
    enrolment = await request.app[SERVICES].enrolments.read_notice(account_of(request), request.match_info["exam_id"])
    return web.json_response({"enrolment": public(enrolment)})


@routes.post("/api/candidate/exams/{exam_id}/pledge", CANDIDATE)
async def sign_pledge(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"agree": Field("bool")})
    enrolment = await request.app[SERVICES].enrolments.sign_pledge(
        account_of(request), request.match_info["exam_id"], body["agree"]
    )
    return web.json_response({"enrolment": public(enrolment)})


@routes.get("/api/candidate/exams/{exam_id}/slots", CANDIDATE)
async def my_slots(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    state = await services.enrolments.exam_for(account_of(request), request.match_info["exam_id"])
    slots = await services.catalog.slots(state.exam.id)
    early = services.queue.early_entry_s  # when the page may enter the slot's waiting queue
    return web.json_response(
        {
            "slots": [
                slot_json(s) | {"queue_opens_at": s.starts_at - early}
                for s in slots
                if s.subject_id in state.entry.subjects
            ]
        }
    )


@routes.post("/api/candidate/exams/{exam_id}/bookings", CANDIDATE)
async def book(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"slot_id": Field("str", max_len=64)})
    services = request.app[SERVICES]
    exam_id = request.match_info["exam_id"]
    await services.enrolments.exam_for(account_of(request), exam_id)
    try:
        slot = await services.bookings.book(account_of(request), exam_id, body["slot_id"])
    except Exception as exc:
        request.app[METRICS].bookings.labels(getattr(exc, "code", "error")).inc()
        raise
    request.app[METRICS].bookings.labels("ok").inc()
    return web.json_response({"slot": slot_json(slot)}, status=201)
