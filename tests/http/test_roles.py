"""Every route x every role: who is let in, who gets 401/403 (or the login page), from one table.

A route added without a line here fails the test, so nobody adds one without deciding who may call it.
"""

import pytest

from server.http.context import ROUTE_TABLE, SERVICES

PUBLIC, ANY = "public", "any"
C, E, P, A = "candidate", "examiner", "proctor", "admin"

EXPECTED = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/api/openapi.yaml"): PUBLIC,
    ("POST", "/api/auth/register"): PUBLIC,
    ("POST", "/api/auth/codes"): PUBLIC,
    ("POST", "/api/auth/password-reset"): PUBLIC,
    ("POST", "/api/auth/contact"): ANY,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): ANY,
    ("GET", "/api/auth/me"): ANY,
    ("POST", "/api/candidate/identity"): (C,),
    ("GET", "/api/candidate/identity/appeal"): (C,),
    ("POST", "/api/candidate/identity/appeal/challenge"): (C,),
    ("POST", "/api/candidate/identity/appeal"): (C,),
    ("GET", "/api/candidate/exams"): (C,),
    ("GET", "/api/candidate/exams/{exam_id}"): (C,),
    ("POST", "/api/candidate/exams/{exam_id}/confirm"): (C,),
    ("POST", "/api/candidate/exams/{exam_id}/notice"): (C,),
    ("POST", "/api/candidate/exams/{exam_id}/pledge"): (C,),
    ("GET", "/api/candidate/exams/{exam_id}/slots"): (C,),
    ("POST", "/api/candidate/exams/{exam_id}/bookings"): (C,),
    ("GET", "/api/candidate/exams/{exam_id}/facecheck"): (C,),
    ("GET", "/api/examiner/rooms"): (E,),
    ("GET", "/api/admin/exams"): (A,),
    ("POST", "/api/admin/exams"): (A,),
    ("GET", "/api/admin/exams/{exam_id}"): (A,),
    ("PATCH", "/api/admin/exams/{exam_id}"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/subjects"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/proctors"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/rooms"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/rooms"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/slots"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/slots"): (A,),
    ("PATCH", "/api/admin/exams/{exam_id}/slots/{slot_id}"): (A,),
    ("GET", "/api/admin/users"): (A,),
    ("POST", "/api/admin/users"): (A,),
    ("PATCH", "/api/admin/users/{account_id}"): (A,),
    ("POST", "/api/admin/users/{account_id}/revoke-sessions"): (A,),
    ("PUT", "/api/admin/users/{account_id}/staff-id-number"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/roster"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/roster"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/roster/{id_number}/photo"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/bookings"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/bookings/cancel"): (A,),
    ("GET", "/api/staff/exams/{exam_id}/audit"): (A, P),
    ("GET", "/api/staff/photos/{sha256}"): (A, P),
    ("GET", "/api/admin/imports/{import_id}"): (A,),
    ("GET", "/api/proctor/reviews"): (P, A),
    ("GET", "/api/proctor/reviews/{review_id}"): (P, A),
    ("GET", "/api/proctor/reviews/{review_id}/frames/{check_id}/{index}"): (P, A),
    ("POST", "/api/proctor/reviews/{review_id}"): (P, A),
    ("GET", "/api/proctor/appeals"): (P, A),
    ("POST", "/api/proctor/appeals/{appeal_id}"): (P, A),
    ("GET", "/api/proctor/appeals/{appeal_id}/frames/{index}"): (P, A),
    ("GET", "/api/proctor/recordings/{interview_id}/flags/{name}"): (P, A),
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/register"): PUBLIC,
    ("GET", "/reset"): PUBLIC,
    ("GET", "/lang/{lang}"): PUBLIC,
    ("GET", "/candidate"): (C,),
    ("GET", "/candidate/practice"): (C,),
    ("GET", "/aux/{token}"): PUBLIC,
    ("GET", "/api/candidate/exams/{exam_id}/aux-qr"): (C,),
    ("GET", "/candidate/exams/{exam_id}/check"): (C,),
    ("GET", "/candidate/exams/{exam_id}/interview"): (C,),
    ("GET", "/examiner/rooms/{room_id}"): (E,),
    ("GET", "/api/admin/exams/{exam_id}/recordings"): (A,),
    ("GET", "/api/admin/recordings/{interview_id}/files/{name}"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/audit.csv"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/exports/{kind}.{fmt}"): (A,),
    ("GET", "/examiner"): (E,),
    ("GET", "/proctor"): (P, A),
    ("GET", "/admin"): (A,),
    # recorded exams (docs/recorded.md)
    ("GET", "/api/candidate/exams/{exam_id}/recorded"): (C,),
    ("POST", "/api/candidate/exams/{exam_id}/recorded/{subject_id}/sittings"): (C,),
    ("GET", "/api/candidate/sittings/{sitting_id}"): (C,),
    ("POST", "/api/candidate/sittings/{sitting_id}/takes"): (C,),
    ("POST", "/api/candidate/sittings/{sitting_id}/submit"): (C,),
    ("POST", "/api/candidate/sittings/{sitting_id}/reset"): (C,),
    ("PUT", "/api/admin/exams/{exam_id}/subjects/{subject_id}"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/sittings"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/submissions.csv"): (A,),
    ("GET", "/api/candidate/takes/{take_id}/video"): (C,),
    ("GET", "/api/candidate/takes/{take_id}/aux/{n}"): (C,),
    # upload takes: tus (server/http/uploads_api.py)
    ("POST", "/api/candidate/sittings/{sitting_id}/uploads"): (C,),
    ("HEAD", "/api/candidate/uploads/{take_id}"): (C,),
    ("PATCH", "/api/candidate/uploads/{take_id}"): (C,),
    ("DELETE", "/api/candidate/uploads/{take_id}"): (C,),
    ("GET", "/api/admin/takes/{take_id}/video"): (A,),
    ("GET", "/api/admin/takes/{take_id}/aux/{n}"): (A,),
    ("GET", "/candidate/exams/{exam_id}/recorded/{subject_id}"): (C,),
    # graders of recorded subjects (server/http/grading_api.py)
    ("GET", "/api/grader/subjects"): (E,),
    ("GET", "/api/grader/submissions"): (E,),
    ("GET", "/api/grader/submissions/{code}/video"): (E,),
    ("GET", "/api/grader/submissions/{code}/aux/{n}"): (E,),
    ("GET", "/api/admin/exams/{exam_id}/graders"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/subjects/{subject_id}/graders"): (A,),
    ("GET", "/examiner/grading"): (E,),
    # blind double marking of recorded submissions (server/http/take_marks_api.py)
    ("GET", "/api/grader/queue"): (E,),
    ("GET", "/api/grader/submissions/{code}/marks"): (E,),
    ("PUT", "/api/grader/submissions/{code}/marks"): (E,),
    ("POST", "/api/grader/submissions/{code}/marks/seal"): (E,),
    ("GET", "/api/admin/exams/{exam_id}/marking/progress"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/subjects/{subject_id}/marking/assign"): (A,),
    ("POST", "/api/admin/take-marks/{code}/{grader_id}/reopen"): (A,),
    # rubrics and live interview marking (server/http/marking_api.py)
    ("GET", "/api/admin/exams/{exam_id}/subjects/{subject_id}/rubric"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/subjects/{subject_id}/rubric"): (A,),
    ("GET", "/api/admin/interviews/{interview_id}/marks"): (A,),
    ("POST", "/api/admin/interviews/{interview_id}/marks/{examiner_id}/reopen"): (A,),
    ("POST", "/api/admin/interviews/{interview_id}/marks/{examiner_id}/excuse"): (A,),
    ("GET", "/api/examiner/rooms/{room_id}/interviews"): (E,),
    ("GET", "/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks"): (E,),
    ("PUT", "/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks"): (E,),
    ("POST", "/api/examiner/rooms/{room_id}/interviews/{interview_id}/marks/seal"): (E,),
    ("GET", "/api/examiner/marking/unfinished"): (E,),
    # results (server/http/results_api.py)
    ("GET", "/api/admin/exams/{exam_id}/results"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/results/settings"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/results/lock"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/results/publish"): (A,),
    ("GET", "/api/candidate/exams/{exam_id}/results"): (C,),
    ("GET", "/candidate/exams/{exam_id}/results"): (C,),
    # artwork photos and the review of one sitting (server/http/artwork_api.py)
    ("POST", "/api/candidate/takes/{take_id}/photos"): (C,),
    ("GET", "/api/candidate/takes/{take_id}/photos/{photo_id}"): (C,),
    ("DELETE", "/api/candidate/takes/{take_id}/photos/{photo_id}"): (C,),
    ("GET", "/api/admin/takes/{take_id}/photos/{photo_id}"): (A,),
    ("GET", "/api/grader/submissions/{code}/photos/{n}"): (E,),
    ("GET", "/api/admin/sittings/{sitting_id}"): (A,),
    ("GET", "/admin/sittings/{sitting_id}"): (A,),
    # drawn questions and guided items (server/http/questions_api.py, prompt_api.py)
    ("GET", "/api/admin/exams/{exam_id}/subjects/{subject_id}/questions"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/subjects/{subject_id}/questions"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/subjects/{subject_id}/questions/import"): (A,),
    ("DELETE", "/api/admin/exams/{exam_id}/subjects/{subject_id}/questions/{question_id}"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/subjects/{subject_id}/questions/{question_id}/media"): (A,),
    ("PUT", "/api/admin/exams/{exam_id}/subjects/{subject_id}/steps"): (A,),
    ("POST", "/api/admin/exams/{exam_id}/subjects/{subject_id}/steps/audio"): (A,),
    ("GET", "/api/admin/exams/{exam_id}/subjects/{subject_id}/steps/audio/{sha256}"): (A,),
    ("GET", "/admin/exams/{exam_id}/subjects/{subject_id}/content"): (A,),
    ("GET", "/api/candidate/takes/{take_id}/question"): (C,),
    ("GET", "/api/candidate/takes/{take_id}/steps/{n}/audio"): (C,),
    ("GET", "/api/grader/submissions/{code}/question"): (E,),
    ("GET", "/api/prompt/{token}"): PUBLIC,
    ("GET", "/api/prompt/{token}/media"): PUBLIC,
    # several nodes (docs/nodes.md)
    ("GET", "/api/admin/nodes"): (A,),
    ("POST", "/api/admin/nodes/{node}/drain"): (A,),
    ("GET", "/internal/recordings/{interview_id}/{name}"): PUBLIC,  # for nodes only: see SIGNED
}
# node-to-node routes: no role opens them, only a request signed with the nodes' secret (403 node_forbidden)
SIGNED = {("GET", "/internal/recordings/{interview_id}/{name}")}

ROLES = (None, C, E, P, A)


def allowed(rule, role):
    return rule == PUBLIC or (role is not None and (rule == ANY or role in rule))


async def test_table_covers_every_route(app):
    declared = {(r.method, r.path): r.roles for r in app[ROUTE_TABLE]}
    assert set(declared) == set(EXPECTED), set(declared) ^ set(EXPECTED)
    for key, roles in declared.items():
        assert (roles if isinstance(roles, str) else set(roles)) == (
            EXPECTED[key] if isinstance(EXPECTED[key], str) else set(EXPECTED[key])
        ), key


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_refuses_every_other_role(app, http, world, role):
    services = app[SERVICES]
    candidate = await world.candidate(0)
    accounts = {C: candidate, E: world.staff[E], P: world.staff[P], A: world.staff[A]}

    async def aux_token(prompt: str = "") -> str:
        """An aux code of the candidate, bound to a live session of theirs (as the page gets it); ``prompt``:
        a prompt viewer's code for that subject (the only kind /api/prompt/ reads)."""
        session = await services.sessions.create(candidate.id, "candidate")
        return await services.aux_tokens.issue(world.exam.id, candidate.id, services.sessions.hash_of(session), prompt)

    ids = {
        "exam_id": world.exam.id,
        "slot_id": world.slots[0].id,
        "account_id": candidate.id,
        "appeal_id": "appeal_x",
        "id_number": world.roster[0][1],
        "sha256": "0" * 64,
        "lang": "en",
        "review_id": "review_000000000000",
        "check_id": "check_000000000000",
        "import_id": "imp_000000000000",
        "index": "0",
        # an aux token belongs to a live session of the candidate
        "token": await aux_token(),
        "room_id": world.rooms[0].id,
        "interview_id": "intv_000000000000",
        "examiner_id": world.staff[E].id,
        "grader_id": world.staff[E].id,
        "name": "x-video-0.webm",
        "subject_id": world.subjects[0].id,
        "sitting_id": "sitt_000000000000",
        "take_id": "take_000000000000",
        "question_id": "ques_000000000000",
        "n": "1",
        "photo_id": "photo_000000000000",
        "code": "S-22222",
        "kind": "bookings",
        "fmt": "csv",
        "node": "node-x",
    }
    for info in app[ROUTE_TABLE]:
        path = info.path.format(**ids)
        headers = {}
        if role is not None:  # a fresh session per request: logout cannot spoil the next one
            token = await services.sessions.create(accounts[role].id, role)
            headers["Cookie"] = f"iv_session={token}"
        if "{token}" in info.path:  # a candidate's new login voids older aux codes: one made after it
            prompt = world.subjects[0].id if info.path.startswith("/api/prompt/") else ""
            path = info.path.format(**{**ids, "token": await aux_token(prompt)})
        kwargs = {"json": {}} if info.method in ("POST", "PATCH") else {}
        resp = await http.request(info.method, path, headers=headers, allow_redirects=False, **kwargs)
        where = f"{info.method} {info.path} as {role}: {resp.status}"
        if (info.method, info.path) in SIGNED:
            assert resp.status == 403, where
            assert (await resp.json())["error"]["code"] == "node_forbidden", where
        elif allowed(info.roles, role):
            assert resp.status not in (401, 403), where
            if info.page and resp.status == 302 and info.roles != PUBLIC:
                assert not resp.headers["Location"].startswith("/login"), where
        elif role is None and info.page:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login?next="), where
        elif role is None:
            assert resp.status == 401, where
            if info.method != "HEAD":  # a HEAD answer has no body: its status says it
                assert (await resp.json())["error"]["code"] == "login_required"
        elif info.page:
            assert resp.status == 403 and resp.content_type == "text/html", where
        else:
            assert resp.status == 403, where
            if info.method != "HEAD":
                assert (await resp.json())["error"]["code"] == "forbidden"
