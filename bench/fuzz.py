"""A fuzzing pass over the whole REST API (docs/openapi.yaml, with schemathesis) and over every
socket.io event's payload spec (server/payloads.py specs, the ``EVENTS`` of each namespace in
server/signaling/, with hypothesis), against the real app over real HTTP on loopback and a private
Redis.

Run: ``python -m bench.fuzz [--examples 25] [--seconds 300] [--seed N]`` (docs/security.md, "Fuzzing").

HTTP: every operation of docs/openapi.yaml is fuzzed as each role that may call it (``x-roles``) and
anonymously, each with up to ``--examples`` cases per (operation, role) drawn from schemathesis's
positive and negative modes, half of them with real ids in the path (the exam, its slots, rooms,
victim accounts, roster ID numbers, an open appeal...) so that the deep code is reached. The roles
log in over HTTP: a candidate who is verified, has confirmed the exam, read the notice, signed the
pledge and booked a slot; an unverified candidate; the examiner of the exam's rooms; a proctor; an
admin. A session that a fuzzed request ends (logout) is replaced through the session service.

Sockets: every event of every namespace (``/candidate``, ``/examiner``, ``/proctor``, ``/aux``), plus
an unknown event and the connect ``auth`` payload, gets up to ``--examples`` payloads generated from
its spec: right types (and real ids), wrong types, missing and extra fields, oversized strings, lone
surrogates, payloads that are not objects.

What is counted:
- ``server_errors``: HTTP answers of 5xx, each with the operation, the request body and the server's
  traceback (the records the app logged at ERROR under the request's ``X-Request-Id``);
- ``state_changes_on_refusal``: refused requests (4xx) after which a key under the app's prefix was
  added, removed or changed (a DUMP digest of every key, read in one Lua call, before and after),
  beside the keys listed in ``ALLOWED_HTTP`` with the reason they change;
- ``socket_errors``: events whose ack is missing (the handler raised), not ``{ok: true, ...}`` or
  ``{ok: false, error: {code, message}}``, or during which the server logged at ERROR; connects
  refused without a ``data.code``;
- ``socket_state_changes_on_refusal``: refused events that changed Redis (beside ``ALLOWED_SOCKET``).

Settings: the product's defaults except cheap password hashing (logins are not what is fuzzed), no
face-check workers (a burst that passes every check before the pool answers 503
``facecheck_unavailable``, counted apart as ``facecheck_unavailable``, never as a server error), and
the attempt limits of logins, registrations, codes, face checks and socket events raised 1000-fold:
with the defaults every request after the first few would be a 429 and the handlers behind the limits
would not be fuzzed (the limits themselves are tested in tests/accounts and tests/signaling).

Ends with one line of JSON: ``requests``, ``server_errors``, ``state_changes_on_refusal``,
``socket_events``, ``socket_errors``, ``seconds``, ``machine`` and the breakdowns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fnmatch
import json
import logging
import os
import platform
import random
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "openapi.yaml"
SESSION_COOKIE = "iv_session"

# Keys (after the prefix) that a refused request may change, and why. Everything else must stay
# byte-for-byte the same (DUMP) when a request is answered 4xx.
ALLOWED_HTTP = {
    "ratelimit:*": "attempt counters: counting refused attempts (logins, registrations, codes, identity checks, face checks) is what they are for",
    "code:*": "a live contact code counts every wrong try of it (code_max_attempts), refused or not",
    "process:*": "each server process's liveness key, refreshed by its heartbeat whatever the requests",
    "node:*": "each node's registry entry (load, last beat: docs/nodes.md), refreshed by its heartbeat whatever the requests",
}
ALLOWED_SOCKET = {
    **ALLOWED_HTTP,
    "presence:*": "a candidate socket's heartbeat, refreshed by the hub every presence_ttl_s / 3 whatever the events",
}
# Refusals that change state by design (operation id, error code) -> why.
ALLOWED_REFUSALS: dict[tuple[str, str], str] = {}  # none: id_claimed no longer opens an appeal by itself

LIMIT_OVERRIDES = dict(
    login_fail_limit_pair=5000,
    login_fail_limit_account=100000,
    login_fail_limit_address=30000,
    register_per_address_hour=10000,
    code_per_address_hour=20000,
    code_per_destination_day=10000,
    facecheck_attempts_per_window=10000,
    signal_rate_per_s=10000.0,
    signal_burst=30000,
)

DIGEST_LUA = """
local out = {}
local cursor = "0"
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    local d = redis.call('DUMP', k)
    if d then
      out[#out + 1] = k
      out[#out + 1] = redis.sha1hex(d)
    end
  end
until cursor == "0"
return out
"""


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# --- what the server logs -----------------------------------------------------------------------


class LogTap(logging.Handler):
    """Every record at ERROR or above, with the request id it was logged under and its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[dict] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        from server.logs import request_id

        tb = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        with self.guard:
            self.records.append(
                {
                    "logger": record.name,
                    "message": record.getMessage(),
                    "request_id": request_id.get(),
                    "where": f"{record.pathname}:{record.lineno}",
                    "traceback": tb,
                }
            )

    def mark(self) -> int:
        with self.guard:
            return len(self.records)

    def since(self, mark: int) -> list[dict]:
        with self.guard:
            return list(self.records[mark:])

    def of_request(self, rid: str) -> list[dict]:
        with self.guard:
            return [r for r in self.records if r["request_id"] == rid]


# --- Redis state --------------------------------------------------------------------------------


class Digest:
    """Every key under the prefix -> sha1 of its DUMP, in one Lua call (a sync client of its own)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=False)
        self.script = self.client.register_script(DIGEST_LUA)
        self.prefix = prefix

    def snapshot(self) -> dict[str, str]:
        flat = self.script(keys=[], args=[self.prefix + "*"])
        return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}

    def changed(self, before: dict[str, str], after: dict[str, str], allowed: dict[str, str]) -> list[str]:
        keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        out = []
        for key in sorted(keys):
            rel = key[len(self.prefix) :]
            if not any(fnmatch.fnmatchcase(rel, pattern) for pattern in allowed):
                out.append(("+" if key not in before else "-" if key not in after else "~") + rel)
        return out

    def close(self) -> None:
        self.client.close()


# --- the world ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Role:
    name: str  # candidate, candidate_unverified, examiner, proctor, admin, anonymous
    account: Any = None
    token: str = ""
    renewals: int = 0


@dataclasses.dataclass
class Target:
    base: str
    loop: asyncio.AbstractEventLoop
    services: Any
    settings: Any
    roles: dict[str, Role]
    pools: dict[str, list]  # path parameter / payload field name -> real values
    digest: Digest
    tap: LogTap

    def renew(self, role: Role) -> None:
        """A new session for ``role`` (its own was ended by a fuzzed request), made by the service."""
        fut = asyncio.run_coroutine_threadsafe(
            self.services.sessions.create(role.account.id, role.account.role, "127.0.0.1", "bench.fuzz"), self.loop
        )
        role.token = fut.result(timeout=30)
        role.renewals += 1

    def on_loop(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def account_ok(self, role: Role) -> bool:
        account = self.on_loop(self.services.directory.get(role.account.id))
        return account is not None and not account.disabled and account.role == role.account.role


async def _http_login(base: str, login: str, password: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(base + "/api/auth/login", json={"login": login, "password": password}) as resp:
            assert resp.status == 200, await resp.text()
            return resp.cookies[SESSION_COOKIE].value


async def _setup(server, services, settings) -> tuple[dict[str, Role], dict[str, list]]:
    """The exam of tests/conftest.py, the roles logged in over HTTP, and the pools of real ids."""
    from server.errors import UserError
    from server.store.audit import Actor
    from tests.conftest import ADMIN, PASSWORD, build_world

    base = f"http://127.0.0.1:{server.port}"
    world = await build_world(services, roster_size=8, capacity=5)
    # roster row 1 is rostered for both subjects: a far slot of one, and one of the other whose
    # queue is open now (so that queue:join, the face check and the examiner's events go deep)
    cand = await world.candidate(1)
    await services.bookings.book(cand, world.exam.id, world.slots[0].id)
    now = time.time()
    open_slot = await services.catalog.create_slot(ADMIN, world.exam.id, world.rooms[1].id, now + 300, now + 3900, 5)
    await services.bookings.book(cand, world.exam.id, open_slot.id)
    fresh = await world.candidate(0, verified=False)
    victims = [await world.candidate(2), await world.candidate(3, enrolled=False)]
    victims.append(
        await services.directory.create("examiner", PASSWORD, Actor.system(), name="v", username="victim-ex")
    )
    # an open identity appeal: another account claims candidate 0's ID number
    claimer = await services.directory.create("candidate", PASSWORD, Actor.system(), phone="13800000009")
    name, number, _ = world.roster[1]
    with contextlib.suppress(UserError):
        entry = await services.identity.appeal_target(claimer, name, number)
        await services.identity.open_appeal(claimer, entry, {"face_check": "bench.fuzz"})
    roles = {"anonymous": Role("anonymous")}
    for role, account, login in (
        ("candidate", cand, cand.phone),
        ("candidate_unverified", fresh, fresh.phone),
        ("examiner", world.staff["examiner"], "examiner-one"),
        ("proctor", world.staff["proctor"], "proctor-one"),
        ("admin", world.staff["admin"], "admin-one"),
    ):
        roles[role] = Role(role, account, await _http_login(base, login, PASSWORD))
    photos = [e.photo_sha256 for e in await services.roster.entries(world.exam.id) if e.photo_sha256]
    appeals = [a.id for a in await services.identity.open_appeals()]
    token = await services.aux_tokens.issue(world.exam.id, cand.id, services.sessions.hash_of(roles["candidate"].token))
    pools = {
        "exam_id": [world.exam.id],
        "slot_id": [open_slot.id, *[s.id for s in world.slots]],
        "room_id": [world.rooms[1].id, world.rooms[0].id],
        "account_id": [v.id for v in victims],
        "id_number": [world.roster[i][1] for i in (4, 5, 6)],
        "sha256": photos[:2],
        "appeal_id": appeals[:1],
        "lang": ["en", "zh"],
        "token": [token],
        "phrase": ["cant_hear", "ready"],
    }
    return roles, {k: v for k, v in pools.items() if v}


# --- HTTP ---------------------------------------------------------------------------------------


def _documented(spec: dict):
    """``documented(op, status, code)``: the status is listed for the operation (``default`` stands
    for 500/503 only) and, where the response lists ``x-error-codes``, the code is one of them."""
    responses_of = spec.get("components", {}).get("responses", {})

    def resolve(response: dict) -> dict:
        ref = response.get("$ref", "")
        return responses_of.get(ref.rsplit("/", 1)[-1], {}) if ref else response

    def documented(op, status: int, code: str) -> bool:
        responses = op.definition.raw.get("responses", {})
        response = responses.get(str(status))
        if response is None and status in (500, 503):
            response = responses.get("default")
        if response is None:
            return status in (404, 405) and code in ("not_found", "method_not_allowed")  # any /api/ path
        codes = resolve(response).get("x-error-codes")
        return not codes or not code or code in codes

    return documented


class StopFuzz(Exception):
    """The time budget of an (operation, role) pair is spent."""


def _roles_for(x_roles: Any, roles: dict[str, Role]) -> list[str]:
    if x_roles == "public":
        return ["anonymous"]
    if x_roles == "any":
        return ["anonymous", *[r for r in roles if r != "anonymous"]]
    names = ["anonymous"]
    for role in x_roles:
        names += [r for r in roles if r == role or r.startswith(role + "_")]
    return names


@dataclasses.dataclass
class Figures:
    requests: int = 0
    server_errors: list = dataclasses.field(default_factory=list)
    state_changes: list = dataclasses.field(default_factory=list)
    statuses: Counter = dataclasses.field(default_factory=Counter)
    by_operation: dict = dataclasses.field(default_factory=dict)
    undocumented: Counter = dataclasses.field(default_factory=Counter)
    socket_library_errors: list = dataclasses.field(default_factory=list)
    allowed_refusals: Counter = dataclasses.field(default_factory=Counter)
    facecheck_unavailable: int = 0
    generation_errors: list = dataclasses.field(default_factory=list)
    pairs: int = 0
    pairs_cut_short: int = 0
    socket_events: int = 0
    socket_errors: list = dataclasses.field(default_factory=list)
    socket_state_changes: list = dataclasses.field(default_factory=list)
    socket_acks: Counter = dataclasses.field(default_factory=Counter)
    connects: int = 0


def _error_code(resp) -> str:
    with contextlib.suppress(Exception):
        return resp.json()["error"]["code"]
    return ""


def http_fuzz(target: Target, figures: Figures, examples: int, seconds: float, derandomize: bool, seed: int) -> None:
    import requests
    import schemathesis
    from hypothesis import given
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    # an upload take's tus chunk (docs/recorded.md "Upload takes"): raw bytes, which schemathesis cannot make itself
    schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))
    schema = schemathesis.openapi.from_path(SPEC)
    documented = _documented(schema.raw_schema)
    operations = []
    for result in schema.get_all_operations():
        op = result.ok()
        for role in _roles_for(op.definition.raw.get("x-roles", "any"), target.roles):
            operations.append((op, role))
    # logout last in each role's turn would still end the session: it is renewed after, whatever the order
    random.Random(seed).shuffle(operations)
    http = requests.Session()
    start = time.monotonic()
    end = start + seconds
    counter = [0]

    for i, (op, role_name) in enumerate(operations):
        figures.pairs += 1
        now = time.monotonic()
        if now >= end:
            figures.pairs_cut_short += len(operations) - i
            figures.pairs -= 1
            break
        pair_end = now + (end - now) / (len(operations) - i)
        role = target.roles[role_name]
        label = f"{op.method.upper()} {op.path}"
        op_id = op.definition.raw.get("operationId", label)
        real = {p.name: target.pools[p.name] for p in op.path_parameters if p.name in target.pools}
        strategies = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with contextlib.suppress(Exception):
                strategies.append(op.as_strategy(mode))
            if real:
                with contextlib.suppress(Exception):
                    strategies.append(
                        st.fixed_dictionaries({k: st.sampled_from(v) for k, v in real.items()}).flatmap(
                            lambda values, mode=mode, op=op: op.as_strategy(mode, path_parameters=values)
                        )
                    )
        if not strategies:
            figures.generation_errors.append({"operation": label, "role": role_name, "error": "no strategy"})
            continue

        def send(case, op, role, label, op_id, pair_end) -> None:
            if time.monotonic() >= pair_end:
                raise StopFuzz
            counter[0] += 1
            rid = f"fuzz-{counter[0]}"
            before = target.digest.snapshot()
            cookies = {SESSION_COOKIE: role.token} if role.token else {}
            try:
                resp = case.call(
                    base_url=target.base, session=http, headers={"X-Request-Id": rid}, cookies=cookies, timeout=60
                )
            except requests.RequestException as exc:  # the server closed on us: a failure of its own kind
                figures.requests += 1
                figures.server_errors.append(
                    {
                        "operation": label,
                        "role": role.name,
                        "status": None,
                        "error": _short(str(exc)),
                        "request": _request_of(case),
                        "server_log": target.tap.of_request(rid),
                    }
                )
                return
            finally:
                http.cookies.clear()
            figures.requests += 1
            status = resp.status_code
            figures.statuses[str(status)] += 1
            code = _error_code(resp)
            figures.by_operation.setdefault(f"{label} as {role.name}", Counter())[f"{status} {code}".strip()] += 1
            if not documented(op, status, code):
                figures.undocumented[f"{label} {status} {code}".strip()] += 1
            if status >= 500:
                if status == 503 and code == "facecheck_unavailable":
                    figures.facecheck_unavailable += 1
                else:
                    figures.server_errors.append(
                        {
                            "operation": label,
                            "role": role.name,
                            "status": status,
                            "code": code,
                            "request": _request_of(case),
                            "response": _short(resp.text, 300),
                            "server_log": target.tap.of_request(rid),
                        }
                    )
            elif status >= 400:
                changed = target.digest.changed(before, target.digest.snapshot(), ALLOWED_HTTP)
                if changed and (op_id, code) in ALLOWED_REFUSALS:
                    figures.allowed_refusals[f"{op_id} {code}"] += 1
                elif changed:
                    figures.state_changes.append(
                        {
                            "operation": label,
                            "role": role.name,
                            "status": status,
                            "code": code,
                            "changed": changed[:20],
                            "request": _request_of(case),
                        }
                    )
            if role.account is not None and (status == 401 or (op_id == "logout" and status == 200)):
                target.renew(role)
            elif role.account is not None and status == 403 and code == "forbidden" and not target.account_ok(role):
                raise AssertionError(f"the {role.name} account was changed by a fuzzed request: {label}")

        test = given(st.one_of(strategies))(
            _one_arg(send, op=op, role=role, label=label, op_id=op_id, pair_end=pair_end)
        )
        test = _bounded(test, examples, derandomize, seed + i)
        try:
            test()
        except StopFuzz:
            pass
        except Exception as exc:  # generation problems of schemathesis/hypothesis, not the server's
            figures.generation_errors.append({"operation": label, "role": role_name, "error": _short(repr(exc), 300)})
    http.close()


def _bounded(test, examples: int, derandomize: bool, seed: int):
    """A hypothesis test with this run's bounds: ``examples`` generated cases, no shrinking, no
    database, every health check off (the server is slow on purpose: argon2, Redis), quiet; seeded
    unless derandomized."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings
    from hypothesis import seed as hseed

    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )(test)
    return test if derandomize else hseed(seed)(test)


def _one_arg(fn, **bound):
    """``fn`` with everything but its first argument bound (hypothesis's ``given`` takes no defaults)."""

    def run(value):
        return fn(value, **bound)

    return run


def _request_of(case) -> dict:
    body = getattr(case, "body", None)
    if body is not None and type(body).__name__ == "NotSet":
        body = None
    return {
        "method": case.method,
        "path": case.formatted_path,
        "query": _short(case.query or {}, 300),
        "body": _short(body, 600),
        "media_type": getattr(case, "media_type", None),
    }


# --- sockets ------------------------------------------------------------------------------------


def _json_values():
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=4),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=12,
    )


