"""The HTTP status of every error code: the one place the HTTP edge turns a ``UserError``'s code into
a status. Domain code raises codes only (``UserError("slot_full", field="slot_id")``); socket.io
answers carry no status at all.

Collected from the call sites that used to pass a status (every ``UserError("<code>", <status>``
in ``server/``, plus the codes the Lua scripts return and ``errors.not_found`` builds), so every
code answers exactly as before. A code not listed answers 400. When a code was raised with two
statuses the documented one is here (docs/openapi.yaml ``x-error-codes``): ``face_review_rejected``
423 (queue_join.lua's 409 only reached sockets), ``not_in_queue`` 404 (queue_move.lua's 409 idem).
``image_too_large`` is 400 (an image with too many pixels); the HTTP handler that refuses a frame
by its bytes passes 413 itself, the one explicit status left (tests/test_layers.py lists it).
"""

from __future__ import annotations

DEFAULT = 400

STATUS: dict[str, int] = {
    "login_failed": 401,
    "login_required": 401,
    "session_ended": 401,
    "account_disabled": 403,
    "aux_token_invalid": 403,
    "aux_token_logged_out": 403,
    "aux_token_replaced": 403,
    "aux_ended": 403,
    "cross_origin": 403,
    "forbidden": 403,
    "not_room_examiner": 403,
    "not_exam_proctor": 403,
    "not_rostered": 403,
    "not_rostered_subject": 403,
    "not_verified": 403,
    "contact_unverified": 403,
    "room_not_admitted": 403,
    "account_not_found": 404,
    "appeal_not_found": 404,
    "booking_not_found": 404,
    "event_unknown": 404,
    "exam_not_found": 404,
    "not_found": 404,
    "not_in_queue": 404,
    "queue_not_booked": 404,
    "review_not_found": 404,
    "room_not_found": 404,
    "roster_entry_not_found": 404,
    "slot_not_found": 404,
    "slot_wrong_exam": 404,
    "subject_not_found": 404,
    "submission_not_found": 404,
    "interview_not_found": 404,
    "marks_not_found": 404,
    "take_mark_not_found": 404,
    "method_not_allowed": 405,
    "marks_sealed": 409,
    "marks_not_sealed": 409,
    "rubric_in_use": 409,
    "rubric_changed": 409,
    "rubric_missing": 409,
    "already_booked": 409,
    "already_in_queue": 409,
    "already_verified": 409,
    "appeal_resolved": 409,
    "appeal_open": 409,
    "appeal_limit": 409,
    "appeal_busy": 409,
    "appeal_holder_verified": 409,
    "aux_device_limit": 409,
    "aux_wait": 409,
    "room_full_candidate": 409,
    "room_full_aux": 409,
    "room_full_examiners": 409,
    "booking_closed": 409,
    "booking_not_open": 409,
    "cannot_disable_self": 409,
    "challenge_expired": 409,
    "email_taken": 409,
    "exam_not_confirmed": 409,
    "face_review_pending": 409,
    "facecheck_in_progress": 409,
    "id_claimed": 409,
    "interview_done": 409,
    "no_reference_photo": 409,
    "nobody_ready": 409,
    "notice_not_read": 409,
    "phone_taken": 409,
    "pledge_not_signed": 409,
    "queue_empty": 409,
    "queue_slot_over": 409,
    "queue_too_early": 409,
    "reference_unusable": 409,
    "review_resolved": 409,
    "room_busy": 409,
    "room_on_other_server": 409,
    "slot_capacity_below_booked": 409,
    "slot_full": 409,
    "slot_overlap": 409,
    "slot_started": 409,
    "username_taken": 409,
    "wrong_state": 409,
    "body_too_large": 413,
    "bad_content_type": 415,
    "device_check_failed": 422,
    "face_check_locked": 423,
    "face_review_rejected": 423,
    "identity_locked": 429,
    "login_locked": 429,
    "facecheck_rate_limited": 429,
    "rate_limited": 429,
    "internal": 500,
    "auth_busy": 503,
    "face_no_frames": 503,
    "facecheck_busy": 503,
    "facecheck_unavailable": 503,
    "storage_unavailable": 503,
    # contact codes (server/accounts/codes.py)
    "code_wait": 429,
    "code_rate_limited": 429,
    "register_rate_limited": 429,
    "notify_failed": 503,
    # recorded exams (server/recorded)
    "sitting_not_found": 404,
    "take_not_found": 404,
    "sitting_not_recorded": 409,
    "grading_not_recorded": 409,
    "take_mark_sealed": 409,
    "take_mark_not_sealed": 409,
    "take_marking_no_rubric": 409,
    "take_marking_no_graders": 409,
    "sitting_window_not_open": 409,
    "sitting_window_closed": 409,
    "sitting_no_sittings_left": 409,
    "sitting_no_mock_left": 409,
    "sitting_other_device": 409,
    "sitting_over": 409,
    "sitting_already_submitted": 409,
    "sitting_reset_none_left": 409,
    "take_limit": 409,
    "take_running": 409,
    "take_not_complete": 409,
    "take_face_check": 409,
    "take_not_playable": 409,
    "take_file_missing": 404,
    "take_over": 409,
}


def status_of(code: str) -> int:
    return STATUS.get(code, DEFAULT)


def status_for(err) -> int:
    """The status a ``UserError`` answers with over HTTP."""
    return err.status_override if err.status_override is not None else status_of(err.code)
