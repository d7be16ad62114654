"""Security headers on every response (pages, JSON, photos, the QR SVG, static files, socket.io):
one ``on_response_prepare`` hook, so that nothing a handler, a raised redirect or the static route
answers goes out without them. What each header allows and why: docs/security.md ("Web hardening").

- Pages (``text/html``) get the page policy: scripts, styles, images, fonts only from this origin,
  no inline script or style, no eval; ``connect-src`` is this origin plus ``ws:``/``wss:`` of the same
  host (socket.io; older Safari does not count a WebSocket to the same host as ``'self'``).
  Everything else gets ``default-src 'none'``: a JSON answer, a photo or an SVG opened on its own
  runs and loads nothing.
- ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (older browsers): no page can be framed.
- ``Permissions-Policy``: camera and microphone for this origin only on the pages that use them
  (``MEDIA_PAGES``, when they render: not their error pages), denied everywhere else; a few powerful features nobody uses are denied.
- ``Strict-Transport-Security`` only on an answer that went over TLS: the connection itself, or a
  trusted proxy's ``X-Forwarded-Proto: https``; over plain HTTP it would be ignored anyway, and it
  must never pin a deployment that has no certificate yet.
"""

from __future__ import annotations

import re

from aiohttp import web

from .context import SETTINGS

# Route templates (aiohttp canonical paths) of the pages that open the camera and the microphone:
# the candidate's home (the identity appeal's live face check, appeal.js), practice and check pages,
# the interview (queue, face check, room), the auxiliary camera, the examiner's room.
# tests/http/test_security_headers.py checks each is a real route.
MEDIA_PAGES = frozenset(
    {
        "/candidate",
        "/candidate/practice",
        "/candidate/exams/{exam_id}/check",
        "/candidate/exams/{exam_id}/interview",
        "/candidate/exams/{exam_id}/recorded/{subject_id}",
        "/aux/{token}",
        "/examiner/rooms/{room_id}",
    }
)

HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

DENIED_FEATURES = "geolocation=(), payment=(), usb=(), serial=(), hid=(), bluetooth=(), display-capture=()"
MEDIA_ALLOWED = f"camera=(self), microphone=(self), {DENIED_FEATURES}"
MEDIA_DENIED = f"camera=(), microphone=(), {DENIED_FEATURES}"

NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the school's other hosts are not ours to pin


def page_policy(host: str) -> str:
    """The CSP of an HTML page served for ``host`` (the request's Host, checked to be a host[:port])."""
    sockets = f" ws://{host} wss://{host}" if HOST.fullmatch(host) else ""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "font-src 'self'",
            "media-src 'self'",
            f"connect-src 'self'{sockets}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def over_tls(request: web.Request) -> bool:
    if request.secure:
        return True
    if (request.remote or "") in request.app[SETTINGS].trusted_proxies:
        return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
    return False


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    page = response.content_type == "text/html"
    headers["Content-Security-Policy"] = page_policy(request.host) if page else NOT_A_PAGE
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    media = page and response.status < 400 and _route(request) in MEDIA_PAGES  # not their error pages
    headers["Permissions-Policy"] = MEDIA_ALLOWED if media else MEDIA_DENIED
    if over_tls(request):
        headers["Strict-Transport-Security"] = HSTS


def install(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