def _right_value(name: str, field, pools: dict[str, list]):
    from hypothesis import strategies as st

    from server.payloads import EARLIEST, LATEST
    from server.signaling.candidate import DEVICE_KEYS

    kind = field.kind
    if kind == "str":
        text = st.text(max_size=min(field.max_len or 60, 200))
        return st.one_of(st.sampled_from(pools[name]), text) if name in pools else text
    if kind == "int":
        lo = int(field.min) if field.min is not None else -(2**40)
        hi = int(field.max) if field.max is not None else 2**40
        return st.integers(lo, hi)
    if kind == "bool":
        return st.booleans()
    if kind == "time":
        return st.one_of(st.floats(EARLIEST, LATEST), st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=30))
    if kind == "dict":
        device_value = st.one_of(
            st.none(),
            st.booleans(),
            st.floats(allow_nan=True),
            st.sampled_from(["granted", "denied", "prompt", "unavailable", "chrome", "safari", "100"]),
            st.text(max_size=40),
            st.text(min_size=300, max_size=400),
            _json_values(),
        )
        return st.dictionaries(
            st.one_of(st.sampled_from(sorted(DEVICE_KEYS)), st.text(max_size=8)), device_value, max_size=6
        )
    if kind in ("list[str]", "list[dict]"):
        item = st.text(max_size=20) if kind == "list[str]" else st.dictionaries(st.text(max_size=5), _json_values())
        return st.lists(item, max_size=(field.max_len or 5) + 2)
    return _json_values()


