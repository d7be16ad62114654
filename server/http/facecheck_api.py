"""Face check over HTTP: the candidate's face-check state, the identity appeal's burst reader, and the
proctors' manual reviews. The queue-entry check itself runs on the candidate's socket, on frames the
server decodes from the camera the page publishes (``face:live``, docs/facecheck.md "Live challenge"):
no endpoint takes the frames that check judges."""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from ..errors import UserError
from ..store.audit import Actor
from .body import Field, check, read_json
from .context import SERVICES, SETTINGS, account_of
from .routing import Routes

routes = Routes()
CANDIDATE = ("candidate",)
PROCTOR = ("proctor", "admin")


@routes.get("/api/candidate/exams/{exam_id}/facecheck", CANDIDATE)
async def face_status(request: web.Request) -> web.Response:
    status = await request.app[SERVICES].face_checks.status(account_of(request), request.match_info["exam_id"])
    return web.json_response(status)


async def read_frames(request: web.Request) -> tuple[str, list[bytes]]:
    """multipart/form-data: ``challenge_id`` and up to ``facecheck_max_frames`` ``frame`` parts (the
    identity appeal's burst, server/http/candidate_api.py)."""
    settings = request.app[SETTINGS]
    if not request.content_type.startswith("multipart/"):
        raise UserError("bad_content_type", expected="multipart/form-data")
    challenge_id = ""
    frames: list[bytes] = []
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a multipart nested in the form: not a burst of frames
                raise UserError("bad_multipart", field="frame")
            if part.name == "challenge_id" and not challenge_id:
                challenge_id = (await part.read_chunk(200)).decode("ascii", "replace").strip()
            elif part.name == "frame":
                if len(frames) >= settings.facecheck_max_frames:
                    raise UserError("too_many_frames", field="frame", max=settings.facecheck_max_frames)
                data = bytearray()
                while chunk := await part.read_chunk(1 << 16):
                    data += chunk
                    if len(data) > settings.facecheck_max_frame_bytes:
                        raise UserError("image_too_large", 413, field="frame")
                frames.append(bytes(data))
            else:
                raise UserError("field_unknown", field=part.name or "", name=part.name or "")
    except (ValueError, AssertionError, KeyError, BadHttpMessage) as exc:  # a part's headers that do not parse
        raise UserError("bad_multipart", field="frame") from exc
    if not challenge_id:
        raise UserError("field_required", field="challenge_id", label="challenge_id")
    return challenge_id, frames


def actor(request: web.Request) -> Actor:
    """The logged-in proctor or admin (here rather than from admin_api: candidate_api imports this
    module, and admin_api imports candidate_api)."""
    account = account_of(request)
    return Actor(account.id, account.role)


def review_json(review) -> dict:
    return review.to_json()


async def watched_review(request: web.Request):
    """The review, if the proctor watches its exam (docs/security.md: proctors per exam)."""
    services = request.app[SERVICES]
    review = await services.face_gate.review(request.match_info["review_id"])
    await services.proctors.require(account_of(request), review.exam_id)
    return review


@routes.get("/api/proctor/reviews", PROCTOR)
async def open_reviews(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    reviews = await services.face_gate.open_reviews()
    watched = await services.proctors.watched(account_of(request), sorted({r.exam_id for r in reviews}))
    return web.json_response({"reviews": [review_json(r) for r in reviews if r.exam_id in watched]})


@routes.get("/api/proctor/reviews/{review_id}", PROCTOR)
async def review_detail(request: web.Request) -> web.Response:
    """The reference photo beside every frame of the failed checks that opened the review."""
    gate = request.app[SERVICES].face_gate
    review = await watched_review(request)
    wanted = set(review.check_ids)
    checks = [c for c in await gate.history(review.exam_id, review.account_id, 100) if c["check_id"] in wanted]
    base = f"/api/proctor/reviews/{review.id}/frames"
    for c in checks:
        c["frame_urls"] = [f"{base}/{c['check_id']}/{i}" for i in range(c.get("frames", 0))]
    return web.json_response({"review": review_json(review), "checks": checks})


@routes.get("/api/proctor/reviews/{review_id}/frames/{check_id}/{index}", PROCTOR)
async def review_frame(request: web.Request) -> web.StreamResponse:
    review = await watched_review(request)
    check_id = request.match_info["check_id"]
    if check_id not in review.check_ids or not request.match_info["index"].isdigit():
        raise UserError("not_found")
    return captured_frame(request, review.exam_id, review.account_id, check_id, int(request.match_info["index"]))


def captured_frame(
    request: web.Request, exam_id: str, account_id: str, check_id: str, index: int
) -> web.StreamResponse:
    """One frame a face check kept (JPEG), for the staff who decide; 404 past retention."""
    path = request.app[SERVICES].frame_archive.path(exam_id, account_id, check_id, index)
    if path is None:
        raise UserError("not_found")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=600"})


@routes.post("/api/proctor/reviews/{review_id}", PROCTOR)
async def resolve_review(request: web.Request) -> web.Response:
    body = check(await read_json(request), {"approve": Field("bool"), "comment": Field("str", max_len=500)})
    await watched_review(request)
    review = await request.app[SERVICES].face_gate.resolve(
        actor(request), request.match_info["review_id"], body["approve"], body["comment"]
    )
    return web.json_response({"review": review_json(review)})
