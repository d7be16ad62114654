"""docs/openapi.yaml describes every route of the app, who may call it, and the error codes it answers.

The spec includes the HTML page routes too (tag ``pages``, ``x-page: true``), so the set of
operations must equal the app's whole route table (the static files route aside).
That the table's roles are enforced is tested in test_roles.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from server.accounts.sessions import COOKIE
from server.http.admin_api import EXAM_FIELDS, SUBJECT
from server.http.context import ROUTE_TABLE
from server.http.routing import ANY, PUBLIC
from server.i18n import MESSAGES
from server.queue.entries import STATES, SYSTEM_REASONS
from server.signaling.candidate import PHRASES
from server.store.models import ROLES

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def routes(app):
    return [r for r in app[ROUTE_TABLE] if not r.path.startswith("/static")]


def resolve(spec: dict, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# --- served by the app ----------------------------------------------------------------------


async def test_spec_is_served_without_login(http):
    resp = await http.get("/api/openapi.yaml")
    assert resp.status == 200
    assert resp.content_type == "application/yaml"
    text = await resp.text()
    assert text == SPEC_PATH.read_text(encoding="utf-8")
    served = yaml.safe_load(text)
    assert served["openapi"].startswith("3.1")
    assert "/api/openapi.yaml" in served["paths"]


# --- the spec against the route table --------------------------------------------------------


def test_spec_has_exactly_the_apps_routes(app, spec):
    table = routes(app)
    declared = [(r.method, r.path) for r in table]
    assert len(declared) == len(set(declared)), "a route is registered twice"
    documented = [(method, path) for method, path, _ in operations(spec)]
    assert len(documented) == len(set(documented))
    assert set(documented) - set(declared) == set(), "documented but not served"
    assert set(declared) - set(documented) == set(), "served but not documented"


def test_every_served_route_goes_through_the_role_table(app):
    """A route added to the router directly would skip the role check and this spec's test.

    socket.io's endpoint is the one exception: it authenticates on connect, per namespace."""
    gets = {r.resource.canonical for r in app.router.routes() if r.method == "GET"}
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        # aiohttp adds a HEAD beside every GET; a HEAD of its own (tus, uploads_api.py) is in the table
        if not (r.method == "HEAD" and r.resource.canonical in gets)
        and not r.resource.canonical.startswith(("/static", "/socket.io"))
    }
    assert served == {(r.method, r.path) for r in routes(app)}


def test_x_roles_match_declared_roles(app, spec):
    by_route = {(m, p): op for m, p, op in operations(spec)}
    for route in routes(app):
        op = by_route[(route.method, route.path)]
        roles = op.get("x-roles")
        where = f"{route.method} {route.path}"
        if route.roles in (PUBLIC, ANY):
            assert roles == route.roles, where
        else:
            assert isinstance(roles, list), where
            assert sorted(roles) == sorted(route.roles), where
            assert set(roles) <= set(ROLES), where
        assert bool(op.get("x-page", False)) == route.page, where
        assert ("pages" in op.get("tags", [])) == route.page, where


def test_security_follows_roles(app, spec):
    scheme = spec["components"]["securitySchemes"]["session"]
    assert scheme == {**scheme, "type": "apiKey", "in": "cookie", "name": COOKIE}
    assert "HttpOnly" in scheme["description"] and "SameSite=Lax" in scheme["description"]
    assert spec["security"] == [{"session": []}]
    for method, path, op in operations(spec):
        where = f"{method} {path}"
        if op["x-roles"] == PUBLIC:
            assert op.get("security") == [], where
        else:
            assert "security" not in op, where  # inherits the session cookie
            if not op.get("x-page"):
                assert "401" in op["responses"], where
                assert "login_required" in resolve(spec, op["responses"]["401"])["x-error-codes"], where
            else:
                assert "302" in op["responses"], where


# --- the spec is well-formed and complete --------------------------------------------------