def _field_value(name: str, field, pools: dict[str, list]):
    from hypothesis import strategies as st

    right = _right_value(name, field, pools)
    choices = [right, _json_values()]
    if field.kind == "str":
        limit = field.max_len or 60
        choices.append(st.integers(limit + 1, limit + 40).map(lambda n: "长" * n))  # one over, in non-ASCII
        choices.append(st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=8))
        choices.append(st.sampled_from(["", "   ", "\x00", "room_../../x", "exam_" + "0" * 12]))
    # the right type half of the time, the other half split among the wrong ones
    return st.booleans().flatmap(lambda ok: right if ok else st.one_of(choices[1:]))


def payload_strategy(spec: dict, pools: dict[str, list]):
    """Payloads for one event's spec: mostly objects built from it (fields of the right type or not,
    some missing, some extra), and some that are not objects at all, or oversized."""
    from hypothesis import strategies as st

    names = sorted(spec)
    fields = st.fixed_dictionaries({n: _field_value(n, spec[n], pools) for n in names})
    # a field missing, or one too many, in one payload out of four
    dropped = st.integers(0, 3).flatmap(
        lambda i: st.sets(st.sampled_from(names)) if i == 0 and names else st.just(set())
    )
    extra = st.integers(0, 3).flatmap(
        lambda i: st.dictionaries(st.text(max_size=12), _json_values(), max_size=3) if i == 0 else st.just({})
    )

    def build(values, drop, more):
        out = {k: v for k, v in values.items() if k not in drop}
        out.update(more)
        return out

    objects = st.builds(build, fields, dropped, extra)
    odd = st.one_of(
        st.none(),
        st.lists(_json_values(), max_size=3),
        _json_values(),
        st.just({"x": "y" * (130 * 1024)}),  # over the event size limit
        st.just({n: "z" * (70 * 1024) for n in names[:1]}),
    )
    # one in eight is not an object built from the spec (one_of would weigh the two halves alike)
    return st.integers(0, 7).flatmap(lambda i: odd if i == 0 else objects)


