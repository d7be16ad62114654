"""An exam's results over HTTP (docs/marking.md "Results"): the admin reads every rostered candidate's
final marks, sets the school's published wording, locks and publishes; a candidate reads their own
result once published (``results_unpublished``, 404, before it: nothing tells an unpublished exam from
one they are not on). Every refusal is a ``UserError`` with its message and changes nothing
(server/marking/results.py)."""

from __future__ import annotations

from aiohttp import web

from ..marking.results import ADMIN_PAGE
from .admin_api import actor
from .body import query_int, read_json
from .context import SERVICES, account_of
from .routing import Routes

routes = Routes()
ADMIN = ("admin",)
CANDIDATE = ("candidate",)
ADMIN_PAGE_MAX = 500


@routes.get("/api/admin/exams/{exam_id}/results", ADMIN)
async def admin_results(request: web.Request) -> web.Response:
    """A page of the rostered candidates (``?offset=0&limit=50``, in ID-number order; ``count`` in all):
    each one's final mark per subject, who marked what, the combination, the total and the outcome by the
    exam's settings; the state (open / locked / published)."""
    services = request.app[SERVICES]
    await services.catalog.exam(request.match_info["exam_id"])
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    limit = query_int(request, "limit", ADMIN_PAGE, 1, ADMIN_PAGE_MAX)
    return web.json_response(await services.results.admin_view(request.match_info["exam_id"], offset, limit))


@routes.put("/api/admin/exams/{exam_id}/results/settings", ADMIN)
async def results_settings(request: web.Request) -> web.Response:
    """The published wording: show_marks, rule (pass_mark | pass_list), pass_mark, pass_list, labels."""
    body = await read_json(request)
    state = await request.app[SERVICES].results.set_settings(actor(request), request.match_info["exam_id"], body)
    return web.json_response(state)


@routes.post("/api/admin/exams/{exam_id}/results/lock", ADMIN)
async def lock_results(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].results.lock(actor(request), request.match_info["exam_id"])
    return web.json_response(view)


@routes.post("/api/admin/exams/{exam_id}/results/publish", ADMIN)
async def publish_results(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].results.publish(actor(request), request.match_info["exam_id"])
    return web.json_response(view)


@routes.get("/api/candidate/exams/{exam_id}/results", CANDIDATE)
async def my_results(request: web.Request) -> web.Response:
    """The candidate's own published result (404 ``results_unpublished`` before publication)."""
    found = await request.app[SERVICES].results.mine(account_of(request), request.match_info["exam_id"])
    return web.json_response(found)