def test_refs_resolve_and_path_parameters_are_declared(spec):
    for node in walk(spec):
        if isinstance(node, dict) and "$ref" in node:
            resolve(spec, node)
    for path, item in spec["paths"].items():
        names = {p.split("}")[0] for p in path.split("{")[1:]}
        for method, op in item.items():
            if method not in METHODS:
                continue
            params = [resolve(spec, p) for p in item.get("parameters", []) + op.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == names, f"{method} {path}"
            assert op.get("operationId"), f"{method} {path}"
            assert op.get("responses"), f"{method} {path}"


def test_error_codes_are_real_and_every_code_is_documented(spec):
    documented: set[str] = set()
    for node in walk(spec):
        if isinstance(node, dict) and "x-error-codes" in node:
            codes = node["x-error-codes"]
            assert codes and len(codes) == len(set(codes)), codes
            documented.update(codes)
            # error responses carry the error shape
            schema = resolve(spec, node["content"]["application/json"]["schema"])
            assert schema is spec["components"]["schemas"]["Error"]
    report = spec["components"]["schemas"]["ImportReport"]
    row_codes = set(
        report["properties"]["rows"]["items"]["properties"]["reasons"]["items"]["properties"]["code"]["enum"]
    )
    # a question bank import's report: its rows' reasons and the archive's problems (docs/recorded.md)
    bank = spec["components"]["schemas"]["QuestionImportReport"]["properties"]
    row_codes |= set(bank["rows"]["items"]["properties"]["reasons"]["items"]["properties"]["code"]["enum"])
    row_codes |= set(bank["problems"]["items"]["properties"]["code"]["enum"])
    assert documented - set(MESSAGES) == set(), "codes the server never sends"
    assert row_codes - set(MESSAGES) == set()
    assert {c for c in MESSAGES if c.startswith("row_")} <= row_codes
    # a face check's result is an answer, not an error: its reasons are the FaceCheckResult enum,
    # each with an advice_<reason> message, and the challenge's direction words
    face = spec["components"]["schemas"]["FaceCheckResult"]["properties"]["reason"]["enum"]
    results = {r for r in face if r} | {"advice_" + r for r in face if r} | {"face_turn_left", "face_turn_right"}
    assert results - set(MESSAGES) == set(), "result reasons without a message"
    # socket.io events answer with the same error shape; their codes are in docs/signaling.md, and
    # the queue's state and reason labels are named after STATES and SYSTEM_REASONS
    signaling = set(re.findall(r"`([a-z_]+)`", (SPEC_PATH.parent / "signaling.md").read_text(encoding="utf-8")))
    labels = {f"queue_state_{s}" for s in STATES} | {f"queue_reason_{r}" for r in SYSTEM_REASONS}
    labels |= {f"phrase_{p}" for p in PHRASES}
    assert set(MESSAGES) - documented - row_codes - results - signaling - labels == set(), "codes missing from the spec"


def test_error_shape(spec):
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message"}
    assert set(error["properties"]) == {"code", "message", "field"}


def _check_fields(schema: dict, fields: dict, where: str) -> None:
    assert schema.get("additionalProperties") is False, where
    assert set(fields) <= set(schema["properties"]), where
    for name, f in fields.items():
        prop = schema["properties"][name]
        if f.kind == "str":
            assert prop["type"] == "string" and prop.get("maxLength") == f.max_len, (where, name)
        elif f.kind == "int":
            assert prop["type"] == "integer", (where, name)
            assert (prop.get("minimum"), prop.get("maximum")) == (f.min, f.max), (where, name)
        elif f.kind == "time":
            assert prop == {"$ref": "#/components/schemas/TimeInput"} or prop["$ref"].endswith("/TimeInput")
    required = {n for n, f in fields.items() if f.required}
    assert required <= set(schema.get("required", [])), where


def test_admin_exam_and_subject_bodies_match_the_server(spec):
    schemas = spec["components"]["schemas"]
    _check_fields(schemas["ExamCreate"], EXAM_FIELDS, "ExamCreate")
    assert set(schemas["ExamCreate"]["properties"]) == set(EXAM_FIELDS) | {"subjects"}
    assert set(schemas["ExamCreate"]["required"]) == {n for n, f in EXAM_FIELDS.items() if f.required}
    _check_fields(schemas["SubjectCreate"], SUBJECT, "SubjectCreate")
    assert set(schemas["SubjectCreate"]["properties"]) == set(SUBJECT)
    assert set(schemas["ExamUpdate"]["properties"]) == set(EXAM_FIELDS)
    assert "required" not in schemas["ExamUpdate"]


def test_spec_is_valid_openapi_3_1(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)