def _transport_max_bytes() -> int:
    from server.signaling.hub import MAX_EVENT_BYTES

    return 2 * MAX_EVENT_BYTES  # max_http_buffer_size in server/wiring.py


TRANSPORT_MAX_BYTES = _transport_max_bytes()


def _library_packet_error(record: dict) -> bool:
    """python-socketio could not decode the packet itself (a CONNECT whose data is a bare number is read
    as an ack id followed by bad JSON): logged by engineio at ERROR, no handler of the server ran."""
    tb = record["traceback"]
    return "socketio/packet.py" in tb and "JSONDecodeError" in tb and "/server/" not in tb.replace("/socketio/", "")


def _ack_ok(ack: Any) -> bool:
    if not isinstance(ack, dict) or not isinstance(ack.get("ok"), bool):
        return False
    if ack["ok"]:
        return True
    err = ack.get("error")
    return isinstance(err, dict) and isinstance(err.get("code"), str) and isinstance(err.get("message"), str)


DISCONNECTED = "disconnected before the ack"


class SocketPeer:
    """One socket.io client of one namespace, in the fuzzing thread's own event loop."""

    def __init__(self, target: Target, loop, namespace: str, role: Role | None, auth: dict) -> None:
        self.target, self.loop, self.namespace, self.role, self.auth = target, loop, namespace, role, auth
        self.client = None
        self.refusal: Any = None

    def connect(self, auth: Any = None) -> Any:
        """Connect (or None) and return the refusal's data, None when accepted."""
        import socketio

        self.close()
        client = socketio.AsyncClient(reconnection=False)
        refusals: list = []

        @client.on("connect_error", namespace=self.namespace)
        async def on_error(data):  # noqa: ANN001
            refusals.append(data)

        headers = {}
        if self.role is not None and self.role.token:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.role.token}"
        try:
            self.loop.run_until_complete(
                client.connect(
                    self.target.base,
                    namespaces=[self.namespace],
                    auth=self.auth if auth is None else auth,
                    headers=headers,
                    transports=["websocket"],
                    wait_timeout=10,
                )
            )
        except socketio.exceptions.ConnectionError:
            self.loop.run_until_complete(client.disconnect())
            return refusals[0] if refusals else {"refused": "no connect_error"}
        self.client = client
        return None

    def call(self, event: str, payload: Any) -> Any:
        """The ack; ``DISCONNECTED`` when the connection closed before it came (then no need to wait)."""

        async def ack() -> Any:
            task = asyncio.ensure_future(self.client.call(event, payload, namespace=self.namespace, timeout=10))
            while not task.done():
                await asyncio.wait([task], timeout=0.05)
                if not task.done() and not self.client.connected:
                    task.cancel()
                    return DISCONNECTED
            return task.result()

        return self.loop.run_until_complete(ack())

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.client.disconnect())
            self.client = None


