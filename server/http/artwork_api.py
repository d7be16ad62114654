"""Artwork photos over HTTP (docs/recorded.md "Artwork"), and the staff's review page of one sitting.

- The candidate uploads a photo of their own artwork take as the request body (the bytes of a JPEG or
  PNG; the content type is not trusted, the bytes are read), lists, views and removes them while the
  take's photo time runs. Another candidate's take, a forged id: ``take_not_found``, nothing changes.
- Admins open any photo, and the review page ``/admin/sittings/{sitting}`` with its JSON.
- Graders get a submission's photos by anonymous code and number: the re-encoded JPEG only (no
  metadata was kept), no file name, no time (no ``Last-Modified``, ``ETag`` or ``Content-Disposition``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from ..errors import UserError
from ..recorded.grading import Submission
from ..recorded.take_forms import question_view, steps_view
from ..store.models import Take
from .body import read_body
from .context import LANG, SERVICES, SETTINGS, account_of
from .recorded_api import take_json
from .routing import Routes
from .statuses import status_for

routes = Routes()
CANDIDATE = ("candidate",)
ADMIN = ("admin",)
GRADER = ("examiner",)
PHOTO_N = re.compile(r"^[1-9][0-9]?$")


def photo_json(take_id: str, photo: dict, base: str) -> dict:
    """A photo for the candidate's page and the staff: where it is, its size and checksum."""
    keep = ("id", "sha256", "size", "width", "height", "added_at")
    return {k: photo.get(k) for k in keep} | {"url": f"{base}{take_id}/photos/{photo.get('id')}"}


def grader_photos(sub: Submission) -> list[dict]:
    """A submission's photos as a grader gets them: the number, the address by code, the size in pixels."""
    base = f"/api/grader/submissions/{sub.code}/photos"
    return [
        {"n": n, "url": f"{base}/{n}", "width": p.get("width"), "height": p.get("height")}
        for n, p in enumerate(sub.take.photos, start=1)
    ]


async def _jpeg(path: Path) -> web.Response:
    """The photo's bytes with nothing that dates or names it (a FileResponse would add the file's time)."""
    data = await asyncio.to_thread(path.read_bytes)
    return web.Response(
        body=data,
        content_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


def _photos_answer(take_id: str, photos: list[dict], take: Take | None = None) -> dict:
    base = "/api/candidate/takes/"
    out: dict = {"photos": [photo_json(take_id, p, base) for p in photos]}
    if take is not None:
        out["photos_until"] = take.photos_until
    return out


@routes.post("/api/candidate/takes/{take_id}/photos", CANDIDATE)
async def add_photo(request: web.Request) -> web.Response:
    """One photo of the finished work (201): the photo and the take's photos now."""
    services, settings = request.app[SERVICES], request.app[SETTINGS]
    data = await read_body(request, settings.artwork_photo_max_bytes)
    take_id = request.match_info["take_id"]
    photo, photos = await services.artwork.add(account_of(request), take_id, data)
    base = "/api/candidate/takes/"
    return web.json_response({"photo": photo_json(take_id, photo, base), **_photos_answer(take_id, photos)}, status=201)


@routes.delete("/api/candidate/takes/{take_id}/photos/{photo_id}", CANDIDATE)
async def remove_photo(request: web.Request) -> web.Response:
    take_id = request.match_info["take_id"]
    photos = await request.app[SERVICES].artwork.remove(account_of(request), take_id, request.match_info["photo_id"])
    return web.json_response(_photos_answer(take_id, photos))


@routes.get("/api/candidate/takes/{take_id}/photos/{photo_id}", CANDIDATE)
async def candidate_photo(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    take = await services.sittings.take_of(account_of(request), request.match_info["take_id"])
    return await _jpeg(services.artwork.path_of(take, request.match_info["photo_id"]))


@routes.get("/api/admin/takes/{take_id}/photos/{photo_id}", ADMIN)
async def admin_photo(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    take = await services.sittings.find_take(request.match_info["take_id"])
    if take is None:
        raise UserError("take_not_found")
    return await _jpeg(services.artwork.path_of(take, request.match_info["photo_id"]))


@routes.get("/api/grader/submissions/{code}/photos/{n}", GRADER)
async def grader_photo(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    sub = await services.grading.submission(account_of(request), request.match_info["code"])
    n = request.match_info["n"]
    photos = sub.take.photos
    if not PHOTO_N.match(n) or int(n) > len(photos):
        raise UserError("photo_not_found")
    return await _jpeg(services.artwork.path_of(sub.take, photos[int(n) - 1].get("id", "")))


# --- the staff's review of one sitting -------------------------------------------------------------------


@routes.get("/api/admin/sittings/{sitting_id}", ADMIN)
async def sitting_review(request: web.Request) -> web.Response:
    """The sitting, the candidate, every take (files, photos, question and steps when it has them), the
    face gate, the submitted take's identity check and the audit entries of the sitting and its takes."""
    review = await request.app[SERVICES].reviews.of_sitting(request.match_info["sitting_id"])
    base = "/api/admin/takes/"
    takes = []
    for take in review["takes"]:
        item = take_json(take, base)
        item["photos"] = [photo_json(take.id, p, base) for p in take.photos]
        item["question"] = _question(take)
        item["steps"] = steps_view(take)  # the steps that began, where they are in the video
        takes.append(item)
    return web.json_response(review | {"takes": takes})


def _question(take: Take) -> dict | None:
    """The question the take drew, its picture or sound served by the admin's question bank route."""
    question = question_view(take)
    if question is None:
        return None
    media = (
        f"/api/admin/exams/{take.exam_id}/subjects/{take.subject_id}/questions/{question['id']}/media"
        if question["media_kind"]
        else None
    )
    return {
        "text": question["text"],
        "use": question["use"],
        "image_url": media if question["media_kind"] == "image" else None,
        "audio_url": media if question["media_kind"] == "audio" else None,
    }


@routes.get("/admin/sittings/{sitting_id}", ADMIN, page=True)
async def review_page(request: web.Request) -> web.StreamResponse:
    """提交审阅: one sitting's videos (main and aux side by side), photos, exam code, face result, audit."""
    lang = request.get(LANG, "zh")
    sitting = await request.app[SERVICES].sittings.find_sitting(request.match_info["sitting_id"])
    if sitting is None:
        err = UserError("sitting_not_found")
        return aiohttp_jinja2.render_template(
            "error.html", request, {"code": err.code, "message": err.message(lang)}, status=status_for(err)
        )
    return aiohttp_jinja2.render_template("review.html", request, {"sitting_id": sitting.id})