def socket_fuzz(target: Target, figures: Figures, examples: int, seconds: float, derandomize: bool, seed: int) -> None:
    import socketio
    from hypothesis import given
    from hypothesis import strategies as st

    from server.signaling.aux import AuxNamespace
    from server.signaling.candidate import CandidateNamespace
    from server.signaling.examiner import ExaminerNamespace
    from server.signaling.proctor import ProctorNamespace

    pools = target.pools
    roles = target.roles
    exam_id, room_id = pools["exam_id"][0], pools["room_id"][0]
    namespaces = [
        ("/candidate", CandidateNamespace, roles["candidate"], {}),
        ("/examiner", ExaminerNamespace, roles["examiner"], {"room_id": room_id}),
        ("/proctor", ProctorNamespace, roles["proctor"], {"exam_id": exam_id}),
        ("/aux", AuxNamespace, None, {"token": pools["token"][0], "device": "fuzzdevice01"}),
    ]
    every_event = sorted({e for _, cls, _, _ in namespaces for e in cls.EVENTS})
    loop = asyncio.new_event_loop()
    start = time.monotonic()
    end = start + seconds
    jobs = []
    for ns, cls, role, auth in namespaces:
        jobs.append((ns, cls, role, auth, "connect", None))
        for event in [*cls.EVENTS, "no:such_event", *[e for e in every_event if e not in cls.EVENTS][:2]]:
            jobs.append((ns, cls, role, auth, event, cls.EVENTS.get(event, {})))
    peers: dict[str, SocketPeer] = {}

    def fresh_aux_token() -> None:
        """The aux token is bound to the candidate's session: a new one after a fuzzed logout."""
        candidate = roles["candidate"]
        if not target.on_loop(target.services.sessions.get(candidate.token)):
            target.renew(candidate)
        token = target.on_loop(
            target.services.aux_tokens.issue(
                exam_id, candidate.account.id, target.services.sessions.hash_of(candidate.token)
            )
        )
        for ns, _cls, _role, auth, _event, _spec in jobs:
            if ns == "/aux":
                auth["token"] = token

    fresh_aux_token()
    try:
        for i, (ns, _cls, role, auth, event, spec) in enumerate(jobs):
            now = time.monotonic()
            if now >= end:
                break
            job_end = now + (end - now) / (len(jobs) - i)
            peer = peers.get(ns) or SocketPeer(target, loop, ns, role, auth)
            peers[ns] = peer

            if event == "connect":

                def connect_once(auth_payload, peer, ns, job_end) -> None:
                    if time.monotonic() >= job_end:
                        raise StopFuzz
                    mark = target.tap.mark()
                    figures.connects += 1
                    refusal = peer.connect(auth_payload)
                    peer.close()
                    errors = target.tap.since(mark)
                    if errors and all(_library_packet_error(e) for e in errors):
                        figures.socket_library_errors.append(
                            {
                                "namespace": ns,
                                "event": "connect",
                                "auth": _short(auth_payload, 300),
                                "server_log": errors,
                            }
                        )
                        return
                    bad_refusal = refusal is not None and not (
                        isinstance(refusal, dict)
                        and isinstance(refusal.get("message"), str)
                        and isinstance((refusal.get("data") or {}).get("code"), str)
                    )
                    if errors or bad_refusal:
                        figures.socket_errors.append(
                            {
                                "namespace": ns,
                                "event": "connect",
                                "auth": _short(auth_payload, 300),
                                "refusal": _short(refusal, 300),
                                "server_log": errors,
                            }
                        )

                dotted = st.tuples(st.text(max_size=40), st.text(max_size=40)).map(".".join)  # token-shaped
                auth_values = st.one_of(
                    st.fixed_dictionaries({k: st.one_of(st.just(v), dotted, _json_values()) for k, v in auth.items()}),
                    st.dictionaries(
                        st.sampled_from([*auth, "room_id", "exam_id", "token", "device"]), _json_values(), max_size=3
                    ),
                    _json_values(),
                )
                runner = given(auth_values)(_one_arg(connect_once, peer=peer, ns=ns, job_end=job_end))
            else:

                def emit_once(payload, peer, ns, event, job_end) -> None:
                    if time.monotonic() >= job_end:
                        raise StopFuzz
                    if peer.client is None or not peer.client.connected:
                        if peer.role is not None and not target.on_loop(target.services.sessions.get(peer.role.token)):
                            target.renew(peer.role)
                        refusal = peer.connect()
                        if refusal is not None and ns == "/aux":
                            fresh_aux_token()
                            refusal = peer.connect()
                        if refusal is not None:
                            raise AssertionError(f"{ns} refused the fuzzing socket: {refusal}")
                    mark = target.tap.mark()
                    before = target.digest.snapshot()
                    figures.socket_events += 1
                    try:
                        ack = peer.call(event, payload)
                    except socketio.exceptions.TimeoutError:
                        ack = "no ack in 10 s"
                    except socketio.exceptions.BadNamespaceError:
                        ack = DISCONNECTED
                    errors = target.tap.since(mark)
                    if ack == DISCONNECTED and not errors and len(json.dumps(payload)) > TRANSPORT_MAX_BYTES:
                        # engine.io's own message limit closed the connection (no handler ran)
                        figures.socket_acks["transport_limit_disconnect"] += 1
                        return
                    if not _ack_ok(ack) or errors:
                        figures.socket_errors.append(
                            {
                                "namespace": ns,
                                "event": event,
                                "payload": _short(payload, 400),
                                "ack": _short(ack, 300),
                                "server_log": errors,
                            }
                        )
                        return
                    figures.socket_acks["ok" if ack["ok"] else ack["error"]["code"]] += 1
                    if not ack["ok"]:
                        changed = target.digest.changed(before, target.digest.snapshot(), ALLOWED_SOCKET)
                        if changed:
                            figures.socket_state_changes.append(
                                {
                                    "namespace": ns,
                                    "event": event,
                                    "payload": _short(payload, 400),
                                    "code": ack["error"]["code"],
                                    "changed": changed[:20],
                                }
                            )

                runner = given(payload_strategy(spec, pools))(
                    _one_arg(emit_once, peer=peer, ns=ns, event=event, job_end=job_end)
                )
            runner = _bounded(runner, examples, derandomize, seed + 100000 + i)
            try:
                runner()
            except StopFuzz:
                pass
            except Exception as exc:
                figures.socket_errors.append({"namespace": ns, "event": event, "error": _short(repr(exc), 400)})
    finally:
        for peer in peers.values():
            peer.close()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()


# --- the run ------------------------------------------------------------------------------------


async def fuzz(
    redis_url: str,
    prefix: str,
    examples: int = 25,
    seconds: float = 300.0,
    seed: int = 0,
    derandomize: bool = False,
    socket_share: float = 0.3,
) -> dict:
    """Start the app on loopback, fuzz HTTP then sockets (``socket_share`` of ``seconds``), return the figures."""
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.http.context import SERVICES
    from server.store.redis import connect
    from tests.conftest import fast_settings

    started = time.monotonic()
    tap = LogTap()
    logging.getLogger().addHandler(tap)
    figures = Figures()
    target: Target | None = None
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        settings = fast_settings(Path(tmp), redis_url, prefix, **LIMIT_OVERRIDES)
        redis = connect(redis_url)
        server = TestServer(create_app(settings, redis), host="127.0.0.1")
        digest = Digest(redis_url, prefix)
        try:
            await server.start_server()
            services = server.app[SERVICES]
            roles, pools = await _setup(server, services, settings)
            target = Target(
                f"http://127.0.0.1:{server.port}",
                asyncio.get_running_loop(),
                services,
                settings,
                roles,
                pools,
                digest,
                tap,
            )
            setup_s = time.monotonic() - started
            budget = max(1.0, seconds - setup_s)
            await asyncio.to_thread(
                http_fuzz, target, figures, examples, budget * (1 - socket_share), derandomize, seed
            )
            remaining = max(1.0, seconds - (time.monotonic() - started))
            await asyncio.to_thread(socket_fuzz, target, figures, examples, remaining, derandomize, seed)
        finally:
            logging.getLogger().removeHandler(tap)
            digest.close()
            await server.close()
            with contextlib.suppress(Exception):
                await redis.aclose()
    return {
        "requests": figures.requests,
        "server_errors": len(figures.server_errors),
        "state_changes_on_refusal": len(figures.state_changes),
        "socket_events": figures.socket_events,
        "socket_errors": len(figures.socket_errors),
        "socket_state_changes_on_refusal": len(figures.socket_state_changes),
        "socket_connects": figures.connects,
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "examples_per_pair": examples,
        "seed": None if derandomize else seed,
        "operation_role_pairs": figures.pairs,
        "pairs_not_reached": figures.pairs_cut_short,
        "statuses": dict(sorted(figures.statuses.items())),
        "facecheck_unavailable": figures.facecheck_unavailable,
        "allowed_refusal_changes": dict(figures.allowed_refusals),
        "socket_acks": dict(figures.socket_acks.most_common()),
        "session_renewals": {r.name: r.renewals for r in target.roles.values() if r.renewals} if target else {},
        "generation_errors": figures.generation_errors,
        "undocumented_answers": dict(figures.undocumented.most_common()),
        "socket_library_errors": len(figures.socket_library_errors),
        "socket_library_error_details": figures.socket_library_errors,
        "operation_details": [{k: dict(v)} for k, v in sorted(figures.by_operation.items())],
        "server_error_details": figures.server_errors,
        "state_change_details": figures.state_changes,
        "socket_error_details": figures.socket_errors,
        "socket_state_change_details": figures.socket_state_changes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=25, help="cases per (operation, role) and per socket event")
    parser.add_argument("--seconds", type=float, default=300.0, help="the whole run's time bound")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random, printed)")
    parser.add_argument("--derandomize", action="store_true", help="hypothesis's fixed derandomized choices")
    args = parser.parse_args()
    from bench.common import bench_redis
    from server.facecheck import pool

    # the server's own INFO records (one per request) are not wanted on the console
    logging.getLogger().setLevel(logging.INFO)
    print(f"server code: {Path(pool.__file__).parents[1]}", flush=True)  # which tree is measured
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    with bench_redis() as (url, prefix):
        figures = asyncio.run(fuzz(url, prefix, args.examples, args.seconds, seed, args.derandomize))
    details = {k: figures.pop(k) for k in list(figures) if k.endswith("_details") or k == "generation_errors"}
    for key, items in details.items():
        for item in items:
            print(f"{key}: {json.dumps(item, ensure_ascii=False, default=str)}", flush=True)
    figures["generation_errors"] = len(details["generation_errors"])
    print(json.dumps(figures, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
